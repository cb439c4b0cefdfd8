/**
 * The sensors' meter sources, one per configured sensor: identical concurrent requests share one
 * fetch, parsed answers (and the bodies rendered from them) are cached for `cache_ttl`, and every
 * fetch's outcome goes to the status book and the self-metrics. A slow meter only ever holds its
 * own source's two connections, never another meter's. The pull path and the push loop both take
 * their sources from here.
 */
import { isPulled, type Config, type PulledSensor, type SensorConfig } from '../config/schema.js'
import { EgaugeError, SCRAPE_DEADLINE } from '../model/errors.js'
import type { MeterAnswer, MeterSource } from '../model/source.js'
import type { Logger } from '../telemetry/logger.js'
import { exportSensor, type SelfMetrics } from '../telemetry/self-metrics.js'
import type { StatusBook } from '../telemetry/status-book.js'
import { redactUrl } from '../util/redact.js'
import { createMeterSource, type SourceFactory } from './factory.js'
import { fetchAnswer, requestKey, type MeterRequest } from './query.js'

/** What a reload swaps as one unit: the config, the sources made from it and their status. */
export interface Live {
  config: Config
  pool: MeterPool
  book: StatusBook
}

/** Cached answers (and, separately, rendered bodies) kept per sensor at most. */
export const MAX_CACHED_PER_SENSOR = 32

interface Entry {
  sensor: PulledSensor
  source: MeterSource
  // Made on first use: a sensor that push alone reads never fills them, and three empty Maps
  // per sensor were 540 bytes (a tenth of a push bridge's memory per meter).
  inFlight?: Map<string, Promise<MeterAnswer>>
  cache?: Map<string, { answer: MeterAnswer, expires: number }>
  /** Rendered bodies by request and rendering, expiring with their answer. */
  bodies?: Map<string, { body: string, expires: number }>
}

export interface PoolOptions {
  cacheTtlMs: number
  metrics: SelfMetrics
  book: StatusBook
  log: Logger
  now?: () => number
  /** Makes a sensor's source; the protocol factory by default (tests plug in their own). */
  createSource?: SourceFactory
}

export class MeterPool {
  private readonly entries = new Map<string, Entry>()
  private readonly cacheTtlMs: number
  private readonly metrics: SelfMetrics
  private readonly book: StatusBook
  private readonly log: Logger
  private readonly now: () => number

  constructor (sensors: SensorConfig[], opts: PoolOptions) {
    this.cacheTtlMs = opts.cacheTtlMs
    this.metrics = opts.metrics
    this.book = opts.book
    this.log = opts.log
    this.now = opts.now ?? Date.now
    const create = opts.createSource ?? createMeterSource
    // A meter that only pushes has nothing to read: it has no source (README "Meters that push").
    for (const sensor of sensors.filter(isPulled)) {
      const source = create(sensor, { onUpstreamRequest: () => this.metrics.upstreamRequests.inc({ sensor: sensor.name }) })
      this.entries.set(sensor.name, { sensor, source })
      exportSensor(this.metrics, sensor.name)
    }
  }

  /** The configured sensor the bridge reads, or undefined: the only way a request name reaches a meter. */
  sensor (name: string): PulledSensor | undefined {
    return this.entries.get(name)?.sensor
  }

  /** The sensor's source, for the push loop (which fetches uncached, chunk by chunk). */
  source (name: string): MeterSource | undefined {
    return this.entries.get(name)?.source
  }

  /**
   * The response body for a request: a cached rendering, or `render` applied to the meter's
   * answer (itself cached or shared, see answer()). `renderKey` names the rendering (format,
   * precision). Throws EgaugeError.
   */
  async body (name: string, request: MeterRequest, renderKey: string, deadlineMs: number, render: (answer: MeterAnswer) => Promise<string>): Promise<string> {
    const e = this.entries.get(name)!
    const key = `${requestKey(request)}|${renderKey}`
    const cached = e.bodies?.get(key)
    if (cached !== undefined && cached.expires > this.now()) {
      this.metrics.coalesced.inc()
      return cached.body
    }
    const answer = await this.answer(name, request, deadlineMs)
    const body = await render(answer)
    const expires = e.cache?.get(requestKey(request))?.expires
    if (expires !== undefined) this.remember(e.bodies ??= new Map(), key, { body, expires })
    return body
  }

