/**
 * The push loop (`--push`): a cycle at start-up, then one per `push.interval` aligned to the wall
 * clock (:00, :05, …) with no drift and never two at once (an overrun skips a tick and counts it).
 * Sensors run with bounded concurrency, each isolated from the others. Sensors are read from the
 * live config at each cycle, so a SIGHUP reload applies to push too.
 */
import { setMaxListeners } from 'node:events'
import { isPulled, type Config, type SensorConfig } from '../config/schema.js'
import type { Live } from '../meters/pool.js'
import { HEALTH_MEASUREMENT, HEALTH_METRICS, healthBatches } from '../formats/health.js'
import { sensorSeries } from '../formats/render.js'
import { EGAUGE_ERROR_CODES, errorCode } from '../model/errors.js'
import { WRITE_ERROR_CODES } from '../sinks/write-error.js'
import type { Writer } from '../sinks/writer.js'
import type { Logger } from '../telemetry/logger.js'
import { exportPushSensor, type SelfMetrics } from '../telemetry/self-metrics.js'
import type { CycleSummary } from '../telemetry/status-book.js'
import { eachLimited } from '../util/limit.js'
import { sleep } from '../util/sleep.js'
import type { CheckpointStore } from './checkpoints.js'
import { shardOf } from './shard.js'
import type { MeterSource } from '../model/source.js'
import { clockChange, clockOffset, describeOffset, isSkewed, planOffset } from './clock.js'
import { heldSeconds } from './planner.js'
import { pushRange, STATE_FILE, type SensorResult } from './sync.js'

/** Why a sensor's push fails: reading the meter, or writing to the database. */
const PUSH_ERROR_REASONS = [...EGAUGE_ERROR_CODES, ...WRITE_ERROR_CODES, STATE_FILE]

export interface PushLoopOptions {
  live: () => Live
  /** The top-level database: the bridge's health, and every sensor without a writerOf. */
  writer: Writer
  /** A sensor's own database (`sensors[].influx`); the top-level writer without it. */
  writerOf?: (sensor: SensorConfig) => Writer
  store: CheckpointStore
  metrics: SelfMetrics
  log: Logger
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Schedules a callback (setTimeout by default; tests pass a fake). */
  setTimer?: (fn: () => void, ms: number) => { cancel: () => void }
  shard?: { index: number, count: number } | undefined
  retries?: number
}

export class PushLoop {
  /** The latest finished cycle, if any. */
  lastCycle: CycleSummary | undefined
  /** Epoch milliseconds of the next scheduled tick, while the loop runs. */
  nextCycleAt: number | undefined
  private readonly opts: PushLoopOptions
  private readonly now: () => number
  private timer: { cancel: () => void } | undefined
  private running: Promise<SensorResult[]> | undefined
  private readonly abort = new AbortController()
  private stopped = false
  private readonly active = new Set<Promise<SensorResult[]>>()
  /** Per sensor, the meter clock offset last logged (or first measured). */
  private readonly reportedOffsets = new Map<string, number>()

  constructor (opts: PushLoopOptions) {
    // Every request in flight (meter and database, push.concurrency sensors at once) listens on
    // the loop's signal until it ends: many at once is concurrency, not a leak.
    setMaxListeners(0, this.abort.signal)
    this.opts = opts
    this.now = opts.now ?? Date.now
    opts.metrics.lagSource.current = () => this.lags()
  }

  /** Now minus the newest acknowledged point, per sensor with a checkpoint (read at each scrape). */
  lags (): Array<{ sensor: string, lagSeconds: number }> {
    const now = this.now() / 1000
    return this.sensors().flatMap((s) => {
      const checkpoint = this.opts.store.get(s.name)
      return checkpoint === undefined ? [] : [{ sensor: s.name, lagSeconds: Math.round(now - checkpoint) }]
    })
  }

  /** The sensors this instance pushes (all it reads, or its shard); a meter that pushes itself is the receiver's. */
  sensors (): SensorConfig[] {
    const all = this.opts.live().config.sensors.filter(isPulled)
    const shard = this.opts.shard
    return shard === undefined ? all : all.filter((s) => shardOf(s.name, shard.count) === shard.index - 1)
  }

  /** Resolves when no cycle is running (at once when none is), scheduled or called directly. */
  async idle (): Promise<void> {
    await Promise.all([...this.active])
  }

  /** Runs the first cycle now and schedules the next ones. */
  start (): void {
    this.tick()
  }

  /** When the next aligned tick is due, in ms from now. Pure given the clock. */
  nextTickDelay (): number {
    const interval = this.opts.live().config.push.intervalMs
    const now = this.now()
    return (Math.floor(now / interval) + 1) * interval - now
  }

