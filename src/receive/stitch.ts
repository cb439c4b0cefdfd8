/**
 * Joining a meter's pushes into one unbroken series (pure). A push's oldest row has no older
 * row of its own to be differenced against; the newest row of the previous acknowledged push
 * is that row, kept by the RowStore, so no second is lost at a push boundary.
 */
import type { StoredRow } from './row-store.js'
import { EXACT_LIMIT, exactValue, type History, type HistoryRow } from '../model/history.js'

export interface Stitched {
  history: History
  /** Whether the previous push's newest row was added as the oldest row. */
  bridged: boolean
  /** Seconds between the previous push's newest row and this push's oldest, when bridged. */
  gapSeconds: number | undefined
  /** Why the previous row could not be used, when there was one and it was not. */
  notBridged?: string
}

/**
 * Adds the previous push's newest row under this push's rows when it is older than all of them
 * and holds every column (matched by name). A re-sent push reaches back past it and needs none.
 */
export function stitch (history: History, previous: StoredRow | undefined): Stitched {
  const oldest = history.rows[history.rows.length - 1]
  if (previous === undefined || oldest === undefined) return { history, bridged: false, gapSeconds: undefined }
  if (previous.time >= oldest.time) return { history, bridged: false, gapSeconds: undefined }
  const index = new Map(previous.columns.map((name, i) => [name, i]))
  const values: number[] = []
  const exact: bigint[] = []
  let big = false
  for (const column of history.columns) {
    const i = index.get(column.name)
    if (i === undefined) return { history, bridged: false, gapSeconds: undefined, notBridged: `register "${column.name.slice(0, 60)}" is new since the previous push` }
    const value = BigInt(previous.values[i]!)
    exact.push(value)
    values.push(Number(value))
    if (value >= EXACT_LIMIT || value <= -EXACT_LIMIT) big = true
  }
  const row: HistoryRow = big ? { time: previous.time, values, exact } : { time: previous.time, values }
  return { history: { ...history, rows: [...history.rows, row] }, bridged: true, gapSeconds: oldest.time - previous.time }
}

/** The newest row of a history, to be kept for the next push. */
export function newestRow (history: History): StoredRow | undefined {
  const row = history.rows[0]
  if (row === undefined) return undefined
  return { time: row.time, columns: history.columns.map((c) => c.name), values: history.columns.map((_c, i) => exactValue(row, i).toString()) }
}

/**
 * Drops rows that are artefacts of a change of resolution: a row where the spacing of its
 * neighbours changes (the oldest 1-second row before minute rows) and at which some counter
 * turns back, above its newer neighbour and above its older one, or below both. A real meter
 * sent one (reference egauge-webapi-and-push.md §2.3: +204 431 W·s in one second, cancelled by the
 * next row). A cumulative register between two readings only moves one way for consumption;
 * dropping the row loses no energy: the newer row's rate then averages over both intervals.
 * Returns the kept history and the times dropped.
 */
export function dropBoundaryArtefacts (history: History): { history: History, dropped: number[] } {
  const rows = history.rows
  if (rows.length < 3) return { history, dropped: [] }
  const kept: HistoryRow[] = [rows[0]!]
  const dropped: number[] = []
  for (let i = 1; i + 1 < rows.length; i++) {
    const newer = kept[kept.length - 1]!
    const row = rows[i]!
    const older = rows[i + 1]!
    const boundary = newer.time - row.time !== row.time - older.time
    if (boundary && turnsBack(history, newer, row, older)) dropped.push(row.time)
    else kept.push(row)
  }
  kept.push(rows[rows.length - 1]!)
  return dropped.length === 0 ? { history, dropped } : { history: { ...history, rows: kept }, dropped }
}

function turnsBack (history: History, newer: HistoryRow, row: HistoryRow, older: HistoryRow): boolean {
  for (let c = 0; c < history.columns.length; c++) {
    if (history.columns[c]!.kind.discrete === true) continue
    const v = exactValue(row, c)
    const up = v - exactValue(newer, c)
    const down = v - exactValue(older, c)
    if ((up > 0n && down > 0n) || (up < 0n && down < 0n)) return true
  }
  return false
}
