/**
 * Typed errors with stable codes. Messages name the sensor and the cause and never carry a secret
 * or a full URL: they go to logs, HTTP answers and the status page as they are.
 */

/** Every reason a meter fetch fails; the self-metrics export a counter for each from start-up. */
export const EGAUGE_ERROR_CODES = ['EGAUGE_TIMEOUT', 'EGAUGE_UNREACHABLE', 'EGAUGE_HTTP_STATUS', 'EGAUGE_AUTH', 'EGAUGE_TOO_LARGE', 'EGAUGE_PARSE'] as const
export type EgaugeErrorCode = typeof EGAUGE_ERROR_CODES[number]
/** The fetch-error reason of a scrape whose deadline passed before the meter answered (its answer is a 504). */
export const SCRAPE_DEADLINE = 'SCRAPE_DEADLINE'
/** Every reason counted in `egauge_bridge_fetch_errors_total`. */
export const FETCH_ERROR_REASONS = [...EGAUGE_ERROR_CODES, SCRAPE_DEADLINE]

/** A failure talking to a meter or reading its answer. */
export class EgaugeError extends Error {
  readonly code: EgaugeErrorCode
  readonly sensor: string
  /** The meter's HTTP status, for EGAUGE_HTTP_STATUS and EGAUGE_AUTH. */
  readonly status: number | undefined

  constructor (code: EgaugeErrorCode, sensor: string, message: string, status?: number) {
    super(`sensor ${sensor}: ${message}`)
    this.name = 'EgaugeError'
    this.code = code
    this.sensor = sensor
    this.status = status
  }
}

/** The XML is not what an eGauge meter sends. Thrown by the pure parser, which knows no sensor. */
export class ParseError extends Error {
  readonly code = 'EGAUGE_PARSE'
  constructor (message: string) {
    super(message)
    this.name = 'ParseError'
  }
}

/** An answer that is well formed but holds more than the sensor allows (README "Reliability"). */
export class LimitError extends Error {
  readonly code = 'EGAUGE_TOO_LARGE'
  constructor (message: string) {
    super(message)
    this.name = 'LimitError'
  }
}

/** What one answer may hold; the sensor's `max_registers` and `max_register_name`. */
export interface AnswerLimits {
  maxRegisters: number
  maxRegisterName: number
}

/** Throws LimitError for the register count and name length of an answer being read. Pure. */
export function checkRegister (limits: AnswerLimits | undefined, count: number, name: string): void {
  if (limits === undefined) return
  if (count > limits.maxRegisters) throw new LimitError(`more than ${limits.maxRegisters} registers in one answer (max_registers)`)
  if (name.length > limits.maxRegisterName) throw new LimitError(`a register name of ${name.length} characters, more than ${limits.maxRegisterName} (max_register_name)`)
}

/** The `code` of a Node.js system error (ENOENT, EACCES…), for messages that must not leak more. */
export function errorCode (err: unknown): string {
  return (err as { code?: unknown }).code?.toString() ?? 'error'
}

/** A request parameter is wrong: the HTTP layer answers 400, the CLI exits 2. */
export class BadRequestError extends Error {
  readonly code = 'BAD_REQUEST'
  constructor (message: string) {
    super(message)
    this.name = 'BadRequestError'
  }
}

/** Every reason a meter's push to the receiver is refused before the database (README "Meters that push"). */
export const RECEIVE_ERROR_CODES = ['RECEIVE_AUTH', 'RECEIVE_BAD_BODY', 'RECEIVE_TOO_LARGE'] as const

/**
 * A push the receiver does not acknowledge, with the HTTP status the meter gets: 4xx for a push
 * that will never be taken, 503 for one the meter should send again (it keeps its rows).
 */
export class ReceiveError extends Error {
  readonly code: string
  readonly sensor: string
  readonly status: number
  /** For a 503: when to try again. */
  readonly retryAfterSeconds: number | undefined

  constructor (code: string, sensor: string, status: number, message: string, retryAfterSeconds?: number) {
    super(`sensor ${sensor}: ${message}`)
    this.name = 'ReceiveError'
    this.code = code
    this.sensor = sensor
    this.status = status
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The configuration is invalid; `path` names the offending key (`sensors[0].url`). */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  readonly path: string
  constructor (path: string, message: string) {
    super(path === '' ? message : `${path}: ${message}`)
    this.name = 'ConfigError'
    this.path = path
  }
}

/**
 * Runs a protocol's parser on a meter's answer: ParseError becomes EGAUGE_PARSE for this sensor,
 * LimitError EGAUGE_TOO_LARGE. The parsers throw nothing else (property tests hold them to it).
 */
export function parsedAnswer<T> (sensor: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof LimitError) throw new EgaugeError('EGAUGE_TOO_LARGE', sensor, `meter answer too large: ${err.message}`)
    /* c8 ignore next -- see above */
    if (!(err instanceof ParseError)) throw err
    throw new EgaugeError('EGAUGE_PARSE', sensor, `unreadable meter answer: ${err.message}`)
  }
}
