/**
 * The eGauge XML API's register type codes: what each measures, its SI unit, and the divisor that
 * turns the meter's integer units into SI. Sources: eGauge XML API v1.51 §2.2.1 and the WebAPI
 * glossary (ARCHITECTURE.md lists both). Output names (Prometheus families) are not here: they
 * belong to formats/prometheus.ts and follow the quantity.
 */
import type { RegisterType } from '../model/register-type.js'

const table: Record<string, RegisterType> = {
  P: { quantity: 'power', unit: 'W', perUnit: 1 },
  S: { quantity: 'apparent_power', unit: 'VA', perUnit: 1 },
  PQ: { quantity: 'reactive_power', unit: 'var', perUnit: 1 },
  V: { quantity: 'voltage', unit: 'V', perUnit: 1000 },
  I: { quantity: 'current', unit: 'A', perUnit: 1000 },
  F: { quantity: 'frequency', unit: 'Hz', perUnit: 1000 },
  T: { quantity: 'temperature', unit: 'degC', perUnit: 1000 },
  // The XML manual (2015, 2017) says 0.1 %; the 2024 JSON WebAPI says 0.001. This table is the XML API's.
  h: { quantity: 'humidity', unit: '%', perUnit: 10 },
  THD: { quantity: 'thd', unit: '%', perUnit: 1000 },
  Ee: { quantity: 'irradiance', unit: 'W/m2', perUnit: 1 },
  Pa: { quantity: 'pressure', unit: 'Pa', perUnit: 1 },
  R: { quantity: 'resistance', unit: 'ohm', perUnit: 1 },
  Q: { quantity: 'mass_flow', unit: 'g/s', perUnit: 1 },
  Qv: { quantity: 'volume_flow', unit: 'm3/s', perUnit: 1e9 },
  v: { quantity: 'speed', unit: 'm/s', perUnit: 1000 },
  a: { quantity: 'angle', unit: 'deg', perUnit: 1000 },
  Qe: { quantity: 'charge', unit: 'Ah', perUnit: 1000 },
  '#': { quantity: 'number', unit: '', perUnit: 1 },
  '#3': { quantity: 'number', unit: '', perUnit: 1000 },
  d: { quantity: 'number', unit: '', perUnit: 1, discrete: true },
  // Money accrues in units of 2^-29 currency (XML API v1.51; the 2013 parser's scale 1 is outdated).
  $: { quantity: 'money', unit: 'currency/s', perUnit: 2 ** 29 }
}
table.var = table.PQ!

/** Unknown codes degrade gracefully, as the XML API asks: raw Δ/Δt, labelled with the code. */
const unknown: RegisterType = { quantity: 'unknown', unit: 'unknown', perUnit: 1 }

/** Returns the register type for a type code; never throws (unknown codes map to `unknown`). */
export function registerType (code: string): RegisterType {
  return Object.hasOwn(table, code) ? table[code]! : unknown
}

/**
 * The JSON WebAPI's table (its OpenAPI "Type Codes"): the XML table where they agree, humidity in
 * 0.001 % instead of 0.1 %, and the codes only the WebAPI has. Both `PQ` (what real answers
 * carry) and `var` (what the spec lists) are reactive power.
 */
const webapiTable: Record<string, RegisterType> = {
  ...table,
  h: { quantity: 'humidity', unit: '%', perUnit: 1000, xmlUnits: 100 },
  '%': { quantity: 'percentage', unit: '%', perUnit: 1000 },
  m: { quantity: 'mass', unit: 'g', perUnit: 1000 },
  ppm: { quantity: 'concentration', unit: 'ppm', perUnit: 1000 },
  aq: { quantity: 'air_quality', unit: '', perUnit: 1000 }
}

/** The register type of a WebAPI type code (the register JSON, and meters pushing JSON); never throws. */
export function webapiRegisterType (code: string): RegisterType {
  return Object.hasOwn(webapiTable, code) ? webapiTable[code]! : unknown
}

/** Every known type code with its meaning, for documentation and tests. */
export function knownRegisterTypes (): ReadonlyArray<[string, RegisterType]> {
  return Object.entries(table)
}

/**
 * The meter's two totals carry one name in current values (`egauge?inst&tot`: *Total Usage*,
 * *Total Generation*) and another in stored data (`egauge-show?a`, the WebAPI's virtual
 * registers, a meter's push with `totals`: `use`, `gen`; egauge-api.md §2.3). The bridge gives
 * them the current values' names everywhere, so a dashboard sees one series per quantity.
 */
const STORED_TOTALS = new Map([['use', 'Total Usage'], ['gen', 'Total Generation']])

/** The name the bridge gives a total stored as `use` or `gen`; undefined for any other name. */
export function totalName (stored: string): string | undefined {
  return STORED_TOTALS.get(stored)
}
