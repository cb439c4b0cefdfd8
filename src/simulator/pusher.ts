/**
 * The simulated meter pushing its own data ("push data sharing", reference
 * egauge-webapi-and-push.md §2), as the real meter of the 2015 capture does: every interval it
 * POSTs every row after the last one a receiver acknowledged with a 2xx (its cursor), chunked,
 * `text/xml`, `User-Agent: egauge/pusher`, optionally gzip and HTTP Basic; rows of the finest
 * resolution still stored at each age (minute rows after a long gap), one-second rows delta-encoded;
 * with more than `max` rows pending, the oldest first (the meter's `old_first` option). Any other
 * answer, or none, leaves the cursor: the same rows go again at the next interval.
 */
import { request } from 'node:http'
import { request as requestTls } from 'node:https'
import { gzipSync } from 'node:zlib'
import type { MeterModel } from './data.js'
import { historyXml, planRows, type Block } from './xml.js'

export interface PusherOptions {
  /** The receiver's URL, e.g. `http://bridge:9430/receive/cabin`. */
  url: string
  intervalMs: number
  auth?: { username: string, password: string } | undefined
  gzip?: boolean
  /** Rows per push at most (the meter's `max`; 900 by default, as the meter's). */
  max?: number
  /** Seconds between rows: 1 (the meter's `sec` option, the default here) or 60 (its default). */
  granularity?: 1 | 60
  /** Milliseconds since the epoch. */
  clock?: () => number
  /** Answer deadline; the meter gives up and tries at the next interval. */
  timeoutMs?: number
}

export interface PushOutcome {
  /** The receiver's HTTP status; undefined when nothing was pending or no answer came. */
  status: number | undefined
  rows: number
  /** The cursor after this push. */
  cursor: number
  error?: string
}

/** Rows planned per push at most before trimming to `max`: bounds the work after a very long gap. */
const MAX_PENDING = 100_000

export class Pusher {
  /** Unix time of the newest row a receiver acknowledged (before the first push: one interval back). */
  cursor: number | undefined
  private readonly model: MeterModel
  private readonly opts: PusherOptions
  private readonly clock: () => number
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (model: MeterModel, opts: PusherOptions) {
    this.model = model
    this.opts = opts
    this.clock = opts.clock ?? Date.now
  }

  /** The rows the next push sends, in blocks of equal spacing, newest first. Pure given the clock. */
  pending (now: number): Block[] {
    const step = this.opts.granularity ?? 1
    // The first push after start-up sends one interval's rows, as a meter just configured does.
    this.cursor ??= now - Math.round(this.opts.intervalMs / 1000)
    const blocks = planRows(this.model, now, { step, rows: MAX_PENDING, first: now, last: this.cursor + 1, virtuals: false, delta: false, relative: false })
    return oldestRows(blocks, this.opts.max ?? 900)
  }

  /** One push now. Never throws: the outcome says what the receiver answered. */
  async pushOnce (): Promise<PushOutcome> {
    const now = Math.floor(this.clock() / 1000)
    const blocks = this.pending(now)
    const rows = blocks.reduce((n, b) => n + b.times.length, 0)
    const cursor = this.cursor!
    // A meter connects only when it has new data.
    if (rows === 0) return { status: undefined, rows: 0, cursor }
    const delta = blocks[0]!.timeDelta === 1
    const xml = historyXml(this.model, now, blocks, { step: this.opts.granularity ?? 1, virtuals: false, delta, relative: false })
    try {
      const status = await this.post(this.opts.gzip === true ? gzipSync(xml) : Buffer.from(xml))
      if (status >= 200 && status < 300) this.cursor = blocks[0]!.timeStamp
      return { status, rows, cursor: this.cursor! }
    } catch (err) {
      return { status: undefined, rows, cursor, error: (err as Error).message }
    }
  }

  /** Pushes every interval until stop(); `onPush` hears each outcome (pushOnce never throws). */
  start (onPush: (outcome: PushOutcome) => void): void {
    const tick = (): void => {
      this.pushOnce().then(onPush).finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs)
      })
    }
    tick()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private async post (payload: Buffer): Promise<number> {
    const url = new URL(this.opts.url)
    const headers: Record<string, string> = {
      'content-type': 'text/xml',
      'user-agent': 'egauge/pusher',
      'cache-control': 'no-cache',
      connection: 'close'
    }
    if (this.opts.gzip === true) headers['content-encoding'] = 'gzip'
    const auth = this.opts.auth
    if (auth !== undefined) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
    const send = url.protocol === 'https:' ? requestTls : request
    return await new Promise((resolve, reject) => {
      const req = send(url, { method: 'POST', headers, timeout: this.opts.timeoutMs ?? 30_000 }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error('no answer in time')))
      req.on('error', reject)
      // Chunked, as the meter sends it: no Content-Length, the document in pieces.
      for (let i = 0; i < payload.length; i += 4096) req.write(payload.subarray(i, i + 4096))
      req.end()
    })
  }
}

/** The oldest `max` rows of blocks (newest first): a backlog goes oldest first (`old_first`). Pure. */
export function oldestRows (blocks: Block[], max: number): Block[] {
  let excess = blocks.reduce((n, b) => n + b.times.length, 0) - max
  const out: Block[] = []
  for (const block of blocks) {
    if (excess >= block.times.length) {
      excess -= block.times.length
      continue
    }
    const times = excess > 0 ? block.times.slice(excess) : block.times
    excess = 0
    out.push({ timeStamp: times[0]!, timeDelta: block.timeDelta, times })
  }
  return out
}
