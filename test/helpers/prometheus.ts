/** A real Prometheus (Debian `prometheus`) on a free loopback port. Recipe: test-servers.md §3. */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBinary } from './debian.js'
import { freePort } from './ports.js'

export interface PrometheusServer {
  url: string
  /** Instant query; resolves to the result vector. */
  query: (q: string) => Promise<Array<{ metric: Record<string, string>, value: [number, string] }>>
  /** Range query, as Grafana sends it (start, end and step in seconds). */
  queryRange: (q: string, start: number, end: number, step: number) => Promise<Array<{ metric: Record<string, string>, values: Array<[number, string]> }>>
  /** Polls a query until it returns at least one sample (first scrapes take ~6 s). */
  waitFor: (q: string, timeoutMs?: number) => Promise<Array<{ metric: Record<string, string>, value: [number, string] }>>
  stop: () => Promise<void>
}

export interface PrometheusOptions {
  /**
   * Samples to load before start-up, as an OpenMetrics text with timestamps: written into blocks
   * with `promtool tsdb create-blocks-from openmetrics`, Prometheus's own backfill, for history a
   * test cannot wait for (days of scrapes).
   */
  history?: string
}

/** Starts Prometheus with the given scrape_configs (YAML text, indented as a list). */
export async function startPrometheus (scrapeConfigs: string, opts: PrometheusOptions = {}): Promise<PrometheusServer> {
  const prometheus = ensureBinary('/usr/bin/prometheus', 'prometheus')
  const dir = mkdtempSync(join(tmpdir(), 'prom-'))
  if (opts.history !== undefined) {
    writeFileSync(join(dir, 'history.om'), opts.history)
    const r = spawnSync('/usr/bin/promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'history.om'), join(dir, 'data')], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`promtool could not load the history: ${r.stdout}${r.stderr}`)
  }
  const port = await freePort()
  const config = join(dir, 'prometheus.yml')
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n${scrapeConfigs}`)
  const check = spawnSync('/usr/bin/promtool', ['check', 'config', config], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`invalid prometheus.yml: ${check.stdout}${check.stderr}`)
  const child = spawn(prometheus, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore', cwd: dir })
  const url = `http://127.0.0.1:${port}`
  const query = async (q: string): Promise<Array<{ metric: Record<string, string>, value: [number, string] }>> => {
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)
    const json = await r.json() as { data: { result: Array<{ metric: Record<string, string>, value: [number, string] }> } }
    return json.data.result
  }
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${url}/-/ready`)).status === 200) break } catch {}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    query,
    async queryRange (q, start, end, step) {
      const params = new URLSearchParams({ query: q, start: String(start), end: String(end), step: String(step) })
      const r = await fetch(`${url}/api/v1/query_range?${params.toString()}`)
      const json = await r.json() as { status: string, error?: string, data: { result: Array<{ metric: Record<string, string>, values: Array<[number, string]> }> } }
      if (json.status !== 'success') throw new Error(`query_range failed: ${json.error ?? r.status}`)
      return json.data.result
    },
    async waitFor (q, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs
      for (;;) {
        const result = await query(q).catch(() => [])
        if (result.length > 0) return result
        if (Date.now() > until) throw new Error(`no result for ${q} within ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    },
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
