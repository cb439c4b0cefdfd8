/**
 * The cost of a bridge that mostly waits (issue "quiet when idle"): CPU per second while idle,
 * beside a bare Node process and an idle Fastify server measured at the same time; the cost of
 * one warm push cycle at 1, 10 and 50 meters beside InfluxDB's for the same points; the cost per
 * 5-minute interval (cycle + idle); start-up; idle RSS. The bridge runs as users run it: the
 * built binary (dist/cli.js), default process metrics on, scraped every 15 s over keep-alive.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Pool } from 'undici'
import { startInflux } from '../test/helpers/influxdb.js'
import { percentile, processCpuSeconds, type Figure } from './lib.js'
import { startWorker, stop } from './servers.js'

const cli = join(process.cwd(), 'dist', 'cli.js')
const SCRAPE_EVERY_MS = 15_000
const SETTLE_MS = 30_000

/**
 * CPU time of a process, all its threads (V8's compiler and GC threads, libuv's pool), in ms, at
 * nanosecond resolution: /proc/<pid>/stat counts in 10 ms ticks, too coarse for 0.5 ms/s.
 */
export function cpuMs (pid: number): number {
  let ns = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    } catch {} // a thread that ended meanwhile
  }
  return ns / 1e6
}

function rssMB (pid: number): number {
  const kB = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kB) / 1024
}

interface Started { child: ChildProcess, lines: AsyncIterableIterator<string> }

function startProcess (args: string[]): Started {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() }
}

/** Reads log lines until one whose `msg` is `msg`; returns it parsed. */
async function untilLog (p: Started, msg: string): Promise<Record<string, unknown>> {
  for (;;) {
    const next = await p.lines.next()
    if (next.done === true) throw new Error(`process exited before logging "${msg}"`)
    try {
      const entry = JSON.parse(next.value) as Record<string, unknown>
      if (entry.msg === msg) return entry
    } catch {}
  }
}

function yaml (sensors: string[], influx?: string, stateDir?: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'bench-idle-')), 'bridge.yaml')
  let text = 'server:\n  listen: 127.0.0.1:0\nsensors:\n' + sensors.map((url, i) => `  - name: m${i}\n    url: ${url}\n`).join('')
  if (influx !== undefined) text += `influx:\n  url: ${influx}\n  database: idle\npush:\n  interval: 5m\n  state_file: ${stateDir}/state.json\n`
  writeFileSync(file, text)
  return file
}

interface IdleRow { name: string, msPerS: number, rssMB: number }

/**
 * Idle CPU of several processes over the same window, each scraped every 15 s at `path` (when
 * given) over one keep-alive connection, as Prometheus does.
 */
async function idleTogether (subjects: Array<{ name: string, pid: number, url?: string }>, seconds: number): Promise<IdleRow[]> {
  const pools = subjects.map((s) => s.url === undefined ? undefined : { pool: new Pool(new URL(s.url).origin, { connections: 1 }), path: new URL(s.url).pathname })
  const scrape = async (): Promise<void> => {
    await Promise.all(pools.map(async (p) => {
      if (p === undefined) return
      const res = await p.pool.request({ path: p.path, method: 'GET' })
      await res.body.dump()
    }))
  }
  // The first scrapes compile the route and the collectors, and a process that just started still
  // has V8's lazy compilation and heap sizing to finish: neither is idle work.
  for (let i = 0; i < 5; i++) await scrape()
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  const start = subjects.map((s) => cpuMs(s.pid))
  const t0 = performance.now()
  const timer = setInterval(() => { scrape().catch(() => {}) }, SCRAPE_EVERY_MS)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  clearInterval(timer)
  const elapsedS = (performance.now() - t0) / 1000
  const rows = subjects.map((s, i) => ({ name: s.name, msPerS: (cpuMs(s.pid) - start[i]!) / elapsedS, rssMB: rssMB(s.pid) }))
  await Promise.all(pools.map(async (p) => await p?.pool.close()))
  return rows
}

export interface CycleCost { meters: number, points: number, bridgeCpuS: number, influxCpuS: number }

