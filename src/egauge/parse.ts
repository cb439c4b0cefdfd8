/**
 * eGauge XML → the model (pure). Two documents: `egauge?inst&tot` (current values) and
 * `egauge-show` (stored history). Every malformed input throws ParseError, nothing else.
 * Register values are signed 64-bit integers: they are read as BigInt and only their small
 * differences become numbers (XML API v1.51 §1: "JavaScript cannot natively handle 64-bit values").
 */
import { ParseError } from '../errors.js'
import type { Reading, Snapshot } from '../model.js'
import { registerType, type RegisterType } from './registers.js'
import { XmlScanner, truncated, type Token } from './xml.js'

export interface Column {
  name: string
  type: string
  virtual: boolean
}

export interface HistoryRow {
  /** Unix seconds. */
  time: number
  /** Absolute cumulative values (delta encoding already undone), one per column. */
  values: bigint[]
}

export interface History {
  serial: string
  columns: Column[]
  /** Newest first, unique times. */
  rows: HistoryRow[]
}

/** Which registers to keep: undefined keeps all. */
export type RegisterFilter = ReadonlySet<string> | undefined

const INTEGER = /^\s*-?\d{1,20}\s*$/
const FLOAT = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/
const UNSIGNED = /^\s*(0x[0-9a-fA-F]{1,16}|\d{1,20})\s*$/

/** Parses `/cgi-bin/egauge?inst&tot` into current readings; throws ParseError. */
export function parseInst (xml: string, sensor: string, filter?: RegisterFilter): Snapshot {
  const scan = new XmlScanner(xml)
  const root = rootElement(scan, 'data')
  const serial = root.attrs.serial ?? ''
  let time: number | undefined
  const readings: Reading[] = []
  for (;;) {
    const t = scan.next()
    if (t.kind === 'close') break
    if (t.kind === 'eof') throw truncated('data')
    if (t.kind !== 'open') continue
    if (t.name === 'ts' && !t.selfClosing) {
      time = unsigned(scan.readText('ts'), '<ts>')
    } else if (t.name === 'r' && !t.selfClosing) {
      const reading = instRegister(scan, t.attrs, sensor)
      if (reading !== undefined && (filter === undefined || filter.has(reading.register))) readings.push(reading)
    } else if (!t.selfClosing) {
      scan.skipElement(t.name) // e.g. the undocumented <gen> of 2014-2015 firmware
    }
  }
  if (time === undefined) throw new ParseError('instantaneous data without <ts>')
  for (const r of readings) r.time = time
  return { sensor, serial, time, readings }
}

function instRegister (scan: XmlScanner, attrs: Record<string, string>, sensor: string): Reading | undefined {
  let cumulative: bigint | undefined
  let rate: number | undefined
  for (;;) {
    const t = scan.next()
    if (t.kind === 'close') break
    if (t.kind === 'eof') throw truncated('r')
    if (t.kind !== 'open' || t.selfClosing) continue
    if (t.name === 'v' || t.name === 'c') cumulative = integer(scan.readText(t.name))
    else if (t.name === 'i') rate = float(scan.readText('i'))
    else scan.skipElement(t.name)
  }
  const register = attrs.n ?? ''
  if (cumulative === undefined) throw new ParseError(`register "${register}" without a <v> value`)
  if (register === '') return undefined
  const code = attrs.t ?? 'P'
  const type = registerType(code)
  // <i> is already a rate in SI units (XML API §2.2); without `inst` there is none.
  const siRate = rate ?? Number.NaN
  return {
    sensor,
    register,
    type: code,
    quantity: type.quantity,
    unit: type.unit,
    virtual: attrs.rt === 'total',
    time: 0,
    rate: type.discrete === true ? Number(cumulative) * type.quantum : siRate,
    total: type.discrete === true ? Number.NaN : Number(cumulative) * type.quantum,
    rawRate: type.discrete === true ? Number(cumulative) : siRate / type.quantum
  }
}

/**
 * Parses `/cgi-bin/egauge-show` into absolute rows, newest first. Handles several <data> blocks
 * with their own time_delta, names only in the first block, and delta encoding (`C`), which
 * continues across blocks. Throws ParseError.
 */
