/**
 * Delivering batches to a writer, shared by every way in that writes (push, backfill and, later,
 * the receiver), as Telegraf's running_output is shared by every output: failures that may pass
 * (429, 5xx, network) are retried with backoff and Retry-After; a batch the database will never
 * take is logged, counted and skipped; a configuration failure goes to the caller.
 */
import type { Batch } from '../formats/render.js'
import type { Logger } from '../telemetry/logger.js'
import type { SelfMetrics } from '../telemetry/self-metrics.js'
import { WriteError } from './write-error.js'
import type { Writer } from './writer.js'

export interface DeliveryDeps {
  writer: Writer
  metrics: SelfMetrics
  log: Logger
  /** Waits, or rejects when the signal aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Retries of a write that may succeed later (429, 5xx, network); 3 by default. */
  retries?: number
  /** Which way in the points are counted for: push (the default) or the receiver. */
  way?: 'push' | 'receive'
}

/** Writes the batches in order; returns the lines the database accepted. Throws WriteError (not `rejected`). */
export async function deliver (sensor: string, batches: Iterable<Batch>, deps: DeliveryDeps, signal?: AbortSignal): Promise<number> {
  let written = 0
  const receiving = deps.way === 'receive'
  const points = receiving ? deps.metrics.receivePoints : deps.metrics.pushPoints
  const errors = receiving ? deps.metrics.receiveErrors : deps.metrics.pushErrors
  for (const { body, lines } of batches) {
    try {
      await withRetries(async () => { await deps.writer.write(body, signal) }, deps, signal)
      written += lines
      points.inc({ sensor }, lines)
    } catch (err) {
      if (!(err instanceof WriteError) || err.kind !== 'rejected') throw err
      // The database will never take this batch: say why, count it, and go on with the rest.
      errors.inc({ sensor, reason: err.code })
      deps.log.error({ sensor, code: err.code, lines, target: deps.writer.target }, `database refused a batch, skipped: ${err.message}`)
    }
  }
  return written
}

/** Runs `fn`, retrying failures that may pass (429, 5xx, network) with backoff and Retry-After. */
export async function withRetries (fn: () => Promise<void>, deps: DeliveryDeps, signal?: AbortSignal): Promise<void> {
  const retries = deps.retries ?? 3
  for (let attempt = 0; attempt < retries; attempt++) {
    try {
      await fn()
      return
    } catch (err) {
      // A write cut short by shutdown is not retried: the checkpoint keeps its points for the next run.
      if (!(err instanceof WriteError) || err.kind !== 'retry' || signal?.aborted === true) throw err
      const delay = Math.min(err.retryAfterMs ?? 1000 * 2 ** attempt, 60_000)
      deps.log.warn({ code: err.code, attempt: attempt + 1, delayMs: delay }, `database write will be retried: ${err.message}`)
      await deps.sleep(delay, signal)
    }
  }
  await fn() // the last try: its failure goes to the caller
}
