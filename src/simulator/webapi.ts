/**
 * The simulated meter's JSON WebAPI answers (egauge-webapi-and-push.md §1.3, §1.5), from the same
 * model as its XML: `/api/register` with `rate`, `raw`, `virtual=value`, `time=` ranges and
 * `max-rows`, `/api/sys/db`, `/api/sys/sn` and `/api/config/net/hostname`. The same meter behind
 * both protocols gives the same values.
 * Tokens are HMAC-signed JWTs with `beg` and `ltm` claims, as a meter's. Pure but for the secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { registerType, webapiRegisterType } from '../egauge/registers.js'
import { instantRate, raw, resolutionAt, virtualRate, virtualRaw, type MeterModel } from './data.js'

/** A token's lifetime: "typically for about 10 minutes". */
export const TOKEN_LIFETIME_S = 600

/**
 * The simulated meter's identity as `/api/sys/sn` and `/api/config/net/hostname` give it: a
 * serial number and the factory host name eGauge uses (`eGauge` and a number), both derived from
 * its configuration serial, so the same seed is the same meter.
 */
export function identityOf (model: MeterModel): { serialNumber: string, hostname: string } {
  const number = String(Number.parseInt(model.serial.slice(2), 16) % 100_000).padStart(5, '0')
  return { serialNumber: `G${number}`, hostname: `eGauge${number}` }
}

/** The stored levels of an EG4xxx as `/api/sys/db` lists them (the simulator's resolutionAt()). */
export function dbLevelsJson (now: number): string {
  return JSON.stringify({
    result: {
      'max-registers': 64,
      level: [
        { head: String(now), interval: 1000, 'row-count': 3600, volatile: true },
        { head: String(now - (now % 60)), interval: 60_000, 'row-count': 527_040, volatile: false },
        { head: String(now - (now % 900)), interval: 900_000, 'row-count': 350_640, volatile: false }
      ]
    }
  })
}

/** Starts of the current minute, quarter hour and hour: the WebAPI's `soM`, `soQ`, `soh`. */
const STARTS: Record<string, number> = { soM: 60, soQ: 900, soh: 3600 }

/** One time point of a range: a unix second, `now`, `soM`, `soQ` or `soh`, with an optional `-N` seconds. */
function timePoint (text: string, now: number): number | undefined {
  const m = /^(now|soM|soQ|soh|\d+)(?:-(\d+))?$/.exec(text)
  if (m === null) return undefined
  const name = m[1]!
  const point = name === 'now' ? now : Object.hasOwn(STARTS, name) ? now - (now % STARTS[name]!) : Number(name)
  return point - Number(m[2] ?? 0)
}

/**
 * The rows of a range as a meter makes them: times from the youngest end back by the step, each
 * rounded down to the row stored at its age (seconds for an hour, then minutes, then quarter
 * hours), at most `max` of them, in runs of equal spacing (one range each).
 */
function rangeRows (model: MeterModel, now: number, oldest: number, newest: number, step: number, max: number): Array<{ ts: number, delta: number, times: number[] }> {
  const times: number[] = []
  for (let t = Math.min(newest, now); t >= Math.max(oldest, model.epoch) && times.length < max; t -= step) {
    const stored = t - (t % resolutionAt(now, t))
    if (times.at(-1) !== stored) times.push(stored)
  }
  const ranges: Array<{ ts: number, delta: number, times: number[] }> = []
  times.forEach((t, i) => {
    const range = ranges.at(-1)
    const gap = i === 0 ? undefined : times[i - 1]! - t
    if (range !== undefined && (range.times.length === 1 || gap === range.delta)) {
      if (range.times.length === 1) range.delta = gap!
      range.times.push(t)
    } else {
      ranges.push({ ts: t, delta: step, times: [t] })
    }
  })
  return ranges
}

