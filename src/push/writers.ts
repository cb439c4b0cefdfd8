/**
 * Writers to InfluxDB: v1 (`POST /write?db=&rp=&precision=s`, with undici) and v2
 * (`/api/v2/write` through @influxdata/influxdb-client's transport; also InfluxDB 3, 1.8+
 * compatibility and VictoriaMetrics). Failures are sorted the way Telegraf's InfluxDB output sorts
 * them: the database refuses the data (skip the batch), the configuration is wrong (keep the
 * checkpoint and say so), or try again later (keep the checkpoint, back off).
 */
import { HttpError, InfluxDB, RequestTimedOutError } from '@influxdata/influxdb-client'
import { Pool, errors as undiciErrors } from 'undici'
import type { InfluxConfig } from '../config/schema.js'
import { redactUrl } from '../egauge/client.js'

/** What to do about a failed write. */
export type FailureKind = 'rejected' | 'config' | 'retry'

export type WriteErrorCode = 'INFLUX_REJECTED' | 'INFLUX_AUTH' | 'INFLUX_NOT_FOUND' | 'INFLUX_UNAVAILABLE' | 'INFLUX_UNREACHABLE' | 'INFLUX_TIMEOUT'

export class WriteError extends Error {
  readonly code: WriteErrorCode
  readonly kind: FailureKind
  readonly status: number | undefined
  /** From the server's Retry-After header, when it sent one. */
  readonly retryAfterMs: number | undefined

  constructor (code: WriteErrorCode, message: string, status?: number, retryAfterMs?: number) {
    super(message)
    this.name = 'WriteError'
    this.code = code
    this.kind = code === 'INFLUX_REJECTED' ? 'rejected' : code === 'INFLUX_AUTH' || code === 'INFLUX_NOT_FOUND' ? 'config' : 'retry'
    this.status = status
    this.retryAfterMs = retryAfterMs
  }
}

