/** A real VictoriaMetrics (Debian `victoria-metrics`) on a free loopback port. Recipe: test-servers.md §2. */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBinary } from './debian.js'
import { freePort } from './ports.js'

export interface VictoriaServer {
  url: string
  /** Raw samples of the series matching `match`, after a flush. */
  export: (match: string) => Promise<Array<{ metric: Record<string, string>, values: number[], timestamps: number[] }>>
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
    async export (match) {
      await fetch(`${url}/internal/force_flush`)
      const text = await (await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match }).toString()}`)).text()
      return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
    },
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
