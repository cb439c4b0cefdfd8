/**
 * What Grafana does to a dashboard query before a data source sees it, for the tests that run the
 * dashboards' queries against a real InfluxDB and a real Prometheus (Grafana cannot run here).
 * Sources, read for these facts (grafana/grafana, grafana/scenes):
 * - the Prometheus data source sends `utcOffsetSec: request.range.to.utcOffset() * 60` (the
 *   dashboard time zone's offset at the range's end) and the backend aligns start and end down
 *   with `floor((t + offset) / step) * step - offset` (`AlignTimeRange`), so 1-day steps fall on
 *   local midnights;
 * - `${__timezone}` is the dashboard's zone, the browser's IANA name when it is "browser";
 * - `${__from}` / `${__to}` are epoch milliseconds; `$timeFilter` is
 *   `time >= <from>ms and time <= <to>ms`.
 */

/** The zone's offset from UTC at unix second `t`, in seconds (Paris in winter: 3600). */
export function utcOffsetSeconds (timeZone: string, t: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    .formatToParts(new Date(t * 1000))
  const n = (type: string): number => Number(parts.find((p) => p.type === type)!.value)
  return (Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) / 1000) - t
}

/** The unix second of the local midnight that starts the day containing `t` in `timeZone`. */
export function localMidnight (timeZone: string, t: number): number {
  const offset = utcOffsetSeconds(timeZone, t)
  return Math.floor((t + offset) / 86_400) * 86_400 - offset
}

/** Grafana's alignment of a Prometheus range query (seconds). */
export function alignedRange (from: number, to: number, step: number, timeZone: string): { start: number, end: number } {
  const offset = utcOffsetSeconds(timeZone, to)
  const align = (t: number): number => Math.floor((t + offset) / step) * step - offset
  return { start: align(from), end: align(to) }
}

export interface GrafanaContext {
  /** The dashboard's range, unix seconds. */
  from: number
  to: number
  timeZone: string
  /** `$__interval` as Grafana would compute it for the panel. */
  interval: string
  /** Template variables, each with its selected values. */
  vars: Record<string, string[]>
}

/** Grafana's expansion of an InfluxQL raw query: macros, then variables (regex-escaped). */
export function expandInfluxQL (query: string, c: GrafanaContext): string {
  return query
    .replace(/\$timeFilter/g, `time >= ${c.from * 1000}ms and time <= ${c.to * 1000}ms`)
    .replace(/\$\{__from\}/g, String(c.from * 1000))
    .replace(/\$\{__to\}/g, String(c.to * 1000))
    .replace(/\$\{__timezone\}/g, c.timeZone)
    .replace(/\$__interval/g, c.interval)
    .replace(/\$(\w+)/g, (all, name: string) => {
      const values = c.vars[name]
      // Inside a regex, a multi-value variable becomes an alternation of escaped values.
      return values === undefined ? all : `(${values.map((v) => v.replace(/[\\^$.|?*+()[\]{}/]/g, '\\$&')).join('|')})`
    })
}

/** Grafana's expansion of a PromQL expression; `intervalMs` is the panel's step. */
export function expandPromQL (expr: string, c: GrafanaContext & { intervalMs: number, rateInterval: string }): string {
  return expr
    .replace(/\$__rate_interval/g, c.rateInterval)
    .replace(/\$__interval_ms/g, String(c.intervalMs))
    .replace(/\$__interval/g, c.interval)
    .replace(/\$(\w+)/g, (all, name: string) => c.vars[name] === undefined ? all : `(${c.vars[name]!.map((v) => v.replace(/[\\^$.|?*+()[\]{}]/g, '\\\\$&')).join('|')})`)
}
