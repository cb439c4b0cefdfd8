/**
 * One sensor's push: from its checkpoint to now, plan → fetch → convert → deliver in batches →
 * only after the database acknowledged a whole chunk, advance the checkpoint (saved at most once a
 * second, see checkpoints.ts). Writes are idempotent (same series and time overwrite), so a crash
 * between a write and its saved checkpoint repeats the write and loses nothing.
 */
import type { Config, SensorConfig } from '../config/schema.js'
import { historyBatches, lineProtocolOptions } from '../formats/render.js'
import type { EgaugeError } from '../model/errors.js'
import type { MeterSource } from '../model/source.js'
import { deliver, withRetries, type DeliveryDeps } from '../sinks/delivery.js'
import { WriteError } from '../sinks/write-error.js'
import type { CheckpointStore } from './checkpoints.js'
import { planChunks } from './planner.js'

export interface SyncDeps extends DeliveryDeps {
  config: Pick<Config, 'influx' | 'push'>
  store: CheckpointStore
  /** Milliseconds since the epoch. */
  now: () => number
}

export interface Range {
  /** Checkpoint key: the sensor name for push, a job id for backfill. */
  key: string
  /** Points are written for times in (from, to]; `from` is used when the key has no checkpoint. */
  from: number
  to: number
  step: number
}

export interface SensorResult {
  sensor: string
  ok: boolean
  points: number
  /** The checkpoint after this run, if any. */
  checkpoint: number | undefined
  error?: { code: string, message: string }
}

/** Pushes one sensor over a range. Never throws: failures are logged, counted and returned. */
/**
 * Saves the checkpoints when due. A state file that cannot be written (a full or read-only disk)
 * is its own failure, STATE_FILE: the points are in the database and the sensor's result stays
 * ok; the checkpoint stays in memory and the next save (at the latest, the cycle's end) retries.
 */
function persistDue (sensor: string, deps: SyncDeps): void {
  try {
    deps.store.persistDue()
  } catch (err) {
    deps.metrics.pushErrors.inc({ sensor, reason: STATE_FILE })
    deps.log.error({ sensor, code: STATE_FILE, file: deps.store.file, cause: (err as { code?: string }).code }, `cannot save push checkpoints (${(err as { code?: string }).code ?? (err as Error).message}): the points are written; the save is retried`)
  }
}

/** A checkpoint this far ahead of the bridge's clock cannot be right. */
export const FUTURE_SLACK_SECONDS = 300

/** The push error reason of a state file that cannot be saved. */
export const STATE_FILE = 'STATE_FILE'

export async function pushRange (
  sensor: SensorConfig,
  source: MeterSource,
  range: Range,
  deps: SyncDeps,
  signal?: AbortSignal,
  onProgress?: (checkpoint: number, points: number) => void
): Promise<SensorResult> {
  const name = sensor.name
  let checkpoint = deps.store.get(range.key)
  let points = 0
  const format = lineProtocolOptions(sensor, deps.config.influx, 's')
  try {
    await withRetries(async () => { await deps.writer.prepare(signal) }, deps, signal)
    const nowSeconds = Math.floor(deps.now() / 1000)
    // A checkpoint ahead of the clock (a state file from a machine whose clock was wrong, or
    // edited by hand) would make every cycle write nothing while reporting success: it is
    // replaced by the range's start, with a warning. Points already written are written again,
    // which line protocol makes harmless (same series, same time).
    if (checkpoint !== undefined && checkpoint > nowSeconds + FUTURE_SLACK_SECONDS) {
      deps.log.warn({ sensor: name, checkpoint, now: nowSeconds }, `push checkpoint is ${checkpoint - nowSeconds} s in the future: ignored, pushing from ${range.from} instead`)
      checkpoint = undefined
      deps.store.reset(range.key, range.from)
    }
    // Chunks start at the checkpoint and each at the end of the one before, so (after, until] of a
    // chunk never reaches back into points already acknowledged.
    for (const chunk of planChunks(checkpoint ?? range.from, range.to, range.step, nowSeconds, source.retention())) {
      signal?.throwIfAborted()
      const { data: history } = await source.history({ step: chunk.step, rows: chunk.rows, newest: chunk.newest, oldest: chunk.oldest }, signal)
      // Made batch by batch as delivered: one batch of line protocol in memory at a time.
      const batches = historyBatches(history, sensor, format, deps.config.influx.batchSize, chunk)
      points += await deliver(name, batches, deps, signal)
      if (batches.lines === 0) continue
      const newest = batches.newest
      // Every batch of the chunk is acknowledged (or refused for good): now, and only now, move on.
      checkpoint = newest
      deps.store.set(range.key, newest)
      persistDue(name, deps)
      onProgress?.(newest, points)
    }
    return { sensor: name, ok: true, points, checkpoint }
  } catch (err) {
    // Stopped from outside (Ctrl-C, shutdown): whatever the aborted fetch or write threw is not a
    // meter or database failure and must not be logged or counted as one.
    if (signal?.aborted === true) return { sensor: name, ok: false, points, checkpoint, error: { code: 'ABORTED', message: 'stopped' } }
    const e = err as EgaugeError | WriteError
    deps.metrics.pushErrors.inc({ sensor: name, reason: e.code })
    if (e instanceof WriteError) {
      deps.log.error({ sensor: name, code: e.code, target: deps.writer.target }, `push to the database failed, checkpoint kept: ${e.message}`)
    } else {
      deps.log.warn({ sensor: name, code: e.code }, `push could not read the meter, checkpoint kept: ${e.message}`)
    }
    return { sensor: name, ok: false, points, checkpoint, error: { code: e.code, message: e.message } }
  }
}
