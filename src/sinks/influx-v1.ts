/** InfluxDB 1.x: `POST /write?db=&rp=&precision=s` with undici, and `CREATE DATABASE` when configured. */
import type { Pool } from 'undici'
import type { InfluxConfig } from '../config/schema.js'
import { lazyRequire } from '../util/lazy.js'
import { redactUrl } from '../util/redact.js'
import { networkError, serverMessage, statusError, WriteError } from './write-error.js'
import type { Writer } from './writer.js'

const undici = lazyRequire<typeof import('undici')>('undici')

export class InfluxV1Writer implements Writer {
  readonly target: string
  private readonly config: InfluxConfig
  private pool: Pool | undefined
  private readonly origin: string
  private readonly basePath: string
  private prepared = false

  constructor (config: InfluxConfig) {
    this.config = config
    const url = new URL(config.url)
    this.target = `${redactUrl(config.url)} database ${config.database}`
    this.basePath = url.pathname.replace(/\/+$/, '')
    this.origin = url.origin
  }

  /** Made on the first write, so that a bridge that has written nothing has not loaded undici. */
  private connections (): Pool {
    return (this.pool ??= new (undici().Pool)(this.origin, { connections: 4, headersTimeout: this.config.timeoutMs, bodyTimeout: this.config.timeoutMs }))
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
    const write = async (): Promise<void> => { await this.post(`/write?${params.toString()}`, lines, 'text/plain; charset=utf-8', signal) }
    try {
      await write()
    } catch (err) {
      // An InfluxDB that lost its data directory answers "database not found" to every write:
      // with create_database, create it again and write once more (the create is idempotent).
      if (!(err instanceof WriteError) || err.code !== 'INFLUX_NOT_FOUND' || !this.config.createDatabase) throw err
      this.prepared = false
      await this.prepare(signal)
      await write()
    }
  }

  private async post (path: string, body: string | Buffer, contentType: string, signal: AbortSignal | undefined): Promise<void> {
    const headers: Record<string, string> = { 'content-type': contentType }
    const { username, password } = this.config
    // Credentials go in a header, never in the URL, which proxies and servers log.
    if (username !== undefined) headers.authorization = 'Basic ' + Buffer.from(`${username}:${password ?? ''}`).toString('base64')
    // The first write loads undici; the database's timeout starts after that, not before.
    const pool = this.connections()
    const timeout = AbortSignal.timeout(this.config.timeoutMs)
    let res
    try {
      res = await pool.request({ path: this.basePath + path, method: 'POST', headers, body, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
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
    await this.pool?.close()
  }
}
