/**
 * The simulated meter's XML, shaped like the real documents in test/fixtures/egauge: DOCTYPE line,
 * hex stamps, newest-first rows, names only in the first <data>, one <data> per run of rows with
 * the same spacing. Pure.
 */
import { instantRate, raw, resolutionAt, virtualRate, virtualRaw, type MeterModel } from './data.js'

const DOCTYPE = '<!DOCTYPE group PUBLIC "-//ESL/DTD eGauge 1.0//EN" "http://www.egauge.net/DTD/egauge-hist.dtd">'

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

const hex = (n: number): string => '0x' + n.toString(16)

/** `/cgi-bin/egauge?inst&tot` (flags decide whether <i> and the totals are present). */
export function instXml (model: MeterModel, now: number, flags: { inst: boolean, tot: boolean }): string {
  let out = `<?xml version="1.0" encoding="UTF-8" ?>\n<data serial="${model.serial}">\n <ts>${now}</ts>\n`
  for (const r of model.registers) {
    const i = flags.inst ? `<i>${round3(instantRate(model, r, now))}</i>` : ''
    out += ` <r t="${r.type}" n="${esc(r.name)}"><v>${raw(model, r, now)}</v>${i}</r>\n`
  }
  if (flags.tot) {
    for (const v of model.virtuals) {
      const i = flags.inst ? `<i>${virtualRate(model, v, now).toFixed(3)}</i>` : ''
      out += ` <r rt="total" t="P" n="${esc(v.name)}"><v>${virtualRaw(model, v, now)}</v>${i}</r>\n`
    }
  }
  return out + '</data>\n'
}

function round3 (x: number): string {
  return String(Math.round(x * 1000) / 1000)
}

export interface ShowRequest {
  /** Requested seconds between rows (unit × (skip + 1)). */
  step: number
  /** Maximum rows. */
  rows: number
  /** Newest row wanted; defaults to now. */
  first?: number
  /** Oldest row wanted. */
  last?: number
  /** `w`: only rows newer than this; none yet gives an empty block with `wait_time`. */
  newerThan?: number
  /** `e`: one stored row beyond the requested range (no effect with `T` or `w`). */
  extra?: boolean
  /** Explicit timestamps (`T=`), newest first. Each gets its own <data> block. */
  times?: number[]
  /** `a`: total and virtual registers as the first columns, named as stored data names them. */
  virtuals: boolean
  /** `C`: delta encoding. */
  delta: boolean
  /** `E`: values relative to the epoch. */
  relative: boolean
}

export interface Block {
  timeStamp: number
  timeDelta: number
  times: number[]
}

/**
 * Which rows the meter returns: from `first` back to `last`, never finer than the meter still
 * stores at each age, never before the epoch or after now. Rows come in blocks of equal spacing.
 */
export function planRows (model: MeterModel, now: number, req: ShowRequest): Block[] {
  if (req.times !== undefined) {
    return req.times
      .filter((t) => t <= now && t >= model.epoch)
      .map((t) => {
        const res = resolutionAt(now, t)
        const snapped = Math.floor(t / res) * res
        return { timeStamp: snapped, timeDelta: res, times: [snapped] }
      })
  }
  const blocks: Block[] = []
  let x = Math.min(req.first ?? now, now)
  const bound = Math.max(req.last ?? model.epoch, req.newerThan === undefined ? model.epoch : req.newerThan + 1, model.epoch)
  // `e` reaches one stored row past the range, whatever its resolution there ("passing N+1 for
  // n has no effect" where rows are coarser, XML API §3.1); never with `w`.
  const extra = req.extra === true && req.newerThan === undefined
  const oldest = extra ? model.epoch : bound
  let count = 0
  let beyond = 0
  let previous: number | undefined
  while (count < req.rows + (extra ? 1 : 0) && x >= oldest && beyond === 0) {
    const res = Math.max(req.step, resolutionAt(now, x))
    const t = Math.floor(x / res) * res
    if (t < oldest) break
    if (t !== previous) {
      const block = blocks[blocks.length - 1]
      const gap = previous === undefined ? undefined : previous - t
      if (block !== undefined && (block.times.length === 1 ? gap === res : gap === block.timeDelta)) {
        if (block.times.length === 1) block.timeDelta = gap!
        block.times.push(t)
      } else {
        blocks.push({ timeStamp: t, timeDelta: res, times: [t] })
      }
      previous = t
      if (t < bound || count === req.rows) beyond++
      count++
    }
    x = t - req.step
  }
  return blocks
}

/** `/cgi-bin/egauge-show` for a request. */
export function showXml (model: MeterModel, now: number, req: ShowRequest): string {
  return historyXml(model, now, planRows(model, now, req), req)
}

/**
 * The egauge-show document of given blocks of rows: what the meter answers a request, and what
 * it pushes (simulator/pusher.ts).
 */
export function historyXml (model: MeterModel, now: number, blocks: Block[], req: Pick<ShowRequest, 'step' | 'virtuals' | 'delta' | 'relative' | 'newerThan'>): string {
  const columns: Array<{ name: string, type: string, value: (t: number) => bigint }> = []
  if (req.virtuals) {
    // Stored data name the totals `use` and `gen` (fixture show-esolarmonitor-daily-virtual.xml).
    const [use, gen] = model.virtuals
    columns.push({ name: 'use', type: 'P', value: (t) => virtualRaw(model, use!, t) })
    columns.push({ name: 'gen', type: 'P', value: (t) => virtualRaw(model, gen!, t) })
  }
  for (const r of model.registers) {
    const base = req.relative ? raw(model, r, model.epoch) : 0n
    columns.push({ name: r.name, type: r.type, value: (t) => raw(model, r, t) - base })
  }
  let out = `<?xml version="1.0" encoding="UTF-8" ?>\n${DOCTYPE}\n<group serial="${model.serial}">\n`
  let previous: bigint[] | undefined
  blocks.forEach((block, b) => {
    const head = b === 0
      ? `<data columns="${columns.length}" time_stamp="${hex(block.timeStamp)}" time_delta="${block.timeDelta}"${req.delta ? ' delta="true"' : ''} epoch="${hex(model.epoch)}">\n`
      : `<data time_stamp="${hex(block.timeStamp)}" time_delta="${block.timeDelta}">\n`
    out += head
    if (b === 0) for (const c of columns) out += ` <cname t="${c.type}">${esc(c.name)}</cname>\n`
    for (const t of block.times) {
      const values = columns.map((c) => c.value(t))
      out += ' <r>'
      values.forEach((v, i) => {
        out += `<c>${previous !== undefined && req.delta ? v - previous[i]! : v}</c>`
      })
      out += '</r>\n'
      previous = values
    }
    out += '</data>\n'
  })
  if (blocks.length === 0) {
    // Asked for rows newer than a time not yet stored (`w`): how long until there are.
    const wait = req.newerThan !== undefined && req.newerThan >= now ? ` wait_time="${req.newerThan + 1 - now}"` : ''
    out += `<data columns="${columns.length}" time_stamp="${hex(now)}" time_delta="${req.step}" epoch="${hex(model.epoch)}"${wait}>\n`
    for (const c of columns) out += ` <cname t="${c.type}">${esc(c.name)}</cname>\n`
    out += '</data>\n'
  }
  return out + '</group>\n'
}
