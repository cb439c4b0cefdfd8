/**
 * The receiver: a meter's own push ("push data sharing", README "Meters that push") → the same
 * conversion and delivery as push mode. A push is acknowledged only once the database took every
 * point and the push's newest row is saved (the next push's first row is differenced against
 * it); anything else is a ReceiveError whose status tells the meter to keep its rows and send them
 * again (503) or that they will never be taken (4xx). Writes are idempotent (same series and time
 * overwrite), so a push sent twice leaves no duplicate. Pushes of one sensor are handled one at
 * a time, in the order they arrive; different sensors never wait for each other.
 */
import type { InfluxConfig, SensorConfig } from '../config/schema.js'
import { parseShow } from '../egauge/xml/parse.js'
import { parseRegisterJson } from '../egauge/webapi/register.js'
import { historyBatches, lineProtocolOptions } from '../formats/render.js'
import { errorCode, LimitError, ParseError, RECEIVE_ERROR_CODES, ReceiveError } from '../model/errors.js'
import { physicalOnly, type History } from '../model/history.js'
import { STATE_FILE } from '../push/sync.js'
import { deliver } from '../sinks/delivery.js'
import { WRITE_ERROR_CODES, WriteError } from '../sinks/write-error.js'
import type { Writer } from '../sinks/writer.js'
import type { Logger } from '../telemetry/logger.js'
import { exportReceiveSensor, type SelfMetrics } from '../telemetry/self-metrics.js'
import type { StatusBook } from '../telemetry/status-book.js'
import { sleep } from '../util/sleep.js'
import type { RowStore } from './row-store.js'
import { dropBoundaryArtefacts, newestRow, stitch } from './stitch.js'

/** Every reason a push is not acknowledged; each gets a counter at 0 from start-up. */
export const RECEIVE_REASONS = [...RECEIVE_ERROR_CODES, ...WRITE_ERROR_CODES, STATE_FILE]

/** The formats a meter pushes: the egauge-show XML, or the register JSON (its `json` option). */
export type PushFormat = 'xml' | 'json'

export interface ReceiverOptions {
  influx: InfluxConfig
  /** Where a sensor's points go: its own database (`sensors[].influx`) or the top-level one. */
  writerOf: (sensor: SensorConfig) => Writer
  /** The newest row of each sensor's last acknowledged push. */
  rows: RowStore
  metrics: SelfMetrics
  /** The current status book (a reload replaces it). */
  book: () => StatusBook
  log: Logger
  /** Milliseconds since the epoch. */
  now?: () => number
}

export interface Received {
  rows: number
  points: number
  /** Newest row time (unix s), if the push had rows. */
  newest: number | undefined
}

export class Receiver {
  private readonly opts: ReceiverOptions
  private readonly now: () => number
  /** The push being handled per sensor: the next one waits for it. */
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor (opts: ReceiverOptions) {
    this.opts = opts
    this.now = opts.now ?? Date.now
  }

  /** Gives a receiving sensor its series from start-up (last success 0, counters 0). */
  export (sensor: string): void {
    exportReceiveSensor(this.opts.metrics, sensor, RECEIVE_REASONS)
  }

  /** Handles one push body. Resolves once it is acknowledged; throws ReceiveError otherwise. */
  async receive (sensor: SensorConfig, body: string, format: PushFormat, signal?: AbortSignal): Promise<Received> {
    const before = this.queues.get(sensor.name) ?? Promise.resolve()
    const turn = before.then(async () => await this.handle(sensor, body, format, signal), async () => await this.handle(sensor, body, format, signal))
    this.queues.set(sensor.name, turn)
    try {
      return await turn
    } finally {
      if (this.queues.get(sensor.name) === turn) this.queues.delete(sensor.name)
    }
  }

  /**
   * Records a push refused before it reached the receiver (credentials, body size, encoding),
   * counted and shown like any other refusal.
   */
  refused (sensor: SensorConfig, err: ReceiveError, startedAt: number): void {
    this.fail(sensor, err, startedAt, 0)
  }

