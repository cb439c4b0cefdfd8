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

/** Formats a float field value; undefined for NaN and ±Infinity, which line protocol cannot carry. */
export function formatFloat (x: number): string | undefined {
  return Number.isFinite(x) ? String(x) : undefined
}

/** Returns line protocol, one line per reading (plus a final newline when non-empty). */
export function toLineProtocol (readings: readonly Reading[], opts: LineProtocolOptions): string {
  return opts.schema === 'peper' ? peperLines(readings, opts) : egaugeLines(readings, opts)
}

function egaugeLines (readings: readonly Reading[], opts: LineProtocolOptions): string {
  const suffix = timeSuffix[opts.precision]
  const measurement = escapeMeasurement(opts.measurement)
  // Most of a line is fixed per register: build it once per call. Keyed by the name string
  // itself (shared by all readings of a column, its hash cached by V8): a composed key would be
  // built and hashed anew for every reading (measured: a fifth of the conversion time).
  const prefixes = new Map<string, { type: string, virtual: boolean, prefix: string }>()
  let out = ''
  for (const r of readings) {
    let cached = prefixes.get(r.register)
    if (cached === undefined || cached.type !== r.type || cached.virtual !== r.virtual) {
      const tags: Record<string, string> = {
        ...opts.tags,
        quantity: r.quantity,
        register: r.register,
        sensor: r.sensor,
        unit: r.unit
      }
      if (r.virtual) tags.virtual = 'true'
      cached = { type: r.type, virtual: r.virtual, prefix: measurement + tagSet(tags) + ' ' }
      prefixes.set(r.register, cached)
    }
    // One concatenation per line, numbers converted in place: the cheapest form measured
    // (bench/conversion.ts); NaN and ±Infinity are never written.
    const end = ' ' + r.time + suffix + '\n'
    if (Number.isFinite(r.rate)) {
      out += Number.isFinite(r.total)
        ? cached.prefix + 'value=' + r.rate + ',total=' + r.total + end
        : cached.prefix + 'value=' + r.rate + end
    } else if (Number.isFinite(r.total)) {
      out += cached.prefix + 'total=' + r.total + end
    }
  }
  return out
}

function peperLines (readings: readonly Reading[], opts: LineProtocolOptions): string {
  const suffix = timeSuffix[opts.precision]
  const measurement = escapeMeasurement(opts.measurement)
  const units = opts.registerUnits ?? {}
  let out = ''
  for (const r of readings) {
    const configured = Object.hasOwn(units, r.register) ? units[r.register] : undefined
    // The 2019 script: Δraw / (Δt × 1000), times 1000 when the register is configured as W.
    let value = r.rawRate / 1000
    if (configured === 'W') value *= 1000
    const formatted = formatFloat(value)
    if (formatted === undefined) continue
    const tags = { ...opts.tags, Unit: configured ?? r.unit }
    out += measurement + tagSet(tags) + ' ' + escapeKey(r.register) + '=' + formatted + ' ' + r.time + suffix + '\n'
  }
  return out
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
