#!/usr/bin/env node
/**
 * argv → command. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. Errors are
 * one clear line on stderr. Wiring only: every piece of logic lives in a module with its own tests.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { configPath, loadConfigFile, migrateConfigText, type LoadedConfig } from './config/load.js'
import { HISTORY_STEPS, parseListen } from './config/schema.js'
import { startDemo } from './demo.js'
import { MeterClient } from './egauge/client.js'
import { ConfigError, EgaugeError, errorCode } from './errors.js'
import { BadRequestError, fetchAnswer, parseMetricsRequest } from './metrics-request.js'
import { runBackfill } from './push/backfill.js'
import { CheckpointStore } from './push/checkpoints.js'
import { sleep } from './push/loop.js'
import { parseShard, type PushLogger } from './push/pusher.js'
import { createWriter } from './push/writers.js'
import { createSelfMetrics } from './server/self-metrics.js'
import { renderAnswer } from './render.js'
import { Simulator } from './simulator/server.js'

const USAGE = `usage: egauge-bridge [serve] [--config F] [--push] [--shard i/n] [--listen H:P] [--log-level L]
       egauge-bridge once <sensor> [--format influx|prometheus|openmetrics] [--window D] [--step S] [--precision P] [--config F]
       egauge-bridge backfill <sensor…> --from T [--to T] [--step 1s|1m|15m|1h|1d] [--config F]
       egauge-bridge check-config [--config F]
       egauge-bridge migrate-config FILE
       egauge-bridge simulate [--listen H:P] [--seed N] [--auth user:pass]`

class UsageError extends Error {}

type Out = (text: string) => void

/** Runs a command line; resolves to the exit code (serve and simulate resolve on shutdown). */
export async function main (argv: string[], out: Out, err: Out): Promise<number> {
  try {
    const [command = 'serve', ...rest] = argv[0]?.startsWith('-') === true ? ['serve', ...argv] : argv
    switch (command) {
      case 'serve': return await serve(rest)
      case 'once': return await once(rest, out)
      case 'backfill': return await backfill(rest, err)
      case 'check-config': return checkConfig(rest, out)
      case 'migrate-config': return migrate(rest, out)
      case 'simulate': return await simulate(rest, err)
      case 'help': case '--help': out(USAGE + '\n'); return 0
      default: throw new UsageError(`unknown command "${command}"`)
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof BadRequestError) {
      err(`egauge-bridge: ${e.message}\n`)
      if (e instanceof UsageError) err(USAGE + '\n')
      return 2
    }
    if (e instanceof EgaugeError) {
      err(`egauge-bridge: ${e.message} [${e.code}]\n`)
      return 1
    }
    err(`egauge-bridge: ${(e as Error).message}\n`)
    return 1
  }
}

