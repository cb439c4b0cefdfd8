/**
 * eGauge XML → the model (pure). Two documents: `egauge?inst&tot` (current values) and
 * `egauge-show` (stored history). Every malformed input throws ParseError, nothing else.
 * Register values are signed 64-bit integers (XML API v1.51 §1: "JavaScript cannot natively handle
 * 64-bit values"). Values of up to 15 digits are exact doubles and are read as such; longer ones
 * are kept as BigInt, and only their small differences become numbers.
 */
import { ParseError } from '../errors.js'
import type { Reading, Snapshot } from '../model.js'
import { registerType, siRate, siTotal, type RegisterType } from './registers.js'
import { XmlScanner, truncated, type Token } from './xml.js'

export interface Column {
  name: string
  type: string
  virtual: boolean
}

export interface HistoryRow {
  /** Unix seconds. */
  time: number
  /**
   * Cumulative values, one per column, delta encoding already undone. Exact integers unless the
   * row has `exact`: every value of at most 15 digits is (the meter's 64-bit registers hold far less
   * in practice), so the hot path needs no BigInt.
   */
  values: number[]
  /** The exact 64-bit values, only for a row holding a value of more than 15 digits. */
  exact?: bigint[]
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
  const instant = rate ?? Number.NaN
  const value = Number(cumulative)
  return {
    sensor,
    register,
    type: code,
    quantity: type.quantity,
    unit: type.unit,
    virtual: attrs.rt === 'total',
    time: 0,
    // A discrete register's value is its reading, as in history (see ratesBetween).
    rate: type.discrete === true ? siRate(type, value, 1) : instant,
    total: type.discrete === true ? Number.NaN : siTotal(type, value),
    rawRate: type.discrete === true ? value : instant * type.perUnit
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
  let previous: HistoryRow | undefined
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
        const row = readRow(scan, time, columns.length, rows.length)
        if (deltaEncoded && previous !== undefined) undoDelta(previous, row)
        previous = row
        rows.push(row)
        time -= step
      } else {
        scan.skipElement(c.name)
      }
    }
  }
  if (columns.length === 0) throw new ParseError('history without <cname> columns')
  return { serial: root.attrs.serial ?? '', columns, rows: newestFirstUnique(rows) }
}

const LT = 60 // <
const GT = 62 // >
const SLASH = 47 // /
const C = 99 // c

/** Values of at most this many digits are read as exact numbers, without BigInt. */
const EXACT_DIGITS = 15
/** Every value of a row without `exact` is below this; their differences are exact doubles. */
const EXACT_LIMIT = 1e15

