/**
 * A parsed meter answer → the body the bridge serves, or the batches push writes (pure apart from
 * prom-client). The one place the pull path, `egauge-bridge once`, push and the golden tests turn
 * meter data into output, so they cannot drift apart. Knows no protocol: it reads the model.
 */
import { registerFilter, type InfluxConfig, type SensorConfig } from '../config/schema.js'
import { EgaugeError } from '../model/errors.js'
import type { History } from '../model/history.js'
import type { OutputFormat, Precision } from '../model/output.js'
import { forEachRate, historyReadings, keptColumns, windowReadings, type TimeRange } from '../model/rates.js'
import type { Snapshot } from '../model/readings.js'
import type { MeterAnswer } from '../model/source.js'
import { LineWriter, toLineProtocol, type LineProtocolOptions } from './influx.js'
import { toExposition } from './prometheus.js'

/**
 * Lines one history response may hold. A window is at most 3600 points; 3600 points of a large
 * meter's 64 registers are 230 400 lines (30 MB). A meter with hundreds of registers would make a
 * body of hundreds of MB in one piece: refused with what to ask instead (README "HTTP API").
 */
export const MAX_RESPONSE_LINES = 500_000

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
 * per value, no float formatting for 1-second rates). Throws EgaugeError (EGAUGE_TOO_LARGE) past
 * MAX_RESPONSE_LINES.
 */
export function historyText (history: History, sensor: SensorConfig, opts: LineProtocolOptions): string {
  const filter = registerFilter(sensor)
  const registers = keptColumns(history.columns, filter).length
  const lines = Math.max(0, history.rows.length - 1) * registers
  if (lines > MAX_RESPONSE_LINES) {
    throw new EgaugeError('EGAUGE_TOO_LARGE', sensor.name, `window too large for one response: ${history.rows.length - 1} points × ${registers} registers = ${lines} lines, more than ${MAX_RESPONSE_LINES}: ask a shorter window, a coarser step, or fewer registers (the sensor's registers list)`)
  }
  const writer = new LineWriter(opts, expectedBytes(history, Number.POSITIVE_INFINITY))
  forEachRate(history, filter, (column, time, units, seconds, cumulative) => {
    writer.addRate(sensor.name, column, time, units, seconds, cumulative)
  })
  return writer.take()
}

/**
 * The push path's historyText(): bytes in batches of at most `batchSize` lines, for the points in
 * `range` when given, made as they are taken. A consumer that writes each batch before taking the
 * next holds one batch of line protocol at a time, however long the history (README
 * "Reliability"); `lines` and `newest` are the lines made and the newest time written so far.
 */
export function historyBatches (
  history: History,
  sensor: SensorConfig,
  opts: LineProtocolOptions,
  batchSize: number,
  range?: TimeRange
): BatchStream {
  return new BatchStream(history, sensor, opts, batchSize, range)
}

export class BatchStream implements Iterable<Batch> {
  lines = 0
  newest = Number.NEGATIVE_INFINITY
  constructor (
    private readonly history: History,
    private readonly sensor: SensorConfig,
    private readonly opts: LineProtocolOptions,
    private readonly batchSize: number,
    private readonly range: TimeRange | undefined
  ) {}

  * [Symbol.iterator] (): Iterator<Batch> {
    const { history, sensor, batchSize } = this
    const writer = new LineWriter(this.opts, expectedBytes(history, batchSize))
    const filter = registerFilter(sensor)
    // Row pairs per slice: about one batch of lines, so at most two batches wait at a time.
    const perSlice = Math.max(1, Math.floor(batchSize / Math.max(1, history.columns.length)))
    const ready: Batch[] = []
    const take = (): Batch => {
      this.lines += writer.lines
      return { lines: writer.lines, body: writer.takeBytes() }
    }
    for (let start = 0; start + 1 < history.rows.length; start += perSlice) {
      forEachRate(history, filter, (column, time, units, seconds, cumulative) => {
        writer.addRate(sensor.name, column, time, units, seconds, cumulative)
        if (writer.lines >= batchSize) ready.push(take())
      }, this.range, { start, end: start + perSlice })
      this.newest = writer.newest
      while (ready.length > 0) yield ready.shift()!
    }
    if (writer.lines > 0) yield take()
  }
}

/** A line is 100–130 bytes with the usual tags; an estimate only sizes the first buffer. */
const BYTES_PER_LINE = 128

/** The bytes of the first batch of a history's line protocol, roughly (at most one line per value). */
function expectedBytes (history: History, batchSize: number): number {
  return Math.min(batchSize, Math.max(0, history.rows.length - 1) * history.columns.length) * BYTES_PER_LINE
}
