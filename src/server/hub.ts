/**
 * The sensors the server knows: one client per meter, identical concurrent requests sharing one
 * fetch, answers cached for `cache_ttl`, and each sensor's last status for /api/sensors. A slow
 * meter only ever holds its own client's two connections, never another meter's.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { SensorConfig } from '../config/schema.js'
import { MeterClient, redactUrl } from '../egauge/client.js'
import { EgaugeError } from '../errors.js'
import { fetchAnswer, fetchKey, type MetricsRequest } from '../metrics-request.js'
import type { MeterAnswer } from '../render.js'
import type { SelfMetrics } from './self-metrics.js'

export interface PushStatus {
  /** Newest time (unix s) the database acknowledged. */
  checkpoint: number | undefined
  lagSeconds: number | undefined
  lastSuccess: number | undefined
  lastError: { code: string, message: string, at: number } | undefined
}

export interface SensorStatus {
  name: string
  url: string
  state: 'up' | 'down' | 'unknown'
  lastFetch: number | undefined
  lastLatencyMs: number | undefined
  lastError: { code: string, message: string, at: number } | undefined
  push: PushStatus | undefined
}

/** Cached answers (and, separately, rendered bodies) kept per sensor at most. */
export const MAX_CACHED_PER_SENSOR = 32

interface Entry {
  sensor: SensorConfig
  client: MeterClient
  inFlight: Map<string, Promise<MeterAnswer>>
  cache: Map<string, { answer: MeterAnswer, expires: number }>
  /** Rendered bodies by fetch, format and precision, expiring with their answer. */
  bodies: Map<string, { body: string, expires: number }>
  status: SensorStatus
}

export class MeterHub {
  private readonly entries = new Map<string, Entry>()
  private readonly cacheTtlMs: number
  private readonly metrics: SelfMetrics
  private readonly log: FastifyBaseLogger
  private readonly now: () => number

  constructor (sensors: SensorConfig[], opts: { cacheTtlMs: number, metrics: SelfMetrics, log: FastifyBaseLogger, now?: () => number }) {
    this.cacheTtlMs = opts.cacheTtlMs
    this.metrics = opts.metrics
    this.log = opts.log
    this.now = opts.now ?? Date.now
    for (const sensor of sensors) {
      const client = new MeterClient(sensor, { onUpstreamRequest: () => this.metrics.upstreamRequests.inc({ sensor: sensor.name }) })
      this.entries.set(sensor.name, {
        sensor,
        client,
        inFlight: new Map(),
        cache: new Map(),
        bodies: new Map(),
        status: { name: sensor.name, url: redactUrl(sensor.url), state: 'unknown', lastFetch: undefined, lastLatencyMs: undefined, lastError: undefined, push: undefined }
      })
    }
  }

  /** The configured sensor, or undefined: the only way a request name reaches a meter. */
  sensor (name: string): SensorConfig | undefined {
    return this.entries.get(name)?.sensor
  }

  statuses (): SensorStatus[] {
    return [...this.entries.values()].map((e) => e.status)
  }

  client (name: string): MeterClient | undefined {
    return this.entries.get(name)?.client
  }

  status (name: string): SensorStatus | undefined {
    return this.entries.get(name)?.status
  }

  /** Records push progress for the status page. */
  setPushStatus (name: string, push: PushStatus): void {
    const e = this.entries.get(name)
    if (e !== undefined) e.status.push = push
  }

  /**
   * The response body for a request: a cached rendering, or `render` applied to the meter's
   * answer (itself cached or shared, see answer()). A render failure counts as the sensor's
   * failure. Throws EgaugeError.
   */
  async body (name: string, request: MetricsRequest, deadlineMs: number, render: (answer: MeterAnswer) => Promise<string>): Promise<string> {
    const e = this.entries.get(name)!
    const key = `${fetchKey(request)}|${request.format}|${request.precision}`
    const cached = e.bodies.get(key)
    if (cached !== undefined && cached.expires > this.now()) {
      this.metrics.coalesced.inc()
      return cached.body
    }
    const answer = await this.answer(name, request, deadlineMs)
    let body: string
    try {
      body = await render(answer)
    } catch (err) {
      this.recordFailure(name, err as EgaugeError, answer.fetchSeconds * 1000)
      throw err
    }
    const expires = e.cache.get(fetchKey(request))?.expires
    if (expires !== undefined) this.remember(e.bodies, key, { body, expires })
    return body
  }

