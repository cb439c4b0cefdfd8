import { pino } from 'pino'

/**
 * The one logger shape every module writes to: pino's (Fastify's logger) `level(obj, msg)`, one
 * line per event with `sensor`, a redacted `url`, the error `code` and a duration where they apply.
 */

export interface Logger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

/** A logger that drops everything (benchmarks, tests that assert on other things). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} }

/**
 * The commands that run no server (push, backfill, simulate) log through pino too, the logger
 * Fastify gives `serve`: the same JSON lines (level, time, pid, hostname, msg), one logger
 * everywhere. `write` receives each line; `now` is for tests.
 */
export function pinoLogger (write: (text: string) => void, now?: () => number): Logger {
  return pino({ ...(now === undefined ? {} : { timestamp: () => `,"time":${now()}` }) }, { write })
}
