/**
 * The simulated meter's data: a deterministic function of seed and time. Every register's rate is
 * a closed-form function whose integral is known exactly, and the cumulative register is that
 * integral in meter units, rounded. So a difference of two registers divided by the seconds
 * between them is the true average rate (to one meter unit), and tests can compute the exact
 * expected value of any point with `raw()`. Pure.
 */
import { registerType } from '../egauge/registers.js'

const DAY = 86_400

/** A rate built from terms whose integrals are closed-form. */
type Term =
  | { kind: 'const', value: number }
  | { kind: 'sin', amplitude: number, period: number, phase: number }
  /** max(0, sin): a daylight curve, zero half the period. */
  | { kind: 'halfsin', amplitude: number, period: number, phase: number }

export interface SimRegister {
  name: string
  type: string
  /** Registers whose rate is a sum of others (Grid = loads − solar). */
  terms: Term[]
  /** Added to the raw integer, as real meters that did not start counting at zero show. */
  offset: bigint
}

export interface SimVirtual {
  name: string
  /** Names of registers summed (with sign) to make this total. */
  sum: Array<[number, string]>
}

export interface MeterModel {
  serial: string
  /** Unix seconds when recording started (`epoch` attribute). */
  epoch: number
  registers: SimRegister[]
  virtuals: SimVirtual[]
}

/** A small deterministic PRNG (mulberry32): same seed, same meter. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Builds the 24-register demo meter for a seed. */
export function meterModel (seed = 1): MeterModel {
  const rnd = prng(seed)
  const wobble = (base: number, spread: number, period: number): Term[] => [
    { kind: 'const', value: base },
    { kind: 'sin', amplitude: spread, period, phase: rnd() * 2 * Math.PI }
  ]
  const loads: Array<[string, Term[]]> = [
    ['Kitchen & Dining', wobble(350 + 200 * rnd(), 150, 1800)],
    ['HVAC', wobble(1200 + 400 * rnd(), 900, DAY)],
    ['Water Heater', wobble(500, 450, 3600)],
    ['EV Charger', wobble(2000, 1990, 7 * 3600)],
    ['Lights, upstairs', wobble(120, 100, DAY)],
    ['Dryer', wobble(300, 290, 5400)],
    ['Fridge', wobble(150, 60, 1200)],
    ['Office', wobble(200, 80, 2700)],
    ['Garage', wobble(80, 40, 900)]
  ]
  const peak = 4000 + 2000 * rnd()
  const standby = 14
  // Daylight from 06:00 to 18:00 UTC; the phase makes sin() positive over that half-day.
  const production: Term = { kind: 'halfsin', amplitude: peak, period: DAY, phase: -Math.PI / 2 }
  const solar: Term[] = [production, { kind: 'const', value: -standby }]
  const negate = (terms: Term[]): Term[] => terms.map((t) => t.kind === 'const' ? { ...t, value: -t.value } : { ...t, amplitude: -t.amplitude })
  const grid: Term[] = [...loads.flatMap(([, t]) => t), ...negate(solar)]
  const registers: SimRegister[] = [
    { name: 'Grid', type: 'P', terms: grid, offset: -281442840500341n },
    { name: 'Solar', type: 'P', terms: solar, offset: 0n },
    { name: 'Solar+', type: 'P', terms: [production], offset: 0n },
    ...loads.map(([name, terms]) => ({ name, type: 'P', terms, offset: 0n })),
    { name: 'Grid*', type: 'S', terms: grid.map((t) => t.kind === 'const' ? { ...t, value: Math.abs(t.value) * 1.08 + 40 } : t), offset: 0n },
    { name: 'Grid Q', type: 'PQ', terms: wobble(180, 60, 1500), offset: 0n },
    { name: 'L1 Voltage', type: 'V', terms: wobble(120.5, 1.5, 600), offset: 0n },
    { name: 'L2 Voltage', type: 'V', terms: wobble(119.8, 1.5, 660), offset: 0n },
    { name: 'L3 Voltage', type: 'V', terms: wobble(121.1, 1.5, 720), offset: 0n },
    { name: 'L1 Current', type: 'I', terms: wobble(18, 6, 900), offset: 0n },
    { name: 'L2 Current', type: 'I', terms: wobble(16, 6, 960), offset: 0n },
    { name: 'Frequency', type: 'F', terms: wobble(60, 0.02, 300), offset: 0n },
    { name: 'Temperature', type: 'T', terms: wobble(21 + 3 * rnd(), 4, DAY), offset: 0n },
    { name: 'Humidity', type: 'h', terms: wobble(45, 10, DAY), offset: 0n },
    { name: 'Irradiance', type: 'Ee', terms: [{ ...production, amplitude: peak / 5 }], offset: 0n },
    { name: 'THD', type: 'THD', terms: wobble(3.5, 1, 2400), offset: 0n }
  ]
  const serial = '0x' + (Math.floor(rnd() * 0xffffffff) >>> 0).toString(16)
  const loadNames = loads.map(([name]) => [1, name] as [number, string])
  return {
    serial,
    epoch: 1_577_836_800, // 2020-01-01T00:00:00Z
    registers,
    virtuals: [
      { name: 'Total Usage', sum: [...loadNames] },
      { name: 'Total Generation', sum: [[1, 'Solar']] }
    ]
  }
}