  /**
   * The meter's parsed answer for a request: from the cache, from an identical fetch in flight,
   * or a new fetch. `deadlineMs` bounds this caller's wait only; a shared fetch keeps the
   * sensor's timeout. Throws EgaugeError.
   */
  async answer (name: string, request: MeterRequest, deadlineMs: number): Promise<MeterAnswer> {
    // Callers look the sensor up first (sensor()): a request name never gets this far unchecked.
    const e = this.entries.get(name)!
    const key = requestKey(request)
    const cached = e.cache?.get(key)
    if (cached !== undefined && cached.expires > this.now()) {
      this.metrics.coalesced.inc()
      return cached.answer
    }
    const inFlight = e.inFlight ??= new Map()
    let shared = inFlight.get(key)
    if (shared === undefined) {
      shared = this.fetch(e, key, request)
      inFlight.set(key, shared)
    } else {
      this.metrics.coalesced.inc()
    }
    // A deadline no shorter than the sensor's timeout is the fetch's own: its timeout answers
    // first (a little grace keeps the two timers from racing), and counts as EGAUGE_TIMEOUT.
    const ms = deadlineMs >= e.sensor.timeoutMs ? e.sensor.timeoutMs + DEADLINE_GRACE_MS : deadlineMs
    try {
      return await withDeadline(shared, ms, e.sensor.name)
    } catch (err) {
      // The caller's deadline (Prometheus's scrape timeout) passed before the meter answered: a
      // failed scrape like any other, although the shared fetch may still finish for others.
      if (err instanceof DeadlineExceeded) this.recordFailure(e.sensor, err, deadlineMs, SCRAPE_DEADLINE)
      throw err
    }
  }

  private async fetch (e: Entry, key: string, request: MeterRequest): Promise<MeterAnswer> {
    const started = this.now()
    // Label values of the public histogram: the XML API's endpoint names (README "Metrics").
    const endpoint = request.kind === 'current' ? 'inst' : 'show'
    try {
      const answer = await fetchAnswer(e.source, request)
      this.metrics.fetchDuration.observe({ sensor: e.sensor.name, endpoint }, answer.fetchSeconds)
      if (this.cacheTtlMs > 0) this.remember(e.cache ??= new Map(), key, { answer, expires: this.now() + this.cacheTtlMs })
      this.book.fetchSucceeded(e.sensor.name, answer.fetchSeconds * 1000)
      this.metrics.sensorUp.set({ sensor: e.sensor.name }, 1)
      return answer
    } catch (err) {
      this.recordFailure(e.sensor, err as EgaugeError, this.now() - started)
      throw err
    } finally {
      e.inFlight!.delete(key)
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
    return e === undefined ? 0 : (e.cache?.size ?? 0) + (e.bodies?.size ?? 0)
  }

  /**
   * Marks a failed fetch; logs one line with sensor, redacted URL, code, duration. `reason` is
   * the counter's label when it is not the error's code.
   */
  private recordFailure (sensor: PulledSensor, err: EgaugeError, durationMs: number, reason: string = err.code): void {
    const name = sensor.name
    const code = err.code
    this.book.fetchFailed(name, reason, err.message)
    this.metrics.sensorUp.set({ sensor: name }, 0)
    this.metrics.fetchErrors.inc({ sensor: name, reason })
    this.log.warn({ sensor: name, url: redactUrl(sensor.url), code, durationMs: Math.round(durationMs) }, err.message)
  }

  async close (): Promise<void> {
    await Promise.all([...this.entries.values()].map(async (e) => { await e.source.close() }))
  }
}

const DEADLINE_GRACE_MS = 250

/** A caller's deadline passed (an EGAUGE_TIMEOUT to the caller: HTTP 504). */
class DeadlineExceeded extends EgaugeError {}

async function withDeadline<T> (promise: Promise<T>, ms: number, sensor: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded('EGAUGE_TIMEOUT', sensor, `meter did not answer within the scrape deadline of ${(ms / 1000).toFixed(1)}s`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
