/**
 * InfluxDB 2.x `/api/v2/write` through @influxdata/influxdb-client's transport; also InfluxDB 3,
 * the 1.8+ compatibility API and VictoriaMetrics.
 */
import type { InfluxDB } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../config/schema.js'
import { lazyRequire } from '../util/lazy.js'
import { redactUrl } from '../util/redact.js'
import { networkError, serverMessage, statusError } from './write-error.js'
import type { Writer } from './writer.js'

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
    try {
      // The client's request() sends strings only (it would JSON-encode a Buffer).
      await this.connection().transport.request(`/api/v2/write?${params.toString()}`, typeof lines === 'string' ? lines : lines.toString('utf8'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        gzipThreshold: 64 * 1024,
        ...(signal === undefined ? {} : { signal })
      })
    } catch (err) {
      const { HttpError, RequestTimedOutError } = influxClient()
      if (err instanceof HttpError) throw statusError(err.statusCode, serverMessage(err.body ?? ''), err.headers?.['retry-after'] as string | undefined)
      throw networkError(err, err instanceof RequestTimedOutError)
    }
  }

  async close (): Promise<void> {}
}
