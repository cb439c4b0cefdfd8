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

/** An error in the sensor's recent history: from a fetch (pull), a push cycle or a received push. */
export interface RecentError extends ErrorStatus {
  source: 'fetch' | 'push' | 'receive'
}

/** One push a meter sent to the receiver, accepted or not. */
export interface ReceivedPush {
  /** Epoch milliseconds. */
  at: number
  rows: number
  points: number
  durationMs: number
}

export interface ReceiveStatus {
  /** The push interval set on the meter (config `receive.interval`). */
  intervalMs: number
  /** Epoch milliseconds since the bridge waits for this meter's pushes (start-up or reload). */
  since: number
  /**
   * `waiting` for the first push, `up` while pushes arrive in time, `late` after two intervals
   * without an accepted push (from start-up too), `failing` when the latest push was refused
   * (read at each call).
   */
  state: 'waiting' | 'up' | 'late' | 'failing'
  lastAttempt: ReceivedPush | undefined
  /** The latest push the database acknowledged. */
  lastSuccess: ReceivedPush | undefined
  /** Newest row time (unix s) acknowledged, and now minus it. */
  newest: number | undefined
  lagSeconds: number | undefined
  lastError: ErrorStatus | undefined
}

export interface PushStatus {
  /** Newest time (unix s) the database acknowledged. */
  checkpoint: number | undefined
  lagSeconds: number | undefined
  lastSuccess: number | undefined
  lastError: ErrorStatus | undefined
  /** Points the last cycle wrote for this sensor. */
  lastPoints?: number | undefined
  /** The meter's clock minus the bridge's, as last measured by a push cycle (push/clock.ts). */
  clockOffsetSeconds?: number | undefined
  /** True when that offset is beyond the threshold and push follows the meter's time. */
  clockSkewed?: boolean | undefined
}

export interface SensorStatus {
  name: string
  /** Undefined for a meter that only pushes. */
  url: string | undefined
  /** A sensor that only pushes is `late` once two intervals pass without a push. */
  state: 'up' | 'down' | 'unknown' | 'late'
  /** Epoch milliseconds of the last fetch, successful or not. */
  lastFetch: number | undefined
  /** Epoch milliseconds of the last successful fetch. */
  lastSuccess: number | undefined
  lastLatencyMs: number | undefined
  lastError: ErrorStatus | undefined
  push: PushStatus | undefined
  /** For a sensor with a `receive` block. */
  receive: ReceiveStatus | undefined
  /** Errors since start-up (or the reload that added the sensor), by code, fetch and push. */
  errorCounts: Record<string, number>
  /** The latest errors, newest first, at most RECENT_ERRORS. */
  recentErrors: RecentError[]
}

export class StatusBook {
  private readonly sensors = new Map<string, SensorStatus>()
  private readonly now: () => number

  constructor (sensors: ReadonlyArray<{ name: string, url: string | undefined, receive?: { intervalMs: number } | undefined }>, now: () => number = Date.now) {
    this.now = now
    for (const s of sensors) {
      const receive: ReceiveStatus | undefined = s.receive === undefined
        ? undefined
        : { intervalMs: s.receive.intervalMs, since: now(), state: 'waiting', lastAttempt: undefined, lastSuccess: undefined, newest: undefined, lagSeconds: undefined, lastError: undefined }
      this.sensors.set(s.name, { name: s.name, url: s.url === undefined ? undefined : redactUrl(s.url), state: 'unknown', lastFetch: undefined, lastSuccess: undefined, lastLatencyMs: undefined, lastError: undefined, push: undefined, receive, errorCounts: {}, recentErrors: [] })
    }
  }

  /**
   * Every sensor's state. Lags are read now, from the newest acknowledged point: they grow while
   * a cycle is stuck or a meter silent, as the lag metrics do, instead of waiting for an event.
   */
  statuses (): SensorStatus[] {
    const nowMs = this.now()
    return [...this.sensors.values()].map((s) => {
      let out = s
      if (s.push?.checkpoint !== undefined) out = { ...out, push: { ...s.push, lagSeconds: lagOf(s.push.checkpoint, nowMs) } }
      if (s.receive !== undefined) {
        const receive = receiveNow(s.receive, nowMs)
        out = { ...out, receive }
        // A meter that only pushes is as up as its pushes are.
        if (s.url === undefined) out.state = receive.state === 'up' ? 'up' : receive.state === 'late' ? 'late' : receive.state === 'failing' ? 'down' : 'unknown'
      }
      return out
    })
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

  /** Records a push the meter sent: `error` undefined means the database acknowledged it. */
  received (name: string, push: ReceivedPush, newest: number | undefined, error?: { code: string, message: string }): void {
    const r = this.sensors.get(name)?.receive
    if (r === undefined) return
    r.lastAttempt = push
    if (error === undefined) {
      r.lastSuccess = push
      r.lastError = undefined
      if (newest !== undefined && (r.newest === undefined || newest > r.newest)) r.newest = newest
    } else {
      r.lastError = { ...error, at: push.at }
      noteError(this.sensors.get(name)!, { ...r.lastError, source: 'receive' })
    }
  }
}

function lagOf (newest: number, nowMs: number): number {
  return Math.max(0, Math.round(nowMs / 1000 - newest))
}

/** A receive status as of now: its lag, and whether the meter is late. */
export function receiveNow (r: ReceiveStatus, nowMs: number): ReceiveStatus {
  const failing = r.lastError !== undefined
  const late = nowMs - (r.lastSuccess?.at ?? r.since) > 2 * r.intervalMs
  const state = failing ? 'failing' : late ? 'late' : r.lastSuccess === undefined ? 'waiting' : 'up'
  return { ...r, state, lagSeconds: r.newest === undefined ? undefined : lagOf(r.newest, nowMs) }
}

function noteError (s: SensorStatus, error: RecentError): void {
  s.errorCounts[error.code] = (s.errorCounts[error.code] ?? 0) + 1
  s.recentErrors.unshift(error)
  if (s.recentErrors.length > RECENT_ERRORS) s.recentErrors.pop()
}
