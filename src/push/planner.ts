/**
 * The backfill planner (pure): which egauge-show requests cover the points in (from, to]. Recent
 * parts come at the push step; parts the meter only holds coarser come at the finest resolution it
 * still has (EG4xxx: 1 s for an hour, 1 min for a year, then 15 min). Chunks have at most 3600
 * rows. The plan is only a request: the rows' own timestamps decide what is written.
 */
import { EG4XXX_RETENTION } from '../egauge/retention.js'
import { MAX_ROWS } from '../meters/query.js'
import type { Retention } from '../model/history.js'

export interface Chunk {
  /** Seconds between the rows asked for. */
  step: number
  /** Points are written for row times in (after, until]. */
  after: number
  until: number
  /** Newest and oldest row to ask for (`f` and `t`), and the row count (`n`). */
  newest: number
  oldest: number
  rows: number
}

/** Second data a little younger than the meter's limit, so rows do not age out while in flight. */
export const SAFETY_SECONDS = 120

/**
 * Plans the requests for points in (from, to], oldest first, at `step` or coarser.
 * Returns no chunk when there is nothing to fetch.
 */
export function planChunks (from: number, to: number, step: number, now: number, retention: Retention = EG4XXX_RETENTION): Chunk[] {
  // Parts by resolution, oldest first. A boundary between two parts sits on the coarser part's
  // step, so the coarse part ends exactly where the fine part begins: no point falls between.
  const parts: Array<{ step: number, start: number, end: number }> = []
  const levels = retention.levels
  let end = to
  for (let i = 0; i < levels.length && end > from; i++) {
    let start = from
    const coarser = levels[i + 1]
    if (coarser !== undefined) {
      const oldestHeld = now - levels[i]!.maxAge + SAFETY_SECONDS
      const coarserStep = Math.max(step, coarser.step)
      // Rounded up: the fine part stays inside what the meter still holds at that resolution.
      if (oldestHeld > from) start = Math.max(from, Math.ceil(oldestHeld / coarserStep) * coarserStep)
    }
    if (start < end) {
      parts.unshift({ step: Math.max(step, levels[i]!.step), start, end })
      end = start
    }
  }
  const chunks: Chunk[] = []
  for (const part of parts) {
    const alignedEnd = Math.floor(part.end / part.step) * part.step
    let after = part.start
    while (after < alignedEnd) {
      // One row before the first point: each point is the difference of two rows.
      const oldest = Math.floor(after / part.step) * part.step
      const newest = Math.min(alignedEnd, oldest + (MAX_ROWS - 1) * part.step)
      chunks.push({ step: part.step, after, until: newest, newest, oldest, rows: (newest - oldest) / part.step + 1 })
      after = newest
    }
  }
  return chunks
}

/**
 * How far back the meter keeps rows at a resolution finer than its last, unbounded one (EG4xxx:
 * a year of minute rows), in seconds: as far as resuming from the database reaches back.
 */
export function heldSeconds (retention: Retention = EG4XXX_RETENTION): number {
  const bounded = retention.levels.map((l) => l.maxAge).filter(Number.isFinite)
  return bounded.length === 0 ? 0 : Math.max(...bounded)
}