/** Warm push cycles (the first of a running bridge is discarded): the median CPU of one. */
async function cycleCost (meters: number, cycles: number): Promise<CycleCost> {
  const influx = await startInflux()
  const sims = await startWorker(['sim', String(meters)])
  try {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-')), 'urls.json')
    writeFileSync(file, sims.line)
    const influx0 = processCpuSeconds(influx.pid)
    const w = await startWorker(['cycles', file, influx.url, String(cycles)])
    const r = JSON.parse(w.line) as { cpuSeconds: number[], points: number }
    if (w.child.exitCode === null) await once(w.child, 'exit')
    // A cycle that writes nothing measures nothing (it once did, unnoticed, after push learned to resume from the database).
    if (r.points < meters * 300 * 26) throw new Error(`the push cycles wrote ${r.points} points, fewer than ${meters} meters × 300 s × 26 registers`)
    return { meters, points: r.points, bridgeCpuS: percentile(r.cpuSeconds.slice(1), 50), influxCpuS: (processCpuSeconds(influx.pid) - influx0) / (cycles + 1) }
  } finally {
    await stop(sims.child)
    await influx.stop()
  }
}

/** A Fastify server that listens and nothing else: the floor of any Fastify server's start-up. */
const FASTIFY_LISTENS = "import Fastify from 'fastify'; const address = await Fastify().listen({ host: '127.0.0.1', port: 0 }); console.log(JSON.stringify({ msg: 'listening', address }))"
const NODE_STARTS = "console.log(JSON.stringify({ msg: 'listening' })); setInterval(() => {}, 60000)"

interface StartupCosts { serveCpuMs: number, fastifyCpuMs: number, nodeCpuMs: number, onceWallMs: number, nodeWallMs: number }

/** CPU (all threads) of a process from its start to the log line `msg`; the process is stopped. */
async function cpuUntil (args: string[], msg: string): Promise<number> {
  const p = startProcess(args)
  await untilLog(p, msg)
  const ms = cpuMs(p.child.pid!)
  await stop(p.child)
  return ms
}

async function wallMs (args: string[]): Promise<number> {
  const t0 = performance.now()
  await once(spawn(process.execPath, args, { stdio: 'ignore' }), 'exit')
  return performance.now() - t0
}

/**
 * Start-up, median of 5 each, beside what Node and Fastify alone cost in the same run: CPU until
 * `serve` listens (config loaded), wall time of `once` for one meter. On Node ≥ 22.1 the first
 * run fills the compile cache (cli.ts), as a user's first run does.
 */
async function startupCosts (meter: string): Promise<StartupCosts> {
  const config = yaml([meter])
  const runs = async (measure: () => Promise<number>): Promise<number> => {
    const values: number[] = []
    for (let i = 0; i < 5; i++) values.push(await measure())
    return percentile(values, 50)
  }
  return {
    serveCpuMs: await runs(async () => await cpuUntil([cli, 'serve', '--config', config], 'egauge-bridge listening')),
    fastifyCpuMs: await runs(async () => await cpuUntil(['--input-type=module', '-e', FASTIFY_LISTENS], 'listening')),
    nodeCpuMs: await runs(async () => await cpuUntil(['-e', NODE_STARTS], 'listening')),
    onceWallMs: await runs(async () => await wallMs([cli, 'once', 'm0', '--config', config])),
    nodeWallMs: await runs(async () => await wallMs(['-e', '0']))
  }
}

