/**
 * The server process: load config (or start the demo meter), build the app, listen, reload on
 * SIGHUP, shut down gracefully on SIGTERM/SIGINT. Wiring only.
 */
import type { FastifyBaseLogger } from 'fastify'
import { configPath, loadConfigFile } from '../config/load.js'
import { parseListen, type Config } from '../config/schema.js'
import { startDemo } from '../demo.js'
import { CheckpointStore } from '../push/checkpoints.js'
import { PushLoop } from '../push/loop.js'
import { createWriter } from '../push/writers.js'
import type { Simulator } from '../simulator/server.js'
import { buildApp, type Live } from './app.js'
import { MeterHub } from './hub.js'
import { createSelfMetrics, type SelfMetrics } from './self-metrics.js'

export interface RunOptions {
  configFlag: string | undefined
  listen: string | undefined
  logLevel: string
  push: boolean
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

/** Runs until a stop signal; resolves to the exit code. Throws ConfigError at start-up. */
export async function runServer (opts: RunOptions): Promise<number> {
  const file = configPath(opts.configFlag, process.env)
  const loaded = file === undefined ? undefined : loadConfigFile(file)
  let demo: { simulator: Simulator } | undefined
  let config: Config
  if (loaded === undefined) {
    const started = await startDemo()
    demo = started
    config = started.config
  } else {
    config = loaded.config
  }
  const { host, port } = opts.listen === undefined ? config.server : parseListen(opts.listen, '--listen')

  const metrics = createSelfMetrics()
  let listening = false
  let live: Live | undefined
  const app = buildApp({
    live: () => live!,
    metrics,
    push: opts.push,
    logger: { level: opts.logLevel, ...(opts.logStream === undefined ? {} : { stream: opts.logStream }) },
    ready: () => listening
  })
  const log = app.log
  live = { config, hub: newHub(config, metrics, log) }
  metrics.configReloadOk.set(1)
  metrics.configReloadTime.set(Date.now() / 1000)
  if (demo !== undefined) {
    log.info({ sensor: 'demo', url: config.sensors[0]!.url }, 'no config file found: demo mode, a built-in simulated meter serves as sensor "demo"')
  } else {
    for (const w of loaded!.warnings) log.warn({ config: file }, w)
    log.info({ config: file, sensors: config.sensors.length, legacy: loaded!.legacy }, 'config loaded')
  }

  const reload = async (): Promise<void> => {
    if (file === undefined) {
      log.info('SIGHUP in demo mode: nothing to reload')
      return
    }
    try {
      const next = loadConfigFile(file)
      const old = live!
      live = { config: next.config, hub: newHub(next.config, metrics, log) }
      metrics.configReloadOk.set(1)
      metrics.configReloadTime.set(Date.now() / 1000)
      log.info({ config: file, sensors: next.config.sensors.length }, 'config reloaded')
      await old.hub.close()
    } catch (err) {
      metrics.configReloadOk.set(0)
      log.error({ config: file, code: (err as { code?: string }).code }, `config reload failed, keeping the previous config: ${(err as Error).message}`)
    }
  }
  const onHup = (): void => { reload().catch(() => {}) }
  process.on('SIGHUP', onHup)

  const address = await app.listen({ host, port })
  listening = true
  log.info({ address, push: opts.push }, 'egauge-bridge listening')

  let push: { loop: PushLoop, close: () => Promise<void> } | undefined
  if (opts.push) {
    const store = CheckpointStore.open(config.push.stateFile, (message) => log.warn({ stateFile: config.push.stateFile }, message))
    const writer = createWriter(config.influx)
    const loop = new PushLoop({ live: () => live!, writer, store, metrics, log, shard: opts.shard })
    log.info({ target: writer.target, interval: config.push.intervalMs / 1000, step: config.push.stepSeconds, sensors: loop.sensors().length, shard: opts.shard }, 'push mode on')
    loop.start()
    push = { loop, close: async () => { await loop.stop(10_000); await writer.close() } }
  }
  opts.onListening?.(address)

  const signal = await opts.waitForSignal()
  log.info({ signal }, 'shutting down')
  process.off('SIGHUP', onHup)
  await push?.close()
  await app.close()
  await live.hub.close()
  await demo?.simulator.close()
  return 0
}

function newHub (config: Config, metrics: SelfMetrics, log: FastifyBaseLogger): MeterHub {
  return new MeterHub(config.sensors, { cacheTtlMs: config.server.cacheTtlMs, metrics, log })
}