export function parseShow (xml: string): History {
  const scan = new XmlScanner(xml)
  const root = rootElement(scan, 'group')
  const columns: Column[] = []
  const rows: HistoryRow[] = []
  let deltaEncoded = false
  let previous: bigint[] | undefined
  for (;;) {
    const t = scan.next()
    if (t.kind === 'close') break
    if (t.kind === 'eof') throw truncated('group')
    if (t.kind !== 'open' || t.selfClosing) continue
    if (t.name !== 'data') {
      scan.skipElement(t.name)
      continue
    }
    if (t.attrs.delta === 'true') deltaEncoded = true
    const stamp = t.attrs.time_stamp
    let time = stamp === undefined ? undefined : unsigned(stamp, 'time_stamp')
    const step = t.attrs.time_delta === undefined ? undefined : unsigned(t.attrs.time_delta, 'time_delta')
    for (;;) {
      const c = scan.next()
      if (c.kind === 'close') break
      if (c.kind === 'eof') throw truncated('data')
      if (c.kind !== 'open' || c.selfClosing) continue
      if (c.name === 'cname') {
        if (rows.length > 0) throw new ParseError('<cname> after data rows')
        columns.push({ name: scan.readText('cname'), type: c.attrs.t ?? 'P', virtual: false })
      } else if (c.name === 'r') {
        if (time === undefined || step === undefined) throw new ParseError('<data> with rows but without time_stamp and time_delta')
        let values = readRow(scan, columns.length, rows.length)
        if (deltaEncoded && previous !== undefined) values = undoDelta(previous, values)
        previous = values
        rows.push({ time, values })
        time -= step
      } else {
        scan.skipElement(c.name)
      }
    }
  }
  if (columns.length === 0) throw new ParseError('history without <cname> columns')
  return { serial: root.attrs.serial ?? '', columns, rows: newestFirstUnique(rows) }
}

/** Reads `<c>` values up to `</r>`: the hot path, so it scans the text directly. */
function readRow (scan: XmlScanner, width: number, index: number): bigint[] {
  const text = scan.text
  const values = new Array<bigint>(width)
  let n = 0
  let pos = scan.pos
  for (;;) {
    while (pos < text.length && text.charCodeAt(pos) <= 32) pos++
    if (text.startsWith('<c>', pos)) {
      const end = text.indexOf('</c>', pos + 3)
      if (end < 0) throw truncated('c')
      const raw = text.slice(pos + 3, end)
      if (!INTEGER.test(raw)) throw new ParseError(`row ${index}: value "${raw.slice(0, 40)}" is not a 64-bit integer`)
      if (n >= width) throw new ParseError(`row ${index} has more values than the ${width} columns`)
      values[n++] = BigInt(raw)
      pos = end + 4
    } else if (text.startsWith('</r>', pos)) {
      scan.pos = pos + 4
      break
    } else if (pos >= text.length) {
      throw truncated('r')
    } else {
      throw new ParseError(`row ${index}: unexpected content "${text.slice(pos, pos + 20)}"`)
    }
  }
  if (n !== width) throw new ParseError(`row ${index} has ${n} values for ${width} columns`)
  return values
}

function undoDelta (previous: bigint[], deltas: bigint[]): bigint[] {
  return deltas.map((d, i) => BigInt.asIntN(64, previous[i]! + d))
}

function newestFirstUnique (rows: HistoryRow[]): HistoryRow[] {
  // Blocks need not come in order (XML API §3.2 only promises order within a block).
  const sorted = rows.slice().sort((a, b) => b.time - a.time)
  return sorted.filter((row, i) => i === 0 || row.time !== sorted[i - 1]!.time)
}

/** Receives one average rate; the arguments are only valid during the call. */
export type RateVisitor = (column: Column, type: RegisterType, time: number, rate: number, total: number, rawRate: number) => void

/**
 * Visits the average rate of every kept register between consecutive rows, stamped at the newer
 * row (n+1 rows give n rates per register), newest rows first, columns in order. With `range`, only
 * times in (after, until]. Pure; never throws. The one place history becomes rates: the readings
 * below and the direct line-protocol path (render.ts) both come from here.
 */
