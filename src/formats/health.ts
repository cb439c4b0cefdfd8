/**
 * The bridge's own health as line protocol (pure): in push mode, each cycle writes the per-sensor
 * self-metrics into the database it pushes to, measurement `egauge_bridge`, so a dashboard shows
 * lag and errors without Telegraf or Prometheus (README "The bridge's health in InfluxDB"). The
 * shape is what Telegraf's `inputs.prometheus` (metric_version 2, `name_override =
 * "egauge_bridge"`) writes from `GET /metrics`: one float field named after the metric, its labels
 * as tags, so the same queries read either.
 */
import { escapeKey, escapeMeasurement } from './influx.js'

export const HEALTH_MEASUREMENT = 'egauge_bridge'

/** The per-sensor self-metrics written, by name. */
export const HEALTH_METRICS = [
  'egauge_bridge_sensor_up',
  'egauge_bridge_fetch_errors_total',
  'egauge_bridge_push_points_total',
  'egauge_bridge_push_errors_total',
  'egauge_bridge_push_lag_seconds',
  'egauge_bridge_push_last_success_timestamp_seconds',
  'egauge_bridge_meter_clock_offset_seconds',
  'egauge_bridge_receive_up',
  'egauge_bridge_receive_points_total',
  'egauge_bridge_receive_errors_total',
  'egauge_bridge_receive_lag_seconds'
] as const

export interface HealthSample {
  name: string
  labels: Partial<Record<string, string | number>>
  value: number
}

/**
 * One line per sample of `sensors`, at `time` (unix seconds), tags sorted by key, in bodies of at
 * most `batchSize` lines: about 20 lines per sensor made one 2 MB body at 1000 meters and 11 MB
 * at 5000. Samples of other sensors, of no sensor, or not finite are left out.
 */
export function healthBatches (samples: readonly HealthSample[], sensors: ReadonlySet<string>, time: number, batchSize: number): string[] {
  const batches: string[] = []
  let lines: string[] = []
  for (const s of samples) {
    const sensor = s.labels.sensor
    if (typeof sensor !== 'string' || !sensors.has(sensor) || !Number.isFinite(s.value)) continue
    const tags = Object.keys(s.labels).sort().map((k) => `,${escapeKey(k)}=${escapeKey(String(s.labels[k]))}`).join('')
    lines.push(`${escapeMeasurement(HEALTH_MEASUREMENT)}${tags} ${escapeKey(s.name)}=${String(s.value)} ${time}\n`)
    if (lines.length === batchSize) {
      batches.push(lines.join(''))
      lines = []
    }
  }
  if (lines.length > 0) batches.push(lines.join(''))
  return batches
}
