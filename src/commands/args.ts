/**
 * What every command shares: its help text, strict argument parsing with `--help`, the program's
 * usage, and waiting for a stop signal. node:util's parseArgs does the parsing: the commands take
 * a handful of flags each, and the help below is what a library would print, without one more
 * dependency in a process that must start fast.
 */
import { parseArgs } from 'node:util'
import { parseShard } from '../push/shard.js'
import type { Logger } from '../telemetry/logger.js'

/** One command's help: what `egauge-bridge <command> --help` prints. */
export interface CommandHelp {
  /** `once <sensor>`: the command and its positional arguments. */
  usage: string
  summary: string
  /** Flag (as typed, with its argument) → what it does. `--help` is added to every command. */
  options: Array<[string, string]>
  examples: string[]
}

/** The program's commands, in the order `--help` lists them. */
export const COMMANDS: Array<[string, string]> = [
  ['serve', 'run the HTTP server (the default command); --push also writes to InfluxDB'],
  ['push', 'write every sensor to InfluxDB on the push interval, without a server; --once for one cycle'],
  ['once', 'print one sensor\'s data once, as GET /metrics/<sensor> would answer'],
  ['backfill', 'write a past range of the meters\' history to InfluxDB'],
  ['check-config', 'validate a config file'],
  ['migrate-config', 'print the 2019 script\'s config as a modern config file'],
  ['simulate', 'run a simulated eGauge meter'],
  ['healthcheck', 'exit 0 when the bridge on this machine answers /healthz (the Docker HEALTHCHECK)']
]

export const USAGE = `usage: egauge-bridge [command] [options]

commands:
${COMMANDS.map(([name, summary]) => `  ${name.padEnd(16)}${summary}`).join('\n')}

Run "egauge-bridge <command> --help" for a command's options. "egauge-bridge --version" prints
the version. With no command and no config file, serve runs a built-in demo meter.`

/** The command line is wrong: exit 2 with the command's usage (or the program's). */
export class UsageError extends Error {
  constructor (message: string, readonly help?: CommandHelp) {
    super(message)
  }
}

/** `--help` was asked for: print `text` on stdout and exit 0. */
export class HelpRequested extends Error {
  constructor (readonly text: string) {
    super('help requested')
  }
}

/** Where a command writes text (stdout or stderr in the binary; strings in tests). */
export type Out = (text: string) => void

export interface Parsed {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/** The full help of a command. */
export function helpText (help: CommandHelp): string {
  const options: Array<[string, string]> = [...help.options, ['-h, --help', 'print this help']]
  const width = Math.max(...options.map(([flag]) => flag.length)) + 2
  return `usage: egauge-bridge ${help.usage}

${wrap(help.summary, 96)}

options:
${options.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`).join('\n')}

example${help.examples.length > 1 ? 's' : ''}:
${help.examples.map((e) => `  ${e}`).join('\n')}
`
}

/** Breaks text into lines of at most `width` characters, at spaces. */
function wrap (text: string, width: number): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  return [...lines, line].join('\n')
}

/** The one-line usage of a command, printed under a usage error. */
export function usageLine (help: CommandHelp): string {
  return `usage: egauge-bridge ${help.usage} [options] (egauge-bridge ${help.usage.split(' ')[0]} --help for more)`
}

/**
 * Parses a command's arguments strictly. Throws HelpRequested for `-h`/`--help`, UsageError (with
 * the command's help) for anything else that is wrong.
 */
export function args (argv: string[], options: Record<string, { type: 'string' | 'boolean', default?: string, short?: string }>, positionals: number, help: CommandHelp): Parsed {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(helpText(help))
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`, help)
    return parsed as Parsed
  } catch (e) {
    if (e instanceof UsageError) throw e
    // parseArgs explains itself at length ("To specify a positional argument starting with a '-'…"): its first sentence is the error.
    throw new UsageError((e as Error).message.split('. ')[0]!.replace(/\.$/, ''), help)
  }
}

/** `--shard i/n` (serve --push, push), or undefined when not given; a bad value is a UsageError. */
export function shardOption (text: string | undefined, help: CommandHelp): { index: number, count: number } | undefined {
  if (text === undefined) return undefined
  try {
    return parseShard(text)
  } catch (e) {
    throw new UsageError((e as Error).message, help)
  }
}

/** Logs what loading a (legacy) config file noticed, one warning per line, naming the file. */
export function logConfigWarnings (log: Logger, file: string, warnings: readonly string[]): void {
  for (const w of warnings) log.warn({ config: file }, w)
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