export function forEachRate (history: History, filter: RegisterFilter, visit: RateVisitor, range?: { after: number, until: number }): void {
  const rows = history.rows
  const keep = keptColumns(history.columns, filter)
  for (let i = 0; i + 1 < rows.length; i++) {
    const time = rows[i]!.time
    if (range !== undefined && (time <= range.after || time > range.until)) continue
    ratesBetween(history.columns, keep, rows[i]!, rows[i + 1]!, visit)
  }
}

/** The rates of forEachRate as readings. Pure; never throws. */
export function historyReadings (history: History, sensor: string, filter?: RegisterFilter): Reading[] {
  const out: Reading[] = []
  forEachRate(history, filter, (column, type, time, rate, total, rawRate) => { out.push(reading(sensor, column, type, time, rate, total, rawRate)) })
  return out
}

/** One reading per register: the average rate over the whole history (newest vs oldest row). */
export function windowReadings (history: History, sensor: string, filter?: RegisterFilter): Reading[] {
  const out: Reading[] = []
  const rows = history.rows
  if (rows.length < 2) return out
  ratesBetween(history.columns, keptColumns(history.columns, filter), rows[0]!, rows[rows.length - 1]!, (column, type, time, rate, total, rawRate) => {
    out.push(reading(sensor, column, type, time, rate, total, rawRate))
  })
  return out
}

function reading (sensor: string, column: Column, type: RegisterType, time: number, rate: number, total: number, rawRate: number): Reading {
  return { sensor, register: column.name, type: column.type, quantity: type.quantity, unit: type.unit, virtual: column.virtual, time, rate, total, rawRate }
}

function keptColumns (columns: Column[], filter: RegisterFilter): number[] {
  const keep: number[] = []
  columns.forEach((c, i) => {
    if (c.name !== '' && (filter === undefined || filter.has(c.name))) keep.push(i)
  })
  return keep
}

function ratesBetween (columns: Column[], keep: number[], newer: HistoryRow, older: HistoryRow, visit: RateVisitor): void {
  const seconds = newer.time - older.time
  for (const i of keep) {
    const column = columns[i]!
    const type = registerType(column.type)
    const now = newer.values[i]!
    // Registers are circular signed 64-bit values: the difference modulo 2^64 is right across one
    // wrap-around. Only that small difference becomes a number. Discrete values are not differenced.
    const delta = type.discrete === true ? Number(now) : Number(BigInt.asIntN(64, now - older.values[i]!))
    const divisor = type.discrete === true ? 1 : seconds
    // The absolute value is only ever an output float; precision past 2^53 is not meaningful.
    visit(column, type, newer.time, delta * type.quantum / divisor, type.discrete === true ? Number.NaN : Number(now) * type.quantum, delta / divisor)
  }
}

function rootElement (scan: XmlScanner, name: string): Extract<Token, { kind: 'open' }> {
  const t = scan.next()
  if (t.kind !== 'open' || t.name !== name || t.selfClosing) {
    throw new ParseError(`expected <${name}> as the document root, got ${describe(t)}`)
  }
  return t
}

function describe (t: Token): string {
  switch (t.kind) {
    case 'open': return `<${t.name}>`
    case 'close': return `</${t.name}>`
    case 'text': return `text "${t.value.trim().slice(0, 30)}"`
    default: return 'end of document'
  }
}

function integer (raw: string): bigint {
  if (!INTEGER.test(raw)) throw new ParseError(`value "${raw.slice(0, 40)}" is not a 64-bit integer`)
  return BigInt(raw)
}

function float (raw: string): number {
  if (!FLOAT.test(raw)) throw new ParseError(`rate "${raw.slice(0, 40)}" is not a number`)
  return Number(raw)
}

function unsigned (raw: string, what: string): number {
  if (!UNSIGNED.test(raw)) throw new ParseError(`${what} "${raw.slice(0, 40)}" is not an unsigned integer`)
  const value = Number(raw.trim())
  if (value > 0xffffffff) throw new ParseError(`${what} ${raw.trim()} is out of range`)
  return value
}
