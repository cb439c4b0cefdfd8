/**
 * One sensor's push: from its checkpoint to now, plan → fetch → convert → write in batches → only
 * after the database acknowledged a whole chunk, advance the checkpoint (saved at most once a
 * second, see checkpoints.ts). Writes are idempotent (same series and time overwrite), so a crash
 * between a write and its saved checkpoint repeats the write and loses nothing.
 */
import type { Config, SensorConfig } from '../config/schema.js'
import type { MeterClient } from '../egauge/client.js'
import { parseShow } from '../egauge/parse.js'
import type { EgaugeError } from '../errors.js'
import { historyBatches, lineProtocolOptions, parseAnswer, type Batch } from '../render.js'
import type { SelfMetrics } from '../server/self-metrics.js'
import type { CheckpointStore } from './checkpoints.js'
import { planChunks } from './planner.js'
import { WriteError, type Writer } from './writers.js'

export interface PushLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface PushDeps {
  config: Pick<Config, 'influx' | 'push'>
  writer: Writer
  store: CheckpointStore
  metrics: SelfMetrics
  log: PushLogger
  client: (sensor: SensorConfig) => MeterClient
  /** Milliseconds since the epoch. */
  now: () => number
  /** Waits, or rejects when the signal aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Retries of a write that may succeed later (429, 5xx, network), within one cycle. */
  retries?: number
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
export async function pushRange (
  sensor: SensorConfig,
  range: Range,
  deps: PushDeps,
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
    // Chunks start at the checkpoint and each at the end of the one before, so (after, until] of a
    // chunk never reaches back into points already acknowledged.
    for (const chunk of planChunks(checkpoint ?? range.from, range.to, range.step, nowSeconds)) {
      signal?.throwIfAborted()
      const answer = await deps.client(sensor).fetchShow({ step: chunk.step, rows: chunk.rows, newest: chunk.newest, oldest: chunk.oldest }, signal)
      const history = parseAnswer(sensor, () => parseShow(answer.xml))
      const { batches, newest } = historyBatches(history, sensor, format, deps.config.influx.batchSize, chunk)
      if (batches.length === 0) continue
      points += await writeBatches(name, batches, deps, signal)
      // Every batch of the chunk is acknowledged (or refused for good): now, and only now, move on.
      checkpoint = newest
      deps.store.set(range.key, newest)
      deps.store.persistDue()
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

/** Writes the batches in order; returns the lines the database accepted. */
async function writeBatches (sensor: string, batches: Batch[], deps: PushDeps, signal: AbortSignal | undefined): Promise<number> {
  let written = 0
  for (const { body, lines } of batches) {
    try {
      await withRetries(async () => { await deps.writer.write(body, signal) }, deps, signal)
      written += lines
      deps.metrics.pushPoints.inc({ sensor }, lines)
    } catch (err) {
      if (!(err instanceof WriteError) || err.kind !== 'rejected') throw err
      // The database will never take this batch: say why, count it, and go on with the rest.
      deps.metrics.pushErrors.inc({ sensor, reason: err.code })
      deps.log.error({ sensor, code: err.code, lines, target: deps.writer.target }, `database refused a batch, skipped: ${err.message}`)
    }
  }
  return written
}

/** Runs `fn`, retrying failures that may pass (429, 5xx, network) with backoff and Retry-After. */
async function withRetries (fn: () => Promise<void>, deps: PushDeps, signal: AbortSignal | undefined): Promise<void> {
  const retries = deps.retries ?? 3
  for (let attempt = 0; attempt < retries; attempt++) {
    try {
      await fn()
      return
    } catch (err) {
      if (!(err instanceof WriteError) || err.kind !== 'retry') throw err
      const delay = Math.min(err.retryAfterMs ?? 1000 * 2 ** attempt, 60_000)
      deps.log.warn({ code: err.code, attempt: attempt + 1, delayMs: delay }, `database write will be retried: ${err.message}`)
      await deps.sleep(delay, signal)
    }
  }
  await fn() // the last try: its failure goes to the caller
}

/** A stable hash of a sensor name (FNV-1a, 32 bits), for `--shard i/n`. Pure. */
export function shardOf (name: string, shards: number): number {
  let h = 0x811c9dc5
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % shards
}

/** Parses `i/n` (1-based: `1/3`, `2/3`, `3/3`). Pure; throws RangeError. */
export function parseShard (text: string): { index: number, count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text)
  const index = Number(m?.[1])
  const count = Number(m?.[2])
  if (m === null || count < 1 || index < 1 || index > count) throw new RangeError(`--shard must be i/n with 1 <= i <= n, like 1/3 (got "${text}")`)
  return { index, count }
}

/** Runs `fn` over items with at most `limit` at once; resolves when all are done. */
export async function eachLimited<T, R> (items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
