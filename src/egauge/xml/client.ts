/**
 * The eGauge XML API as a MeterSource: `egauge?inst&tot` for current values, `egauge-show` for
 * history, parsed into the model. HTTP is the shared transport's; parsing is parse.ts's.
 */
import { registerFilter, type PulledSensor } from '../../config/schema.js'
import { EgaugeError, LimitError, ParseError } from '../../model/errors.js'
import type { History, HistoryQuery, RegisterFilter, Retention } from '../../model/history.js'
import type { Snapshot } from '../../model/readings.js'
import type { Fetched, MeterSource, SourceCounters } from '../../model/source.js'
import { EG4XXX_RETENTION } from '../retention.js'
import { MeterTransport } from '../transport.js'
import { parseInst, parseShow } from './parse.js'

export const INST_PATH = '/cgi-bin/egauge?inst&tot'

/** The egauge-show path and query for a history request. Pure; throws RangeError for a bad step. */
export function showPath (q: HistoryQuery): string {
  if (!Number.isInteger(q.step) || q.step < 1) throw new RangeError(`unsupported history step ${q.step}s`)
  // The coarsest unit that divides the step; `s` skips rows after each one output (XML API §3.1).
  const [unit, size] = ([['d', 86400], ['h', 3600], ['m', 60], ['S', 1]] as const).find(([, n]) => q.step % n === 0)!
  const skip = q.step / size - 1
  let query = `${unit}&n=${q.rows}${skip > 0 ? `&s=${skip}` : ''}`
  if (q.newest !== undefined) query += `&f=${q.newest}`
  if (q.oldest !== undefined) query += `&t=${q.oldest}`
  return `/cgi-bin/egauge-show?${query}`
}

export class XmlClient implements MeterSource {
  private readonly sensor: PulledSensor
  private readonly transport: MeterTransport
  private readonly filter: RegisterFilter

  constructor (sensor: PulledSensor, counters: SourceCounters = {}) {
    this.sensor = sensor
    this.transport = new MeterTransport(sensor, counters)
    this.filter = registerFilter(sensor)
  }

  async current (signal?: AbortSignal): Promise<Fetched<Snapshot>> {
    const answer = await this.transport.fetch(INST_PATH, signal)
    return { data: this.parse(() => parseInst(answer.text, this.sensor.name, this.filter, this.sensor)), fetchSeconds: answer.fetchSeconds }
  }

  async history (query: HistoryQuery, signal?: AbortSignal): Promise<Fetched<History>> {
    const answer = await this.transport.fetch(showPath(query), signal)
    return { data: this.parse(() => parseShow(answer.text, this.sensor)), fetchSeconds: answer.fetchSeconds }
  }

  retention (): Retention {
    return EG4XXX_RETENTION
  }

  async close (): Promise<void> {
    await this.transport.close()
  }

  /** Runs a parse, turning ParseError into EgaugeError EGAUGE_PARSE for this sensor, LimitError into EGAUGE_TOO_LARGE. */
  private parse<T> (parse: () => T): T {
    try {
      return parse()
    } catch (err) {
      if (err instanceof LimitError) throw new EgaugeError('EGAUGE_TOO_LARGE', this.sensor.name, `meter answer too large: ${err.message}`)
      /* c8 ignore next -- the parser throws only ParseError (a property test holds it to that) */
      if (!(err instanceof ParseError)) throw err
      throw new EgaugeError('EGAUGE_PARSE', this.sensor.name, `unreadable meter answer: ${err.message}`)
    }
  }
}
