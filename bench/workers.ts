/**
 * Child processes for the benchmarks, so a server's CPU and memory are its own:
 *   sim N              N simulated meters; prints their URLs as JSON
 *   bridge TTL URL     the bridge app (cache_ttl TTL) for one meter at URL; prints its URL
 *   bare BYTES         a bare Fastify route answering a constant body of BYTES bytes
 *   push URLS_FILE INFLUX_URL [--warm]   one push cycle (after a one-meter warm-up cycle with
 *                      --warm); prints wall time, CPU and peak RSS as JSON
 *   cycles URLS_FILE INFLUX_URL N   N + 1 push cycles of one running bridge, each of the last
 *                      5 minutes (the checkpoints are dropped in between); prints each cycle's CPU
 *   receive N INFLUX_URL   a bridge receiving the pushes of N meters (m0…, user m<i>); prints its URL
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { createBridge, type Bridge } from '../src/bridge/bridge.js'
import { validateConfig } from '../src/config/schema.js'
import { Simulator } from '../src/simulator/server.js'
import { silentLogger } from '../src/telemetry/logger.js'
import { RECEIVE_PASSWORD } from './lib.js'

const [mode, a, b, c] = process.argv.slice(2)

if (mode === 'sim') {
  const urls: string[] = []
  for (let i = 0; i < Number(a); i++) urls.push(await new Simulator({ seed: i + 1 }).listen())
  process.stdout.write(JSON.stringify(urls) + '\n')
} else if (mode === 'bridge') {
  const config = validateConfig({ server: { cache_ttl: a }, sensors: [{ name: 'demo', url: b }] })
  const bridge = createBridge({ config })
  process.stdout.write(await bridge.listen('127.0.0.1', 0) + '\n')
} else if (mode === 'receive') {
  // As `serve` runs it, process metrics on; every sensor only pushes.
  const config = validateConfig({
    sensors: Array.from({ length: Number(a) }, (_, i) => ({ name: `m${i}`, receive: { username: `m${i}`, password: RECEIVE_PASSWORD } })),
    influx: { url: b, database: 'receive' },
    push: { state_file: join(mkdtempSync(join(tmpdir(), 'bench-')), 'state.json') }
  })
  const bridge = createBridge({ config, log: silentLogger })
  process.stdout.write(await bridge.listen('127.0.0.1', 0) + '\n')
} else if (mode === 'bare') {
  const body = 'x'.repeat(Number(a))
  const app = Fastify()
  app.get('/metrics/demo', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(body))
  process.stdout.write(await app.listen({ host: '127.0.0.1', port: 0 }) + '\n')
} else if (mode === 'push') {
  const urls = JSON.parse(readFileSync(a!, 'utf8')) as string[]
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-'))
  const pushBridge = (sensors: string[], database: string): Bridge => createBridge({
    config: validateConfig({
      sensors: sensors.map((url, i) => ({ name: `m${i}`, url, timeout: '30s' })),
      influx: { url: b, database, batch_size: 5000 },
      push: { interval: '5m', step: '1s', concurrency: 8, state_file: join(stateDir, `${database}.json`) }
    }),
    processMetrics: false,
    log: silentLogger
  })
  if (process.argv.includes('--warm')) {
    // A bridge running --push has done cycles before: modules are loaded and hot code compiled.
    // One cycle for one meter, into another database, gets this process there.
    const warmup = pushBridge(urls.slice(0, 1), 'warmup')
    await warmup.pushLoop().runCycle()
    await warmup.close()
  }
  const bridge = pushBridge(urls, 'bench')
  const loop = bridge.pushLoop()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const results = await loop.runCycle()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(JSON.stringify({
    wallMs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    points: results.reduce((n, r) => n + r.points, 0),
    failed: results.filter((r) => !r.ok).length
  }) + '\n')
  await bridge.close()
  process.exit(0)
} else if (mode === 'cycles') {
  // A running bridge as `serve --push` makes it: process metrics on, one writer and one client per
  // meter kept from cycle to cycle.
  const urls = JSON.parse(readFileSync(a!, 'utf8')) as string[]
  const bridge = createBridge({
    config: validateConfig({
      sensors: urls.map((url, i) => ({ name: `m${i}`, url })),
      influx: { url: b, database: 'cycles' },
      push: { interval: '5m', state_file: join(mkdtempSync(join(tmpdir(), 'bench-')), 'state.json') }
    }),
    log: silentLogger
  })
  const loop = bridge.pushLoop()
  const cpuSeconds: number[] = []
  let points = 0
  for (let i = 0; i <= Number(c); i++) {
    // Each cycle pushes the last 5 minutes again. Without a checkpoint, push would resume from
    // the newest point in the database (README "Reliability") and find nothing to do.
    const from = Math.floor(Date.now() / 1000) - 300
    for (const s of loop.sensors()) {
      bridge.store().delete(s.name)
      bridge.store().set(s.name, from)
    }
    const cpu0 = process.cpuUsage()
    const results = await loop.runCycle()
    const cpu = process.cpuUsage(cpu0)
    cpuSeconds.push((cpu.user + cpu.system) / 1e6)
    points = results.reduce((n, r) => n + r.points, 0)
    if (results.some((r) => !r.ok)) throw new Error('a push cycle failed in the benchmark')
  }
  process.stdout.write(JSON.stringify({ cpuSeconds, points }) + '\n')
  await bridge.close()
  process.exit(0)
}
