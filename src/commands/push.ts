/**
 * `egauge-bridge push [--once]`: push mode without an HTTP server. `--once` runs one cycle for
 * every sensor and exits, for cron and systemd timers (like `telegraf --once`): 0 when every
 * sensor was written, 1 when any failed. Without it, the loop runs until SIGTERM/SIGINT.
 */
import { createBridge } from '../bridge/bridge.js'
import { configPath, loadConfigFile, stateFileProblem } from '../config/load.js'
import { ConfigError } from '../model/errors.js'
import { pinoLogger } from '../telemetry/logger.js'
import { args, type CommandHelp, logConfigWarnings, shardOption, waitForSignal, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'push',
  summary: 'Writes every sensor to InfluxDB on the push interval without serving HTTP, gap-free from its checkpoints. With --once: one cycle, then exit (0 if every sensor was written, 1 otherwise), for cron and systemd timers.',
  options: [
    ['--config FILE', 'the config file with the influx: block (default: $EGAUGE_BRIDGE_CONFIG, ./egauge-bridge.yml)'],
    ['--once', 'one cycle for every sensor, then exit'],
    ['--shard I/N', 'only the sensors of shard I of N']
  ],
  examples: ['egauge-bridge push --once --config bridge.yml', '*/5 * * * * egauge-bridge push --once --config /etc/egauge-bridge.yml   (crontab)']
}

export async function push (argv: string[], out: Out): Promise<number> {
  const { values } = args(argv, {
    config: { type: 'string' },
    once: { type: 'boolean' },
    shard: { type: 'string' }
  }, 0, HELP)
  const shard = shardOption(values.shard as string | undefined, HELP)
  const file = configPath(values.config as string | undefined, process.env)
  if (file === undefined) throw new ConfigError('', 'push needs a config file with the database (use --config)')
  const { config, warnings } = loadConfigFile(file)
  const log = pinoLogger(out)
  logConfigWarnings(log, file, warnings)
  const problem = stateFileProblem(config.push.stateFile)
  if (problem !== undefined) log.warn({ stateFile: config.push.stateFile }, problem)
  const bridge = createBridge({ config, configFile: file, push: true, shard, log })
  try {
    const loop = bridge.pushLoop()
    log.info({ target: bridge.writer().target, sensors: loop.sensors().length, once: values.once === true, shard }, 'push mode on')
    const receiving = config.sensors.filter((s) => s.receive !== undefined).map((s) => s.name)
    if (receiving.length > 0) log.warn({ sensors: receiving }, 'these sensors push their own data to POST /receive/<name>, which only serve takes: run serve (with --push) for them')
    if (values.once === true) {
      const results = await loop.runCycle()
      return results.every((r) => r.ok) ? 0 : 1
    }
    loop.start()
    const signal = await waitForSignal()
    log.info({ signal }, 'shutting down')
    return 0
  } finally {
    await bridge.close()
  }
}
