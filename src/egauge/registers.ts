/**
 * The eGauge register type codes: what each measures, its SI unit, and the divisor that turns the
 * meter's integer units into SI. Source: eGauge XML API v1.51 §2.2.1 and the WebAPI glossary
 * (see ../shared/reference/egauge-api.md §3).
 */

export interface RegisterType {
  /** The `quantity` tag value; also selects the Prometheus family. */
  quantity: string
  /** The `unit` tag value (ASCII: `degC`, `m3/s`, `W/m2`); empty for plain numbers. */
  unit: string
  /**
   * Meter units per SI unit: a rate in SI = Δraw / (perUnit × Δt). A divisor rather than a
   * quantum: 1, 10, 1000, 10^9 and 2^29 are exact doubles, so every value is one correctly
   * rounded division (119841 / 1000 is 119.841; 119841 × 0.001 is 119.84100000000001).
   */
  perUnit: number
  /** Prometheus gauge for the rate. */
  rateMetric: string
  /** Factor from the SI rate to the Prometheus metric's base unit (Ah → coulombs); default 1. */
  rateMetricScale?: number
  /** Prometheus gauge for the cumulative value, for registers whose integral is meaningful. */
  totalMetric?: string
  /** Discrete registers are stored as-is: never differenced, never averaged. */
  discrete?: boolean
}

const table: Record<string, RegisterType> = {
  P: { quantity: 'power', unit: 'W', perUnit: 1, rateMetric: 'egauge_power_watts', totalMetric: 'egauge_energy_joules' },
  S: { quantity: 'apparent_power', unit: 'VA', perUnit: 1, rateMetric: 'egauge_apparent_power_voltamperes', totalMetric: 'egauge_apparent_energy_voltampere_seconds' },
  PQ: { quantity: 'reactive_power', unit: 'var', perUnit: 1, rateMetric: 'egauge_reactive_power_vars', totalMetric: 'egauge_reactive_energy_var_seconds' },
  V: { quantity: 'voltage', unit: 'V', perUnit: 1000, rateMetric: 'egauge_voltage_volts' },
  I: { quantity: 'current', unit: 'A', perUnit: 1000, rateMetric: 'egauge_current_amperes' },
  F: { quantity: 'frequency', unit: 'Hz', perUnit: 1000, rateMetric: 'egauge_frequency_hertz' },
  T: { quantity: 'temperature', unit: 'degC', perUnit: 1000, rateMetric: 'egauge_temperature_celsius' },
  // The XML manual (2015, 2017) says 0.1 %; the 2024 JSON WebAPI says 0.001. The bridge reads XML.
  h: { quantity: 'humidity', unit: '%', perUnit: 10, rateMetric: 'egauge_relative_humidity_percent' },
  THD: { quantity: 'thd', unit: '%', perUnit: 1000, rateMetric: 'egauge_thd_percent' },
  Ee: { quantity: 'irradiance', unit: 'W/m2', perUnit: 1, rateMetric: 'egauge_irradiance_watts_per_square_meter' },
  Pa: { quantity: 'pressure', unit: 'Pa', perUnit: 1, rateMetric: 'egauge_pressure_pascals' },
  R: { quantity: 'resistance', unit: 'ohm', perUnit: 1, rateMetric: 'egauge_resistance_ohms' },
  Q: { quantity: 'mass_flow', unit: 'g/s', perUnit: 1, rateMetric: 'egauge_mass_flow_grams_per_second' },
  Qv: { quantity: 'volume_flow', unit: 'm3/s', perUnit: 1e9, rateMetric: 'egauge_volume_flow_cubic_meters_per_second' },
  v: { quantity: 'speed', unit: 'm/s', perUnit: 1000, rateMetric: 'egauge_speed_meters_per_second' },
  a: { quantity: 'angle', unit: 'deg', perUnit: 1000, rateMetric: 'egauge_angle_degrees' },
  // Prometheus wants base units (promtool: "use base unit seconds instead of hours"): 1 Ah = 3600 C.
  Qe: { quantity: 'charge', unit: 'Ah', perUnit: 1000, rateMetric: 'egauge_charge_coulombs', rateMetricScale: 3600 },
  '#': { quantity: 'number', unit: '', perUnit: 1, rateMetric: 'egauge_number' },
  '#3': { quantity: 'number', unit: '', perUnit: 1000, rateMetric: 'egauge_number' },
  d: { quantity: 'number', unit: '', perUnit: 1, rateMetric: 'egauge_number', discrete: true },
  // Money accrues in units of 2^-29 currency (XML API v1.51; the 2013 parser's scale 1 is outdated).
  $: { quantity: 'money', unit: 'currency/s', perUnit: 2 ** 29, rateMetric: 'egauge_money_per_second' }
}
table.var = table.PQ!

/** Unknown codes degrade gracefully, as the XML API asks: raw Δ/Δt, labelled with the code. */
const unknown: RegisterType = { quantity: 'unknown', unit: 'unknown', perUnit: 1, rateMetric: 'egauge_register_value' }

/** Returns the register type for a type code; never throws (unknown codes map to `unknown`). */
export function registerType (code: string): RegisterType {
  return Object.hasOwn(table, code) ? table[code]! : unknown
}

/** The average rate in SI units of `units` meter units over `seconds`: one correctly rounded division. */
export function siRate (type: RegisterType, units: number, seconds: number): number {
  return units / (type.perUnit * seconds)
}

/** A cumulative value in SI units × seconds (joules for power); NaN stays NaN. */
export function siTotal (type: RegisterType, cumulative: number): number {
  return cumulative / type.perUnit
}

/** Every Prometheus gauge name the bridge can emit for meter data, for documentation and tests. */
export function knownRegisterTypes (): ReadonlyArray<[string, RegisterType]> {
  return Object.entries(table)
}
