/** Pull server: throughput cached vs a bare route, and latency uncached at a fixed rate. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Pool } from 'undici'
import { ensureBinary } from '../test/helpers/debian.js'
import { percentile, type Figure } from './lib.js'

const worker = new URL('./workers.js', import.meta.url).pathname

/** Starts a worker and resolves with the first line it prints. */
export async function startWorker (args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess, line: string }> {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  // The first line, however many chunks it arrives in (5000 meters' URLs are over 64 kB).
  let text = ''
  while (!text.includes('\n')) {
    const [data] = await once(child.stdout!, 'data') as [Buffer]
    text += data.toString()
  }
  return { child, line: text.slice(0, text.indexOf('\n')).trim() }
}

export async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

/** wrk's requests/s and latency percentiles for one URL. */
function wrk (url: string, seconds: number): { rps: number, p50: number, p99: number } {
  const bin = ensureBinary('/usr/bin/wrk', 'wrk')
  const r = spawnSync(bin, ['-t2', '-c16', `-d${seconds}s`, '--latency', url], { encoding: 'utf8' })
  const ms = (label: string): number => {
    const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout)
    if (m === null) return Number.NaN
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1)
  }
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]), p50: ms('50%'), p99: ms('99%') }
}

/** Latencies of requests sent at a fixed rate, whatever the answers' speed (no coordinated omission). */
async function fixedRate (url: string, perSecond: number, seconds: number): Promise<number[]> {
  const u = new URL(url)
  const pool = new Pool(u.origin, { connections: 64 })
  const latencies: number[] = []
  const pending: Array<Promise<void>> = []
  const start = performance.now()
  for (let i = 0; i < perSecond * seconds; i++) {
    const due = start + (i * 1000) / perSecond
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    pending.push(pool.request({ path: u.pathname + u.search, method: 'GET' }).then(async (res) => {
      await res.body.dump()
      latencies.push(performance.now() - due)
    }))
  }
  await Promise.all(pending)
  await pool.close()
  return latencies
}

export async function serverBench (quick: boolean): Promise<Figure[]> {
  const seconds = quick ? 3 : 8
  const sim = await startWorker(['sim', '1'])
  const meter = (JSON.parse(sim.line) as string[])[0]!
  const cached = await startWorker(['bridge', '1h', meter])
  const uncached = await startWorker(['bridge', '0s', meter])
  const path = '/metrics/demo?format=prometheus'
  try {
    const body = await (await fetch(cached.line + path)).text()
    const bare = await startWorker(['bare', String(Buffer.byteLength(body))])
    try {
      const b = wrk(bare.line + '/metrics/demo', seconds)
      const c = wrk(cached.line + path, seconds)
      // The load generator is this process: collect what earlier benchmarks left (the conversion
      // sweep's 200 MB documents), or its own GC pauses show up as the bridge's tail latency.
      global.gc?.()
      const lat = await fixedRate(uncached.line + path, 200, seconds)
      const p50 = percentile(lat, 50)
      const p99 = percentile(lat, 99)
      return [
        { name: `/metrics/:sensor cached (Prometheus text, 24 registers, ${Buffer.byteLength(body)} B), wrk -c16`, value: c.rps, unit: 'req/s', baseline: b.rps, baselineName: 'bare Fastify route, same body', ratio: c.rps / b.rps, target: '≥ 50% of bare', met: c.rps / b.rps >= 0.5 },
        { name: 'same, cached p50 / p99 latency', value: c.p99, unit: 'ms p99', baseline: b.p99, baselineName: 'bare p99', ratio: c.p99 / b.p99 },
        { name: 'uncached (meter fetched and parsed per request) at 200 req/s, p50', value: p50, unit: 'ms' },
        { name: 'uncached at 200 req/s, p99', value: p99, unit: 'ms', target: '< 20 ms', met: p99 < 20 }
      ]
    } finally {
      await stop(bare.child)
    }
  } finally {
    await stop(cached.child)
    await stop(uncached.child)
    await stop(sim.child)
  }
}
