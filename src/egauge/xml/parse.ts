/**
 * eGauge XML → the model (pure). Two documents: `egauge?inst&tot` (current values) and
 * `egauge-show` (stored history). Every malformed input throws ParseError, nothing else.
 * Register values are signed 64-bit integers (XML API v1.51 §1: "JavaScript cannot natively handle
 * 64-bit values"). Values of up to 15 digits are exact doubles and are read as such; longer ones
 * are kept as BigInt, and only their small differences become numbers.
 */
import { checkRegister, ParseError, type AnswerLimits } from '../../model/errors.js'
import { EXACT_LIMIT, exactValue, exactValues, type Column, type History, type HistoryRow, type RegisterFilter } from '../../model/history.js'
import type { Reading, Snapshot } from '../../model/readings.js'
import { siRate, siTotal } from '../../model/register-type.js'
import { registerType, totalName } from '../registers.js'
import { INTEGER, XmlScanner, truncated, type Token } from './scanner.js'

const FLOAT = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/
const UNSIGNED = /^\s*(0x[0-9a-fA-F]{1,16}|\d{1,20})\s*$/

/** Parses `/cgi-bin/egauge?inst&tot` into current readings; throws ParseError. */
export function parseInst (xml: string, sensor: string, filter?: RegisterFilter, limits?: AnswerLimits): Snapshot {
  const scan = new XmlScanner(xml)
  const root = rootElement(scan, 'data')
  const serial = root.attrs.serial ?? ''
  let time: number | undefined
  const readings: Reading[] = []
  let registers = 0
  for (;;) {
    const t = scan.next()
    if (t.kind === 'close') break
    if (t.kind === 'eof') throw truncated('data')
    if (t.kind !== 'open') continue
    if (t.name === 'ts' && !t.selfClosing) {
      time = unsigned(scan.readText('ts'), '<ts>')
    } else if (t.name === 'r' && !t.selfClosing) {
      checkRegister(limits, ++registers, t.attrs.n ?? '')
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
 *
 * Stored data do not mark the meter's totals: with `a` they are the first columns, named `use`
 * and `gen`, followed by any other virtual register under its own name. Leading `use` and `gen`
 * become *Total Usage* and *Total Generation*; `virtuals.names` (the `rt="total"` registers of
 * the meter's current values) marks the others. An answer asked without `a` has no totals:
 * `{ totals: false }` leaves a physical register that happens to be named `use` as it is.
 */
export function parseShow (xml: string, limits?: AnswerLimits, virtuals: VirtualColumns = { totals: true }): History {
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
    let blockRows = 0
    for (;;) {
      const c = scan.next()
      if (c.kind === 'close') break
      if (c.kind === 'eof') throw truncated('data')
      if (c.kind !== 'open' || c.selfClosing) continue
      if (c.name === 'cname') {
        if (rows.length > 0) throw new ParseError('<cname> after data rows')
        const type = c.attrs.t ?? 'P'
        const name = scan.readText('cname')
        checkRegister(limits, columns.length + 1, name)
        columns.push({ name, type, kind: registerType(type), virtual: false })
      } else if (c.name === 'r') {
        if (time === undefined || step === undefined) throw new ParseError('<data> with rows but without time_stamp and time_delta')
        // time_delta="0" would give every row the same time (and rates over 0 s); a delta beyond
        // the time stamp, times before 1970.
        if (blockRows > 0 && step === 0) throw new ParseError('time_delta="0" in a <data> block with more than one row')
        if (time < 0) throw new ParseError('time_delta takes a row before 1970 (time_stamp minus the rows before it)')
        blockRows++
        const row = scan.readRow(time, columns.length, rows.length)
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
  if (virtuals.totals) markVirtual(columns, virtuals.names)
  return { serial: root.attrs.serial ?? '', columns, rows: newestFirstUnique(rows) }
}

/** Whether a history answer may hold the meter's totals (asked with `a`, or pushed), and the names of its virtual registers where known. */
export interface VirtualColumns {
  totals: boolean
  names?: ReadonlySet<string> | undefined
}

/** Marks (and names) the totals and virtual registers among stored columns, in place. */
function markVirtual (columns: Column[], virtualNames: ReadonlySet<string> | undefined): void {
  let leading = true
  for (const column of columns) {
    const total: string | undefined = leading ? totalName(column.name) : undefined
    leading &&= total !== undefined
    if (total !== undefined) column.name = total
    if (total !== undefined || virtualNames?.has(column.name) === true) column.virtual = true
  }
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
