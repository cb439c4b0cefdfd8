/** What every command shares: the usage text, argument parsing, and waiting for a stop signal. */
import { parseArgs } from 'node:util'

export const USAGE = `usage: egauge-bridge [serve] [--config F] [--push] [--shard i/n] [--listen H:P] [--log-level L]
       egauge-bridge once <sensor> [--format influx|prometheus|openmetrics] [--window D] [--step S] [--precision P] [--config F]
       egauge-bridge backfill <sensor…> --from T [--to T] [--step 1s|1m|15m|1h|1d] [--config F]
       egauge-bridge check-config [--config F]
       egauge-bridge migrate-config FILE
       egauge-bridge simulate [--listen H:P] [--seed N] [--auth user:pass]`

/** The command line is wrong: exit 2 with the usage. */
export class UsageError extends Error {}

/** Where a command writes text (stdout or stderr in the binary; strings in tests). */
export type Out = (text: string) => void

export interface Parsed {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/** Parses a command's arguments strictly; throws UsageError. */
export function args (argv: string[], options: Record<string, { type: 'string' | 'boolean', default?: string }>, positionals: number): Parsed {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`)
    return parsed as Parsed
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError((e as Error).message)
  }
}

/** Resolves with the first SIGINT or SIGTERM. */
export function waitForSignal (): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve(signal)
    }
    process.on('SIGINT', done)
    process.on('SIGTERM', done)
  })
}
