/**
 * Push cycle: N simulated meters × 300 rows × 24 registers into a real InfluxDB 1.6 on this
 * machine. The bridge's CPU is compared with InfluxDB's CPU for the same cycle.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInflux } from '../test/helpers/influxdb.js'
import { processCpuSeconds, type Figure } from './lib.js'
import { startWorker, stop } from './servers.js'

export interface CycleRow { meters: number, warm: boolean, points: number, wallS: number, bridgeCpuS: number, influxCpuS: number, maxRssMB: number, defaults?: boolean }

/**
 * The malloc and V8 heap settings of the Docker image, read from its Dockerfile so that the bench
 * measures the bridge as it is shipped, whatever the image sets (test/integration/image.test.ts
 * pins the values).
 */
const IMAGE_ENV = imageEnv(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8'))

function imageEnv (dockerfile: string): Record<string, string> {
  const malloc = /^\s+MALLOC_MMAP_THRESHOLD_=(\d+)/m.exec(dockerfile)?.[1]
  const nodeOptions = /^\s+NODE_OPTIONS="([^"]*)"/m.exec(dockerfile)?.[1]
  if (malloc === undefined || nodeOptions === undefined) throw new Error('the Dockerfile no longer sets MALLOC_MMAP_THRESHOLD_ and NODE_OPTIONS: update bench/push-cycle.ts')
  return { MALLOC_MMAP_THRESHOLD_: malloc, NODE_OPTIONS: nodeOptions }
}

async function cycle (meters: number, warm = false, env: Record<string, string> = IMAGE_ENV): Promise<CycleRow> {
  const influx = await startInflux()
  const sims = await startWorker(['sim', String(meters)])
  try {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-')), 'urls.json')
    writeFileSync(file, sims.line)
    const influxCpu0 = processCpuSeconds(influx.pid)
    const push = await startWorker(['push', file, influx.url, ...(warm ? ['--warm'] : [])], env)
    const result = JSON.parse(push.line) as { wallMs: number, cpuSeconds: number, maxRssMB: number, points: number, failed: number }
    if (push.child.exitCode === null) await once(push.child, 'exit')
    if (result.failed > 0) throw new Error(`${result.failed} meters failed in the push benchmark`)
    return { meters, warm, ...(env === IMAGE_ENV ? {} : { defaults: true }), points: result.points, wallS: result.wallMs / 1000, bridgeCpuS: result.cpuSeconds, influxCpuS: processCpuSeconds(influx.pid) - influxCpu0, maxRssMB: result.maxRssMB }
  } finally {
    await stop(sims.child)
    await influx.stop()
  }
}

export async function pushBench (quick: boolean, sizes?: number[]): Promise<{ figures: Figure[], sweep: CycleRow[] }> {
  const sweep: CycleRow[] = []
  for (const meters of sizes ?? (quick ? [1, 10, 50] : [1, 10, 100, 200, 1000, 5000])) sweep.push(await cycle(meters))
  const size = quick ? 50 : 200
  const cold = sweep.find((r) => r.meters === size) ?? await cycle(size)
  const warm = await cycle(size, true)
  sweep.push(warm)
  // The image's heap settings trade CPU for memory (README "Performance"): the same cycle with
  // Node's defaults, as `node dist/cli.js` runs without them.
  const warmDefaults = await cycle(size, true, {})
  sweep.push(warmDefaults)
  // The same 1000 meters with glibc's and V8's defaults (bare Node without the image's settings).
  const plain = sizes === undefined || sizes.includes(1000) ? await cycle(1000, false, {}) : undefined
  if (plain !== undefined) sweep.push(plain)
  const share = (r: CycleRow): number => r.bridgeCpuS / r.influxCpuS
  return {
    sweep,
    figures: [
      { name: `push cycle, ${size} meters × 300 rows × 24 registers (${cold.points} points), wall time`, value: cold.wallS, unit: 's', target: '< 150 s (half the 5 min interval)', met: cold.wallS < 150 },
      { name: 'same, bridge CPU vs InfluxDB CPU, a cycle of a running bridge (the image\'s heap settings)', value: warm.bridgeCpuS, unit: 'CPU s', baseline: warm.influxCpuS, baselineName: 'influxd', ratio: share(warm), target: '≤ 0.25×', met: share(warm) <= 0.25 },
      { name: 'same, with Node\'s defaults (no NODE_OPTIONS)', value: warmDefaults.bridgeCpuS, unit: 'CPU s', baseline: warmDefaults.influxCpuS, baselineName: 'influxd', ratio: share(warmDefaults), target: '≤ 0.25×', met: share(warmDefaults) <= 0.25 },
      { name: 'same, the first cycle after start-up (loading modules, compiling)', value: cold.bridgeCpuS, unit: 'CPU s', baseline: cold.influxCpuS, baselineName: 'influxd', ratio: share(cold) },
      { name: 'same, bridge peak RSS', value: Math.max(cold.maxRssMB, warm.maxRssMB), unit: 'MB', target: '≤ 200 MB', met: Math.max(cold.maxRssMB, warm.maxRssMB) <= 200 },
      // Memory must not grow with the number of meters beyond what push.concurrency holds in flight.
      ...[1000, 5000].flatMap((n) => {
        const r = sweep.find((x) => x.meters === n && !x.warm && x.defaults !== true)
        return r === undefined ? [] : [{ name: `push cycle, ${n} meters (${r.points} points): bridge peak RSS (wall ${r.wallS.toFixed(1)} s, CPU ${r.bridgeCpuS.toFixed(1)} s vs influxd ${r.influxCpuS.toFixed(1)} s)`, value: r.maxRssMB, unit: 'MB', target: '≤ 150 MB', met: r.maxRssMB <= 150 }]
      }),
      ...(plain === undefined ? [] : [{ name: `push cycle, 1000 meters: bridge peak RSS with glibc's and V8's defaults (not the image's MALLOC_MMAP_THRESHOLD_ and NODE_OPTIONS; CPU ${plain.bridgeCpuS.toFixed(1)} s)`, value: plain.maxRssMB, unit: 'MB' }])
    ]
  }
}
