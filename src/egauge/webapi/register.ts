/**
 * The JSON WebAPI's register document → the model (pure): `GET /api/register?time=…` and what a
 * meter pushes with its `json` option (the same document without `ts` and `idx`; reference
 * egauge-webapi-and-push.md §1.3.3, §2.2). Values are signed 64-bit integers as decimal strings:
 * exact doubles up to 15 digits, BigInt beyond, as in the XML path. Every malformed input throws
 * ParseError, nothing else.
 */
import { checkRegister, LimitError, ParseError, type AnswerLimits } from '../../model/errors.js'
import { EXACT_LIMIT, type Column, type History, type HistoryRow, type RegisterFilter, type Retention } from '../../model/history.js'
import type { Reading, Snapshot } from '../../model/readings.js'
import { rateInXmlUnits, siRate, siTotal, xmlUnitsPerSecond } from '../../model/register-type.js'
import { webapiRegisterType, totalName } from '../registers.js'

const INTEGER_TEXT = /^-?\d{1,20}$/
const TIME_TEXT = /^\d{1,12}(\.\d{1,9})?$/
/** Rows in one document at most: far beyond a push's `max` (9000) or a history chunk (3600). */
export const MAX_JSON_ROWS = 100_000
/** Registers in one document at most: a large meter has 64. */
export const MAX_JSON_REGISTERS = 1024

/**
 * Parses register JSON into absolute rows, newest first, unique times. Range times are truncated
 * to whole seconds, as the XML API stamps its rows (a range's `ts` may carry nanoseconds).
 */
export function parseRegisterJson (text: string, limits?: AnswerLimits): History {
  return documentHistory(registerDocument(text), limits)
}

/** The register document as an object; an `error` member is the meter's refusal. Throws ParseError. */
function registerDocument (text: string): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new ParseError(`not JSON: ${(err as Error).message.slice(0, 80)}`)
  }
  if (!isObject(doc)) throw new ParseError('the register document is not a JSON object')
  if (typeof doc.error === 'string') throw new ParseError(`the meter answered an error: ${doc.error.slice(0, 100)}`)
  return doc
}

function documentHistory (doc: Record<string, unknown>, limits: AnswerLimits | undefined): History {
  const columns = registerColumns(doc.registers, limits)
  const rows: HistoryRow[] = []
  const ranges = doc.ranges ?? []
  if (!Array.isArray(ranges)) throw new ParseError('"ranges" is not a list')
  ranges.forEach((range, r) => {
    if (!isObject(range)) throw new ParseError(`ranges[${r}] is not an object`)
    const newest = timeOf(range.ts, `ranges[${r}].ts`)
    const step = range.delta
    if (typeof step !== 'number' || !Number.isFinite(step) || step < 0) throw new ParseError(`ranges[${r}].delta is not a number of seconds`)
    if (!Array.isArray(range.rows)) throw new ParseError(`ranges[${r}].rows is not a list`)
    if (rows.length + range.rows.length > MAX_JSON_ROWS) throw new LimitError(`more than ${MAX_JSON_ROWS} rows in one answer`)
    if (range.rows.length > 1 && step === 0) throw new ParseError(`ranges[${r}] has delta 0 and more than one row`)
    range.rows.forEach((cells: unknown, i: number) => {
      const time = Math.floor(newest - i * step)
      if (time < 0) throw new ParseError(`ranges[${r}].rows[${i}] falls before 1970`)
      rows.push(row(cells, time, columns.length, `ranges[${r}].rows[${i}]`))
    })
  })
  return { serial: '', columns, rows: newestFirstUnique(rows) }
}

function registerColumns (registers: unknown, limits: AnswerLimits | undefined): Column[] {
  // The spec's schema says a list; eGauge's own worked example shows one register object: take both.
  const list = Array.isArray(registers) ? registers : isObject(registers) ? [registers] : undefined
  if (list === undefined || list.length === 0) throw new ParseError('no "registers" in the register document')
  // The sensor's own limit first, as the XML parser counts: the same error for the same meter.
  checkRegister(limits, list.length, '')
  if (list.length > MAX_JSON_REGISTERS) throw new LimitError(`more than ${MAX_JSON_REGISTERS} registers in one answer`)
  return list.map((reg, i) => {
    if (!isObject(reg) || typeof reg.name !== 'string' || reg.name === '') throw new ParseError(`registers[${i}] has no name`)
    checkRegister(limits, i + 1, reg.name)
    const type = typeof reg.type === 'string' ? reg.type : 'P'
    // The meter's own totals and virtual registers have no database column (`did`, §1.3.5); its
    // totals get the names the XML API's current values give them.
    const virtual = reg.did === undefined
    return { name: (virtual ? totalName(reg.name) : undefined) ?? reg.name, type, kind: webapiRegisterType(type), virtual }
  })
}