/** `GET /api/register`, for the parameters the bridge sends; others are ignored. */
export function registerJson (model: MeterModel, now: number, params: URLSearchParams): { status: number, body: string } {
  const virtuals = params.get('virtual') === 'value'
  const columns: Array<{ name: string, type: string, did?: number, value: (t: number) => bigint, rate: number }> = []
  if (virtuals) {
    // The meter's totals first, without a database column, under their stored names (§1.3.5).
    const [use, gen] = model.virtuals
    columns.push({ name: 'use', type: 'P', value: (t) => virtualRaw(model, use!, t), rate: Number(virtualRate(model, use!, now).toFixed(3)) })
    columns.push({ name: 'gen', type: 'P', value: (t) => virtualRaw(model, gen!, t), rate: Number(virtualRate(model, gen!, now).toFixed(3)) })
  }
  model.registers.forEach((r, i) => {
    // Without `raw`, values count from the epoch (zero there), the WebAPI's default.
    const base = params.has('raw') ? 0n : raw(model, r, model.epoch)
    // The WebAPI counts some types in finer units than the XML API (humidity: 0.001 % for 0.1 %).
    const finer = BigInt(webapiRegisterType(r.type).perUnit / registerType(r.type).perUnit)
    columns.push({ name: r.name, type: r.type, did: i, value: (t) => (raw(model, r, t) - base) * finer, rate: Math.round(instantRate(model, r, now) * 1000) / 1000 })
  })
  const rate = params.has('rate')
  const registers = columns.map((c, idx) => ({ name: c.name, type: c.type, idx, ...(c.did === undefined ? {} : { did: c.did }), ...(rate ? { rate: c.rate } : {}) }))
  const ranges: Array<{ ts: string, delta: number, rows: string[][] }> = []
  const maxRows = Number(params.get('max-rows') ?? Number.POSITIVE_INFINITY)
  let left = Number.isFinite(maxRows) && maxRows >= 1 ? Math.floor(maxRows) : 100_000
  for (const spec of (params.get('time') ?? '').split(',').filter((s) => s !== '')) {
    const [from, step, to] = spec.split(':')
    const oldest = timePoint(from!, now)
    const newest = to === undefined ? oldest : timePoint(to, now)
    const seconds = step === undefined || step === '' ? 1 : Number(step)
    if (oldest === undefined || newest === undefined || !Number.isInteger(seconds) || seconds < 1) {
      return { status: 200, body: JSON.stringify({ error: `Invalid time range "${spec}".` }) }
    }
    for (const range of rangeRows(model, now, oldest, newest, seconds, left)) {
      ranges.push({ ts: String(range.ts), delta: range.delta, rows: range.times.map((t) => columns.map((c) => String(c.value(t)))) })
      left -= range.times.length
    }
  }
  return { status: 200, body: JSON.stringify({ ts: `${now}.000000000`, registers, ...(ranges.length > 0 || params.has('time') ? { ranges } : {}) }) }
}

/** Issues and checks the simulator's tokens: HMAC-SHA256 over the claims, with this meter's secret. */
export class TokenSigner {
  private readonly secret: Buffer
  /** Tokens issued before this generation are revoked (a meter reboot). */
  generation = 0

  constructor (secret: Buffer) {
    this.secret = secret
  }

  issue (usr: string, rlm: string, now: number): string {
    const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
    const claims = b64(JSON.stringify({ beg: now, ltm: TOKEN_LIFETIME_S, usr, rlm, gen: this.generation }))
    return `${head}.${claims}.${this.sign(`${head}.${claims}`)}`
  }

  /** True for a token this meter issued, not revoked, not past `beg + ltm`. */
  valid (jwt: string, now: number): boolean {
    const [head, claims, signature] = jwt.split('.')
    if (head === undefined || claims === undefined || signature === undefined) return false
    const expected = Buffer.from(this.sign(`${head}.${claims}`))
    if (expected.length !== signature.length || !timingSafeEqual(expected, Buffer.from(signature))) return false
    const c = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { beg: number, ltm: number, gen: number }
    return c.gen === this.generation && now < c.beg + c.ltm
  }

  private sign (text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('base64url')
  }
}

function b64 (text: string): string {
  return Buffer.from(text).toString('base64url')
}
