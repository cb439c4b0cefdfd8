/**
 * Meters that push: N simulated meters each POST one minute of 1-second rows (60 rows × 24
 * registers, gzip, chunked, a new connection each, as a meter sends them) to a bridge process
 * that writes them into a real InfluxDB 1.6. The bridge's CPU is compared with InfluxDB's for
 * the same points, as for the push cycle. Two loads: every meter's push at once (capacity), and
 * the pushes spread over their minute, as meters send them (latency, no coordinated omission).
 */
import { readFileSync } from 'node:fs'
import { startInflux } from '../test/helpers/influxdb.js'
import { meterModel } from '../src/simulator/data.js'
import { Pusher } from '../src/simulator/pusher.js'
import { percentile, processCpuSeconds, RECEIVE_PASSWORD, type Figure } from './lib.js'
import { startWorker, stop } from './servers.js'

const T0 = 1_700_000_040_000
const MINUTE = 60_000

export interface ReceiveRow { meters: number, pushes: number, points: number, wallS: number, bridgeCpuS: number, influxCpuS: number, p50Ms: number, p99Ms: number, maxRssMB: number }

function peakRssMB (pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024
}

/** Runs `jobs` at most `limit` at a time; resolves with each one's latency in ms from `due(i)`. */
async function run (count: number, limit: number, job: (i: number) => Promise<void>, due: (i: number) => number = () => performance.now()): Promise<number[]> {
  const latencies: number[] = []
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const at = due(i)
      const wait = at - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      await job(i)
      latencies.push(performance.now() - at)
    }
  }
  await Promise.all(Array.from({ length: limit }, lane))
  return latencies
}

async function measure (meters: number, spreadMs: number): Promise<ReceiveRow> {
  const influx = await startInflux()
  const bridge = await startWorker(['receive', String(meters), influx.url])
  const pid = bridge.child.pid!
  try {
    let now = T0
    const pushers = Array.from({ length: meters }, (_, i) => new Pusher(meterModel(i + 1), {
      url: `${bridge.line}/receive/m${i}`, intervalMs: MINUTE, gzip: true, max: 900, clock: () => now, auth: { username: `m${i}`, password: RECEIVE_PASSWORD }
    }))
    const push = async (i: number): Promise<void> => {
      const outcome = await pushers[i]!.pushOnce()
      if (outcome.status !== 200) throw new Error(`push of m${i}: ${outcome.status ?? outcome.error}`)
    }
    // Each meter's first push, not measured: the bridge warms up, and every later push is joined
    // to the previous one (60 rows, 60 points per register), as in steady operation.
    await run(meters, 32, push)
    now += MINUTE
    const cpu0 = processCpuSeconds(pid)
    const influx0 = processCpuSeconds(influx.pid)
    const t0 = performance.now()
    const start = performance.now()
    const latencies = await run(meters, spreadMs === 0 ? 64 : meters, push, spreadMs === 0 ? undefined : (i) => start + (i * spreadMs) / meters)
    const wallS = (performance.now() - t0) / 1000
    // InfluxDB's CPU settles after its last answer (its WAL flush): a moment for the tick to land.
    await new Promise((resolve) => setTimeout(resolve, 200))
    return {
      meters,
      pushes: meters,
      points: meters * 60 * 24,
      wallS,
      bridgeCpuS: processCpuSeconds(pid) - cpu0,
      influxCpuS: processCpuSeconds(influx.pid) - influx0,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxRssMB: peakRssMB(pid)
    }
  } finally {
    await stop(bridge.child)
    await influx.stop()
  }
}

export async function receiveBench (quick: boolean): Promise<{ figures: Figure[], sweep: ReceiveRow[] }> {
  const size = quick ? 200 : 1000
  const sweep: ReceiveRow[] = []
  for (const meters of quick ? [10, 200] : [10, 100, 1000]) sweep.push(await measure(meters, 0))
  const burst = sweep.find((r) => r.meters === size)!
  // As meters push: spread over their interval (quick: 10 s instead of the minute).
  const steady = await measure(size, quick ? 10_000 : MINUTE)
  const share = (r: ReceiveRow): number => r.bridgeCpuS / r.influxCpuS
  return {
    sweep: [...sweep, steady],
    figures: [
      { name: `receive, ${size} meters pushing 60 rows × 24 registers at once (${burst.points} points), bridge CPU vs InfluxDB CPU`, value: burst.bridgeCpuS, unit: 'CPU s', baseline: burst.influxCpuS, baselineName: 'influxd', ratio: share(burst), target: '≤ 0.5×', met: share(burst) <= 0.5 },
      { name: 'same, bridge CPU per push', value: burst.bridgeCpuS * 1000 / burst.pushes, unit: 'ms' },
      { name: 'same, wall time (capacity: pushes per second)', value: burst.pushes / burst.wallS, unit: 'pushes/s', target: `≥ ${Math.ceil(size / 60)} (${size} meters a minute)`, met: burst.pushes / burst.wallS >= size / 60 },
      { name: `receive, ${size} meters spread over ${quick ? '10 s' : 'their minute'}, p99 answer time`, value: steady.p99Ms, unit: 'ms', baseline: steady.p50Ms, baselineName: 'p50', ratio: steady.p99Ms / steady.p50Ms, target: '< 1000 ms', met: steady.p99Ms < 1000 },
      { name: 'same, bridge peak RSS', value: Math.max(burst.maxRssMB, steady.maxRssMB), unit: 'MB', target: '≤ 200 MB', met: Math.max(burst.maxRssMB, steady.maxRssMB) <= 200 }
    ]
  }
}