  /**
   * The meter's answer for a request: from the cache, from an identical fetch in flight, or a new
   * fetch. `deadlineMs` bounds this caller's wait only; a shared fetch keeps the sensor's timeout.
   * Throws EgaugeError.
   */
  async answer (name: string, request: MetricsRequest, deadlineMs: number): Promise<MeterAnswer> {
    // Callers look the sensor up first (sensor()): a request name never gets this far unchecked.
    const e = this.entries.get(name)!
    const key = fetchKey(request)
    const cached = e.cache.get(key)
    if (cached !== undefined && cached.expires > this.now()) {
      this.metrics.coalesced.inc()
      return cached.answer
    }
    let shared = e.inFlight.get(key)
    if (shared === undefined) {
      shared = this.fetch(e, key, request)
      e.inFlight.set(key, shared)
    } else {
      this.metrics.coalesced.inc()
    }
    return await withDeadline(shared, deadlineMs, e.sensor.name)
  }

  private async fetch (e: Entry, key: string, request: MetricsRequest): Promise<MeterAnswer> {
    const started = this.now()
    const endpoint = request.window === undefined ? 'inst' : 'show'
    try {
      const answer = await fetchAnswer(e.client, request)
      this.metrics.fetchDuration.observe({ sensor: e.sensor.name, endpoint }, answer.fetchSeconds)
      if (this.cacheTtlMs > 0) this.remember(e.cache, key, { answer, expires: this.now() + this.cacheTtlMs })
      this.recordSuccess(e, answer.fetchSeconds * 1000)
      return answer
    } catch (err) {
      this.recordFailure(e.sensor.name, err as EgaugeError, this.now() - started)
      throw err
    } finally {
      e.inFlight.delete(key)
    }
  }

  /**
   * Caches a value. Keys come from request parameters (window, step, format, precision), so a
   * client varying them must not grow memory: expired entries go first, and beyond
   * MAX_CACHED_PER_SENSOR the oldest are dropped.
   */
  private remember<T extends { expires: number }> (cache: Map<string, T>, key: string, value: T): void {
    const now = this.now()
    for (const [k, v] of cache) if (v.expires <= now) cache.delete(k)
    cache.delete(key)
    cache.set(key, value)
    for (const k of cache.keys()) {
      if (cache.size <= MAX_CACHED_PER_SENSOR) break
      cache.delete(k)
    }
  }

  /** How many answers and bodies are cached for a sensor (for tests and debugging). */
  cachedEntries (name: string): number {
    const e = this.entries.get(name)
    return e === undefined ? 0 : e.cache.size + e.bodies.size
  }

  private recordSuccess (e: Entry, latencyMs: number): void {
    e.status.state = 'up'
    e.status.lastFetch = this.now()
    e.status.lastLatencyMs = Math.round(latencyMs)
    this.metrics.sensorUp.set({ sensor: e.sensor.name }, 1)
  }

  /** Marks a failure (fetch or parse); logs one line with sensor, redacted URL, code, duration. */
  recordFailure (name: string, err: EgaugeError, durationMs: number): void {
    const e = this.entries.get(name)
    if (e === undefined) return
    const code = err.code ?? 'EGAUGE_ERROR'
    e.status.state = 'down'
    e.status.lastFetch = this.now()
    e.status.lastError = { code, message: err.message, at: this.now() }
    this.metrics.sensorUp.set({ sensor: name }, 0)
    this.metrics.fetchErrors.inc({ sensor: name, reason: code })
    this.log.warn({ sensor: name, url: e.status.url, code, durationMs: Math.round(durationMs) }, err.message)
  }

  async close (): Promise<void> {
    await Promise.all([...this.entries.values()].map(async (e) => { await e.client.close() }))
  }
}

async function withDeadline<T> (promise: Promise<T>, ms: number, sensor: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new EgaugeError('EGAUGE_TIMEOUT', sensor, `meter did not answer within ${(ms / 1000).toFixed(1)}s`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
