/** `egauge-bridge backfill <sensor…> --from T [--to T] [--step S]`: the push path over an explicit range. */
import { createBridge } from '../bridge/bridge.js'
import { configPath, loadConfigFile } from '../config/load.js'
import { HISTORY_STEPS, historyStep } from '../config/schema.js'
import { ConfigError } from '../model/errors.js'
import { runBackfill } from '../push/backfill.js'
import { pinoLogger } from '../telemetry/logger.js'
import { sleep } from '../util/sleep.js'
import { args, type CommandHelp, UsageError, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'backfill <sensor…> --from T',
  summary: 'Writes a past range of each sensor\'s history to InfluxDB, through the same path as push mode, resumable (its own checkpoints), with a progress bar on a terminal.',
  options: [
    ['--from T', 'start, ISO 8601 (2024-01-31T00:00:00Z); required'],
    ['--to T', 'end, ISO 8601 (default: now)'],
    ['--step S', '1s, 1m, 15m, 1h or 1d (default: push.step)'],
    ['--config FILE', 'the config file with the influx: block']
  ],
  examples: ['egauge-bridge backfill eGauge123 --from 2024-01-01T00:00:00Z --config bridge.yml', 'egauge-bridge backfill m1 m2 --from 2024-06-01T00:00:00Z --to 2024-07-01T00:00:00Z --step 1m']
}

/** Logs go to `out` (stdout), the progress bar to `err` (stderr), so either can be redirected alone. */
export async function backfill (argv: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = args(argv, {
    config: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    step: { type: 'string' }
  }, Number.POSITIVE_INFINITY, HELP)
  if (positionals.length === 0) throw new UsageError('backfill needs at least one sensor name', HELP)
  const from = isoTime(values.from as string | undefined, '--from')
  const to = values.to === undefined ? Math.floor(Date.now() / 1000) : isoTime(values.to as string, '--to')
  if (from >= to) throw new UsageError('--from must be before --to', HELP)
  const file = configPath(values.config as string | undefined, process.env)
  if (file === undefined) throw new ConfigError('', 'backfill needs a config file with the database (use --config)')
  const { config } = loadConfigFile(file)
  const step = values.step === undefined ? config.push.stepSeconds : historyStep(values.step as string)
  if (step === undefined) throw new UsageError(`--step must be one of ${Object.keys(HISTORY_STEPS).join(', ')}`, HELP)
  for (const name of positionals) {
    const sensor = config.sensors.find((s) => s.name === name)
    if (sensor === undefined) throw new ConfigError('', `unknown sensor "${name}"`)
    // The meter keeps what it could not push and sends it with its next push (README "Meters that push").
    if (sensor.url === undefined) throw new ConfigError('', `sensor "${name}" has no url: it pushes its data to the bridge, and backfill reads meters (give it a url to backfill from the meter)`)
  }
  const log = pinoLogger(out)
  const bridge = createBridge({ config, processMetrics: false, log })
  const controller = new AbortController()
  /* c8 ignore next -- a signal handler: the CLI test sends SIGINT to the built binary */
  const interrupt = (): void => { controller.abort() }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    const ok = await runBackfill({
      config,
      pool: bridge.live().pool,
      sensors: positionals,
      from,
      to,
      step,
      writer: bridge.writer(),
      writerOf: bridge.writerOf,
      store: bridge.store(),
      metrics: bridge.metrics,
      log,
      progress: { write: (t) => err(t), isTTY: process.stderr.isTTY === true },
      sleep,
      signal: controller.signal
    })
    return ok ? 0 : 1
  } finally {
    process.off('SIGINT', interrupt)
    process.off('SIGTERM', interrupt)
    await bridge.close()
  }
}

function isoTime (text: string | undefined, flag: string): number {
  if (text === undefined) throw new UsageError(`${flag} is required (ISO 8601, like 2024-01-31T00:00:00Z)`, HELP)
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new UsageError(`${flag} "${text}" is not an ISO 8601 time`, HELP)
  return Math.floor(ms / 1000)
}
