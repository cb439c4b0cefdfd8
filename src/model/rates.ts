/**
 * History → rates: the one place cumulative rows become average rates, whatever protocol read
 * them. Pure; never throws. A rate is stamped at the end of its interval (the newer row), so n+1
 * rows give n rates per register. Registers are circular signed 64-bit values: a difference is
 * taken modulo 2^64, which is right across one wrap-around.
 */
import { exactValue, type Column, type History, type HistoryRow, type RegisterFilter } from './history.js'
import type { Reading } from './readings.js'
import { siRate, siTotal, xmlUnitsPerSecond } from './register-type.js'

/**
 * Receives one average rate as the meter's own numbers: `units` meter units accrued over `seconds`
 * (a discrete register: its value, over 1 s) and the cumulative value at `time` (NaN for a discrete
 * register). Exact integers whenever they are below 10^15, so a writer can print them without
 * float formatting; siRate() and siTotal() of `column.kind` give the SI values. Only valid during
 * the call.
 */
export type RateVisitor = (column: Column, time: number, units: number, seconds: number, cumulative: number) => void

/** Points in (after, until] only. */
export interface TimeRange {
  after: number
  until: number
}

/**
 * Visits the average rate of every kept register between consecutive rows, newest rows first,
 * columns in order. With `range`, only times in (after, until]; with `pairs`, only the row pairs
 * (i, i+1) for i in [start, end), so a caller can convert a long history a slice at a time.
 */
export function forEachRate (history: History, filter: RegisterFilter, visit: RateVisitor, range?: TimeRange, pairs?: { start: number, end: number }): void {
  const rows = history.rows
  const keep = keptColumns(history.columns, filter)
  const end = Math.min(rows.length - 1, pairs?.end ?? Number.POSITIVE_INFINITY)
  for (let i = pairs?.start ?? 0; i < end; i++) {
    const time = rows[i]!.time
    if (range !== undefined && (time <= range.after || time > range.until)) continue
    ratesBetween(keep, rows[i]!, rows[i + 1]!, visit)
  }
}

/** The rates of forEachRate as readings. */
export function historyReadings (history: History, sensor: string, filter?: RegisterFilter): Reading[] {
  const out: Reading[] = []
  forEachRate(history, filter, (column, time, units, seconds, cumulative) => { out.push(reading(sensor, column, time, units, seconds, cumulative)) })
  return out
}

/** One reading per register: the average rate over the whole history (newest vs oldest row). */
export function windowReadings (history: History, sensor: string, filter?: RegisterFilter): Reading[] {
  const out: Reading[] = []
  const rows = history.rows
  if (rows.length < 2) return out
  ratesBetween(keptColumns(history.columns, filter), rows[0]!, rows[rows.length - 1]!, (column, time, units, seconds, cumulative) => {
    out.push(reading(sensor, column, time, units, seconds, cumulative))
  })
  return out
}

function reading (sensor: string, column: Column, time: number, units: number, seconds: number, cumulative: number): Reading {
  const kind = column.kind
  return {
    sensor,
    register: column.name,
    type: column.type,
    quantity: kind.quantity,
    unit: kind.unit,
    virtual: column.virtual,
    time,
    rate: siRate(kind, units, seconds),
    total: siTotal(kind, cumulative),
    rawRate: xmlUnitsPerSecond(kind, units, seconds)
  }
}

export interface KeptColumn {
  index: number
  column: Column
}

/** The columns that rates are given for: named, and in the sensor's register list if it has one. */
export function keptColumns (columns: Column[], filter: RegisterFilter): KeptColumn[] {
  const keep: KeptColumn[] = []
  columns.forEach((column, index) => {
    if (column.name !== '' && (filter === undefined || filter.has(column.name))) keep.push({ index, column })
  })
  return keep
}

function ratesBetween (keep: KeptColumn[], newer: HistoryRow, older: HistoryRow, visit: RateVisitor): void {
  const seconds = newer.time - older.time
  const exact = newer.exact !== undefined || older.exact !== undefined
  for (const { index, column } of keep) {
    const now = newer.values[index]!
    if (column.kind.discrete === true) {
      // Discrete values are stored as they are: never differenced, never averaged.
      visit(column, newer.time, now, 1, Number.NaN)
    } else {
      // Rows without `exact` hold values below 10^15: no wrap, exact doubles.
      const units = exact ? Number(BigInt.asIntN(64, exactValue(newer, index) - exactValue(older, index))) : now - older.values[index]!
      visit(column, newer.time, units, seconds, now)
    }
  }
}
