/**
 * A meter's XML answer → the body the bridge serves (pure apart from prom-client). The one place
 * the pull path, `egauge-bridge once` and the golden tests turn meter data into output, so they
 * cannot drift apart.
 */
import type { InfluxConfig, SensorConfig } from './config/schema.js'
import { EgaugeError, ParseError } from './errors.js'
import { forEachRate, historyReadings, parseInst, parseShow, windowReadings, type History, type RegisterFilter } from './egauge/parse.js'
import { LineWriter, toLineProtocol, type LineProtocolOptions, type Precision } from './formats/influx.js'
import { toExposition } from './formats/prometheus.js'
import type { Snapshot } from './model.js'

export type OutputFormat = 'influx' | 'prometheus' | 'openmetrics'

export interface MeterAnswer {
  /** `inst` for egauge?inst&tot, `show` for egauge-show. */
  endpoint: 'inst' | 'show'
  xml: string
  fetchSeconds: number
}

export interface RenderOptions {
  format: OutputFormat
  precision: Precision
}

/** Returns the response body; throws EgaugeError EGAUGE_PARSE for XML that is not an eGauge answer. */
export async function renderAnswer (
  sensor: SensorConfig,
  influx: Pick<InfluxConfig, 'schema' | 'measurement'>,
  answer: MeterAnswer,
  opts: RenderOptions
): Promise<string> {
  const lineOptions = lineProtocolOptions(sensor, influx, opts.precision)
  if (opts.format === 'influx' && answer.endpoint === 'show') {
    return historyText(parseAnswer(sensor, () => parseShow(answer.xml)), sensor, lineOptions)
  }
  const snapshot = parseAnswer(sensor, () => answerSnapshot(sensor, answer, 'average'))
  if (opts.format === 'influx') return toLineProtocol(snapshot.readings, lineOptions)
  return await toExposition(snapshot, { openMetrics: opts.format === 'openmetrics', tags: sensor.tags, fetchSeconds: answer.fetchSeconds })
}

/** Runs a parse, turning ParseError into EgaugeError EGAUGE_PARSE for this sensor. */
export function parseAnswer<T> (sensor: SensorConfig, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    /* c8 ignore next -- the parser throws only ParseError (a property test holds it to that) */
    if (!(err instanceof ParseError)) throw err
    throw new EgaugeError('EGAUGE_PARSE', sensor.name, `unreadable meter answer: ${err.message}`)
  }
}

export function lineProtocolOptions (sensor: SensorConfig, influx: Pick<InfluxConfig, 'schema' | 'measurement'>, precision: Precision): LineProtocolOptions {
  return { schema: influx.schema, measurement: influx.measurement, tags: sensor.tags, precision, registerUnits: sensor.registerUnits }
}

export interface Batch {
  /** Line protocol as UTF-8 bytes: what the database's HTTP API takes, without a re-encoding. */
  body: Buffer
  lines: number
}

/** The sensor's `registers` allow-list as a set; undefined keeps every register. */
function registerFilter (sensor: SensorConfig): RegisterFilter {
  return sensor.registers === undefined ? undefined : new Set(sensor.registers)
}

/**
 * A history as line protocol text (the pull path), straight from the meter's integers (no object
 * per value, no float formatting for 1-second rates). Pure.
 */
export function historyText (history: History, sensor: SensorConfig, opts: LineProtocolOptions): string {
  const writer = new LineWriter(opts, expectedBytes(history, Number.POSITIVE_INFINITY))
  forEachRate(history, registerFilter(sensor), (column, type, time, units, seconds, cumulative) => {
    writer.addRate(sensor.name, column, type, time, units, seconds, cumulative)
  })
  return writer.take()
}

/**
 * The push path's historyText(): bytes in batches of at most `batchSize` lines, for the points in
 * `range` when given. Returns the batches and the newest time written. Pure.
 */
export function historyBatches (
  history: History,
  sensor: SensorConfig,
  opts: LineProtocolOptions,
  batchSize: number,
  range?: { after: number, until: number }
): { batches: Batch[], newest: number } {
  const writer = new LineWriter(opts, expectedBytes(history, batchSize))
  const batches: Batch[] = []
  forEachRate(history, registerFilter(sensor), (column, type, time, units, seconds, cumulative) => {
    writer.addRate(sensor.name, column, type, time, units, seconds, cumulative)
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

/**
 * The readings in an answer. History gives one reading per row pair ('series') or one per
 * register averaged over the whole window ('average', for Prometheus). Throws ParseError.
 */
export function answerSnapshot (sensor: SensorConfig, answer: MeterAnswer, history: 'series' | 'average'): Snapshot {
  const filter = registerFilter(sensor)
  if (answer.endpoint === 'inst') return parseInst(answer.xml, sensor.name, filter)
  const parsed = parseShow(answer.xml)
  const readings = history === 'series'
    ? historyReadings(parsed, sensor.name, filter)
    : windowReadings(parsed, sensor.name, filter)
  return { sensor: sensor.name, serial: parsed.serial, time: parsed.rows[0]?.time ?? 0, readings }
}
