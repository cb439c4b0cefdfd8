/**
 * What the status page shows of each meter, fetched through the pool like any scrape (cached,
 * shared with concurrent scrapes): its current values, the last hour of power at 1-minute steps
 * and the energy since local midnight. The pure part turns answers into that view; gather() does
 * the fetching and never waits long for a slow or dead meter.
 */
import type { SensorConfig } from '../config/schema.js'
import type { MeterPool } from '../meters/pool.js'
import type { MeterRequest } from '../meters/query.js'
import type { History } from '../model/history.js'
import { forEachRate } from '../model/rates.js'
import type { Reading } from '../model/readings.js'
import { siRate } from '../model/register-type.js'
import type { SensorStatus } from '../telemetry/status-book.js'

/** The page waits this long for a meter, then shows what it has (the fetch goes on and is cached). */
export const PAGE_WAIT_MS = 2500
/** A meter that failed this recently is not asked again for the page: its error is shown. */
export const RECENT_FAILURE_MS = 30_000
/** Beyond this many sensors, the page shows states only (a page view must stay cheap for meters). */
export const MAX_LIVE_SENSORS = 20
/** The chart's resolution: one point a minute. */
const STEP = 60
/** Power series drawn per chart. */
export const MAX_CHART_SERIES = 4

export interface PowerSeries {
  register: string
  virtual: boolean
  /** [unix seconds, watts]; NaN watts where the meter has no row (a gap in the line). */
  points: Array<[number, number]>
}

export interface MeterView {
  /** Current values, virtual registers first. */
  readings: Reading[] | undefined
  /** Joules since local midnight, by power register. */
  today: Map<string, number> | undefined
  /** Unix seconds of the local midnight `today` counts from. */
  since: number | undefined
  hour: PowerSeries[] | undefined
  /** Why some of it is missing, one line. */
  note: string | undefined
}

/** The requests for one page view of a sensor at `nowMs`. Pure. */
export function pageRequests (nowMs: number): { current: MeterRequest, hour: MeterRequest, today: MeterRequest | undefined, since: number } {
  const now = Math.floor(nowMs / 60_000) * 60
  const midnight = new Date(nowMs)
  midnight.setHours(0, 0, 0, 0)
  const since = Math.floor(midnight.getTime() / 1000)
  const minutes = Math.floor((now - since) / 60)
  return {
    current: { kind: 'current' },
    hour: { kind: 'history', query: { step: STEP, rows: 61 } },
    // The row at local midnight; the newest row of the hour is the other end of "today".
    today: minutes < 1 ? undefined : { kind: 'history', query: { step: STEP, rows: 1, newest: since } },
    since
  }
}

/** Power registers of a minute history as chart series, the largest first. Pure. */
export function powerSeries (history: History, maxSeries = MAX_CHART_SERIES): PowerSeries[] {
  const byRegister = new Map<string, PowerSeries>()
  forEachRate(history, undefined, (column, time, units, seconds) => {
    if (column.kind.quantity !== 'power') return
    let series = byRegister.get(column.name)
    if (series === undefined) byRegister.set(column.name, series = { register: column.name, virtual: column.virtual, points: [] })
    series.points.push([time, siRate(column.kind, units, seconds)])
    // A rate over more than two steps spans a gap in the meter's rows: drawn as a gap (newest
    // first here, reversed below).
    if (seconds > 2 * STEP) series.points.push([time - seconds + STEP, NaN])
  })
  const size = (s: PowerSeries): number => s.points.reduce((max, [, w]) => Number.isNaN(w) ? max : Math.max(max, Math.abs(w)), 0)
  return [...byRegister.values()]
    .map((s) => ({ ...s, points: s.points.reverse() }))
    .sort((a, b) => Number(b.virtual) - Number(a.virtual) || size(b) - size(a))
    .slice(0, maxSeries)
}

