/**
 * Push cycle: N simulated meters × 300 rows × 24 registers into a real InfluxDB 1.6 on this
 * machine. The bridge's CPU is compared with InfluxDB's CPU for the same cycle.
 */
import { writeFileSync, mkdtempSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInflux } from '../test/helpers/influxdb.js'
import { processCpuSeconds, type Figure } from './lib.js'
import { startWorker, stop } from './servers.js'

export interface CycleRow { meters: number, points: number, wallS: number, bridgeCpuS: number, influxCpuS: number, maxRssMB: number }

async function cycle (meters: number): Promise<CycleRow> {
  const influx = await startInflux()
  const sims = await startWorker(['sim', String(meters)])
  try {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-')), 'urls.json')
    writeFileSync(file, sims.line)
    const influxCpu0 = processCpuSeconds(influx.pid)
    const push = await startWorker(['push', file, influx.url])
    const result = JSON.parse(push.line) as { wallMs: number, cpuSeconds: number, maxRssMB: number, points: number, failed: number }
    if (push.child.exitCode === null) await once(push.child, 'exit')
    if (result.failed > 0) throw new Error(`${result.failed} meters failed in the push benchmark`)
    return { meters, points: result.points, wallS: result.wallMs / 1000, bridgeCpuS: result.cpuSeconds, influxCpuS: processCpuSeconds(influx.pid) - influxCpu0, maxRssMB: result.maxRssMB }
  } finally {
    await stop(sims.child)
    await influx.stop()
  }
}

export async function pushBench (quick: boolean): Promise<{ figures: Figure[], sweep: CycleRow[] }> {
  const sweep: CycleRow[] = []
  for (const meters of quick ? [1, 10, 50] : [1, 10, 100, 200, 1000]) sweep.push(await cycle(meters))
  const main = quick ? sweep[sweep.length - 1]! : sweep.find((r) => r.meters === 200)!
  const share = main.bridgeCpuS / main.influxCpuS
  return {
    sweep,
    figures: [
      { name: `push cycle, ${main.meters} meters × 300 rows × 24 registers (${main.points} points), wall time`, value: main.wallS, unit: 's', target: '< 150 s (half the 5 min interval)', met: main.wallS < 150 },
      { name: 'same, bridge CPU vs InfluxDB CPU for the cycle', value: main.bridgeCpuS, unit: 'CPU s', baseline: main.influxCpuS, baselineName: 'influxd', ratio: share, target: '≤ 0.25×', met: share <= 0.25 },
      { name: 'same, bridge peak RSS', value: main.maxRssMB, unit: 'MB', target: '≤ 200 MB', met: main.maxRssMB <= 200 }
    ]
  }
}
