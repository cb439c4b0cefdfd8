/**
 * createBridge(): the one assembly of the bridge's parts (the meter pool and its status book, the
 * HTTP app, self-metrics, and for push the writer, checkpoint store and push loop), and a reload
 * that swaps config, pool and book as one unit. The commands, the tests and the bench all build
 * the bridge here, so none of them wires the parts differently (ARCHITECTURE.md).
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { loadConfigFile } from '../config/load.js'
import { ConfigError } from '../model/errors.js'
import type { Config, SensorConfig } from '../config/schema.js'
import type { SourceFactory } from '../meters/factory.js'
import { MeterPool, type Live } from '../meters/pool.js'
import { CheckpointStore } from '../push/checkpoints.js'
import { PushLoop } from '../push/loop.js'
import { Receiver } from '../receive/receiver.js'
import { RowStore } from '../receive/row-store.js'
import { buildApp } from '../server/app.js'
import { WriterSet, type Writer } from '../sinks/writer.js'
import { silentLogger, type Logger } from '../telemetry/logger.js'
import { createSelfMetrics, type SelfMetrics } from '../telemetry/self-metrics.js'
import { StatusBook } from '../telemetry/status-book.js'
import { VERSION } from '../util/version.js'

export interface BridgeOptions {
  config: Config
  /** Where the config came from; reload() reads it again. Without it there is nothing to reload. */
  configFile?: string
  /** Demo mode (no config file): the status page says so. */
  demo?: boolean
  /** Push mode: shown on the status page; startPush() runs the loop. */
  push?: boolean
  /** `--shard i/n`: push only the sensors whose name hashes to shard i of n. */
  shard?: { index: number, count: number } | undefined
  /** Fastify (pino) logger options; false for none. */
  logger?: FastifyServerOptions['logger']
  /** Where the parts log instead of the app's logger (commands that run no server). */
  log?: Logger
  /** prom-client's default process metrics on /metrics (true by default). */
  processMetrics?: boolean
  /** Milliseconds since the epoch, for caches, statuses and the push loop. */
  now?: () => number
  /** The push loop's waits and timers (tests inject them). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  setTimer?: (fn: () => void, ms: number) => { cancel: () => void }
  retries?: number
  /** Readiness for /readyz; by default, once listen() has bound (tests that inject() say true). */
  ready?: () => boolean
  /** Makes each sensor's meter source; the protocol factory by default. */
  createSource?: SourceFactory
}

export interface Bridge {
  readonly app: FastifyInstance
  readonly metrics: SelfMetrics
  readonly log: Logger
  /** The current config, pool and book; replaced whole by reload(). */
  live: () => Live
  /** The top-level database's writer, made on first use. */
  writer: () => Writer
  /** The writer for one sensor's points: its own database (`sensors[].influx`) or the top-level one. */
  writerOf: (sensor: SensorConfig) => Writer
  /** The push checkpoints, opened on first use. */
  store: () => CheckpointStore
  /** The push loop, made on first use (it does not run until start()). */
  pushLoop: () => PushLoop
  /** The receiver of meters' pushes, made on first use (README "Meters that push"). */
  receiver: () => Receiver
  /** Starts listening; resolves to the bound address. */
  listen: (host: string, port: number) => Promise<string>
  /** Reads the config file again and swaps it in; keeps the old one on error. Never throws. */
  reload: () => Promise<boolean>
  /** Stops the push loop (8 s grace), the listener and every connection. */
  close: () => Promise<void>
}

/** How long a running push cycle may go on at shutdown before it is abandoned. */
export const SHUTDOWN_GRACE_MS = 8_000

/** The log levels at which Fastify's own listening line would be written. */
const VERBOSE_LEVELS = new Set(['info', 'debug', 'trace'])

