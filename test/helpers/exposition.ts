/** A Prometheus text with every family the bridge can emit, for the unit checks and promtool. */
import { knownRegisterTypes } from '../../src/egauge/registers.js'
import { toExposition } from '../../src/formats/prometheus.js'
import type { Reading } from '../../src/model/readings.js'

const base: Reading = { sensor: 's', register: 'R', type: 'P', quantity: 'power', unit: 'W', virtual: false, time: 1_700_000_000, rate: 1.5, total: 10, rawRate: 1.5 }

/** One reading per known type code, one unknown code and one NaN reading, as exposition text. */
export async function allFamilies (): Promise<string> {
  const readings: Reading[] = knownRegisterTypes().map(([code, type], i) => ({ ...base, register: `r${i}`, type: code, quantity: type.quantity, unit: type.unit }))
  readings.push({ ...base, register: 'x', type: 'Zz', quantity: 'unknown', unit: 'unknown' })
  readings.push({ ...base, register: 'nan', rate: Number.NaN, total: Number.NaN })
  return await toExposition({ sensor: 's', serial: '0x1', time: 1, readings }, { openMetrics: false, tags: { site: 'x' }, fetchSeconds: 0.1 })
}
