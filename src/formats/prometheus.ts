/**
 * Readings → Prometheus text 0.0.4 or OpenMetrics 1.0 (pure apart from prom-client's own work).
 * A fresh registry per call, as multi-target exporters do: one request never sees another's series.
 * Cumulative registers are gauges, not counters: net registers go up and down (README "Metrics").
 */
import { Gauge, Registry, type RegistryContentType } from 'prom-client'
import type { Snapshot } from '../model/readings.js'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

export interface ExpositionOptions {
  openMetrics: boolean
  /** The sensor's configured tags, exported on `egauge_sensor_info`. */
  tags: Record<string, string>
  /** How long the meter took to answer, for `egauge_fetch_duration_seconds`. */
  fetchSeconds: number
}

interface Family {
  name: string
  help: string
  /** Factor from the SI rate to the family's base unit (Ah → coulombs); default 1. */
  scale?: number
  /** Divisor from the register's unit to the family's (percent → ratio: 100). Divided, not
   * multiplied by 0.01, so that 4.153 % is exactly 0.04153. */
  per?: number
}

/** A gauge family per quantity for the rate, the public metric names (README "Metrics"). */
const rateFamilies: Record<string, Family> = {
  power: { name: 'egauge_power_watts', help: 'Real power in watts (negative when a net register exports).' },
  apparent_power: { name: 'egauge_apparent_power_voltamperes', help: 'Apparent power in volt-amperes.' },
  reactive_power: { name: 'egauge_reactive_power_vars', help: 'Reactive power in volt-amperes reactive.' },
  voltage: { name: 'egauge_voltage_volts', help: 'Voltage in volts.' },
  current: { name: 'egauge_current_amperes', help: 'Current in amperes.' },
  frequency: { name: 'egauge_frequency_hertz', help: 'Line frequency in hertz.' },
  temperature: { name: 'egauge_temperature_celsius', help: 'Temperature in degrees Celsius.' },
  // Ratios, not percentages (prometheus/docs naming): the meter's percent over 100.
  humidity: { name: 'egauge_relative_humidity_ratio', help: 'Relative humidity as a ratio (0-1; the meter reads percent).', per: 100 },
  thd: { name: 'egauge_thd_ratio', help: 'Total harmonic distortion as a ratio (0.05 is 5 %).', per: 100 },
  irradiance: { name: 'egauge_irradiance_watts_per_square_meter', help: 'Irradiance in watts per square metre.' },
  pressure: { name: 'egauge_pressure_pascals', help: 'Pressure in pascals.' },
  resistance: { name: 'egauge_resistance_ohms', help: 'Electric resistance in ohms.' },
  mass_flow: { name: 'egauge_mass_flow_grams_per_second', help: 'Mass flow in grams per second.' },
  volume_flow: { name: 'egauge_volume_flow_cubic_meters_per_second', help: 'Volumetric flow in cubic metres per second.' },
  speed: { name: 'egauge_speed_meters_per_second', help: 'Speed in metres per second.' },
  angle: { name: 'egauge_angle_degrees', help: 'Angle in degrees.' },
  // Prometheus wants base units (promtool: "use base unit seconds instead of hours"): 1 Ah = 3600 C.
  charge: { name: 'egauge_charge_coulombs', help: 'Electric charge in coulombs (the meter counts ampere-hours; 1 Ah = 3600 C).', scale: 3600 },
  number: { name: 'egauge_number', help: 'Unitless register value.' },
  money: { name: 'egauge_money_per_second', help: 'Monetary accrual rate in currency units per second.' }
}

/** Registers whose type code the bridge does not know: labelled with the code. */
const unknownFamily: Family = { name: 'egauge_register_value', help: 'Rate of a register whose type code the bridge does not know, in meter units per second.' }

/** The cumulative families, for quantities whose integral is meaningful. */
const totalFamilies: Record<string, Family> = {
  power: { name: 'egauge_energy_joules', help: 'Cumulative real energy in joules (a gauge: net registers also decrease; use delta()).' },
  apparent_power: { name: 'egauge_apparent_energy_voltampere_seconds', help: 'Cumulative apparent energy in volt-ampere-seconds (a gauge; use delta()).' },
  reactive_power: { name: 'egauge_reactive_energy_var_seconds', help: 'Cumulative reactive energy in var-seconds (a gauge; use delta()).' }
}

/** The rate family of a quantity. Pure. */
export function rateFamily (quantity: string): Family {
  return Object.hasOwn(rateFamilies, quantity) ? rateFamilies[quantity]! : unknownFamily
}

function totalFamily (quantity: string): Family | undefined {
  return Object.hasOwn(totalFamilies, quantity) ? totalFamilies[quantity] : undefined
}

/** Returns the exposition text for one meter snapshot. Does no I/O. */
export async function toExposition (snapshot: Snapshot, opts: ExpositionOptions): Promise<string> {
  const registry = new Registry<RegistryContentType>()
  registry.setContentType(opts.openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE)
  const gauges = new Map<string, Gauge>()
  const gauge = (name: string, helpText: string, labelNames: string[]): Gauge => {
    let g = gauges.get(name)
    if (g === undefined) {
      g = new Gauge({ name, help: helpText, labelNames, registers: [registry] })
      gauges.set(name, g)
    }
    return g
  }

  const { sensor } = snapshot
  const tagNames = Object.keys(opts.tags).sort()
  // The meter's serial number and host name where its protocol says them (the WebAPI); an absent
  // label and an empty one are the same series to Prometheus, so XML meters simply lack them.
  const identity = Object.fromEntries(Object.entries({ serial_number: snapshot.identity?.serialNumber, hostname: snapshot.identity?.hostname })
    .filter((entry): entry is [string, string] => entry[1] !== undefined && !Object.hasOwn(opts.tags, entry[0])))
  gauge('egauge_sensor_info', 'Constant 1 per meter, labelled with its configuration serial, its serial number and host name where the meter says them, and configured tags.', ['sensor', 'serial', ...Object.keys(identity), ...tagNames])
    .set({ sensor, serial: snapshot.serial, ...identity, ...opts.tags }, 1)
  gauge('egauge_sample_timestamp_seconds', 'Meter time of the values in this response, in unix seconds.', ['sensor'])
    .set({ sensor }, snapshot.time)
  gauge('egauge_fetch_duration_seconds', 'How long the meter took to answer this request.', ['sensor'])
    .set({ sensor }, opts.fetchSeconds)

  for (const r of snapshot.readings) {
    if (Number.isFinite(r.rate)) {
      const family = rateFamily(r.quantity)
      const value = family.per === undefined ? r.rate * (family.scale ?? 1) : r.rate / family.per
      if (family === unknownFamily) {
        gauge(family.name, family.help, ['sensor', 'register', 'type']).set({ sensor, register: r.register, type: r.type }, value)
      } else {
        gauge(family.name, family.help, ['sensor', 'register']).set({ sensor, register: r.register }, value)
      }
    }
    const total = totalFamily(r.quantity)
    if (total !== undefined && Number.isFinite(r.total)) {
      gauge(total.name, total.help, ['sensor', 'register']).set({ sensor, register: r.register }, r.total)
    }
  }
  return await registry.metrics()
}
