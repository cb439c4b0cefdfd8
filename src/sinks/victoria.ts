/**
 * VictoriaMetrics takes InfluxDB writes (v1 `/write`, v2 `/api/v2/write`) but answers InfluxQL
 * with a stub and has no Flux: where a sensor's newest point is, it says through its Prometheus
 * query API. There, line protocol `m,tags f=…` is the series `m_f` with the tags as labels and
 * label `db` the v1 database (v2 writes get none: a bucket is not a label there).
 */
import type { SeriesKey } from './writer.js'

/** The PromQL (MetricsQL) path asking for the newest sample time of a series since `since`. */
export function newestQueryPath (series: SeriesKey, database: string, since: number, now: number): string {
  const labels = [
    `__name__=~"${promString(escapeRegex(series.measurement))}_.+"`,
    `db=~"${promString(`|${escapeRegex(database)}`)}"`,
    ...Object.entries(series.tags).map(([k, v]) => `${k}="${promString(v)}"`)
  ]
  const query = `max(tlast_over_time({${labels.join(',')}}[${Math.max(1, now - since)}s]))`
  return `/api/v1/query?${new URLSearchParams({ query }).toString()}`
}

/** The time in that query's answer, or undefined when there is none. */
export function newestFromAnswer (text: string): number | undefined {
  const value = (JSON.parse(text) as { data?: { result?: Array<{ value?: [number, string] }> } }).data?.result?.[0]?.value?.[1]
  return value === undefined ? undefined : Math.floor(Number(value))
}

/** A PromQL double-quoted string's content. */
function promString (text: string): string {
  return text.replace(/["\\]/g, '\\$&')
}

/** RE2 metacharacters escaped. */
function escapeRegex (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