function args (argv: string[], options: Record<string, { type: 'string' | 'boolean', default?: string }>, positionals: number): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`)
    return parsed as { values: Record<string, string | boolean | undefined>, positionals: string[] }
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError((e as Error).message)
  }
}

function loadConfig (flag: string | undefined): LoadedConfig | undefined {
  const file = configPath(flag, process.env)
  return file === undefined ? undefined : loadConfigFile(file)
}

async function once (argv: string[], out: Out): Promise<number> {
  const { values, positionals } = args(argv, {
    config: { type: 'string' },
    format: { type: 'string' },
    window: { type: 'string' },
    step: { type: 'string' },
    precision: { type: 'string' }
  }, 1)
  const name = positionals[0]
  if (name === undefined) throw new UsageError('once needs a sensor name')
  const request = parseMetricsRequest({
    format: (values.format as string | undefined) ?? 'influx',
    precision: values.precision as string | undefined,
    window: values.window as string | undefined,
    step: values.step as string | undefined
  }, undefined)
  const loaded = loadConfig(values.config as string | undefined)
  const demo = loaded === undefined ? await startDemo() : undefined
  const config = loaded?.config ?? demo!.config
  const sensor = config.sensors.find((s) => s.name === name)
  try {
    if (sensor === undefined) throw new ConfigError('', `unknown sensor "${name}" (configured: ${config.sensors.map((s) => s.name).join(', ') || 'none'})`)
    const client = new MeterClient(sensor)
    try {
      const answer = await fetchAnswer(client, request)
      out(await renderAnswer(sensor, config.influx, answer, request))
      return 0
    } finally {
      await client.close()
    }
  } finally {
    await demo?.simulator.close()
  }
}

async function backfill (argv: string[], err: Out): Promise<number> {
  const { values, positionals } = args(argv, {
    config: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    step: { type: 'string' }
  }, Number.POSITIVE_INFINITY)
  if (positionals.length === 0) throw new UsageError('backfill needs at least one sensor name')
  const from = isoTime(values.from as string | undefined, '--from')
  const to = values.to === undefined ? Math.floor(Date.now() / 1000) : isoTime(values.to as string, '--to')
  if (from >= to) throw new UsageError('--from must be before --to')
  const loaded = loadConfig(values.config as string | undefined)
  if (loaded === undefined) throw new ConfigError('', 'backfill needs a config file with the database (use --config)')
  const { config } = loaded
  const step = values.step === undefined ? config.push.stepSeconds : HISTORY_STEPS[values.step as string]
  if (step === undefined) throw new UsageError(`--step must be one of ${Object.keys(HISTORY_STEPS).join(', ')}`)
  for (const name of positionals) {
    if (config.sensors.find((s) => s.name === name) === undefined) throw new ConfigError('', `unknown sensor "${name}"`)
  }
  const log = lineLogger(err)
  const store = CheckpointStore.open(config.push.stateFile, (message) => log.warn({}, message))
  const writer = createWriter(config.influx)
  const controller = new AbortController()
  /* c8 ignore next -- a signal handler: test/cli.test.ts sends SIGINT to the built binary */
  const interrupt = (): void => { controller.abort() }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    const ok = await runBackfill({
      config,
      sensors: positionals,
      from,
      to,
      step,
      writer,
      store,
      metrics: createSelfMetrics(false),
      log,
      progress: { write: (t) => err(t), isTTY: process.stderr.isTTY === true },
      sleep,
      signal: controller.signal
    })
    return ok ? 0 : 1
  } finally {
    process.off('SIGINT', interrupt)
    process.off('SIGTERM', interrupt)
    await writer.close()
  }
}

function isoTime (text: string | undefined, flag: string): number {
  if (text === undefined) throw new UsageError(`${flag} is required (ISO 8601, like 2024-01-31T00:00:00Z)`)
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new UsageError(`${flag} "${text}" is not an ISO 8601 time`)
  return Math.floor(ms / 1000)
}

/** Log lines for commands without a server: JSON like the server's pino lines, on stderr. */
function lineLogger (err: Out): PushLogger {
  const line = (level: number) => (obj: object, msg: string): void => { err(JSON.stringify({ level, time: Date.now(), ...obj, msg }) + '\n') }
  return { info: line(30), warn: line(40), error: line(50) }
}

function checkConfig (argv: string[], out: Out): number {
  const { values } = args(argv, { config: { type: 'string' } }, 0)
  const file = configPath(values.config as string | undefined, process.env)
  if (file === undefined) throw new ConfigError('', 'no config file (use --config, EGAUGE_BRIDGE_CONFIG or ./egauge-bridge.yml)')
  const loaded = loadConfigFile(file)
  for (const w of loaded.warnings) out(`warning: ${w}\n`)
  out(`${file}: ok (${loaded.legacy ? 'legacy Peper format, ' : ''}${loaded.config.sensors.length} sensor${loaded.config.sensors.length === 1 ? '' : 's'})\n`)
  return 0
}

function migrate (argv: string[], out: Out): number {
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

async function simulate (argv: string[], err: Out): Promise<number> {
  const { values } = args(argv, {
    listen: { type: 'string' },
    seed: { type: 'string' },
    auth: { type: 'string' },
    name: { type: 'string' },
    control: { type: 'boolean' }
  }, 0)
  const { host, port } = parseListen((values.listen as string | undefined) ?? '127.0.0.1:8080', '--listen')
  const seed = values.seed === undefined ? 1 : Number(values.seed)
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be a whole number')
  let auth: { username: string, password: string } | undefined
  if (values.auth !== undefined) {
    const text = values.auth as string
    const colon = text.indexOf(':')
    if (colon <= 0) throw new UsageError('--auth must be user:pass')
    auth = { username: text.slice(0, colon), password: text.slice(colon + 1) }
  }
  const sim = new Simulator({ seed, ...(auth === undefined ? {} : { auth }), control: values.control === true })
  const url = await sim.listen(port, host)
  err(JSON.stringify({ level: 30, time: Date.now(), msg: 'simulated eGauge meter listening', name: values.name ?? 'egauge-sim', url, seed, auth: auth !== undefined }) + '\n')
  await waitForSignal()
  await sim.close()
  return 0
}

function shardArg (text: string): { index: number, count: number } {
  try {
    return parseShard(text)
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
}

function waitForSignal (): Promise<string> {
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

async function serve (argv: string[]): Promise<number> {
  const { values } = args(argv, {
    config: { type: 'string' },
    push: { type: 'boolean' },
    listen: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    shard: { type: 'string' }
  }, 0)
  const { runServer, LOG_LEVELS } = await import('./server/run.js')
  const logLevel = values['log-level'] as string
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  return await runServer({
    shard: values.shard === undefined ? undefined : shardArg(values.shard as string),
    configFlag: values.config as string | undefined,
    listen: values.listen as string | undefined,
    logLevel,
    push: values.push === true,
    waitForSignal
  })
}

/* c8 ignore start -- process entry: runs only as the binary, which tests spawn from dist/ */
function isEntryPoint (): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2), (t) => process.stdout.write(t), (t) => process.stderr.write(t)).then((code) => { process.exitCode = code }, () => { process.exitCode = 1 })
}
/* c8 ignore stop */
