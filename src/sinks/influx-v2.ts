/**
 * InfluxDB 2.x `/api/v2/write` through @influxdata/influxdb-client's transport; also InfluxDB 3,
 * the 1.8+ compatibility API and VictoriaMetrics.
 */
import type { InfluxDB } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../config/schema.js'
import { deadline } from '../util/deadline.js'
import { lazyRequire } from '../util/lazy.js'
import { redactUrl } from '../util/redact.js'
import { newestFromAnswer, newestQueryPath } from './victoria.js'
import { networkError, serverMessage, statusError, WriteError } from './write-error.js'
import type { SeriesKey, Writer } from './writer.js'

const influxClient = lazyRequire<typeof import('@influxdata/influxdb-client')>('@influxdata/influxdb-client')

export class InfluxV2Writer implements Writer {
  readonly target: string
  private readonly config: InfluxConfig
  private client: InfluxDB | undefined

  constructor (config: InfluxConfig) {
    this.config = config
    this.target = `${redactUrl(config.url)} bucket ${config.bucket}`
  }

  /** Made on the first write, so that a bridge that has written nothing has not loaded the client. */
  private connection (): InfluxDB {
    const { url, token, timeoutMs } = this.config
    return (this.client ??= new (influxClient().InfluxDB)({ url, token: token ?? '', timeout: timeoutMs }))
  }

  async prepare (): Promise<void> {}

  async write (lines: string | Buffer, signal?: AbortSignal): Promise<void> {
    const params = new URLSearchParams({ org: this.config.org, bucket: this.config.bucket, precision: 's' })
    const connection = this.connection()
    // The client adds an abort listener to the signal it is given and never removes it: given the
    // push loop's process-long signal, every write left one behind. It gets a signal of its own.
    const limit = deadline(this.config.timeoutMs, signal)
    try {
      // The client's request() sends strings only (it would JSON-encode a Buffer).
      await connection.transport.request(`/api/v2/write?${params.toString()}`, typeof lines === 'string' ? lines : lines.toString('utf8'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        gzipThreshold: 64 * 1024,
        signal: limit.signal
      })
      limit.release()
    } catch (err) {
      limit.release()
      const { HttpError, RequestTimedOutError } = influxClient()
      if (err instanceof HttpError) throw statusError(err.statusCode, serverMessage(err.body ?? ''), err.headers?.['retry-after'] as string | undefined)
      throw networkError(err, err instanceof RequestTimedOutError || limit.timedOut())
    }
  }

  /** The newest point of a series, by a Flux query of the bucket (InfluxDB 2.x and 3 with Flux). */
  async newest (series: SeriesKey, since: number, signal?: AbortSignal): Promise<number | undefined> {
    const filters = [`r._measurement == ${fluxString(series.measurement)}`, ...Object.entries(series.tags).map(([k, v]) => `r[${fluxString(k)}] == ${fluxString(v)}`)]
    const flux = `from(bucket: ${fluxString(this.config.bucket)}) |> range(start: ${since}) |> filter(fn: (r) => ${filters.join(' and ')}) |> keep(columns: ["_time"]) |> group() |> max(column: "_time")`
    let text: string
    try {
      text = await this.text(`/api/v2/query?${new URLSearchParams({ org: this.config.org }).toString()}`, JSON.stringify({ query: flux, type: 'flux', dialect: { header: true, annotations: [] } }), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/csv' },
        ...(signal === undefined ? {} : { signal })
      })
    } catch (err) {
      // VictoriaMetrics has no Flux: its Prometheus API says (README "Reliability").
      if (!(err instanceof WriteError) || (err.code !== 'INFLUX_NOT_FOUND' && err.code !== 'INFLUX_REJECTED')) throw err
      return newestFromAnswer(await this.text(newestQueryPath(series, this.config.bucket, since, Math.floor(Date.now() / 1000)), '', { method: 'POST' }))
    }
    // Annotated CSV without annotations: a header row with _time, then at most one row.
    const [header = '', first] = text.trim().split(/\r?\n/)
    const column = header.split(',').indexOf('_time')
    const ms = column < 0 || first === undefined ? Number.NaN : Date.parse(first.split(',')[column]!)
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000)
  }

  /** One request through the client's transport; its errors as WriteError. */
  private async text (path: string, body: string, options: { method: string, headers?: Record<string, string>, signal?: AbortSignal }): Promise<string> {
    const connection = this.connection()
    // A signal of its own, as in write().
    const limit = deadline(this.config.timeoutMs, options.signal)
    try {
      // The client parses a JSON answer itself.
      const answer: unknown = await connection.transport.request(path, body, { ...options, signal: limit.signal })
      limit.release()
      return typeof answer === 'string' ? answer : JSON.stringify(answer)
    } catch (err) {
      limit.release()
      const { HttpError, RequestTimedOutError } = influxClient()
      if (err instanceof HttpError) throw statusError(err.statusCode, serverMessage(err.body ?? ''), undefined)
      throw networkError(err, err instanceof RequestTimedOutError || limit.timedOut())
    }
  }

  async close (): Promise<void> {}
}

/** A Flux string literal (`${` would interpolate: the dollar is escaped). */
function fluxString (text: string): string {
  return JSON.stringify(text).replace(/\$/g, '\\$')
}
