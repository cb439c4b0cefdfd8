/**
 * The eGauge register type codes: what each measures, its SI unit, and the quantum that turns the
 * meter's integer units into SI. Source: eGauge XML API v1.51 §2.2.1 and the WebAPI glossary
 * (see ../shared/reference/egauge-api.md §3).
 */

export interface RegisterType {
  /** The `quantity` tag value; also selects the Prometheus family. */
  quantity: string
  /** The `unit` tag value (ASCII: `degC`, `m3/s`, `W/m2`); empty for plain numbers. */
  unit: string
  /** SI value of one meter unit: a rate in SI = Δraw × quantum / Δt. */
  quantum: number
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
  P: { quantity: 'power', unit: 'W', quantum: 1, rateMetric: 'egauge_power_watts', totalMetric: 'egauge_energy_joules' },
  S: { quantity: 'apparent_power', unit: 'VA', quantum: 1, rateMetric: 'egauge_apparent_power_voltamperes', totalMetric: 'egauge_apparent_energy_voltampere_seconds' },
  PQ: { quantity: 'reactive_power', unit: 'var', quantum: 1, rateMetric: 'egauge_reactive_power_vars', totalMetric: 'egauge_reactive_energy_var_seconds' },
  V: { quantity: 'voltage', unit: 'V', quantum: 0.001, rateMetric: 'egauge_voltage_volts' },
  I: { quantity: 'current', unit: 'A', quantum: 0.001, rateMetric: 'egauge_current_amperes' },
  F: { quantity: 'frequency', unit: 'Hz', quantum: 0.001, rateMetric: 'egauge_frequency_hertz' },
  T: { quantity: 'temperature', unit: 'degC', quantum: 0.001, rateMetric: 'egauge_temperature_celsius' },
  // The XML manual (2015, 2017) says 0.1 %; the 2024 JSON WebAPI says 0.001. The bridge reads XML.
  h: { quantity: 'humidity', unit: '%', quantum: 0.1, rateMetric: 'egauge_relative_humidity_percent' },
  THD: { quantity: 'thd', unit: '%', quantum: 0.001, rateMetric: 'egauge_thd_percent' },
  Ee: { quantity: 'irradiance', unit: 'W/m2', quantum: 1, rateMetric: 'egauge_irradiance_watts_per_square_meter' },
  Pa: { quantity: 'pressure', unit: 'Pa', quantum: 1, rateMetric: 'egauge_pressure_pascals' },
  R: { quantity: 'resistance', unit: 'ohm', quantum: 1, rateMetric: 'egauge_resistance_ohms' },
  Q: { quantity: 'mass_flow', unit: 'g/s', quantum: 1, rateMetric: 'egauge_mass_flow_grams_per_second' },
  Qv: { quantity: 'volume_flow', unit: 'm3/s', quantum: 1e-9, rateMetric: 'egauge_volume_flow_cubic_meters_per_second' },
  v: { quantity: 'speed', unit: 'm/s', quantum: 0.001, rateMetric: 'egauge_speed_meters_per_second' },
  a: { quantity: 'angle', unit: 'deg', quantum: 0.001, rateMetric: 'egauge_angle_degrees' },
  // Prometheus wants base units (promtool: "use base unit seconds instead of hours"): 1 Ah = 3600 C.
  Qe: { quantity: 'charge', unit: 'Ah', quantum: 0.001, rateMetric: 'egauge_charge_coulombs', rateMetricScale: 3600 },
  '#': { quantity: 'number', unit: '', quantum: 1, rateMetric: 'egauge_number' },
  '#3': { quantity: 'number', unit: '', quantum: 0.001, rateMetric: 'egauge_number' },
  d: { quantity: 'number', unit: '', quantum: 1, rateMetric: 'egauge_number', discrete: true },
  // Money accrues in units of 2^-29 currency (XML API v1.51; the 2013 parser's scale 1 is outdated).
  $: { quantity: 'money', unit: 'currency/s', quantum: 2 ** -29, rateMetric: 'egauge_money_per_second' }
}
table.var = table.PQ!

/** Unknown codes degrade gracefully, as the XML API asks: raw Δ/Δt, labelled with the code. */
const unknown: RegisterType = { quantity: 'unknown', unit: 'unknown', quantum: 1, rateMetric: 'egauge_register_value' }

/** Returns the register type for a type code; never throws (unknown codes map to `unknown`). */
export function registerType (code: string): RegisterType {
  return Object.hasOwn(table, code) ? table[code]! : unknown
}

/** Every Prometheus gauge name the bridge can emit for meter data, for documentation and tests. */
export function knownRegisterTypes (): ReadonlyArray<[string, RegisterType]> {
  return Object.entries(table)
}
