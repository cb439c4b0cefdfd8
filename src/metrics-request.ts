/**
 * What a metrics request asks for (`format`, `precision`, `window`, `step`, Accept header) and how
 * that becomes one meter request. Shared by `GET /metrics/:sensor`, `/probe` and `once`. Pure,
 * except fetchAnswer(), which calls the client it is given.
 */
import { parseDuration } from './config/duration.js'
import { HISTORY_STEPS } from './config/schema.js'
import type { MeterClient } from './egauge/client.js'
import type { Precision } from './formats/influx.js'
import type { MeterAnswer, OutputFormat } from './render.js'

/** A request parameter is wrong: the HTTP layer answers 400, the CLI exits 2. */
export class BadRequestError extends Error {
  readonly code = 'BAD_REQUEST'
  constructor (message: string) {
    super(message)
    this.name = 'BadRequestError'
  }
}

export interface MetricsRequest {
  format: OutputFormat
  precision: Precision
  /** History request; absent for current values. */
  window?: { seconds: number, step: number }
}

/** History is fetched in chunks of at most 3600 rows (DESIGN §3). */
export const MAX_POINTS = 3600

export interface MetricsParams {
  format?: string | undefined
  precision?: string | undefined
  window?: string | undefined
  step?: string | undefined
}

/** Validates query parameters and negotiates the format; throws BadRequestError. */
export function parseMetricsRequest (params: MetricsParams, accept: string | undefined): MetricsRequest {
  const format = params.format === undefined ? negotiate(accept) : params.format
  if (format !== 'influx' && format !== 'prometheus' && format !== 'openmetrics') {
    throw new BadRequestError('format must be influx, prometheus or openmetrics')
  }
  const precision = params.precision ?? 'ns'
  if (precision !== 's' && precision !== 'ms' && precision !== 'us' && precision !== 'ns') {
    throw new BadRequestError('precision must be s, ms, us or ns')
  }
  const request: MetricsRequest = { format, precision }
  if (params.window === undefined) {
    if (params.step !== undefined) throw new BadRequestError('step needs a window')
    return request
  }
  const ms = parseDuration(params.window)
  if (ms === undefined || ms < 1000 || ms % 1000 !== 0) throw new BadRequestError('window must be a duration of whole seconds, like 5m')
  const step = HISTORY_STEPS[params.step ?? '1s']
  if (step === undefined) throw new BadRequestError(`step must be one of ${Object.keys(HISTORY_STEPS).join(', ')}`)
  const seconds = ms / 1000
  if (seconds % step !== 0) throw new BadRequestError('window must be a whole number of steps')
  if (format === 'influx' && seconds / step > MAX_POINTS) throw new BadRequestError(`window/step must be at most ${MAX_POINTS} points`)
  request.window = { seconds, step }
  return request
}

/**
 * Prometheus asks with `Accept: application/openmetrics-text;version=1.0.0,…` and lists
 * `text/plain;version=0.0.4` as a fallback; anything else (curl, Telegraf) gets line protocol.
 */
export function negotiate (accept: string | undefined): OutputFormat {
  if (accept === undefined) return 'influx'
  let best: { format: OutputFormat, q: number } = { format: 'influx', q: 0 }
  for (const part of accept.split(',')) {
    const [type = '', ...paramParts] = part.split(';').map((s) => s.trim().toLowerCase())
    const params = Object.fromEntries(paramParts.map((p) => p.split('=').map((s) => s.trim())))
    const q = params.q === undefined ? 1 : Number(params.q)
    let format: OutputFormat | undefined
    if (type === 'application/openmetrics-text') format = 'openmetrics'
    else if (type === 'text/plain' && params.version === '0.0.4') format = 'prometheus'
    if (format !== undefined && q > best.q) best = { format, q }
  }
  return best.format
}

/** Fetches what the request needs: current values, the window's rows, or just its two ends. */
export async function fetchAnswer (client: MeterClient, request: MetricsRequest, signal?: AbortSignal): Promise<MeterAnswer> {
  const window = request.window
  if (window === undefined) return await client.fetchInst(signal)
  if (request.format === 'influx') {
    // n points need n+1 rows: each rate is the difference of two rows.
    return await client.fetchShow({ step: window.step, rows: window.seconds / window.step + 1 }, signal)
  }
  // A window average needs only the newest row and the one a window before it.
  return await client.fetchShow({ step: window.seconds, rows: 2 }, signal)
}

/** Identifies identical requests, so concurrent ones can share one meter fetch. */
export function fetchKey (request: MetricsRequest): string {
  const w = request.window
  if (w === undefined) return 'inst'
  return request.format === 'influx' ? `show:${w.step}:${w.seconds}` : `avg:${w.seconds}`
}
