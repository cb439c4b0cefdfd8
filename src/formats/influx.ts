/**
 * Readings → InfluxDB line protocol (pure). Two schemas: `egauge` (DESIGN §4.1) and the legacy
 * `peper` schema of the 2019 script (DESIGN §4.2). Escaping follows the line-protocol spec; fields
 * are always floats; non-finite values are never written.
 */
import type { Reading } from '../model.js'

export type Precision = 's' | 'ms' | 'us' | 'ns'
export type Schema = 'egauge' | 'peper'

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
 * Accumulates lines for one schema. add() reads the reading's fields and keeps nothing of it, so a
 * caller may pass the same object again with new values (the history path does, to avoid an
 * object per value). Pure.
 */
export class LineWriter {
  /** Lines added since the last take(). */
  lines = 0
  /** Newest time added since construction (-Infinity before any line). */
  newest = Number.NEGATIVE_INFINITY
  private out = ''
  private readonly opts: LineProtocolOptions
  private readonly measurement: string
  private readonly suffix: string
  // Most of a line is fixed per register: built once. Keyed by the name string itself (shared by
  // all readings of a column, its hash cached by V8): a composed key would be built and hashed
  // anew for every reading (measured: a fifth of the conversion time).
  private readonly prefixes = new Map<string, Prefix>()

  constructor (opts: LineProtocolOptions) {
    this.opts = opts
    this.measurement = escapeMeasurement(opts.measurement)
    this.suffix = timeSuffix[opts.precision]
  }

  add (r: Reading): void {
    // One concatenation per line, numbers converted in place: the cheapest form measured
    // (bench/conversion.ts); NaN and ±Infinity are never written.
    const end = ' ' + r.time + this.suffix + '\n'
    let line: string
    const { prefix, watts } = this.prefix(r)
    if (this.opts.schema === 'peper') {
      // The 2019 script: Δraw / (Δt × 1000), times 1000 when the register is configured as W.
      const value = watts ? r.rawRate / 1000 * 1000 : r.rawRate / 1000
      if (!Number.isFinite(value)) return
      line = prefix + value + end
    } else {
      if (Number.isFinite(r.rate)) {
        line = Number.isFinite(r.total) ? prefix + 'value=' + r.rate + ',total=' + r.total + end : prefix + 'value=' + r.rate + end
      } else if (Number.isFinite(r.total)) {
        line = prefix + 'total=' + r.total + end
      } else {
        return
      }
    }
    this.out += line
    this.lines++
    if (r.time > this.newest) this.newest = r.time
  }

  /** The lines added since the last take(), and starts a new batch. */
  take (): string {
    const text = this.out
    this.out = ''
    this.lines = 0
    return text
  }

  /** What is fixed per register: everything before the values, and (peper) its Registre unit. */
  private prefix (r: Reading): Prefix {
    let cached = this.prefixes.get(r.register)
    if (cached === undefined || cached.type !== r.type || cached.virtual !== r.virtual) {
      let prefix: string
      const units = this.opts.registerUnits
      const configured = units !== undefined && Object.hasOwn(units, r.register) ? units[r.register] : undefined
      if (this.opts.schema === 'peper') {
        prefix = this.measurement + tagSet({ ...this.opts.tags, Unit: configured ?? r.unit }) + ' ' + escapeKey(r.register) + '='
      } else {
        const tags: Record<string, string> = { ...this.opts.tags, quantity: r.quantity, register: r.register, sensor: r.sensor, unit: r.unit }
        if (r.virtual) tags.virtual = 'true'
        prefix = this.measurement + tagSet(tags) + ' '
      }
      cached = { type: r.type, virtual: r.virtual, prefix, watts: configured === 'W' }
      this.prefixes.set(r.register, cached)
    }
    return cached
  }
}

interface Prefix {
  type: string
  virtual: boolean
  prefix: string
  /** Peper: the register is configured `=W` in Registre. */
  watts: boolean
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
