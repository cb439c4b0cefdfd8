/**
 * A meter protocol is one MeterSource behind the factory (ARCHITECTURE.md, "Where new things go").
 * A fake source that hands over golden-case data, plugged in where the factory would be, gives
 * through the real bridge (pool, routes, formats) exactly the golden files the XML path gives.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createBridge } from '../../../src/bridge/bridge.js'
import type { PulledSensor } from '../../../src/config/schema.js'
import { XmlClient } from '../../../src/egauge/xml/client.js'
import { createMeterSource, protocolSource } from '../../../src/meters/factory.js'
import { EG4XXX_RETENTION } from '../../../src/egauge/retention.js'
import type { HistoryQuery } from '../../../src/model/history.js'
import type { MeterSource } from '../../../src/model/source.js'
import { runCase } from '../../helpers/golden.js'

t.test('the factory maps api: xml to the XML client, behind the redacting wrapper', async (t) => {
  const { config } = await runCase('simulator-inst-tot')
  const client = protocolSource(config.sensors[0] as PulledSensor)
  t.ok(client instanceof XmlClient)
  await client.close()
  const source = createMeterSource(config.sensors[0] as PulledSensor)
  t.notOk(source instanceof XmlClient, 'wrapped')
  t.same(source.retention(), client.retention(), 'the protocol\'s retention passes through')
  await source.close()
})

for (const [name, query] of [['simulator-inst-tot', ''], ['fixture-inst-tot-egauge_ruby', ''], ['simulator-show-1s', '&window=1m'], ['simulator-show-delta-virtual', '&window=1m']] as const) {
  t.test(`a fake source gives the golden output of ${name}`, async (t) => {
    const golden = await runCase(name)
    const asked: Array<HistoryQuery | 'current'> = []
    const fake: MeterSource = {
      current: async () => {
        asked.push('current')
        if (golden.answer.kind !== 'current') throw new Error('not a current-values case')
        return { data: golden.answer.snapshot, fetchSeconds: 0.25 }
      },
      history: async (q) => {
        asked.push(q)
        if (golden.answer.kind !== 'history') throw new Error('not a history case')
        return { data: golden.answer.history, fetchSeconds: 0.25 }
      },
      retention: () => EG4XXX_RETENTION,
      close: async () => {}
    }
    const bridge = createBridge({ config: golden.config, processMetrics: false, createSource: () => fake })
    t.teardown(() => bridge.close())
    const sensor = golden.sensor.name
    const get = async (format: string): Promise<string> => (await bridge.app.inject({ method: 'GET', url: `/metrics/${sensor}?format=${format}${query}` })).body
    t.equal(await get('influx'), readFileSync(join(golden.dir, 'expected.lp'), 'utf8'), 'line protocol')
    t.equal(await get('prometheus'), readFileSync(join(golden.dir, 'expected.prom'), 'utf8'), 'Prometheus text')
    // Current values are one meter request, cached (parsed) for cache_ttl and rendered both ways;
    // a series and an average are two different requests.
    t.equal(asked.length, query === '' ? 1 : 2, 'what the pool asked the fake source')
    if (query !== '') t.same(asked[0], { step: 1, rows: 61 }, 'a 1-minute window of 1-second points is 61 rows')
  })
}
