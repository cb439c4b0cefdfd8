/** A real VictoriaMetrics (Debian `victoria-metrics`) on a free loopback port. Recipe: test-servers.md §2. */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBinary } from './debian.js'
import { freePort } from './ports.js'

export interface VictoriaSeries { metric: Record<string, string>, values: number[], timestamps: number[] }

export interface VictoriaServer {
  url: string
  /**
   * Raw samples of the series matching `match`, after a flush. With `settled`, asked again until
   * it holds or 10 s have passed: under load, rows VictoriaMetrics acknowledged (v2 writes
   * especially) were seen to become searchable only after the first flush. The last answer is
   * returned either way, for the test to assert on.
   */
  export: (match: string, settled?: (series: VictoriaSeries[]) => boolean) => Promise<VictoriaSeries[]>
  stop: () => Promise<void>
}

export async function startVictoria (): Promise<VictoriaServer> {
  const binary = ensureBinary('/usr/bin/victoria-metrics', 'victoria-metrics')
  const dir = mkdtempSync(join(tmpdir(), 'vm-'))
  const port = await freePort()
  // Dedup makes a re-sent point overwrite, as InfluxDB does: the bridge delivers at least once.
  const child = spawn(binary, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${join(dir, 'data')}`, '-retentionPeriod=100y',
    '-search.latencyOffset=0s', '-search.disableCache', '-dedup.minScrapeInterval=1ms', '-loggerLevel=WARN'], { stdio: 'ignore', cwd: dir })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${url}/health`)).status === 200) break } catch {}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    async export (match, settled) {
      const deadline = performance.now() + 10_000
      for (;;) {
        await fetch(`${url}/internal/force_flush`)
        const text = await (await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match }).toString()}`)).text()
        const series = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as VictoriaSeries)
        if (settled === undefined || settled(series) || performance.now() > deadline) return series
        await new Promise((resolve) => setTimeout(resolve, 100))
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