/** The error for an HTTP answer that is not a success (DESIGN §6). Pure. */
export function statusError (status: number, serverMessage: string, retryAfter: string | undefined): WriteError {
  const message = `InfluxDB answered HTTP ${status}${serverMessage === '' ? '' : `: ${serverMessage}`}`
  if (status === 400 || status === 413 || status === 422) return new WriteError('INFLUX_REJECTED', message, status)
  if (status === 401 || status === 403) return new WriteError('INFLUX_AUTH', message, status)
  if (status === 404) return new WriteError('INFLUX_NOT_FOUND', message, status)
  return new WriteError('INFLUX_UNAVAILABLE', message, status, parseRetryAfter(retryAfter))
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. Pure. */
export function parseRetryAfter (value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** The message inside an InfluxDB error body (`{"error": "…"}` in v1, `{"message": "…"}` in v2). */
function serverMessage (body: string): string {
  try {
    const json = JSON.parse(body) as { error?: string, message?: string }
    return (json.error ?? json.message ?? body).slice(0, 500)
  } catch {
    return body.trim().slice(0, 500)
  }
}

export interface Writer {
  /** Where it writes, without credentials: for logs and the status page. */
  readonly target: string
  /** Creates the database when configured to (v1). Throws WriteError. */
  prepare: (signal?: AbortSignal) => Promise<void>
  /** Writes line protocol (text, or its UTF-8 bytes) at second precision. Throws WriteError. */
  write: (lines: string | Buffer, signal?: AbortSignal) => Promise<void>
  close: () => Promise<void>
}

export function createWriter (config: InfluxConfig): Writer {
  return config.version === 1 ? new InfluxV1Writer(config) : new InfluxV2Writer(config)
}

class InfluxV1Writer implements Writer {
  readonly target: string
  private readonly config: InfluxConfig
  private readonly pool: Pool
  private readonly basePath: string
  private prepared = false

  constructor (config: InfluxConfig) {
    this.config = config
    const url = new URL(config.url)
    this.target = `${redactUrl(config.url)} database ${config.database}`
    this.basePath = url.pathname.replace(/\/+$/, '')
    this.pool = new Pool(url.origin, { connections: 4, headersTimeout: config.timeoutMs, bodyTimeout: config.timeoutMs })
  }

  async prepare (signal?: AbortSignal): Promise<void> {
    if (this.prepared || !this.config.createDatabase) return
    // InfluxQL identifiers in double quotes; a quote inside is escaped.
    const q = `CREATE DATABASE "${this.config.database.replace(/["\\]/g, '\\$&')}"`
    await this.post('/query', new URLSearchParams({ q }).toString(), 'application/x-www-form-urlencoded', signal)
    this.prepared = true
  }

  async write (lines: string | Buffer, signal?: AbortSignal): Promise<void> {
    const params = new URLSearchParams({ db: this.config.database, precision: 's' })
    if (this.config.retentionPolicy !== '') params.set('rp', this.config.retentionPolicy)
    await this.post(`/write?${params.toString()}`, lines, 'text/plain; charset=utf-8', signal)
  }

  private async post (path: string, body: string | Buffer, contentType: string, signal: AbortSignal | undefined): Promise<void> {
    const headers: Record<string, string> = { 'content-type': contentType }
    const { username, password } = this.config
    // Credentials go in a header, never in the URL, which proxies and servers log.
    if (username !== undefined) headers.authorization = 'Basic ' + Buffer.from(`${username}:${password ?? ''}`).toString('base64')
    const timeout = AbortSignal.timeout(this.config.timeoutMs)
    let res
    try {
      res = await this.pool.request({ path: this.basePath + path, method: 'POST', headers, body, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
    } catch (err) {
      throw networkError(err, timeout.aborted)
    }
    const text = await res.body.text()
    if (res.statusCode >= 200 && res.statusCode < 300) {
      // InfluxDB 1.x answers 200 with {"results":[{"error":…}]} when a /query statement fails.
      if (res.statusCode === 200 && text.includes('"error"')) throw new WriteError('INFLUX_REJECTED', `InfluxDB refused the query: ${serverMessage(text)}`, 200)
      return
    }
    const retryAfter = res.headers['retry-after']
    throw statusError(res.statusCode, serverMessage(text), Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
  }

  async close (): Promise<void> {
    await this.pool.close()
  }
}

class InfluxV2Writer implements Writer {
  readonly target: string
  private readonly config: InfluxConfig
  private readonly client: InfluxDB

  constructor (config: InfluxConfig) {
    this.config = config
    this.target = `${redactUrl(config.url)} bucket ${config.bucket}`
    this.client = new InfluxDB({ url: config.url, token: config.token ?? '', timeout: config.timeoutMs })
  }

  async prepare (): Promise<void> {}

  async write (lines: string | Buffer, signal?: AbortSignal): Promise<void> {
    const params = new URLSearchParams({ org: this.config.org, bucket: this.config.bucket, precision: 's' })
    try {
      // The client's request() sends strings only (it would JSON-encode a Buffer).
      await this.client.transport.request(`/api/v2/write?${params.toString()}`, typeof lines === 'string' ? lines : lines.toString('utf8'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        gzipThreshold: 64 * 1024,
        ...(signal === undefined ? {} : { signal })
      })
    } catch (err) {
      if (err instanceof HttpError) throw statusError(err.statusCode, serverMessage(err.body ?? ''), err.headers?.['retry-after'] as string | undefined)
      throw networkError(err, err instanceof RequestTimedOutError)
    }
  }

  async close (): Promise<void> {}
}

function networkError (err: unknown, timedOut: boolean): WriteError {
  if (timedOut || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new WriteError('INFLUX_TIMEOUT', 'InfluxDB did not answer in time')
  }
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
  return new WriteError('INFLUX_UNREACHABLE', `InfluxDB unreachable (${code})`)
}