/** Reads `<c>` values up to `</r>`: the hot path, so it scans the text directly. */
function readRow (scan: XmlScanner, time: number, width: number, index: number): HistoryRow {
  const text = scan.text
  // A plain array, not a Float64Array: a typed array per row costs a backing-store allocation
  // (measured: a third of the parse time for 3600 rows).
  const row: HistoryRow = { time, values: new Array<number>(width).fill(0) }
  let n = 0
  let pos = scan.pos
  for (;;) {
    while (text.charCodeAt(pos) <= 32) pos++
    // Character codes compared inline: startsWith() is a builtin call, measured at a third of the
    // parse's instructions when called twice per value.
    if (text.charCodeAt(pos) === LT && text.charCodeAt(pos + 1) === C && text.charCodeAt(pos + 2) === GT) {
      if (n >= width) throw new ParseError(`row ${index} has more values than the ${width} columns`)
      // The common case, `<c>-123</c>`, read in one pass; anything else takes the exact path.
      let i = pos + 3
      while (text.charCodeAt(i) <= 32) i++
      const negative = text.charCodeAt(i) === 45 // '-'
      if (negative) i++
      const first = i
      let value = 0
      for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) value = value * 10 + (c - 48)
      const digits = i - first
      while (text.charCodeAt(i) <= 32) i++
      if (digits > 0 && digits <= EXACT_DIGITS && text.charCodeAt(i) === LT && text.charCodeAt(i + 1) === SLASH &&
        text.charCodeAt(i + 2) === C && text.charCodeAt(i + 3) === GT) {
        if (negative) value = -value
        row.values[n] = value
        row.exact?.push(BigInt(value))
        pos = i + 4
      } else {
        pos = readExactValue(text, pos + 3, row, n, index)
      }
      n++
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
  if (row.exact !== undefined) row.values = row.exact.map(Number)
  return row
}

/** Reads a value of more than 15 digits (or a malformed one) as BigInt; returns the position after `</c>`. */
function readExactValue (text: string, start: number, row: HistoryRow, n: number, index: number): number {
  const end = text.indexOf('</c>', start)
  if (end < 0) throw truncated('c')
  const raw = text.slice(start, end)
  if (!INTEGER.test(raw)) throw new ParseError(`row ${index}: value "${raw.slice(0, 40)}" is not a 64-bit integer`)
  row.exact ??= row.values.slice(0, n).map((v) => BigInt(v))
  row.exact.push(BigInt(raw))
  return end + 4
}

/** A row's values as exact 64-bit integers. */
export function exactValues (row: HistoryRow): bigint[] {
  return row.exact ?? row.values.map((v) => BigInt(v))
}

/** The exact 64-bit value of one column of a row. */
function exactValue (row: HistoryRow, i: number): bigint {
  return row.exact?.[i] ?? BigInt(row.values[i]!)
}

/** Turns a row of differences (`C` encoding) into absolute values, in place. */
function undoDelta (previous: HistoryRow, row: HistoryRow): void {
  const width = row.values.length
  if (previous.exact === undefined && row.exact === undefined) {
    let fits = true
    for (let i = 0; i < width; i++) {
      const value = previous.values[i]! + row.values[i]!
      row.values[i] = value
      if (Math.abs(value) >= EXACT_LIMIT) fits = false
    }
    // Both terms were below 10^15, so every sum is exact; past the limit, keep them as BigInt too.
    if (!fits) row.exact = exactValues(row)
    return
  }
  const exact = new Array<bigint>(width)
  for (let i = 0; i < width; i++) exact[i] = BigInt.asIntN(64, exactValue(previous, i) + exactValue(row, i))
  row.exact = exact
  row.values = exact.map(Number)
}

function newestFirstUnique (rows: HistoryRow[]): HistoryRow[] {
  // Blocks need not come in order (XML API §3.2 only promises order within a block); they almost
  // always do, and checking costs far less than sorting.
  let ordered = true
  for (let i = 1; i < rows.length && ordered; i++) ordered = rows[i]!.time < rows[i - 1]!.time
  if (ordered) return rows
  const sorted = rows.slice().sort((a, b) => b.time - a.time)
  return sorted.filter((row, i) => i === 0 || row.time !== sorted[i - 1]!.time)
}

/**
 * Receives one average rate as the meter's own numbers: `units` meter units accrued over `seconds`
 * (a discrete register: its value, over 1 s) and the cumulative value at `time` (NaN for a discrete
 * register). Exact integers whenever they are below 10^15, so a writer can print them without
 * float formatting; siRate() and siTotal() give the SI values. Only valid during the call.
 */
export type RateVisitor = (column: Column, type: RegisterType, time: number, units: number, seconds: number, cumulative: number) => void

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
    ratesBetween(keep, rows[i]!, rows[i + 1]!, visit)
  }
}

/** The rates of forEachRate as readings. Pure; never throws. */
export function historyReadings (history: History, sensor: string, filter?: RegisterFilter): Reading[] {
  const out: Reading[] = []
  forEachRate(history, filter, (column, type, time, units, seconds, cumulative) => { out.push(reading(sensor, column, type, time, units, seconds, cumulative)) })
  return out
}

/** One reading per register: the average rate over the whole history (newest vs oldest row). */
export function windowReadings (history: History, sensor: string, filter?: RegisterFilter): Reading[] {
  const out: Reading[] = []
  const rows = history.rows
  if (rows.length < 2) return out
  ratesBetween(keptColumns(history.columns, filter), rows[0]!, rows[rows.length - 1]!, (column, type, time, units, seconds, cumulative) => {
    out.push(reading(sensor, column, type, time, units, seconds, cumulative))
  })
  return out
}

function reading (sensor: string, column: Column, type: RegisterType, time: number, units: number, seconds: number, cumulative: number): Reading {
  return {
    sensor,
    register: column.name,
    type: column.type,
    quantity: type.quantity,
    unit: type.unit,
    virtual: column.virtual,
    time,
    rate: siRate(type, units, seconds),
    total: siTotal(type, cumulative),
    rawRate: units / seconds
  }
}

interface KeptColumn {
  index: number
  column: Column
  type: RegisterType
}

function keptColumns (columns: Column[], filter: RegisterFilter): KeptColumn[] {
  const keep: KeptColumn[] = []
  columns.forEach((column, index) => {
    if (column.name !== '' && (filter === undefined || filter.has(column.name))) keep.push({ index, column, type: registerType(column.type) })
  })
  return keep
}

function ratesBetween (keep: KeptColumn[], newer: HistoryRow, older: HistoryRow, visit: RateVisitor): void {
  const seconds = newer.time - older.time
  const exact = newer.exact !== undefined || older.exact !== undefined
  for (const { index, column, type } of keep) {
    const now = newer.values[index]!
    if (type.discrete === true) {
      // Discrete values are stored as they are: never differenced, never averaged.
      visit(column, type, newer.time, now, 1, Number.NaN)
    } else {
      // Registers are circular signed 64-bit values: the difference modulo 2^64 is right across
      // one wrap-around. Rows without `exact` hold values below 10^15: no wrap, exact doubles.
      const units = exact ? Number(BigInt.asIntN(64, exactValue(newer, index) - exactValue(older, index))) : now - older.values[index]!
      visit(column, type, newer.time, units, seconds, now)
    }
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
