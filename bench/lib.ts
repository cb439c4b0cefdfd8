/** Small helpers shared by the benchmarks: timing, percentiles, process CPU, the results table. */
import { readFileSync } from 'node:fs'

/** The password every meter of the receive benchmark pushes with (bench/receive.ts, workers.ts). */
export const RECEIVE_PASSWORD = 'bench-receive-secret'

export interface Figure {
  /** What is measured. */
  name: string
  value: number
  unit: string
  /** The same work done by the baseline in the same run, when there is one. */
  baseline?: number
  baselineName?: string
  /** value / baseline, or a ratio the target is about. */
  ratio?: number
  target?: string
  met?: boolean
}

/**
 * Runs fn repeatedly for about `ms` and returns the median time per run, in ms. Warms up first for
 * `warmup` runs and at least a fifth of `ms`, so the optimising compiler has finished with fn.
 */
export function timeIt (fn: () => unknown, ms = 1500, warmup = 3): number {
  // Start from a clean heap, so what earlier set-up left behind is not collected on fn's time
  // (npm run bench exposes gc).
  global.gc?.()
  const warm = performance.now() + ms / 5
  for (let i = 0; i < warmup || performance.now() < warm; i++) fn()
  const samples: number[] = []
  const until = performance.now() + ms
  while (performance.now() < until || samples.length < 5) {
    const t0 = performance.now()
    fn()
    samples.push(performance.now() - t0)
  }
  return percentile(samples, 50)
}

export async function timeAsync (fn: () => Promise<unknown>, ms = 1500, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn()
  const samples: number[] = []
  const until = performance.now() + ms
  while (performance.now() < until || samples.length < 5) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return percentile(samples, 50)
}

export function percentile (values: number[], p: number): number {
  const sorted = values.slice().sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function processCpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime in clock ticks (USER_HZ = 100)
}

export function fmt (x: number): string {
  if (!Number.isFinite(x)) return '—'
  if (Math.abs(x) >= 1e6) return `${(x / 1e6).toFixed(2)} M`
  if (Math.abs(x) >= 1e4) return `${(x / 1e3).toFixed(1)} k`
  if (Math.abs(x) >= 100) return x.toFixed(0)
  if (Math.abs(x) >= 1) return x.toFixed(2)
  return x.toPrecision(3)
}

/** The results table, as Markdown (the README shows it as printed). */
export function table (figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.baseline === undefined ? '—' : `${fmt(f.baseline)} ${f.unit} (${f.baselineName ?? 'baseline'})`,
    f.ratio === undefined ? '—' : `${f.ratio.toFixed(2)}×`,
    f.target ?? '—',
    f.met === undefined ? '—' : f.met ? 'yes' : '**no**'
  ])
  const head = ['figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |'
  return [line(head), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...rows.map(line)].join('\n')
}
