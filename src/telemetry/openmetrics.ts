/**
 * The bridge's own metrics in OpenMetrics 1.0 text, from prom-client's JSON. prom-client writes
 * OpenMetrics only from a registry whose content type is fixed to it, and renames the counters
 * of the registry it renders (their `_total` is cut off for good); the bridge offers both formats
 * from one registry, so it writes OpenMetrics here. Pure.
 */
import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client'

/** Label values: backslash, double quote and newline escaped (OpenMetrics 1.0, "ABNF"). */
function labelValue (v: string | number): string {
  return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function number (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

function sample (name: string, labels: Record<string, string | number | undefined>, value: number): string {
  const pairs = Object.entries(labels).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${labelValue(v!)}"`)
  return `${name}${pairs.length === 0 ? '' : `{${pairs.join(',')}}`} ${number(value)}`
}

export function openMetricsText (families: Array<MetricObjectWithValues<MetricValue<string> | MetricValueWithName<string>>>): string {
  const out: string[] = []
  for (const f of families) {
    const type = String(f.type)
    // A counter's family has no `_total`; its samples do.
    const family = type === 'counter' ? f.name.replace(/_total$/, '') : f.name
    out.push(`# HELP ${family} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}`)
    out.push(`# TYPE ${family} ${type}`)
    for (const v of f.values) {
      const name = type === 'counter' ? `${family}_total` : (v as MetricValueWithName<string>).metricName ?? family
      out.push(sample(name, v.labels as Record<string, string | number | undefined>, v.value))
    }
  }
  return out.join('\n') + '\n# EOF\n'
}
