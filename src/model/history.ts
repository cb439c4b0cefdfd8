/**
 * A meter's stored history as the protocols hand it over: columns and absolute cumulative rows,
 * newest first. Register values are signed 64-bit integers (eGauge XML API v1.51 §1); values of
 * up to 15 digits are exact doubles and are kept as such, longer ones as BigInt (see HistoryRow).
 */
import type { RegisterType } from './register-type.js'

export interface Column {
  name: string
  /** The meter's type code (`P`, `V`, …), kept for labels of unknown codes. */
  type: string
  /** What the code means for the protocol that read it (quantity, unit, divisor). */
  kind: RegisterType
  /** True for the meter's total and virtual registers. */
  virtual: boolean
}

export interface HistoryRow {
  /** Unix seconds. */
  time: number
  /**
   * Cumulative values, one per column. Exact integers unless the row has `exact`: every value of
   * at most 15 digits is (the meter's 64-bit registers hold far less in practice), so the hot path
   * needs no BigInt.
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

/** What to ask a meter's history for: the rows from `oldest` to `newest` at `step`. */
export interface HistoryQuery {
  /** Seconds between rows (a whole number of seconds). */
  step: number
  /** Rows to return (n points need n+1 rows). */
  rows: number
  /** Unix time of the newest row wanted; omitted means now. */
  newest?: number
  /** Unix time of the oldest row wanted. */
  oldest?: number
}

/** How long a meter keeps each resolution, finest first, in seconds of age. */
export interface Retention {
  levels: Array<{ step: number, maxAge: number }>
}

/** Every value of a row without `exact` is below this; their differences are exact doubles. */
export const EXACT_LIMIT = 1e15

/** A row's values as exact 64-bit integers. */
export function exactValues (row: HistoryRow): bigint[] {
  return row.exact ?? row.values.map((v) => BigInt(v))
}

/** The exact 64-bit value of one column of a row. */
export function exactValue (row: HistoryRow, i: number): bigint {
  return row.exact?.[i] ?? BigInt(row.values[i]!)
}

/** The history without the meter's total and virtual registers (a sensor with `totals: false`). */
export function physicalOnly (history: History): History {
  const keep = history.columns.flatMap((c, i) => c.virtual ? [] : [i])
  if (keep.length === history.columns.length) return history
  return {
    serial: history.serial,
    columns: keep.map((i) => history.columns[i]!),
    rows: history.rows.map((r) => ({
      time: r.time,
      values: keep.map((i) => r.values[i]!),
      ...(r.exact === undefined ? {} : { exact: keep.map((i) => r.exact![i]!) })
    }))
  }
}
