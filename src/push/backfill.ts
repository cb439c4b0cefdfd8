/**
 * `egauge-bridge backfill`: the push planner and writer over an explicit range, one sensor after
 * another, with a progress bar on a terminal and a plain line every 10% otherwise. Each job keeps
 * its own checkpoint, so running the same command again after Ctrl-C resumes where it stopped.
 */
import type { Config, SensorConfig } from '../config/schema.js'
import type { MeterPool } from '../meters/pool.js'
import type { Writer } from '../sinks/writer.js'
import type { Logger } from '../telemetry/logger.js'
import type { SelfMetrics } from '../telemetry/self-metrics.js'
import type { CheckpointStore } from './checkpoints.js'
import { pushRange } from './sync.js'

export interface BackfillOptions {
  config: Config
  /** Where the sensors' sources come from (the bridge's pool). */
  pool: MeterPool
  sensors: string[]
  from: number
  to: number
  step: number
  writer: Writer
  /** A sensor's own database (`sensors[].influx`); the top-level writer without it. */
  writerOf?: (sensor: SensorConfig) => Writer
  store: CheckpointStore
  metrics: SelfMetrics
  log: Logger
  /** Where progress goes, and whether it is a terminal (a redrawn bar) or not (plain lines). */
  progress: { write: (text: string) => void, isTTY: boolean }
  now?: () => number
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  signal?: AbortSignal
}

/** The checkpoint key of a backfill job: the same command resumes the same job. */
export function backfillKey (sensor: string, from: number, to: number, step: number): string {
  return `backfill:${sensor}:${from}:${to}:${step}`
}

/** Renders one progress line. Pure. */
export function progressLine (sensor: string, done: number, total: number, points: number, width = 30): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total))
  const filled = Math.round(fraction * width)
  return `${sensor} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${points} points`
}

/** Runs the backfill; resolves true when every sensor completed. */
export async function runBackfill (opts: BackfillOptions): Promise<boolean> {
  let allOk = true
  for (const name of opts.sensors) {
    const sensor = opts.config.sensors.find((s) => s.name === name)!
    const key = backfillKey(name, opts.from, opts.to, opts.step)
    const resumed = opts.store.get(key)
    if (resumed !== undefined) opts.log.info({ sensor: name, checkpoint: new Date(resumed * 1000).toISOString() }, 'resuming an interrupted backfill')
    const source = opts.pool.source(name)!
    const total = opts.to - opts.from
    let points = 0
    let reported = -1
    const show = (checkpoint: number, final = false): void => {
      const done = checkpoint - opts.from
      const line = progressLine(name, done, total, points)
      if (opts.progress.isTTY) {
        opts.progress.write(`\r${line}${final ? '\n' : ''}`)
      } else {
        const decile = Math.floor((done / total) * 10)
        if (decile > reported || final) {
          reported = decile
          opts.progress.write(`${line}\n`)
        }
      }
    }
    show(resumed ?? opts.from)
    const result = await pushRange(sensor, source, { key, from: opts.from, to: opts.to, step: opts.step }, {
      config: opts.config,
      writer: opts.writerOf?.(sensor) ?? opts.writer,
      store: opts.store,
      metrics: opts.metrics,
      log: opts.log,
      now: opts.now ?? Date.now,
      sleep: opts.sleep
    }, opts.signal, (checkpoint, written) => {
      points = written
      show(checkpoint)
    })
    points = result.points
    // A finished job is at 100% even when its last point falls short of --to (an unaligned end).
    show(result.ok ? opts.to : result.checkpoint ?? opts.from, true)
    // Done: the job's checkpoint goes; interrupted: its progress is saved for the resume.
    if (result.ok) opts.store.delete(key)
    opts.store.flush()
    if (!result.ok) {
      allOk = false
      if (result.error?.code === 'ABORTED') {
        opts.log.warn({ sensor: name }, 'backfill interrupted: run the same command again to resume')
        break
      }
    }
  }
  return allOk
}