export async function idleBench (quick: boolean): Promise<{ figures: Figure[], idle: IdleRow[], cycles: CycleCost[], startup: StartupCosts }> {
  const seconds = quick ? 20 : 60
  const sim = await startWorker(['sim', '1'])
  const meter = (JSON.parse(sim.line) as string[])[0]!
  const influx = await startInflux()
  const started: ChildProcess[] = []
  try {
    const startup = await startupCosts(meter)

    // Idle, side by side: a bare Node process with a timer, an idle Fastify route, serve, --push.
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 300000)'], { stdio: 'ignore' })
    started.push(bare)
    const fastify = await startWorker(['bare', '12000'])
    started.push(fastify.child)
    const serve = startProcess([cli, 'serve', '--config', yaml([meter])])
    started.push(serve.child)
    const serveUrl = (await untilLog(serve, 'egauge-bridge listening')).address as string
    const push = startProcess([cli, 'serve', '--push', '--config', yaml([meter], influx.url, mkdtempSync(join(tmpdir(), 'bench-state-')))])
    started.push(push.child)
    const pushUrl = (await untilLog(push, 'egauge-bridge listening')).address as string
    await untilLog(push, 'push cycle done')
    // Cycles run on the 5-minute boundaries of the clock: when the next one would fall inside the
    // window, wait for it to finish, so that the window holds no cycle.
    const untilBoundary = 300_000 - Date.now() % 300_000
    if (untilBoundary < SETTLE_MS + seconds * 1000 + 15_000) await untilLog(push, 'push cycle done')
    const idle = await idleTogether([
      { name: 'bare Node process with a timer', pid: bare.pid! },
      { name: 'idle Fastify server, scraped every 15 s', pid: fastify.child.pid!, url: fastify.line + '/metrics/demo' },
      { name: 'bridge serve, 1 sensor, /metrics scraped every 15 s', pid: serve.child.pid!, url: serveUrl + '/metrics' },
      { name: 'bridge --push between cycles, /metrics scraped every 15 s', pid: push.child.pid!, url: pushUrl + '/metrics' }
    ], seconds)

    const cycles: CycleCost[] = []
    for (const meters of [1, 10, 50]) cycles.push(await cycleCost(meters, quick ? 3 : 5))

    const pushIdle = idle[3]!
    const serveIdle = idle[2]!
    const perInterval = (c: CycleCost): number => c.bridgeCpuS + pushIdle.msPerS * 300 / 1000
    const target: Record<number, number> = { 1: 0.2, 50: 1.2 }
    const figures: Figure[] = [
      { name: `idle CPU, bridge serve (${seconds} s, beside a bare Node process)`, value: serveIdle.msPerS, unit: 'ms/s', baseline: idle[0]!.msPerS, baselineName: 'bare Node', target: '≤ 0.5 ms/s', met: serveIdle.msPerS <= 0.5 },
      { name: 'idle CPU, bridge serve vs an idle Fastify server, both scraped', value: serveIdle.msPerS, unit: 'ms/s', baseline: idle[1]!.msPerS, baselineName: 'Fastify', ratio: serveIdle.msPerS / idle[1]!.msPerS },
      { name: 'idle CPU, bridge --push between cycles', value: pushIdle.msPerS, unit: 'ms/s', baseline: idle[0]!.msPerS, baselineName: 'bare Node', target: '≤ 0.5 ms/s', met: pushIdle.msPerS <= 0.5 },
      { name: 'idle RSS, bridge serve', value: serveIdle.rssMB, unit: 'MB', baseline: idle[0]!.rssMB, baselineName: 'bare Node', ratio: serveIdle.rssMB / idle[0]!.rssMB },
      ...cycles.map((c): Figure => ({ name: `one warm push cycle, ${c.meters} meter${c.meters > 1 ? 's' : ''} (${c.points} points)`, value: c.bridgeCpuS, unit: 'CPU s', baseline: c.influxCpuS, baselineName: 'influxd', ratio: c.bridgeCpuS / c.influxCpuS, ...(c.meters === 1 ? { target: '≤ 0.02 CPU s', met: c.bridgeCpuS <= 0.02 } : {}) })),
      ...cycles.map((c): Figure => ({ name: `per 5-minute interval (cycle + idle), ${c.meters} meter${c.meters > 1 ? 's' : ''}`, value: perInterval(c), unit: 'CPU s', ...(target[c.meters] === undefined ? {} : { target: `≤ ${target[c.meters]} CPU s`, met: perInterval(c) <= target[c.meters]! }) })),
      { name: 'start-up: serve ready (config loaded, listening), CPU, beside a bare Fastify server listening', value: startup.serveCpuMs, unit: 'ms', baseline: startup.fastifyCpuMs, baselineName: 'Fastify', ratio: startup.serveCpuMs / startup.fastifyCpuMs, target: '< 150 ms', met: startup.serveCpuMs < 150 },
      { name: 'start-up: a bare Node process, CPU to its first line', value: startup.nodeCpuMs, unit: 'ms' },
      { name: 'start-up: once for one meter, wall, beside node -e 0', value: startup.onceWallMs, unit: 'ms', baseline: startup.nodeWallMs, baselineName: 'node -e 0', ratio: startup.onceWallMs / startup.nodeWallMs, target: '< 250 ms', met: startup.onceWallMs < 250 }
    ]
    return { figures, idle, cycles, startup }
  } finally {
    for (const c of started) await stop(c)
    await influx.stop()
    await stop(sim.child)
  }
}
