/**
 * A meter's XML answer → the body the bridge serves (pure apart from prom-client). The one place
 * the pull path, `egauge-bridge once` and the golden tests turn meter data into output, so they
 * cannot drift apart.
 */
import type { InfluxConfig, SensorConfig } from './config/schema.js'
import { EgaugeError, ParseError } from './errors.js'
import { historyReadings, parseInst, parseShow, windowReadings, type RegisterFilter } from './egauge/parse.js'
import { toLineProtocol, type Precision } from './formats/influx.js'
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
  let snapshot: Snapshot
  try {
    snapshot = answerSnapshot(sensor, answer, opts.format === 'influx' ? 'series' : 'average')
  } catch (err) {
    /* c8 ignore next -- the parser throws only ParseError (a property test holds it to that) */
    if (!(err instanceof ParseError)) throw err
    throw new EgaugeError('EGAUGE_PARSE', sensor.name, `unreadable meter answer: ${err.message}`)
  }
  if (opts.format === 'influx') {
    return toLineProtocol(snapshot.readings, {
      schema: influx.schema,
      measurement: influx.measurement,
      tags: sensor.tags,
      precision: opts.precision,
      registerUnits: sensor.registerUnits
    })
  }
  return await toExposition(snapshot, { openMetrics: opts.format === 'openmetrics', tags: sensor.tags, fetchSeconds: answer.fetchSeconds })
}

/**
 * The readings in an answer. History gives one reading per row pair ('series', for line protocol)
 * or one per register averaged over the whole window ('average', for Prometheus).
 */
export function answerSnapshot (sensor: SensorConfig, answer: MeterAnswer, history: 'series' | 'average'): Snapshot {
  const filter: RegisterFilter = sensor.registers === undefined ? undefined : new Set(sensor.registers)
  if (answer.endpoint === 'inst') return parseInst(answer.xml, sensor.name, filter)
  const parsed = parseShow(answer.xml)
  const readings = history === 'series'
    ? historyReadings(parsed, sensor.name, filter)
    : windowReadings(parsed, sensor.name, filter)
  return { sensor: sensor.name, serial: parsed.serial, time: parsed.rows[0]?.time ?? 0, readings }
}
