/**
 * Each sensor's last known state, written by the pull path and the push loop and read by
 * `/api/sensors` and the status page. State only: whoever records an event also logs and counts it.
 */
import { redactUrl } from '../util/redact.js'

export interface ErrorStatus {
  code: string
  message: string
  /** Epoch milliseconds. */
  at: number
}

/** What the status page shows of the latest cycle. */
export interface CycleSummary {
  /** Epoch milliseconds when it started. */
  at: number
  durationMs: number
  sensors: number
  failed: number
  points: number
}

/** How many of a sensor's latest errors the book keeps (the status page lists them). */
export const RECENT_ERRORS = 5

/** An error in the sensor's recent history: from a fetch (pull) or a push cycle. */
export interface RecentError extends ErrorStatus {
  source: 'fetch' | 'push'
}

export interface PushStatus {
  /** Newest time (unix s) the database acknowledged. */
  checkpoint: number | undefined
  lagSeconds: number | undefined
  lastSuccess: number | undefined
  lastError: ErrorStatus | undefined
  /** Points the last cycle wrote for this sensor. */
  lastPoints?: number | undefined
}

export interface SensorStatus {
  name: string
  url: string
  state: 'up' | 'down' | 'unknown'
  /** Epoch milliseconds of the last fetch, successful or not. */
  lastFetch: number | undefined
  /** Epoch milliseconds of the last successful fetch. */
  lastSuccess: number | undefined
  lastLatencyMs: number | undefined
  lastError: ErrorStatus | undefined
  push: PushStatus | undefined
  /** Errors since start-up (or the reload that added the sensor), by code, fetch and push. */
  errorCounts: Record<string, number>
  /** The latest errors, newest first, at most RECENT_ERRORS. */
  recentErrors: RecentError[]
}

export class StatusBook {
  private readonly sensors = new Map<string, SensorStatus>()
  private readonly now: () => number

  constructor (sensors: ReadonlyArray<{ name: string, url: string }>, now: () => number = Date.now) {
    this.now = now
    for (const s of sensors) {
      this.sensors.set(s.name, { name: s.name, url: redactUrl(s.url), state: 'unknown', lastFetch: undefined, lastSuccess: undefined, lastLatencyMs: undefined, lastError: undefined, push: undefined, errorCounts: {}, recentErrors: [] })
    }
  }

  /**
   * Every sensor's state. The push lag is read now, from the newest acknowledged point: it grows
   * while a cycle is stuck, as push_lag_seconds does, instead of waiting for the cycle's end.
   */
  statuses (): SensorStatus[] {
    const now = this.now() / 1000
    return [...this.sensors.values()].map((s) => s.push?.checkpoint === undefined ? s : { ...s, push: { ...s.push, lagSeconds: Math.max(0, Math.round(now - s.push.checkpoint)) } })
  }

  status (name: string): SensorStatus | undefined {
    return this.sensors.get(name)
  }

  fetchSucceeded (name: string, latencyMs: number): void {
    const s = this.sensors.get(name)
    if (s === undefined) return
    s.state = 'up'
    s.lastFetch = this.now()
    s.lastSuccess = s.lastFetch
    s.lastLatencyMs = Math.round(latencyMs)
  }

  fetchFailed (name: string, code: string, message: string): void {
    const s = this.sensors.get(name)
    if (s === undefined) return
    s.state = 'down'
    s.lastFetch = this.now()
    s.lastError = { code, message, at: this.now() }
    noteError(s, { ...s.lastError, source: 'fetch' })
  }

  /** Records push progress. */
  setPush (name: string, push: PushStatus): void {
    const s = this.sensors.get(name)
    if (s === undefined) return
    s.push = push
    if (push.lastError !== undefined) noteError(s, { ...push.lastError, source: 'push' })
  }
}

function noteError (s: SensorStatus, error: RecentError): void {
  s.errorCounts[error.code] = (s.errorCounts[error.code] ?? 0) + 1
  s.recentErrors.unshift(error)
  if (s.recentErrors.length > RECENT_ERRORS) s.recentErrors.pop()
}
