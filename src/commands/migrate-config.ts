/** `egauge-bridge migrate-config FILE`: prints the modern equivalent of a 2019 Peper config. */
import { readFileSync } from 'node:fs'
import { migrateConfigText } from '../config/load.js'
import { ConfigError, errorCode } from '../model/errors.js'
import { args, UsageError, type Out } from './args.js'

export function migrateConfig (argv: string[], out: Out): number {
  const { positionals } = args(argv, {}, 1)
  const file = positionals[0]
  if (file === undefined) throw new UsageError('migrate-config needs the legacy config file')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError('', `cannot read ${file}: ${errorCode(e)}`)
  }
  out(migrateConfigText(text))
  return 0
}