function row (cells: unknown, time: number, width: number, path: string): HistoryRow {
  if (!Array.isArray(cells) || cells.length !== width) throw new ParseError(`${path} does not have ${width} values`)
  const values = new Array<number>(width)
  let exact: bigint[] | undefined
  for (let i = 0; i < width; i++) {
    const cell: unknown = cells[i]
    // Decimal strings, as the spec says; a plain integer number is taken too when it is exact.
    const text = typeof cell === 'number' && Number.isSafeInteger(cell) ? String(cell) : cell
    if (typeof text !== 'string' || !INTEGER_TEXT.test(text)) throw new ParseError(`${path}[${i}] is not a 64-bit integer`)
    const value = Number(text)
    values[i] = value
    if (Math.abs(value) >= EXACT_LIMIT) exact ??= []
  }
  if (exact !== undefined) {
    exact = cells.map((c) => BigInt.asIntN(64, BigInt(String(c))))
    return { time, values: exact.map(Number), exact }
  }
  return { time, values }
}

function timeOf (value: unknown, path: string): number {
  if (typeof value !== 'string' || !TIME_TEXT.test(value)) throw new ParseError(`${path} is not a unix time as a decimal string`)
  return Number(value)
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function newestFirstUnique (rows: HistoryRow[]): HistoryRow[] {
  const sorted = rows.slice().sort((a, b) => b.time - a.time)
  return sorted.filter((r, i) => i === 0 || r.time !== sorted[i - 1]!.time)
}

/**
 * Parses `GET /api/register?rate&time=now` (with `raw` and `virtual=value`) into current values:
 * each register's `rate` (already in the rate unit, as XML's `<i>`) and its cumulative value
 * from the one row, at the meter's `ts`. Throws ParseError.
 */
export function parseRegisterRates (text: string, sensor: string, filter?: RegisterFilter, limits?: AnswerLimits): Snapshot {
  // One JSON.parse: the rows' history and the registers' rates come from the same document.
  const doc = registerDocument(text)
  const history = documentHistory(doc, limits)
  const time = Math.floor(timeOf(doc.ts, 'ts'))
  const row = history.rows[0]
  if (row === undefined) throw new ParseError('current values without a row (ask with time=now)')
  const registers = (Array.isArray(doc.registers) ? doc.registers : [doc.registers]) as Array<{ rate?: unknown }>
  const readings: Reading[] = []
  history.columns.forEach((column, i) => {
    if (filter !== undefined && !filter.has(column.name)) return
    const rate = registers[i]!.rate
    if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate))) throw new ParseError(`registers[${i}].rate is not a number`)
    const value = row.values[i]!
    const kind = column.kind
    readings.push({
      sensor,
      register: column.name,
      type: column.type,
      quantity: kind.quantity,
      unit: kind.unit,
      virtual: column.virtual,
      time,
      // A discrete register's value is its reading, as in the XML path.
      rate: kind.discrete === true ? siRate(kind, value, 1) : rate ?? Number.NaN,
      total: kind.discrete === true ? Number.NaN : siTotal(kind, value),
      // In the XML API's units, which the legacy schema's arithmetic takes.
      rawRate: kind.discrete === true ? xmlUnitsPerSecond(kind, value, 1) : rateInXmlUnits(kind, rate ?? Number.NaN)
    })
  })
  return { sensor, serial: '', time, readings }
}

/**
 * `GET /api/sys/db` → how long the meter keeps each resolution, finest first (interval in ms,
 * row-count rows each; `{"result": {"level": [...]}}`, §1.5). The coarsest level is kept for
 * good: older rows are aggregated into it. Throws ParseError.
 */
export function parseDbLevels (text: string): Retention {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new ParseError('/api/sys/db is not JSON')
  }
  const result = isObject(doc) ? doc.result : undefined
  const levels = isObject(result) ? result.level : undefined
  if (!Array.isArray(levels) || levels.length === 0) throw new ParseError('/api/sys/db has no "level" list')
  const parsed = levels.map((level: unknown, i) => {
    const interval = isObject(level) ? level.interval : undefined
    const count = isObject(level) ? level['row-count'] : undefined
    if (typeof interval !== 'number' || !(interval >= 1000) || interval % 1000 !== 0 || typeof count !== 'number' || !(count >= 1)) {
      throw new ParseError(`/api/sys/db level[${i}] has no whole-second interval and row-count`)
    }
    return { step: interval / 1000, maxAge: (interval / 1000) * count }
  }).sort((a, b) => a.step - b.step)
  parsed[parsed.length - 1]!.maxAge = Number.POSITIVE_INFINITY
  return { levels: parsed }
}

/** What an identity value may look like: printable ASCII, no spaces, short (a meter's answer is untrusted). */
const IDENTITY_VALUE = /^[\x21-\x7e]{1,64}$/

/**
 * `GET /api/sys/sn` or `/api/config/net/hostname` → its value (`{"result": "…"}`, §1.5), or
 * undefined when the answer holds no such value. Pure.
 */
export function parseIdentityValue (text: string): string | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return undefined
  }
  const result = isObject(doc) ? doc.result : undefined
  return typeof result === 'string' && IDENTITY_VALUE.test(result) ? result : undefined
}
