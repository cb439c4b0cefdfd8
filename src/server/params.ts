/**
 * What a metrics request asks for (`format`, `precision`, `window`, `step`, Accept header),
 * validated. Shared by `GET /metrics/:sensor`, `/probe` and `once`. Pure.
 */
import { parseDuration } from '../config/duration.js'
import { HISTORY_STEPS, historyStep } from '../config/schema.js'
import { MAX_ROWS, meterRequest, type MeterRequest, type Window } from '../meters/query.js'
import { BadRequestError } from '../model/errors.js'
import type { OutputFormat, Precision } from '../model/output.js'

export interface MetricsRequest {
  format: OutputFormat
  precision: Precision
  /** History request; absent for current values. */
  window?: Window
}

/** Points a line-protocol window may hold: each needs a row and one more row before the first. */
export const MAX_POINTS = MAX_ROWS - 1

export interface MetricsParams {
  format?: string | undefined
  precision?: string | undefined
  window?: string | undefined
  step?: string | undefined
}

/**
 * Validates query parameters and negotiates the format; throws BadRequestError. `fallback` is the
 * format when the Accept header names none of ours: line protocol on `/metrics/:sensor` (Telegraf
 * sends no Accept), the Prometheus exposition on `/probe`, as blackbox_exporter answers.
 */
export function parseMetricsRequest (params: MetricsParams, accept: string | undefined, fallback: OutputFormat = 'influx'): MetricsRequest {
  const format = params.format === undefined ? negotiate(accept, fallback) : params.format
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
  const step = historyStep(params.step ?? '1s')
  if (step === undefined) throw new BadRequestError(`step must be one of ${Object.keys(HISTORY_STEPS).join(', ')}`)
  const seconds = ms / 1000
  if (seconds % step !== 0) throw new BadRequestError('window must be a whole number of steps')
  if (format === 'influx' && seconds / step > MAX_POINTS) throw new BadRequestError(`window/step must be at most ${MAX_POINTS} points (${MAX_ROWS} meter rows)`)
  request.window = { seconds, step }
  return request
}

/**
 * The format an Accept header asks for, by its q-values (RFC 9110), or `fallback` when it names
 * none of ours (`*\/*`, curl, no header). What Prometheus sends (copied in the tests from its
 * sources): 2.x `application/openmetrics-text;version=1.0.0,…;q=0.75,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`;
 * 3.x by default OpenMetrics 1.0.0 and 0.0.1, then `text/plain;version=1.0.0;escaping=…` and
 * `text/plain;version=0.0.4`, with q-values from 0.6 down. The text format 1.0.0 is 0.0.4 with
 * UTF-8 names allowed; the bridge's names are always legacy names, so it answers both with the
 * same text, and any `escaping=` scheme leaves them unchanged.
 */
export function negotiate (accept: string | undefined, fallback: OutputFormat = 'influx'): OutputFormat {
  if (accept === undefined) return fallback
  let best: { format: OutputFormat, q: number } = { format: fallback, q: 0 }
  for (const part of accept.split(',')) {
    const [type = '', ...paramParts] = part.split(';').map((s) => s.trim().toLowerCase())
    const params = Object.fromEntries(paramParts.map((p) => p.split('=').map((s) => s.trim())))
    const q = params.q === undefined ? 1 : Number(params.q)
    let format: OutputFormat | undefined
    if (type === 'application/openmetrics-text') format = 'openmetrics'
    else if (type === 'text/plain' && (params.version === '0.0.4' || params.version === '1.0.0')) format = 'prometheus'
    if (format !== undefined && q > best.q) best = { format, q }
  }
  return best.format
}

/** The meter request that answers a metrics request: line protocol wants every point, Prometheus the average. */
export function meterRequestFor (request: MetricsRequest): MeterRequest {
  return meterRequest(request.window, request.format !== 'influx')
}

/** Names the rendering of an answer, for the rendered-body cache. */
export function renderKey (request: MetricsRequest): string {
  return `${request.format}|${request.precision}`
}

/** The sensor's timeout, capped by Prometheus's scrape timeout minus 0.5 s of margin. */
export function deadlineMs (timeoutMs: number, scrapeTimeoutHeader: string | string[] | undefined): number {
  const seconds = Number(Array.isArray(scrapeTimeoutHeader) ? scrapeTimeoutHeader[0] : scrapeTimeoutHeader)
  if (!Number.isFinite(seconds) || seconds <= 0) return timeoutMs
  return Math.max(100, Math.min(timeoutMs, seconds * 1000 - 500))
}
