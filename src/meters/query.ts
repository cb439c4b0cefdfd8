/**
 * Which meter request answers a metrics request, and when two requests are the same one. Pure,
 * except fetchAnswer(), which calls the source it is given.
 */
import type { HistoryQuery } from '../model/history.js'
import type { MeterAnswer, MeterSource } from '../model/source.js'

/** History is fetched in chunks of at most 3600 rows (ARCHITECTURE.md, "The meter side"). */
export const MAX_ROWS = 3600

/** What to ask the meter: its current values, or rows of its history. */
export type MeterRequest =
  | { kind: 'current' }
  | { kind: 'history', query: HistoryQuery }

/** A history window: `seconds` long, in points `step` seconds apart. */
export interface Window {
  seconds: number
  step: number
}

/**
 * The meter request for a window: none means current values; a series of points needs n+1 rows
 * (each rate is the difference of two rows); an average needs only the newest row and the one a
 * window before it.
 */
export function meterRequest (window: Window | undefined, average: boolean): MeterRequest {
  if (window === undefined) return { kind: 'current' }
  if (average) return { kind: 'history', query: { step: window.seconds, rows: 2 } }
  return { kind: 'history', query: { step: window.step, rows: window.seconds / window.step + 1 } }
}

/** Identifies identical requests, so concurrent ones can share one meter fetch. Pure. */
export function requestKey (request: MeterRequest): string {
  return request.kind === 'current' ? 'current' : `history:${request.query.step}:${request.query.rows}`
}

/** Fetches and parses what the request asks for. Throws EgaugeError. */
export async function fetchAnswer (source: MeterSource, request: MeterRequest, signal?: AbortSignal): Promise<MeterAnswer> {
  if (request.kind === 'current') {
    const { data, fetchSeconds } = await source.current(signal)
    return { kind: 'current', snapshot: data, fetchSeconds }
  }
  const { data, fetchSeconds } = await source.history(request.query, signal)
  return { kind: 'history', history: data, fetchSeconds }
}
