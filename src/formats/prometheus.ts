/**
 * Readings → Prometheus text 0.0.4 or OpenMetrics 1.0 (pure apart from prom-client's own work).
 * A fresh registry per call, as multi-target exporters do: one request never sees another's series.
 * Cumulative registers are gauges, not counters: net registers go up and down (DESIGN §4.3).
 */
import { Gauge, Registry, type RegistryContentType } from 'prom-client'
import type { Snapshot } from '../model.js'
import { registerType } from '../egauge/registers.js'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

export interface ExpositionOptions {
  openMetrics: boolean
  /** The sensor's configured tags, exported on `egauge_sensor_info`. */
  tags: Record<string, string>
  /** How long the meter took to answer, for `egauge_fetch_duration_seconds`. */
  fetchSeconds: number
}

const help: Record<string, string> = {
  egauge_power_watts: 'Real power in watts (negative when a net register exports).',
  egauge_apparent_power_voltamperes: 'Apparent power in volt-amperes.',
  egauge_reactive_power_vars: 'Reactive power in volt-amperes reactive.',
  egauge_voltage_volts: 'Voltage in volts.',
  egauge_current_amperes: 'Current in amperes.',
  egauge_frequency_hertz: 'Line frequency in hertz.',
  egauge_temperature_celsius: 'Temperature in degrees Celsius.',
  egauge_relative_humidity_percent: 'Relative humidity in percent.',
  egauge_thd_percent: 'Total harmonic distortion in percent.',
  egauge_irradiance_watts_per_square_meter: 'Irradiance in watts per square metre.',
  egauge_pressure_pascals: 'Pressure in pascals.',
  egauge_resistance_ohms: 'Electric resistance in ohms.',
  egauge_mass_flow_grams_per_second: 'Mass flow in grams per second.',
  egauge_volume_flow_cubic_meters_per_second: 'Volumetric flow in cubic metres per second.',
  egauge_speed_meters_per_second: 'Speed in metres per second.',
  egauge_angle_degrees: 'Angle in degrees.',
  egauge_charge_coulombs: 'Electric charge in coulombs (the meter counts ampere-hours; 1 Ah = 3600 C).',
  egauge_number: 'Unitless register value.',
  egauge_money_per_second: 'Monetary accrual rate in currency units per second.',
  egauge_register_value: 'Rate of a register whose type code the bridge does not know, in meter units per second.',
  egauge_energy_joules: 'Cumulative real energy in joules (a gauge: net registers also decrease; use delta()).',
  egauge_apparent_energy_voltampere_seconds: 'Cumulative apparent energy in volt-ampere-seconds (a gauge; use delta()).',
  egauge_reactive_energy_var_seconds: 'Cumulative reactive energy in var-seconds (a gauge; use delta()).'
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
  gauge('egauge_sensor_info', 'Constant 1 per meter, labelled with its configuration serial and configured tags.', ['sensor', 'serial', ...tagNames])
    .set({ sensor, serial: snapshot.serial, ...opts.tags }, 1)
  gauge('egauge_sample_timestamp_seconds', 'Meter time of the values in this response, in unix seconds.', ['sensor'])
    .set({ sensor }, snapshot.time)
  gauge('egauge_fetch_duration_seconds', 'How long the meter took to answer this request.', ['sensor'])
    .set({ sensor }, opts.fetchSeconds)

  for (const r of snapshot.readings) {
    const type = registerType(r.type)
    if (Number.isFinite(r.rate)) {
      const value = r.rate * (type.rateMetricScale ?? 1)
      if (type.rateMetric === 'egauge_register_value') {
        gauge(type.rateMetric, help[type.rateMetric]!, ['sensor', 'register', 'type']).set({ sensor, register: r.register, type: r.type }, value)
      } else {
        gauge(type.rateMetric, help[type.rateMetric]!, ['sensor', 'register']).set({ sensor, register: r.register }, value)
      }
    }
    if (type.totalMetric !== undefined && Number.isFinite(r.total)) {
      gauge(type.totalMetric, help[type.totalMetric]!, ['sensor', 'register']).set({ sensor, register: r.register }, r.total)
    }
  }
  return await registry.metrics()
}