/** ∫ rate dt from 0 to t, in SI units × seconds. */
function integral (terms: Term[], t: number): number {
  let sum = 0
  for (const term of terms) {
    if (term.kind === 'const') {
      sum += term.value * t
    } else {
      const w = 2 * Math.PI / term.period
      if (term.kind === 'sin') {
        sum += term.amplitude * (Math.cos(term.phase) - Math.cos(w * t + term.phase)) / w
      } else {
        sum += term.amplitude * halfSinIntegral(w * t + term.phase, term.phase) / w
      }
    }
  }
  return sum
}

/** ∫ max(0, sin x) dx from x0 to x1, in closed form over whole and partial periods. */
function halfSinIntegral (x1: number, x0: number): number {
  const F = (x: number): number => {
    const cycles = Math.floor(x / (2 * Math.PI))
    const r = x - cycles * 2 * Math.PI
    return cycles * 2 + (r < Math.PI ? 1 - Math.cos(r) : 2)
  }
  return F(x1) - F(x0)
}

function rateAt (terms: Term[], t: number): number {
  let sum = 0
  for (const term of terms) {
    if (term.kind === 'const') sum += term.value
    else {
      const s = Math.sin(2 * Math.PI * t / term.period + term.phase)
      sum += term.amplitude * (term.kind === 'sin' ? s : Math.max(0, s))
    }
  }
  return sum
}

/** The cumulative register value at unix second `t`, exactly as the meter would store it. */
export function raw (model: MeterModel, register: SimRegister, t: number): bigint {
  const perUnit = registerType(register.type).perUnit
  return register.offset + BigInt(Math.round(integral(register.terms, t - model.epoch) * perUnit))
}

/** The rate at an instant, in SI units (what `<i>` reports). */
export function instantRate (model: MeterModel, register: SimRegister, t: number): number {
  return rateAt(register.terms, t - model.epoch)
}

/** A virtual register's cumulative value: the signed sum of its registers. */
export function virtualRaw (model: MeterModel, v: SimVirtual, t: number): bigint {
  let sum = 0n
  for (const [sign, name] of v.sum) {
    const r = model.registers.find((x) => x.name === name)!
    sum += BigInt(sign) * (raw(model, r, t) - r.offset)
  }
  return sum
}

export function virtualRate (model: MeterModel, v: SimVirtual, t: number): number {
  let sum = 0
  for (const [sign, name] of v.sum) sum += sign * instantRate(model, model.registers.find((x) => x.name === name)!, t)
  return sum
}

/**
 * Storage levels of an EG4xxx (KB "eGauge data storage capacity"): 1 s rows for the last hour
 * (volatile), minute rows for a year, then 15-minute rows.
 */
export function resolutionAt (now: number, t: number): number {
  const age = now - t
  if (age <= 3600) return 1
  if (age <= 366 * DAY) return 60
  return 900
}
