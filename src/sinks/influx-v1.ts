/** InfluxDB 1.x: `POST /write?db=&rp=&precision=s` with undici, and `CREATE DATABASE` when configured. */
import type { Pool } from 'undici'
import type { InfluxConfig } from '../config/schema.js'
import { deadline } from '../util/deadline.js'
import { lazyRequire } from '../util/lazy.js'
import { redactUrl } from '../util/redact.js'
import { networkError, serverMessage, statusError, WriteError } from './write-error.js'
import { newestFromAnswer, newestQueryPath } from './victoria.js'
import type { SeriesKey, Writer } from './writer.js'

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
    const q = `CREATE DATABASE ${ident(this.config.database)}`
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

  /**
   * The newest point of a series: InfluxQL first; when that finds nothing, the Prometheus query
   * API, since VictoriaMetrics takes InfluxDB writes but answers InfluxQL with a stub (the
   * series are `<measurement>_<field>` there, labelled with the tags). InfluxDB answers that
   * second request 404: nothing.
   */
  async newest (series: SeriesKey, since: number, signal?: AbortSignal): Promise<number | undefined> {
    const where = [...Object.entries(series.tags).map(([k, v]) => `${ident(k)} = '${v.replace(/['\\]/g, '\\$&')}'`), `time >= ${since}s`].join(' AND ')
    // The retention policy push writes to is named in FROM (`rp` is a parameter of /write only).
    const from = (this.config.retentionPolicy === '' ? '' : `${ident(this.config.retentionPolicy)}.`) + ident(series.measurement)
    const params = new URLSearchParams({ db: this.config.database, epoch: 's', q: `SELECT * FROM ${from} WHERE ${where} ORDER BY time DESC LIMIT 1` })
    const answer = JSON.parse(await this.post('/query', params.toString(), 'application/x-www-form-urlencoded', signal)) as { results?: Array<{ series?: Array<{ name: string, values?: unknown[][] }> }> }
    const time = answer.results?.[0]?.series?.find((x) => x.name === series.measurement)?.values?.[0]?.[0]
    if (typeof time === 'number') return time
    let text: string
    try {
      text = await this.post(newestQueryPath(series, this.config.database, since, Math.floor(Date.now() / 1000)), '', 'application/x-www-form-urlencoded', signal)
    } catch (err) {
      if (err instanceof WriteError && err.code === 'INFLUX_NOT_FOUND') return undefined
      throw err
    }
    return newestFromAnswer(text)
  }

  private async post (path: string, body: string | Buffer, contentType: string, signal: AbortSignal | undefined): Promise<string> {
    const headers: Record<string, string> = { 'content-type': contentType }
    const { username, password } = this.config
    // Credentials go in a header, never in the URL, which proxies and servers log.
    if (username !== undefined) headers.authorization = 'Basic ' + Buffer.from(`${username}:${password ?? ''}`).toString('base64')
    // The first write loads undici; the database's timeout starts after that, not before.
    const pool = this.connections()
    const limit = deadline(this.config.timeoutMs, signal)
    let res
    let text
    try {
      res = await pool.request({ path: this.basePath + path, method: 'POST', headers, body, signal: limit.signal })
      text = await res.body.text()
      limit.release()
    } catch (err) {
      limit.release()
      throw networkError(err, limit.timedOut())
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      // InfluxDB 1.x answers 200 with {"results":[{"error":…}]} when a /query statement fails.
      if (res.statusCode === 200 && text.includes('"error"')) throw new WriteError('INFLUX_REJECTED', `InfluxDB refused the query: ${serverMessage(text)}`, 200)
      return text
    }
    const retryAfter = res.headers['retry-after']
    throw statusError(res.statusCode, serverMessage(text), Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
  }

  async close (): Promise<void> {
    await this.pool?.close()
  }
}

/** An InfluxQL identifier in double quotes; a quote or backslash inside is escaped. */
function ident (name: string): string {
  return `"${name.replace(/["\\]/g, '\\$&')}"`
}
