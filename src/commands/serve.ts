/**
 * `egauge-bridge [serve]`: the server process. Wiring only: load the config (or start the demo
 * meter), build the bridge, listen, reload on SIGHUP, push when asked, and shut down on
 * SIGTERM/SIGINT.
 */
import { createBridge } from '../bridge/bridge.js'
import { configPath, loadConfigFile, stateFileProblem } from '../config/load.js'
import { parseListen, type Config } from '../config/schema.js'
import { ConfigError } from '../model/errors.js'
import type { Simulator } from '../simulator/server.js'
import { args, type CommandHelp, logConfigWarnings, shardOption, UsageError, waitForSignal } from './args.js'

export interface RunOptions {
  configFlag: string | undefined
  listen: string | undefined
  logLevel: string
  push: boolean
  /** `--demo`: the built-in demo meter, whatever config file the environment names. */
  demo?: boolean
  /** `--shard i/n`: push only the sensors whose name hashes to shard i of n. */
  shard?: { index: number, count: number } | undefined
  /** Resolves with the signal that asks the process to stop. */
  waitForSignal: () => Promise<string>
  /** Where logs go (tests capture them); stdout by default. */
  logStream?: NodeJS.WritableStream
  /** Called once listening, with the bound address. */
  onListening?: (address: string) => void
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export const HELP: CommandHelp = {
  usage: 'serve',
  summary: 'Runs the HTTP server: GET /metrics/<sensor> (line protocol, Prometheus, OpenMetrics), /probe, the bridge\'s own /metrics, the status page, and POST /receive/<sensor> for meters that push their data; reloads its config on SIGHUP. The default command. Without a config file: a built-in demo meter.',
  options: [
    ['--config FILE', 'the config file (default: $EGAUGE_BRIDGE_CONFIG, ./egauge-bridge.yml)'],
    ['--listen H:P', 'where to listen (default: server.listen, 0.0.0.0:9430)'],
    ['--push', 'also write every sensor to InfluxDB on the push interval'],
    ['--demo', 'run the built-in demo meter, ignoring any config file (the Docker image needs it asked for)'],
    ['--shard I/N', 'with --push: only the sensors of shard I of N'],
    ['--log-level L', 'fatal, error, warn, info (default), debug, trace or silent']
  ],
  examples: ['egauge-bridge', 'egauge-bridge serve --config bridge.yml --listen 127.0.0.1:9430', 'egauge-bridge --push --config bridge.yml']
}

/** Parses `serve`'s arguments and runs the server. */
export async function serve (argv: string[]): Promise<number> {
  const { values } = args(argv, {
    config: { type: 'string' },
    push: { type: 'boolean' },
    demo: { type: 'boolean' },
    listen: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    shard: { type: 'string' }
  }, 0, HELP)
  const logLevel = values['log-level'] as string
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, HELP)
  if (values.demo === true && (values.config !== undefined || values.push === true)) throw new UsageError('--demo runs the demo meter alone: not with --config or --push', HELP)
  return await runServer({
    demo: values.demo === true,
    shard: shardOption(values.shard as string | undefined, HELP),
    configFlag: values.config as string | undefined,
    listen: values.listen as string | undefined,
    logLevel,
    push: values.push === true,
    waitForSignal
  })
}

/**
 * Loads the config file. One named by EGAUGE_BRIDGE_CONFIG that does not exist is most often a
 * container started without its config mounted (the image sets the variable): say what to do.
 */
function loadNamedConfig (file: string, fromEnv: boolean): ReturnType<typeof loadConfigFile> {
  try {
    return loadConfigFile(file)
  } catch (err) {
    if (fromEnv && file === process.env.EGAUGE_BRIDGE_CONFIG && err instanceof ConfigError && err.message.endsWith(': ENOENT')) {
      throw new ConfigError('', `${err.message} (EGAUGE_BRIDGE_CONFIG names it): mount your config file there, or run "serve --demo" for the built-in demo meter`)
    }
    throw err
  }
}

/** Runs until a stop signal; resolves to the exit code. Throws ConfigError at start-up. */
export async function runServer (opts: RunOptions): Promise<number> {
  const file = opts.demo === true ? undefined : configPath(opts.configFlag, process.env)
  const loaded = file === undefined ? undefined : loadNamedConfig(file, opts.configFlag === undefined)
  // Checked before the demo meter starts: a usage error must not leave it running (the process
  // would never exit).
  const listen = opts.listen === undefined ? undefined : parseListen(opts.listen, '--listen')
  let demo: { simulator: Simulator } | undefined
  let config: Config
  if (loaded === undefined) {
    // Loaded for the demo only: the simulator imports node:http as ESM, whose facade makes Node
    // 22+ load its own undici (10 ms of every start-up on Node 24).
    const { startDemo } = await import('../bridge/demo.js')
    const started = await startDemo()
    demo = started
    config = started.config
  } else {
    config = loaded.config
  }
  const { host, port } = listen ?? config.server

  const bridge = createBridge({
    config,
    ...(file === undefined ? { demo: true } : { configFile: file }),
    push: opts.push,
    shard: opts.shard,
    logger: { level: opts.logLevel, ...(opts.logStream === undefined ? {} : { stream: opts.logStream }) }
  })
  const { log } = bridge
  if (demo !== undefined) {
    log.info({ sensor: 'demo', url: config.sensors[0]!.url }, 'no config file found: demo mode, a built-in simulated meter serves as sensor "demo"')
  } else {
    logConfigWarnings(log, file!, loaded!.warnings)
    log.info({ config: file, sensors: config.sensors.length, legacy: loaded!.legacy }, 'config loaded')
    // Said at start-up, not at the first failed save minutes later.
    const problem = opts.push || config.sensors.some((s) => s.receive !== undefined) ? stateFileProblem(config.push.stateFile) : undefined
    if (problem !== undefined) log.warn({ stateFile: config.push.stateFile }, problem)
  }

  const onHup = (): void => { bridge.reload().catch(() => {}) }
  process.on('SIGHUP', onHup)

  let address: string
  try {
    address = await bridge.listen(host, port)
  } catch (e) {
    // A busy port or an address this host does not have: stop what started, so the process exits.
    process.off('SIGHUP', onHup)
    await bridge.close()
    await demo?.simulator.close()
    throw e
  }
  log.info({ address, push: opts.push }, 'egauge-bridge listening')

  if (opts.push) {
    const loop = bridge.pushLoop()
    log.info({ target: bridge.writer().target, interval: config.push.intervalMs / 1000, step: config.push.stepSeconds, sensors: loop.sensors().length, shard: opts.shard }, 'push mode on')
    loop.start()
  }
  opts.onListening?.(address)

  const signal = await opts.waitForSignal()
  log.info({ signal }, 'shutting down')
  process.off('SIGHUP', onHup)
  await bridge.close()
  await demo?.simulator.close()
  return 0
}