  private async handle (sensor: SensorConfig, body: string, format: PushFormat, signal?: AbortSignal): Promise<Received> {
    const { influx, rows, log } = this.opts
    const startedAt = this.now()
    const name = sensor.name
    let history: History
    try {
      // The same bounds as a fetched answer, checked as the document is read.
      history = format === 'json' ? parseRegisterJson(body, sensor) : parseShow(body, sensor)
      if (!sensor.totals) history = physicalOnly(history)
    } catch (err) {
      if (err instanceof LimitError) throw this.fail(sensor, new ReceiveError('RECEIVE_TOO_LARGE', name, 413, `push too large: ${err.message}`), startedAt, 0)
      if (!(err instanceof ParseError)) throw err
      throw this.fail(sensor, new ReceiveError('RECEIVE_BAD_BODY', name, 400, `push is not an eGauge ${format === 'json' ? 'register JSON' : 'egauge-show XML'} document: ${err.message}`), startedAt, 0)
    }
    // A refusal asks the meter to come back at its next push (Retry-After).
    const again = Math.ceil(sensor.receive!.intervalMs / 1000)
    const stitched = stitch(history, rows.get(name))
    if (stitched.notBridged !== undefined) log.warn({ sensor: name }, `push not joined to the previous one (${stitched.notBridged}): its oldest row has no rate`)
    if (stitched.gapSeconds !== undefined && stitched.gapSeconds > spacing(history)) {
      log.warn({ sensor: name, gapSeconds: stitched.gapSeconds }, `push starts ${stitched.gapSeconds} s after the previous one ended: the rows between were not sent (set old_first on the meter); one point averages over the gap`)
    }
    const { history: clean, dropped } = dropBoundaryArtefacts(stitched.history)
    if (dropped.length > 0) log.warn({ sensor: name, dropped }, `push: ${dropped.length} row(s) at a change of resolution dropped as artefacts (a counter turning back for one row); the energy is kept`)
    const batches = historyBatches(clean, sensor, lineProtocolOptions(sensor, influx, 's'), influx.batchSize)
    let points: number
    try {
      const writer = this.opts.writerOf(sensor)
      await writer.prepare(signal)
      // No retries here: the meter is waiting, and sends the same rows again at its next interval.
      points = await deliver(name, batches, { writer, metrics: this.opts.metrics, log, sleep, retries: 0, way: 'receive' }, signal)
    } catch (err) {
      if (!(err instanceof WriteError)) throw err
      throw this.fail(sensor, new ReceiveError(err.code, name, 503, `push not written, the meter will send it again: ${err.message}`, again), startedAt, history.rows.length)
    }
    const newest = newestRow(history)
    if (newest !== undefined) {
      try {
        // Saved before the answer: a bridge killed after a 2xx must still join the next push.
        rows.save(name, newest)
      } catch (err) {
        throw this.fail(sensor, new ReceiveError(STATE_FILE, name, 503, `push written but its newest row cannot be saved to ${rows.file(name)} (${errorCode(err)}): the meter will send it again`, again), startedAt, history.rows.length)
      }
    }
    const durationMs = this.now() - startedAt
    const { metrics } = this.opts
    metrics.receiveRows.inc({ sensor: name }, history.rows.length)
    metrics.receiveLastSuccess.set({ sensor: name }, Math.floor(this.now() / 1000))
    metrics.receiveDuration.observe(durationMs / 1000)
    this.opts.book().received(name, { at: startedAt, rows: history.rows.length, points, durationMs }, newest?.time)
    return { rows: history.rows.length, points, newest: newest?.time }
  }

  /** Counts, logs and records a refused push; returns the error for the caller to throw. */
  private fail (sensor: SensorConfig, err: ReceiveError, startedAt: number, rows: number): ReceiveError {
    const durationMs = this.now() - startedAt
    this.opts.metrics.receiveErrors.inc({ sensor: sensor.name, reason: err.code })
    this.opts.metrics.receiveDuration.observe(durationMs / 1000)
    const level = err.status >= 500 ? 'error' : 'warn'
    this.opts.log[level]({ sensor: sensor.name, code: err.code, status: err.status }, err.message)
    this.opts.book().received(sensor.name, { at: startedAt, rows, points: 0, durationMs }, undefined, { code: err.code, message: err.message })
    return err
  }
}

/** Seconds between a history's two oldest rows (60 for a single row: the meter's default granularity). */
function spacing (history: History): number {
  const rows = history.rows
  return rows.length < 2 ? 60 : rows[rows.length - 2]!.time - rows[rows.length - 1]!.time
}
