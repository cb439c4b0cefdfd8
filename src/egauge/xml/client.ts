/**
 * The eGauge XML API as a MeterSource: `egauge?inst&tot` for current values, `egauge-show` for
 * history, parsed into the model. HTTP is the shared transport's; parsing is parse.ts's.
 */
import { registerFilter, type PulledSensor } from '../../config/schema.js'
import { parsedAnswer } from '../../model/errors.js'
import { type History, type HistoryQuery, type RegisterFilter, type Retention } from '../../model/history.js'
import type { Snapshot } from '../../model/readings.js'
import type { Fetched, MeterSource, SourceCounters } from '../../model/source.js'
import { EG4XXX_RETENTION } from '../retention.js'
import { MeterTransport } from '../transport.js'
import { parseInst, parseShow } from './parse.js'

export const INST_PATH = '/cgi-bin/egauge?inst&tot'

/**
 * The egauge-show path and query for a history request; `totals` adds `a` (the meter's totals and
 * virtual registers as the first columns). Pure; throws RangeError for a bad step.
 */
export function showPath (q: HistoryQuery, totals = false): string {
  if (!Number.isInteger(q.step) || q.step < 1) throw new RangeError(`unsupported history step ${q.step}s`)
  // The coarsest unit that divides the step; `s` skips rows after each one output (XML API §3.1).
  const [unit, size] = ([['d', 86400], ['h', 3600], ['m', 60], ['S', 1]] as const).find(([, n]) => q.step % n === 0)!
  const skip = q.step / size - 1
  let query = `${totals ? 'a&' : ''}${unit}&n=${q.rows}${skip > 0 ? `&s=${skip}` : ''}`
  if (q.newest !== undefined) query += `&f=${q.newest}`
  if (q.oldest !== undefined) query += `&t=${q.oldest}`
  return `/cgi-bin/egauge-show?${query}`
}

export class XmlClient implements MeterSource {
  private readonly sensor: PulledSensor
  private readonly transport: MeterTransport
  private readonly filter: RegisterFilter
  /** The meter's total and virtual registers, as its current values last named them (`rt="total"`). */
  private virtualNames: ReadonlySet<string> | undefined
  private currentInFlight: Promise<unknown> | undefined

  constructor (sensor: PulledSensor, counters: SourceCounters = {}) {
    this.sensor = sensor
    this.transport = new MeterTransport(sensor, counters)
    this.filter = registerFilter(sensor)
  }

  async current (signal?: AbortSignal): Promise<Fetched<Snapshot>> {
    const pending = this.readCurrent(signal)
    this.currentInFlight = pending
    try {
      return await pending
    } finally {
      if (this.currentInFlight === pending) this.currentInFlight = undefined
    }
  }

  private async readCurrent (signal?: AbortSignal): Promise<Fetched<Snapshot>> {
    const answer = await this.transport.fetch(INST_PATH, signal)
    const snapshot = parsedAnswer(this.sensor.name, () => parseInst(answer.text, this.sensor.name, this.filter, this.sensor))
    // Copies: a name read from the answer is a slice of its text, which it would keep alive
    // (1.7 kB per meter, between one cycle and the next).
    this.virtualNames = new Set(snapshot.readings.filter((r) => r.virtual).map((r) => Buffer.from(r.register).toString()))
    if (this.sensor.totals) return { data: snapshot, fetchSeconds: answer.fetchSeconds }
    return { data: { ...snapshot, readings: snapshot.readings.filter((r) => !r.virtual) }, fetchSeconds: answer.fetchSeconds }
  }

  async history (query: HistoryQuery, signal?: AbortSignal): Promise<Fetched<History>> {
    if (!this.sensor.totals) {
      // Asked without `a`: every column is a physical register, whatever its name.
      const answer = await this.transport.fetch(showPath(query), signal)
      return { data: parsedAnswer(this.sensor.name, () => parseShow(answer.text, this.sensor, { totals: false })), fetchSeconds: answer.fetchSeconds }
    }
    const names = await this.learnVirtualNames()
    const answer = await this.transport.fetch(showPath(query, true), signal)
    return { data: parsedAnswer(this.sensor.name, () => parseShow(answer.text, this.sensor, { totals: true, names })), fetchSeconds: answer.fetchSeconds }
  }

  /**
   * Stored data name only the two totals; the meter's current values mark every virtual register.
   * Read once before the first history request (push reads current values every cycle anyway),
   * one request shared by concurrent callers, bounded by the sensor's timeout rather than by one
   * caller's signal. A failed read fails no history: its totals are still found by name, and the
   * next history request tries again.
   */
  private async learnVirtualNames (): Promise<ReadonlySet<string> | undefined> {
    if (this.virtualNames !== undefined) return this.virtualNames
    // A read of current values already under way (the status page asks for both at once, or
    // another history request is learning) will do: current() registers itself as in flight.
    await (this.currentInFlight ?? this.current()).catch(() => undefined)
    return this.virtualNames
  }

  retention (): Retention {
    return EG4XXX_RETENTION
  }

  async close (): Promise<void> {
    await this.transport.close()
  }

  release (): void {
    this.transport.release()
  }
}
