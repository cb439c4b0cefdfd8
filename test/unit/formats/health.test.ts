import t from 'tap'
import { healthBatches } from '../../../src/formats/health.js'

t.test('health lines in bodies of at most batch_size lines; other sensors, no sensor and NaN left out', async (t) => {
  const samples = [
    ...Array.from({ length: 5 }, (_, i) => ({ name: 'egauge_bridge_push_points_total', labels: { sensor: `m${i}` }, value: i })),
    { name: 'egauge_bridge_push_points_total', labels: { sensor: 'other' }, value: 1 },
    { name: 'egauge_bridge_up', labels: {}, value: 1 },
    { name: 'egauge_bridge_push_lag_seconds', labels: { sensor: 'm0' }, value: Number.NaN }
  ]
  const sensors = new Set(['m0', 'm1', 'm2', 'm3', 'm4'])
  const batches = healthBatches(samples, sensors, 1700000000, 2)
  t.same(batches.map((b) => b.split('\n').filter(Boolean).length), [2, 2, 1])
  t.equal(batches[0], 'egauge_bridge,sensor=m0 egauge_bridge_push_points_total=0 1700000000\negauge_bridge,sensor=m1 egauge_bridge_push_points_total=1 1700000000\n')
  t.same(healthBatches(samples, sensors, 1, 5000).length, 1, 'one body when they fit')
  t.same(healthBatches(samples, new Set(), 1, 5000), [], 'nothing: no body')
})
