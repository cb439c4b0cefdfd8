/**
 * Readings → InfluxDB line protocol (pure). Two schemas: `egauge` and the legacy `peper` schema of
 * the 2019 script (README "Data model"). Escaping follows the line-protocol spec; fields
 * are always floats; non-finite values are never written.
 */
import type { Column } from '../model/history.js'
import type { Precision, Schema } from '../model/output.js'
import type { Reading } from '../model/readings.js'
import { siRate, siTotal, xmlUnitsPerSecond } from '../model/register-type.js'
import { AsciiBuffer, decimalsOf, isSmallInteger, ShortBytes } from './ascii-buffer.js'

export interface LineProtocolOptions {
  schema: Schema
  measurement: string
  /** The sensor's configured tags (egauge schema) or its Peper tags (ID, IP, GPS_lat, …). */
  tags: Record<string, string>
  precision: Precision
  /** Peper only: register name → unit from the legacy `Registre` list. */
  registerUnits?: Record<string, string>
}

const timeSuffix: Record<Precision, string> = { s: '', ms: '000', us: '000000', ns: '000000000' }

/**
 * Escapes a tag key, tag value or field key: commas, equals signs and spaces get a backslash.
 * InfluxDB 1.x does not unescape `\\`, so other backslashes are written as they are; one that ends
 * the name or precedes a comma, space or equals sign cannot be written at all and becomes `/`.
 * Line breaks and tabs cannot be escaped either and become spaces.
 */
export function escapeKey (s: string): string {
  return s.replace(/[\r\n\t]/g, ' ').replace(/\\(?=[, =]|$)/g, '/').replace(/[, =]/g, '\\$&')
}

/** Escapes a measurement name (commas and spaces), with escapeKey's backslash rule. */
export function escapeMeasurement (s: string): string {
  return s.replace(/[\r\n\t]/g, ' ').replace(/\\(?=[, ]|$)/g, '/').replace(/[, ]/g, '\\$&')
}

/** Returns line protocol, one line per reading (plus a final newline when non-empty). */
export function toLineProtocol (readings: readonly Reading[], opts: LineProtocolOptions): string {
  const writer = new LineWriter(opts)
  for (const r of readings) writer.add(r)
  return writer.take()
}

/**
 * Accumulates lines for one schema, as bytes. Two ways in: add() takes a Reading (current values,
 * or any reading a caller built), addRate() takes a history rate as the meter's integers
 * (forEachRate's arguments), which it can print without float formatting. Both print the same
 * number the same way. Keeps nothing of its arguments. Pure.
 */
export class LineWriter {
  /** Lines added since the last take(). */
  lines = 0
  /** Newest time added since construction (-Infinity before any line). */
  newest = Number.NEGATIVE_INFINITY
  private readonly out: AsciiBuffer
  private readonly opts: LineProtocolOptions
  private readonly peper: boolean
  private readonly measurement: string
  private readonly suffix: string
  // Most of a line is fixed per register: built once, as bytes. Keyed by the name string itself
  // (shared by all readings of a column, its hash cached by V8): a composed key would be built and
  // hashed anew for every reading (measured: a fifth of the conversion time).
  private readonly registers = new Map<string, RegisterLine>()
  // The end of a line (` <time>\n`) is shared by all registers of a row: built once per time.
  private tailTime = Number.NaN
  private readonly tail = new ShortBytes(32)
  /** The register of the last addRate(). */
  private previous: RegisterLine | undefined

  /** `sizeHint`: the bytes expected before the first take(), if the caller can tell. */
  constructor (opts: LineProtocolOptions, sizeHint?: number) {
    this.out = new AsciiBuffer(sizeHint)
    this.opts = opts
    this.peper = opts.schema === 'peper'
    this.measurement = escapeMeasurement(opts.measurement)
    this.suffix = timeSuffix[opts.precision]
  }

  /** Adds one reading; NaN and ±Infinity are never written, a reading with neither value is skipped. */
  add (r: Reading): void {
    const line = this.register(r.sensor, r.register, r.type, r.quantity, r.unit, r.virtual)
    if (this.peper) {
      const value = peperValue(r.rawRate, line.watts)
      if (!Number.isFinite(value)) return
      this.begin(line.head, line.ascii, r.time)
      this.out.writeNumber(value)
    } else {
      const hasRate = Number.isFinite(r.rate)
      const hasTotal = Number.isFinite(r.total)
      if (!hasRate && !hasTotal) return
      this.begin(hasRate ? line.head : line.headTotal, line.ascii, r.time)
      if (hasRate) this.out.writeNumber(r.rate)
      if (hasTotal) {
        if (hasRate) this.out.writeShort(COMMA_TOTAL)
        this.out.writeNumber(r.total)
      }
    }
    this.end(r.time)
  }

