/**
 * A parsed meter answer → the body the bridge serves, or the batches push writes (pure apart from
 * prom-client). The one place the pull path, `egauge-bridge once`, push and the golden tests turn
 * meter data into output, so they cannot drift apart. Knows no protocol: it reads the model.
 */
import { registerFilter, type InfluxConfig, type SensorConfig } from '../config/schema.js'
import type { History } from '../model/history.js'
import type { OutputFormat, Precision } from '../model/output.js'
import { forEachRate, historyReadings, windowReadings, type TimeRange } from '../model/rates.js'
import type { Snapshot } from '../model/readings.js'
import type { MeterAnswer } from '../model/source.js'
import { LineWriter, toLineProtocol, type LineProtocolOptions } from './influx.js'
import { toExposition } from './prometheus.js'

export interface RenderOptions {
  format: OutputFormat
  precision: Precision
}

/**
 * Returns the response body. Current values become one line (or sample) per register; history
 * becomes one line per point in line protocol, and the window's average rate for Prometheus.
 */
export async function renderAnswer (
  sensor: SensorConfig,
  influx: Pick<InfluxConfig, 'schema' | 'measurement'>,
  answer: MeterAnswer,
  opts: RenderOptions
): Promise<string> {
  const lineOptions = lineProtocolOptions(sensor, influx, opts.precision)
  if (opts.format === 'influx' && answer.kind === 'history') return historyText(answer.history, sensor, lineOptions)
  const snapshot = answer.kind === 'current' ? answer.snapshot : historySnapshot(answer.history, sensor, 'average')
  if (opts.format === 'influx') return toLineProtocol(snapshot.readings, lineOptions)
  return await toExposition(snapshot, { openMetrics: opts.format === 'openmetrics', tags: sensor.tags, fetchSeconds: answer.fetchSeconds })
}

export function lineProtocolOptions (sensor: SensorConfig, influx: Pick<InfluxConfig, 'schema' | 'measurement'>, precision: Precision): LineProtocolOptions {
  return { schema: influx.schema, measurement: influx.measurement, tags: sensor.tags, precision, registerUnits: sensor.registerUnits }
}

/**
 * Which points in the database are the sensor's, for finding where it stopped: schema egauge
 * tags each point with `sensor`; schema peper only with the sensor's configured tags, which
 * must then be there to tell sensors apart (undefined when there are none).
 */
export function sensorSeries (sensor: SensorConfig, influx: Pick<InfluxConfig, 'schema' | 'measurement'>): { measurement: string, tags: Record<string, string> } | undefined {
  if (influx.schema === 'egauge') return { measurement: influx.measurement, tags: { sensor: sensor.name } }
  return Object.keys(sensor.tags).length === 0 ? undefined : { measurement: influx.measurement, tags: { ...sensor.tags } }
}

/**
 * A history's readings as a snapshot: one reading per row pair ('series') or one per register
 * averaged over the whole history ('average', for Prometheus).
 */
export function historySnapshot (history: History, sensor: SensorConfig, mode: 'series' | 'average'): Snapshot {
  const filter = registerFilter(sensor)
  const readings = mode === 'series' ? historyReadings(history, sensor.name, filter) : windowReadings(history, sensor.name, filter)
  return { sensor: sensor.name, serial: history.serial, time: history.rows[0]?.time ?? 0, readings }
}

export interface Batch {
  /** Line protocol as UTF-8 bytes: what the database's HTTP API takes, without a re-encoding. */
  body: Buffer
  lines: number
}

/**
 * A history as line protocol text (the pull path), straight from the meter's integers (no object
 * per value, no float formatting for 1-second rates).
 */
export function historyText (history: History, sensor: SensorConfig, opts: LineProtocolOptions): string {
  const writer = new LineWriter(opts, expectedBytes(history, Number.POSITIVE_INFINITY))
  forEachRate(history, registerFilter(sensor), (column, time, units, seconds, cumulative) => {
    writer.addRate(sensor.name, column, time, units, seconds, cumulative)
  })
  return writer.take()
}

/**
 * The push path's historyText(): bytes in batches of at most `batchSize` lines, for the points in
 * `range` when given. Returns the batches and the newest time written.
 */
export function historyBatches (
  history: History,
  sensor: SensorConfig,
  opts: LineProtocolOptions,
  batchSize: number,
  range?: TimeRange
): { batches: Batch[], newest: number } {
  const writer = new LineWriter(opts, expectedBytes(history, batchSize))
  const batches: Batch[] = []
  forEachRate(history, registerFilter(sensor), (column, time, units, seconds, cumulative) => {
    writer.addRate(sensor.name, column, time, units, seconds, cumulative)
    if (writer.lines >= batchSize) batches.push({ lines: writer.lines, body: writer.takeBytes() })
  }, range)
  if (writer.lines > 0) batches.push({ lines: writer.lines, body: writer.takeBytes() })
  return { batches, newest: writer.newest }
}

/** A line is 100–130 bytes with the usual tags; an estimate only sizes the first buffer. */
const BYTES_PER_LINE = 128

/** The bytes of the first batch of a history's line protocol, roughly (at most one line per value). */
function expectedBytes (history: History, batchSize: number): number {
  return Math.min(batchSize, Math.max(0, history.rows.length - 1) * history.columns.length) * BYTES_PER_LINE
}
