/** `egauge-bridge check-config`: validates the config file and prints what it holds, or the error. */
import { configPath, loadConfigFile, stateFileProblem } from '../config/load.js'
import { ConfigError } from '../model/errors.js'
import { args, type CommandHelp, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'check-config',
  summary: 'Validates a config file (modern or the 2019 script\'s) and prints what is wrong, one line per problem; exits 0 when it is valid, 2 otherwise.',
  options: [['--config FILE', 'the config file (default: $EGAUGE_BRIDGE_CONFIG, ./egauge-bridge.yml)']],
  examples: ['egauge-bridge check-config --config bridge.yml']
}

export function checkConfig (argv: string[], out: Out): number {
  const { values } = args(argv, { config: { type: 'string' } }, 0, HELP)
  const file = configPath(values.config as string | undefined, process.env)
  if (file === undefined) throw new ConfigError('', 'no config file (use --config, EGAUGE_BRIDGE_CONFIG or ./egauge-bridge.yml)')
  const loaded = loadConfigFile(file)
  const problem = stateFileProblem(loaded.config.push.stateFile)
  for (const w of [...loaded.warnings, ...(problem === undefined ? [] : [problem])]) out(`warning: ${w}\n`)
  out(`${file}: ok (${loaded.legacy ? 'legacy Peper format, ' : ''}${loaded.config.sensors.length} sensor${loaded.config.sensors.length === 1 ? '' : 's'})\n`)
  return 0
}
