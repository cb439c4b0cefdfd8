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

/** JSON lines like pino's (level 30/40/50, time in ms, msg), for commands that run no server. */
export function jsonLineLogger (write: (text: string) => void, now: () => number = Date.now): Logger {
  const line = (level: number) => (obj: object, msg: string): void => { write(JSON.stringify({ level, time: now(), ...obj, msg }) + '\n') }
  return { info: line(30), warn: line(40), error: line(50) }
}