export function createBridge (opts: BridgeOptions): Bridge {
  const metrics = createSelfMetrics(opts.processMetrics ?? true)
  const startedAt = (opts.now ?? Date.now)()
  let lastReload: { at: number, ok: boolean } | undefined
  let listening = false
  let live: Live | undefined
  // The app (and Fastify with it) is built on first use: once, push --once and backfill never
  // listen, and loading Fastify is most of a small machine's start-up (#17).
  let app: FastifyInstance | undefined
  const theApp = (): FastifyInstance => (app ??= buildApp({
    live: () => live!,
    metrics,
    push: opts.push ?? false,
    logger: opts.logger ?? false,
    ready: opts.ready ?? (() => listening),
    ...(opts.configFile === undefined ? {} : { reload: async () => await bridge.reload() }),
    receiver: () => live!.config.sensors.some((s) => s.receive !== undefined) ? bridge.receiver() : undefined,
    ...(opts.now === undefined ? {} : { now: opts.now }),
    info: () => ({
      version: VERSION,
      startedAt,
      configFile: opts.configFile,
      demo: opts.demo ?? false,
      lastReload,
      push: opts.push !== true
        ? undefined
        : {
            target: bridge.writer().target,
            intervalMs: opts.config.push.intervalMs,
            stepSeconds: opts.config.push.stepSeconds,
            lastCycle: loop?.lastCycle,
            nextCycleAt: loop?.nextCycleAt
          }
    })
  }))
  const log: Logger = opts.log ?? (opts.logger === undefined || opts.logger === false ? silentLogger : theApp().log)
  const newLive = (config: Config): Live => {
    const book = new StatusBook(config.sensors, opts.now)
    const pool = new MeterPool(config.sensors, {
      cacheTtlMs: config.server.cacheTtlMs,
      metrics,
      book,
      log,
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.createSource === undefined ? {} : { createSource: opts.createSource })
    })
    // A receiving sensor has its series from start-up, like a pulled one (exportSensor).
    for (const s of config.sensors) if (s.receive !== undefined) bridge.receiver().export(s.name)
    return { config, pool, book }
  }
  const configLoaded = (): void => {
    metrics.configReloadOk.set(1)
    metrics.configReloadTime.set((opts.now ?? Date.now)() / 1000)
  }
  configLoaded()

  // The push side's parts follow the config the process started with (a reload changes sensors,
  // not the database or the state file).
  let writers: WriterSet | undefined
  const theWriters = (): WriterSet => (writers ??= new WriterSet(opts.config.influx))
  let store: CheckpointStore | undefined
  /** Pools replaced by a reload, closing once the cycle that uses them is over. */
  const retiring = new Set<Live>()
  let loop: PushLoop | undefined
  let receiver: Receiver | undefined
  const bridge: Bridge = {
    get app () { return theApp() },
    metrics,
    log,
    live: () => live!,
    writer: () => theWriters().main,
    writerOf: (sensor) => theWriters().of(sensor),
    store: () => (store ??= CheckpointStore.open(opts.config.push.stateFile, (message) => log.warn({ stateFile: opts.config.push.stateFile }, message))),
    pushLoop: () => (loop ??= new PushLoop({
      live: () => live!,
      writer: bridge.writer(),
      writerOf: bridge.writerOf,
      store: bridge.store(),
      metrics,
      log,
      shard: opts.shard,
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.sleep === undefined ? {} : { sleep: opts.sleep }),
      ...(opts.setTimer === undefined ? {} : { setTimer: opts.setTimer }),
      ...(opts.retries === undefined ? {} : { retries: opts.retries })
    })),
    receiver: () => (receiver ??= new Receiver({
      influx: opts.config.influx,
      writerOf: bridge.writerOf,
      rows: new RowStore(opts.config.push.stateFile, (message) => log.warn({ stateFile: opts.config.push.stateFile }, message)),
      metrics,
      book: () => live!.book,
      log,
      ...(opts.now === undefined ? {} : { now: opts.now })
    })),
    listen: async (host, port) => {
      // Fastify logs "Server listening at …" once per address at info, which duplicates the
      // bridge's own "egauge-bridge listening" line (with the push mode): quiet it for the call,
      // whatever the level that lets info through (info, debug, trace).
      const server = theApp()
      const level = server.log.level
      if (VERBOSE_LEVELS.has(level)) server.log.level = 'warn'
      let address: string
      try {
        address = await server.listen({ host, port })
      } finally {
        server.log.level = level
      }
      listening = true
      return address
    },
    reload: async () => {
      const file = opts.configFile
      if (file === undefined) {
        log.info({}, 'SIGHUP in demo mode: nothing to reload')
        return false
      }
      try {
        const next = loadConfigFile(file)
        if (next.config.sensors.length === 0) throw new ConfigError('sensors', 'the new config has no sensors; a reload never empties a running bridge')
        const old = live!
        live = newLive(next.config)
        configLoaded()
        log.info({ config: file, sensors: next.config.sensors.length }, 'config reloaded')
        lastReload = { at: (opts.now ?? Date.now)(), ok: true }
        // A running push cycle took the old pool at its start and may not have reached every
        // sensor yet: the old pool closes once that cycle is over, not under it.
        retiring.add(old)
        const retire = async (): Promise<void> => {
          await loop?.idle()
          await old.pool.close()
          retiring.delete(old)
        }
        retire().catch(() => {})
        return true
      } catch (err) {
        metrics.configReloadOk.set(0)
        lastReload = { at: (opts.now ?? Date.now)(), ok: false }
        log.error({ config: file, code: (err as { code?: string }).code }, `config reload failed, keeping the previous config: ${(err as Error).message}`)
        return false
      }
    },
    close: async () => {
      // 8 s, so that the process is gone before `docker stop` (and systemd's default) kills it at 10 s.
      if (loop !== undefined) await loop.stop(SHUTDOWN_GRACE_MS)
      await writers?.close()
      await app?.close()
      await Promise.all([live!, ...retiring].map(async (l) => { await l.pool.close() }))
    }
  }
  live = newLive(opts.config)
  // Read at each scrape: a meter that stops pushing turns late without an event.
  metrics.receiveSource.current = () => live!.book.statuses().flatMap((s) => s.receive === undefined ? [] : [{ sensor: s.name, lagSeconds: s.receive.lagSeconds, up: s.receive.state === 'up' }])
  return bridge
}
