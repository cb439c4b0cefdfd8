/**
 * Why a write to the database failed, sorted the way Telegraf's InfluxDB output sorts it: the
 * database refuses the data (skip the batch), the configuration is wrong (keep the checkpoint and
 * say so), or try again later (keep the checkpoint, back off). The one table of InfluxDB answers.
 */
import { lazyRequire } from '../util/lazy.js'

const undici = lazyRequire<typeof import('undici')>('undici')

/** What to do about a failed write. */
export type FailureKind = 'rejected' | 'config' | 'retry'

/** Every reason a write fails; the self-metrics export a counter for each from start-up. */
export const WRITE_ERROR_CODES = ['INFLUX_REJECTED', 'INFLUX_AUTH', 'INFLUX_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_UNREACHABLE', 'INFLUX_TIMEOUT'] as const
export type WriteErrorCode = typeof WRITE_ERROR_CODES[number]

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

/** The error for an HTTP answer that is not a success (README "Push mode"). Pure. */
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
export function serverMessage (body: string): string {
  try {
    const json = JSON.parse(body) as { error?: string, message?: string }
    return (json.error ?? json.message ?? body).slice(0, 500)
  } catch {
    return body.trim().slice(0, 500)
  }
}

/** The error for a request that got no answer. Pure. */
export function networkError (err: unknown, timedOut: boolean): WriteError {
  const undiciErrors = undici().errors
  if (timedOut || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new WriteError('INFLUX_TIMEOUT', 'InfluxDB did not answer in time')
  }
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
  return new WriteError('INFLUX_UNREACHABLE', `InfluxDB unreachable (${code})`)
}
