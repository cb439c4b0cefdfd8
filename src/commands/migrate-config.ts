/** `egauge-bridge migrate-config FILE`: prints the modern equivalent of a 2019 Peper config. */
import { readFileSync } from 'node:fs'
import type { HostZone } from '../config/legacy.js'
import { migrateConfigText } from '../config/load.js'
import { ConfigError, errorCode } from '../model/errors.js'
import { args, type CommandHelp, UsageError, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'migrate-config <legacy-file>',
  summary: 'Prints the 2019 Peper script\'s YAML config as a modern config file with schema: peper, so the series continue unchanged.',
  options: [],
  examples: ['egauge-bridge migrate-config config.yaml > egauge-bridge.yml']
}

export function migrateConfig (argv: string[], out: Out): number {
  const { positionals } = args(argv, {}, 1, HELP)
  const file = positionals[0]
  if (file === undefined) throw new UsageError('migrate-config needs the legacy config file', HELP)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError('', `cannot read ${file}: ${errorCode(e)}`)
  }
  out(migrateConfigText(text, hostZone()))
  return 0
}

/** This host's time zone, as the 2019 script's Python saw it (its naive local time). */
function hostZone (): HostZone {
  const year = new Date().getFullYear()
  // getTimezoneOffset() is minutes west of UTC; the note wants seconds east of it.
  const offset = (month: number): number => -new Date(year, month, 1).getTimezoneOffset() * 60 || 0
  return { name: Intl.DateTimeFormat().resolvedOptions().timeZone, january: offset(0), july: offset(6) }
}