  private tick (): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.opts.metrics.pushSkippedTicks.inc()
      this.opts.log.warn({}, 'push cycle still running at the next tick: tick skipped')
    } else {
      this.running = this.runCycle().finally(() => { this.running = undefined })
    }
    const setTimer = this.opts.setTimer ?? ((fn, ms) => {
      const t = setTimeout(fn, ms)
      return { cancel: () => clearTimeout(t) }
    })
    // Recomputed from the clock at every tick: timer lateness never accumulates into drift.
    const delay = this.nextTickDelay()
    this.nextCycleAt = this.now() + delay
    this.timer = setTimer(() => this.tick(), delay)
  }

  /** One cycle over this instance's sensors. Never throws. */
  async runCycle (): Promise<SensorResult[]> {
    const cycle = this.cycle()
    this.active.add(cycle)
    try {
      return await cycle
    } finally {
      this.active.delete(cycle)
    }
  }

  private async cycle (): Promise<SensorResult[]> {
    const { config, pool } = this.opts.live()
    const { push } = config
    const startedAt = this.now()
    const now = Math.floor(startedAt / 1000)
    const sensors = this.sensors()
    for (const sensor of sensors) exportPushSensor(this.opts.metrics, sensor.name, PUSH_ERROR_REASONS)
    const results = await eachLimited(sensors, push.concurrency, async (sensor) => {
      const source = pool.source(sensor.name)!
      // A meter whose clock is off is planned in its own time: its rows carry its time.
      const offset = await this.meterClock(sensor.name, source)
      const skew = planOffset(offset)
      const sensorTo = Math.floor((now + skew) / push.stepSeconds) * push.stepSeconds
      await this.resume(sensor, source, now + skew, config)
      const result = await pushRange(sensor, source, { key: sensor.name, from: sensorTo - push.intervalMs / 1000, to: sensorTo, step: push.stepSeconds }, {
        config,
        writer: this.writerOf(sensor),
        store: this.opts.store,
        metrics: this.opts.metrics,
        log: this.opts.log,
        now: skew === 0 ? this.now : () => this.now() + skew * 1000,
        sleep: this.opts.sleep ?? sleep,
        ...(this.opts.retries === undefined ? {} : { retries: this.opts.retries })
      }, this.abort.signal)
      // Its next read is an interval away, beyond any meter's keep-alive: 1000 meters' idle
      // connections and their queues were most of a cycle's memory (README "Performance").
      source.release?.()
      this.record(sensor.name, result, now, offset)
      return result
    })
    this.saveCheckpoints()
    // Not when the database just failed the points (it would only wait out its timeout again), nor at shutdown.
    const databaseFailed = results.some((r) => r.error !== undefined && (WRITE_ERROR_CODES as readonly string[]).includes(r.error.code))
    // Meters that push to this bridge are in it too: their receive series.
    const healthOf = [...sensors.map((s) => s.name), ...config.sensors.filter((s) => s.receive !== undefined).map((s) => s.name)]
    if (!databaseFailed && !this.abort.signal.aborted) await this.writeHealth(healthOf, now)
    const failed = results.filter((r) => !r.ok).length
    const points = results.reduce((n, r) => n + r.points, 0)
    this.lastCycle = { at: startedAt, durationMs: Math.max(0, this.now() - startedAt), sensors: results.length, failed, points }
    this.opts.log.info({ sensors: results.length, failed, points }, 'push cycle done')
    return results
  }

  /**
   * The meter's clock offset from its current values' time, exported and logged when it is a skew
   * (README "Reliability"). Undefined when the meter does not answer: the history fetch that
   * follows reports that failure.
   */
  private async meterClock (name: string, source: MeterSource): Promise<number | undefined> {
    const sent = this.now()
    let offset: number
    try {
      offset = clockOffset((await source.current(this.abort.signal)).data.time, sent, this.now())
    } catch {
      return undefined
    }
    this.opts.metrics.meterClockOffset.set({ sensor: name }, offset)
    const change = clockChange(offset, this.reportedOffsets.get(name))
    if (change === 'skewed') {
      this.opts.log.warn({ sensor: name, offsetSeconds: offset }, `meter clock of ${name} is ${describeOffset(offset)} of the bridge's: push follows the meter's time (its rows carry it); set the meter's time (NTP) to fix it`)
    } else if (change === 'recovered') {
      this.opts.log.info({ sensor: name, offsetSeconds: offset }, `meter clock of ${name} is back in step with the bridge's`)
    }
    if (change !== undefined || !this.reportedOffsets.has(name)) this.reportedOffsets.set(name, offset)
    return offset
  }

  /**
   * A sensor without a checkpoint (a new machine, a container without its volume) resumes from
   * the newest point the database holds for it, as far back as the meter keeps rows, so that the
   * meter fills what it still holds instead of leaving a gap (README "Reliability"). Never throws:
   * without an answer, the sensor starts with the last interval, as before.
   */
  private async resume (sensor: SensorConfig, source: MeterSource, now: number, config: Config): Promise<void> {
    const { store, log } = this.opts
    const writer = this.writerOf(sensor)
    if (store.get(sensor.name) !== undefined || writer.newest === undefined) return
    const series = sensorSeries(sensor, config.influx)
    if (series === undefined) {
      log.info({ sensor: sensor.name }, `no checkpoint for ${sensor.name}; schema peper without tags cannot tell its points from other sensors': starting with the last interval`)
      return
    }
    const since = now - heldSeconds(source.retention())
    try {
      await writer.prepare(this.abort.signal)
      const newest = await writer.newest(series, since, this.abort.signal)
      if (newest === undefined || newest > now) {
        log.info({ sensor: sensor.name }, `no checkpoint for ${sensor.name} and no point of it in the database between ${new Date(since * 1000).toISOString()} and now: starting with the last interval`)
        return
      }
      store.set(sensor.name, newest)
      log.info({ sensor: sensor.name, checkpoint: newest }, `no checkpoint for ${sensor.name}: resuming from its newest point in the database, ${new Date(newest * 1000).toISOString()}`)
    } catch (err) {
      log.warn({ sensor: sensor.name, code: errorCode(err) }, `no checkpoint for ${sensor.name}, and the database could not say where it stopped (${(err as Error).message}): starting with the last interval`)
    }
  }

  /**
   * Writes the cycle's sensors' self-metrics into the database (measurement egauge_bridge), so a
   * dashboard shows lag and errors without Telegraf. Best effort: a failure is logged, counted
   * nowhere else (the points' own errors are), and the next cycle writes the health again.
   */
  private async writeHealth (sensors: string[], now: number): Promise<void> {
    if (sensors.length === 0) return
    try {
      const families = await this.opts.metrics.registry.getMetricsAsJSON()
      const wanted = new Set<string>(HEALTH_METRICS)
      const samples = families.filter((f) => wanted.has(f.name)).flatMap((f) => f.values.map((v) => ({ name: f.name, labels: v.labels, value: v.value })))
      const batches = healthBatches(samples, new Set(sensors), now, this.opts.live().config.influx.batchSize)
      await this.opts.writer.prepare(this.abort.signal)
      for (const batch of batches) await this.opts.writer.write(batch, this.abort.signal)
    } catch (err) {
      this.opts.log.warn({ code: errorCode(err) }, `the bridge's health (measurement ${HEALTH_MEASUREMENT}) not written this cycle: ${(err as Error).message}`)
    }
  }

  private writerOf (sensor: SensorConfig): Writer {
    return this.opts.writerOf?.(sensor) ?? this.opts.writer
  }

  /** Saves what the cycle acknowledged; on failure the next cycle tries again. Never throws. */
  private saveCheckpoints (): void {
    try {
      this.opts.store.flush()
    } catch (err) {
      this.opts.log.error({ file: this.opts.store.file, code: errorCode(err) }, 'cannot save push checkpoints: points since the last save will be written again (no loss, no duplicate)')
    }
  }

  private record (name: string, result: SensorResult, now: number, clockOffsetSeconds: number | undefined): void {
    const { metrics } = this.opts
    const { book } = this.opts.live()
    const previous = book.status(name)?.push
    const lag = result.checkpoint === undefined ? undefined : now - result.checkpoint
    if (lag !== undefined) metrics.pushLag.set({ sensor: name }, lag)
    if (result.ok) metrics.pushLastSuccess.set({ sensor: name }, now)
    book.setPush(name, {
      checkpoint: result.checkpoint,
      lagSeconds: lag,
      lastSuccess: result.ok ? now : previous?.lastSuccess,
      lastError: result.error === undefined ? undefined : { ...result.error, at: now * 1000 },
      lastPoints: result.points,
      clockOffsetSeconds: clockOffsetSeconds ?? previous?.clockOffsetSeconds,
      clockSkewed: clockOffsetSeconds === undefined ? previous?.clockSkewed : isSkewed(clockOffsetSeconds)
    })
  }

  /**
   * Stops scheduling, lets an in-flight cycle finish for up to `graceMs`, then abandons it and
   * saves the checkpoints of every chunk acknowledged so far.
   */
  async stop (graceMs = 10_000): Promise<void> {
    this.stopped = true
    this.timer?.cancel()
    this.nextCycleAt = undefined
    const running = this.running
    if (running === undefined) return
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), graceMs) })
    const outcome = await Promise.race([running, late])
    clearTimeout(timer)
    if (outcome === 'late') {
      this.opts.log.warn({ graceMs }, 'push cycle abandoned at shutdown; it resumes from the last checkpoint')
      this.abort.abort()
      await running
      this.saveCheckpoints()
    }
  }
}