  /**
   * Adds one history rate given as forEachRate gives it. Prints what add() prints for the reading
   * historyReadings() makes of the same arguments; integers of a 1-second step (the common case)
   * are printed directly.
   */
  addRate (sensor: string, column: Column, time: number, units: number, seconds: number, cumulative: number): void {
    const type = column.kind
    // History columns come in the same order row after row: the register that followed this one
    // last time is almost always the one asked for, which spares a Map lookup per value.
    let line = this.previous?.next
    if (line?.column !== column || line.sensor !== sensor) {
      line = this.register(sensor, column.name, column.type, type.quantity, type.unit, column.virtual)
      line.column = column
      line.decimals = decimalsOf(type.perUnit)
      if (this.previous !== undefined) this.previous.next = line
    }
    this.previous = line
    // A history rate is always finite (whole units over at least one second); the total is NaN
    // for a discrete register. A whole number of units over 1 s is units / divisor: printed by
    // placing the decimal point.
    const direct = seconds === 1 && isSmallInteger(units)
    this.begin(line.head, line.ascii, time)
    if (this.peper) {
      if (direct && !line.watts && type.xmlUnits === undefined) this.out.writeDecimal(units, 1000, 3)
      else this.out.writeNumber(peperValue(xmlUnitsPerSecond(type, units, seconds), line.watts))
    } else {
      if (direct && line.decimals >= 0) this.out.writeDecimal(units, type.perUnit, line.decimals)
      else this.out.writeNumber(siRate(type, units, seconds))
      if (Number.isFinite(cumulative)) {
        this.out.writeShort(COMMA_TOTAL)
        if (line.decimals >= 0 && isSmallInteger(cumulative)) this.out.writeDecimal(cumulative, type.perUnit, line.decimals)
        else this.out.writeNumber(siTotal(type, cumulative))
      }
    }
    this.end(time)
  }

  /** The lines added since the last take(), and starts a new batch. */
  take (): string {
    this.lines = 0
    return this.out.take()
  }

  /** take() as UTF-8 bytes. */
  takeBytes (): Buffer {
    this.lines = 0
    return this.out.takeBytes()
  }

  /** Writes what precedes the values, after making room for the whole line. */
  private begin (head: Uint8Array, ascii: boolean, time: number): void {
    if (time !== this.tailTime) {
      this.tailTime = time
      this.tail.set(' ' + time + this.suffix + '\n')
    }
    this.out.reserve(head.length + MAX_FIELDS_BYTES + this.tail.length)
    this.out.writeBytes(head, ascii)
  }

  private end (time: number): void {
    this.out.writeShort(this.tail)
    this.lines++
    if (time > this.newest) this.newest = time
  }

  /** What is fixed per register: everything before the values, and (peper) its Registre unit. */
  private register (sensor: string, name: string, type: string, quantity: string, unit: string, virtual: boolean): RegisterLine {
    let cached = this.registers.get(name)
    if (cached === undefined || cached.sensor !== sensor || cached.type !== type || cached.virtual !== virtual) {
      const units = this.opts.registerUnits
      const configured = units !== undefined && Object.hasOwn(units, name) ? units[name] : undefined
      let prefix: string
      if (this.peper) {
        prefix = this.measurement + tagSet({ ...this.opts.tags, Unit: configured ?? unit }) + ' ' + escapeKey(name)
      } else {
        const tags: Record<string, string> = { ...this.opts.tags, quantity, register: name, sensor, unit }
        if (virtual) tags.virtual = 'true'
        prefix = this.measurement + tagSet(tags) + ' '
      }
      const head = Buffer.from(prefix + (this.peper ? '=' : 'value='), 'utf8')
      cached = {
        sensor,
        type,
        virtual,
        head,
        headTotal: Buffer.from(prefix + 'total=', 'utf8'),
        ascii: !/[^\0-\x7f]/.test(prefix),
        watts: configured === 'W',
        decimals: -1
      }
      this.registers.set(name, cached)
    }
    return cached
  }
}

/** README "Data model", schema peper: the 2019 script's arithmetic: Δraw / (Δt × 1000), times 1000 for a register configured `=W`. */
function peperValue (rawRate: number, watts: boolean): number {
  return watts ? rawRate / 1000 * 1000 : rawRate / 1000
}

const COMMA_TOTAL = new ShortBytes(8).set(',total=')
/** Room for `,total=` and two numbers as String() prints them (at most 25 bytes each), and the 3
 * bytes writeShort() may write past the end. */
const MAX_FIELDS_BYTES = 64

interface RegisterLine {
  sensor: string
  type: string
  virtual: boolean
  /** The line up to the first value: `measurement,tags value=` (egauge) or `…,tags register=` (peper). */
  head: Uint8Array
  /** Egauge schema, for a line without a rate: `measurement,tags total=`. */
  headTotal: Uint8Array
  /** Whether the head is pure ASCII (the whole batch then decodes as Latin-1, 10× faster). */
  ascii: boolean
  /** Peper: the register is configured `=W` in Registre. */
  watts: boolean
  /** addRate(): decimalsOf() the column type's divisor (-1 until then: add() prints floats). */
  decimals: number
  /** addRate(): the history column this line was last used for, and the line used after it. */
  column?: Column
  next?: RegisterLine
}

/** `,k=v` pairs sorted by key (InfluxDB's preferred order); empty values are dropped. */
function tagSet (tags: Record<string, string>): string {
  let out = ''
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key]!
    if (value === '' || key === '') continue
    out += ',' + escapeKey(key) + '=' + escapeKey(value)
  }
  return out
}
