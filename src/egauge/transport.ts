/**
 * HTTP to one meter with undici, shared by every meter protocol: a deadline on every request,
 * Digest or Basic auth, TLS options for self-signed and TLS-1.0-only meters, a response-size cap,
 * and at most two requests in flight (a meter is a small embedded web server). Knows nothing of
 * what the answers mean. Every failure is an EgaugeError with a stable code; messages carry no
 * secret and no query string.
 */
import { isAscii } from 'node:buffer'
import type { Pool } from 'undici'
import type { PulledSensor } from '../config/schema.js'
import { EgaugeError } from '../model/errors.js'
import type { SourceCounters } from '../model/source.js'
import { deadline, type Deadline } from '../util/deadline.js'
import { lazyRequire } from '../util/lazy.js'
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from './digest.js'

const undici = lazyRequire<typeof import('undici')>('undici')

/** Never more than this many requests in flight per meter (ARCHITECTURE.md, "The meter side"). */
export const MAX_IN_FLIGHT = 2

/**
 * A meter's connections are let go after this long without a request. Push reads a meter once
 * per interval (5 minutes), far beyond any meter's keep-alive, and 1000 idle pools held 16 MB of
 * request queues besides their sockets (README "Performance"); a scrape every 15 s keeps them.
 */
export const IDLE_RELEASE_MS = 30_000

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** A meter's answer body and how long it took. */
export interface TransportAnswer {
  text: string
  fetchSeconds: number
}

/** One request of a protocol that authenticates itself (the WebAPI's bearer token). */
export interface Exchange {
  method: 'GET' | 'POST'
  path: string
  /** The Authorization header to send, if any. */
  authorization?: string
  /** A JSON body (POST). */
  body?: string
}

/** Any status, with its body (within the size cap): the protocol decides what it means. */
export interface ExchangeAnswer extends TransportAnswer {
  status: number
}

/** One meter's connections. Call close() when the sensor goes away. */
export class MeterTransport {
  readonly sensor: PulledSensor
  private pool: Pool | undefined
  /** Where requests go: the sensor's URL's origin, or the https one it redirected to. */
  private origin: string
  private readonly basePath: string
  private readonly counters: SourceCounters
  private digest: { challenge: DigestChallenge, nc: number } | undefined
  private basic = false
  private closed = false
  private inFlight = 0
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private readonly idleReleaseMs: number

  constructor (sensor: PulledSensor, counters: SourceCounters = {}, idleReleaseMs = IDLE_RELEASE_MS) {
    this.sensor = sensor
    this.counters = counters
    this.idleReleaseMs = idleReleaseMs
    const url = new URL(sensor.url)
    this.origin = url.origin
    this.basePath = url.pathname.replace(/\/+$/, '')
  }