/** Energy in joules per power register from the oldest row of a history to the newest. Pure. */
export function energyBetween (history: History): Map<string, number> {
  const rows = history.rows
  const out = new Map<string, number>()
  if (rows.length < 2) return out
  const span: History = { ...history, rows: [rows[0]!, rows[rows.length - 1]!] }
  // The meter's own difference of cumulative units, divided once: exact like every other value.
  forEachRate(span, undefined, (column, _time, units) => { if (column.kind.quantity === 'power') out.set(column.name, siRate(column.kind, units, 1)) })
  return out
}

/**
 * Energy from the row of `earlier` to the newest row of `later`, by power register, when both
 * come from the same register configuration (a meter reconfigured today has no such total). Pure.
 */
export function energySince (later: History, earlier: History): Map<string, number> | undefined {
  const same = later.serial === earlier.serial && later.columns.length === earlier.columns.length &&
    later.columns.every((c, i) => c.name === earlier.columns[i]!.name)
  if (!same || later.rows.length === 0 || earlier.rows.length === 0) return undefined
  return energyBetween({ ...later, rows: [later.rows[0]!, earlier.rows[0]!] })
}

/** Virtual registers (the meter's totals) first, then in the meter's order. Pure. */
export function orderReadings (readings: Reading[]): Reading[] {
  return [...readings].sort((a, b) => Number(b.virtual) - Number(a.virtual))
}

type Waited<T> = { ok: true, value: T } | { ok: false, reason: string }

async function waitFor<T> (promise: Promise<T>, ms: number): Promise<Waited<T>> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<Waited<T>>((resolve) => { timer = setTimeout(() => resolve({ ok: false, reason: 'the meter is slow to answer; the values will be here on the next refresh' }), ms) })
  const answered = promise.then((value): Waited<T> => ({ ok: true, value }), (err: Error): Waited<T> => ({ ok: false, reason: err.message }))
  try {
    return await Promise.race([answered, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Fetches the view of every sensor (the first MAX_LIVE_SENSORS), in parallel. */
export async function gather (pool: MeterPool, sensors: SensorConfig[], statuses: SensorStatus[], nowMs: number, waitMs = PAGE_WAIT_MS): Promise<Map<string, MeterView>> {
  const views = new Map<string, MeterView>()
  const requests = pageRequests(nowMs)
  await Promise.all(sensors.slice(0, MAX_LIVE_SENSORS).map(async (sensor) => {
    const status = statuses.find((s) => s.name === sensor.name)
    if (status?.state === 'down' && status.lastFetch !== undefined && nowMs - status.lastFetch < RECENT_FAILURE_MS) {
      views.set(sensor.name, { readings: undefined, today: undefined, since: undefined, hour: undefined, note: `not asked again for ${Math.round(RECENT_FAILURE_MS / 1000)} s after a failure (see the errors)` })
      return
    }
    const ask = async (request: MeterRequest | undefined): Promise<Waited<import('../model/source.js').MeterAnswer> | undefined> =>
      request === undefined ? undefined : await waitFor(pool.answer(sensor.name, request, sensor.timeoutMs), waitMs)
    const [current, hour, today] = await Promise.all([ask(requests.current), ask(requests.hour), ask(requests.today)])
    const notes = [current, hour, today].flatMap((w) => w !== undefined && !w.ok ? [w.reason] : [])
    const hourHistory = hour?.ok === true && hour.value.kind === 'history' ? hour.value.history : undefined
    const midnight = today?.ok === true && today.value.kind === 'history' ? today.value.history : undefined
    views.set(sensor.name, {
      readings: current?.ok === true && current.value.kind === 'current' ? orderReadings(current.value.snapshot.readings) : undefined,
      hour: hourHistory === undefined ? undefined : powerSeries(hourHistory),
      today: hourHistory === undefined || midnight === undefined ? undefined : energySince(hourHistory, midnight),
      since: requests.since,
      note: notes[0]
    })
  }))
  return views
}
