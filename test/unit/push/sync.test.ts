import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { validateConfig, type PulledSensor } from '../../../src/config/schema.js'
import { XmlClient } from '../../../src/egauge/xml/client.js'
import { CheckpointStore } from '../../../src/push/checkpoints.js'
import { pushRange } from '../../../src/push/sync.js'
import { Simulator } from '../../../src/simulator/server.js'
import { statusError } from '../../../src/sinks/write-error.js'
import { createSelfMetrics } from '../../../src/telemetry/self-metrics.js'

const NOW = 1_700_000_000

t.test('a database that recovers on the last retry: backoff, then the write lands', async (t) => {
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const config = validateConfig({ sensors: [{ name: 'm', url: await sim.listen() }] })
  const client = new XmlClient(config.sensors[0] as PulledSensor)
  t.teardown(async () => { await client.close(); await sim.close() })
  let calls = 0
  const sleeps: number[] = []
  const result = await pushRange(config.sensors[0]!, client, { key: 'm', from: NOW - 10, to: NOW, step: 1 }, {
    config,
    writer: { target: 'x', prepare: async () => {}, write: async () => { if (++calls <= 3) throw statusError(503, 'busy', calls === 2 ? '7' : undefined) }, close: async () => {} },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 'r-')), 's.json'), () => {}),
    metrics: createSelfMetrics(false),
    log: { info: () => {}, warn: () => {}, error: () => {} },
    now: () => NOW * 1000,
    sleep: async (ms) => { sleeps.push(ms) }
  })
  t.same([result.ok, result.points, result.checkpoint], [true, 260, NOW])
  t.equal(calls, 4, 'three failures, then the fourth (last) try succeeds')
  t.same(sleeps, [1000, 7000, 4000], 'exponential backoff, Retry-After when the server sends one')
})