  /** Made on the first request, so that a bridge that has fetched nothing has not loaded undici. */
  private connections (): Pool {
    // A closed transport stays closed, as undici's own pool does (a fetch after close fails).
    if (this.closed) throw new (undici().errors.ClientClosedError)()
    const sensor = this.sensor
    return (this.pool ??= new (undici().Pool)(this.origin, {
      connections: MAX_IN_FLIGHT,
      pipelining: 1,
      headersTimeout: sensor.timeoutMs,
      bodyTimeout: sensor.timeoutMs,
      connect: {
        timeout: sensor.timeoutMs,
        rejectUnauthorized: !sensor.tlsInsecure,
        // EG30xx meters only speak TLS 1.0, which OpenSSL 3 refuses at its default security level.
        ...(sensor.tlsLegacy ? { minVersion: 'TLSv1' as const, ciphers: 'DEFAULT@SECLEVEL=0' } : {})
      }
    }))
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.idleTimer)
    await this.pool?.close()
  }

  /**
   * Lets the connections go now if no request is in flight (push, done with the meter for this
   * interval); the next request opens new ones. In flight, the idle timer does it later.
   */
  release (): void {
    if (this.inFlight > 0) return
    // Nothing left for the idle timer to let go: one timer less per meter, and no wake-up for it.
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    const old = this.pool
    this.pool = undefined
    old?.close().catch(() => {})
  }

  /** After the last request in flight: the connections go once idle for idleReleaseMs (one timer, re-armed). */
  private idle (): void {
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh()
      return
    }
    // A request started since is in flight: release() leaves it, and its end re-arms the timer.
    this.idleTimer = setTimeout(() => { this.release() }, this.idleReleaseMs)
    // Never what keeps the process alive.
    this.idleTimer.unref()
  }

  /** GETs a path below the sensor's URL within its timeout, with Digest or Basic as the meter asks. Throws EgaugeError. */
  async fetch (path: string, signal?: AbortSignal): Promise<TransportAnswer> {
    return await this.withDeadline(signal, async (combined) => await this.get(this.basePath + path, combined))
  }

  /**
   * One request below the sensor's URL within its timeout, answered whatever its status (JSON
   * accepted, no redirect followed, no Digest or Basic): for a protocol that authenticates
   * itself. Throws EgaugeError for what is not an answer (timeout, unreachable, too large).
   */
  async exchange (req: Exchange, signal?: AbortSignal): Promise<ExchangeAnswer> {
    let status = 0
    const answer = await this.withDeadline(signal, async (combined) => {
      this.counters.onUpstreamRequest?.()
      const headers: Record<string, string> = { accept: 'application/json' }
      if (req.authorization !== undefined) headers.authorization = req.authorization
      if (req.body !== undefined) headers['content-type'] = 'application/json'
      const res = await this.connections().request({ path: this.basePath + req.path, method: req.method, headers, body: req.body, signal: combined })
      status = res.statusCode
      return await this.readCapped(res)
    })
    return { ...answer, status }
  }

  private async withDeadline (signal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<string>): Promise<TransportAnswer> {
    // The first request loads undici; the meter's timeout starts after that, not before.
    try {
      this.connections()
    } catch (err) {
      throw this.classify(err, signal ?? new AbortController().signal, 0)
    }
    const started = performance.now()
    const limit = deadline(this.sensor.timeoutMs, signal)
    this.inFlight++
    try {
      const text = await run(limit.signal)
      this.settled(limit)
      return { text, fetchSeconds: (performance.now() - started) / 1000 }
    } catch (err) {
      this.settled(limit)
      throw this.classify(err, limit.signal, performance.now() - started)
    }
  }

  private settled (limit: Deadline): void {
    limit.release()
    if (--this.inFlight === 0) this.idle()
  }

  private async get (target: string, signal: AbortSignal): Promise<string> {
    for (;;) {
      const answer = await this.getOnce(target, signal)
      if (typeof answer === 'string') return answer
      target = this.followRedirect(answer)
    }
  }

  /**
   * A redirect is followed only from http to https on the same host (a meter that moved to TLS),
   * and the transport stays on https from then on; so one hop at most, as any redirect from https
   * is refused. Credentials never go to another host: any other redirect is an error naming
   * where it pointed, without its query or credentials.
   */
  private followRedirect (redirect: { status: number, location: string | undefined }): string {
    const name = this.sensor.name
    const from = new URL(this.origin)
    let to: URL | undefined
    try {
      to = redirect.location === undefined ? undefined : new URL(redirect.location, from)
    } catch {}
    if (to === undefined) throw new EgaugeError('EGAUGE_HTTP_STATUS', name, `meter answered HTTP ${redirect.status} without a usable Location`, redirect.status)
    const shown = `${to.origin}${to.pathname}`
    if (from.protocol !== 'http:' || to.protocol !== 'https:' || to.hostname !== from.hostname) {
      throw new EgaugeError('EGAUGE_HTTP_STATUS', name, `meter redirected (HTTP ${redirect.status}) to ${shown}; the bridge follows only http to https on the same host: set the sensor's url to where the meter is`, redirect.status)
    }
    // In-flight requests finish on the old pool; the next ones go to the https origin.
    const old = this.pool
    this.pool = undefined
    old?.close().catch(() => {})
    this.origin = to.origin
    this.digest = undefined
    this.basic = false
    return to.pathname + to.search
  }

  /** One request with its auth round trip: the body, or the redirect to follow. */
  private async getOnce (target: string, signal: AbortSignal): Promise<string | { status: number, location: string | undefined }> {
    let res = await this.send(target, signal)
    if (res.statusCode === 401) {
      const header = res.headers['www-authenticate']
      const challenges = header === undefined ? [] : Array.isArray(header) ? header : [header]
      await res.body.dump()
      if (this.sensor.username === undefined) {
        throw new EgaugeError('EGAUGE_AUTH', this.sensor.name, 'meter requires credentials (set username and password)', 401)
      }
      if (!this.prepareAuth(challenges)) {
        throw new EgaugeError('EGAUGE_AUTH', this.sensor.name, 'meter sent an authentication challenge the bridge cannot answer', 401)
      }
      res = await this.send(target, signal)
      if (res.statusCode === 401) {
        await res.body.dump()
        this.digest = undefined
        throw new EgaugeError('EGAUGE_AUTH', this.sensor.name, 'meter refused the credentials (HTTP 401)', 401)
      }
    }
    if (REDIRECTS.has(res.statusCode)) {
      await res.body.dump()
      const location = res.headers.location
      return { status: res.statusCode, location: typeof location === 'string' ? location : undefined }
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump()
      const code = res.statusCode === 403 ? 'EGAUGE_AUTH' : 'EGAUGE_HTTP_STATUS'
      throw new EgaugeError(code, this.sensor.name, `meter answered HTTP ${res.statusCode}`, res.statusCode)
    }
    return await this.readCapped(res)
  }

  private async send (target: string, signal: AbortSignal): Promise<import('undici').Dispatcher.ResponseData> {
    this.counters.onUpstreamRequest?.()
    const headers: Record<string, string> = { accept: 'text/xml, application/xml;q=0.9, */*;q=0.1' }
    const authorization = this.authorization(target)
    if (authorization !== undefined) headers.authorization = authorization
    return await this.connections().request({ path: target, method: 'GET', headers, signal })
  }

  /**
   * Remembers how to authenticate from a 401's challenges; false if none can be answered. Digest
   * wins over Basic when both are offered (in one header or several): it never sends the password.
   */
  private prepareAuth (headers: string[]): boolean {
    const challenge = headers.map((h) => digestPart(h)).map((h) => h === undefined ? undefined : parseDigestChallenge(h)).find((c) => c !== undefined)
    if (challenge !== undefined) {
      this.digest = { challenge, nc: 0 }
      this.basic = false
      return true
    }
    this.digest = undefined
    this.basic = headers.some((h) => /(^|[\s,])Basic\b/i.test(h))
    return this.basic
  }

  private authorization (target: string): string | undefined {
    const { username, password } = this.sensor
    if (username === undefined || password === undefined) return undefined
    if (this.digest !== undefined) {
      // Reusing the nonce with a growing nonce count saves the meter a challenge round trip.
      this.digest.nc++
      return digestAuthorization({ challenge: this.digest.challenge, username, password, method: 'GET', uri: target, nc: this.digest.nc })
    }
    if (this.basic) return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
    return undefined
  }

  private async readCapped (res: import('undici').Dispatcher.ResponseData): Promise<string> {
    const limit = this.sensor.maxResponseBytes
    const declared = Number(res.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      res.body.destroy()
      throw tooLarge(this.sensor.name, limit)
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > limit) {
        res.body.destroy()
        throw tooLarge(this.sensor.name, limit)
      }
      chunks.push(chunk as Buffer)
    }
    const body = Buffer.concat(chunks, size)
    // Meters answer in ASCII; decoding it as Latin-1 gives the same string ten times faster.
    return body.toString(isAscii(body) ? 'latin1' : 'utf8')
  }

  private classify (err: unknown, signal: AbortSignal, elapsedMs: number): EgaugeError {
    if (err instanceof EgaugeError) return err
    const name = this.sensor.name
    const undiciErrors = undici().errors
    if (signal.aborted || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError ||
        err instanceof undiciErrors.ConnectTimeoutError) {
      return new EgaugeError('EGAUGE_TIMEOUT', name, `meter did not answer within ${(Math.min(elapsedMs, this.sensor.timeoutMs) / 1000).toFixed(1)}s`)
    }
    const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
    // The meter answered, with headers past undici's limit (16 KiB): too large, not unreachable.
    if (code === 'UND_ERR_HEADERS_OVERFLOW') return new EgaugeError('EGAUGE_TOO_LARGE', name, 'meter answered with headers larger than 16 KiB')
    return new EgaugeError('EGAUGE_UNREACHABLE', name, `meter unreachable (${code})`)
  }
}

/** The Digest challenge within a header that may list several (`Basic realm="a", Digest …`). */
function digestPart (header: string): string | undefined {
  const at = header.search(/(^|[\s,])Digest\s/i)
  return at < 0 ? undefined : header.slice(at).replace(/^[\s,]+/, '')
}

function tooLarge (sensor: string, limit: number): EgaugeError {
  return new EgaugeError('EGAUGE_TOO_LARGE', sensor, `meter answer exceeds ${limit} bytes (max_response_size)`)
}
