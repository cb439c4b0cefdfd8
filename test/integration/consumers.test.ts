/**
 * The bridge's answers checked by their real consumers: Prometheus scrapes `/metrics/:sensor` and
 * `/probe` through relabelling; InfluxDB 1.6 accepts the line protocol response.
 */
import t from 'tap'
import { registerType } from '../../src/egauge/registers.js'
import { instantRate } from '../../src/simulator/data.js'
import { Simulator } from '../../src/simulator/server.js'
import { testBridge } from '../helpers/bridge.js'
import { startInflux } from '../helpers/influxdb.js'
import { startPrometheus } from '../helpers/prometheus.js'

const NOW = 1_700_000_000
const sims = [new Simulator({ seed: 1, clock: () => NOW * 1000 }), new Simulator({ seed: 2, clock: () => NOW * 1000 })]
const urls = await Promise.all(sims.map(async (s) => await s.listen()))
const bridge = testBridge({ sensors: [{ name: 'm1', url: urls[0], tags: { site: 'north' } }, { name: 'm2', url: urls[1] }] })
const address = await bridge.app.listen({ host: '127.0.0.1', port: 0 })
const hostPort = address.replace('http://', '')
t.teardown(async () => {
  await bridge.close()
  for (const s of sims) await s.close()
})

/** What the meter's <i> says for a register at NOW, rounded as the simulator writes it. */
const expectedRate = (sim: Simulator, name: string): number =>
  Math.round(instantRate(sim.model, sim.model.registers.find((r) => r.name === name)!, NOW) * 1000) / 1000

t.test('Prometheus scrapes /metrics/:sensor and /probe; PromQL returns the meter values', async (t) => {
  const prom = await startPrometheus(`  - job_name: egauge
    metrics_path: /metrics/m1
    static_configs:
      - targets: ['${hostPort}']
  - job_name: egauge_probe
    metrics_path: /probe
    static_configs:
      - targets: ['m1', 'm2']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '${hostPort}'
  - job_name: egauge_bridge
    static_configs:
      - targets: ['${hostPort}']
`)
  t.teardown(() => prom.stop())
  const direct = await prom.waitFor('egauge_power_watts{job="egauge",register="Grid"}')
  t.same(direct[0]!.metric, { __name__: 'egauge_power_watts', instance: hostPort, job: 'egauge', register: 'Grid', sensor: 'm1' })
  t.equal(Number(direct[0]!.value[1]), expectedRate(sims[0]!, 'Grid'))

  const probed = await prom.waitFor('count(egauge_voltage_volts{job="egauge_probe"}) == 6')
  t.equal(Number(probed[0]!.value[1]), 6, 'three line voltages from each of two meters')
  const m2 = await prom.query('egauge_voltage_volts{job="egauge_probe",instance="m2",register="L2 Voltage"}')
  t.equal(m2[0]!.metric.sensor, 'm2')
  t.equal(Number(m2[0]!.value[1]), expectedRate(sims[1]!, 'L2 Voltage'))
  const info = await prom.query('egauge_sensor_info{job="egauge"}')
  t.equal(info[0]!.metric.site, 'north')
  // Each target is scraped on its own schedule: wait until all four have been, then all must be up
  // (failed once under load: the bridge's own job not scraped yet).
  await prom.waitFor('count(up{job=~"egauge.*"}) == 4')
  const up = await prom.query('up{job=~"egauge.*"}')
  t.same(up.map((s) => s.value[1]), ['1', '1', '1', '1'], 'every target up')
  // The bridge's own /metrics, answered in OpenMetrics to Prometheus's Accept header: counters
  // keep their _total, histograms their buckets.
  const requests = await prom.waitFor('egauge_bridge_upstream_requests_total{job="egauge_bridge",sensor="m1"}')
  t.ok(Number(requests[0]!.value[1]) >= 1)
  // Polled: the request counter rises when a fetch starts, the histogram when it ends, so one
  // scrape may hold the first and not yet the second.
  const buckets = await prom.waitFor('egauge_bridge_fetch_duration_seconds_bucket{job="egauge_bridge",le="10"}')
  const counts = await prom.waitFor('egauge_bridge_fetch_duration_seconds_count{job="egauge_bridge"}')
  t.ok(buckets.length >= 1 && counts.length >= 1, 'histogram buckets and counts')
  t.same((await prom.query('egauge_bridge_build_info{job="egauge_bridge"}')).map((s) => s.value[1]), ['1'])
  const energy = await prom.query('egauge_energy_joules{job="egauge",register="Solar"}')
  t.ok(Number(energy[0]!.value[1]) > 0)
})

t.test('the line protocol response is accepted by InfluxDB 1.6 and reads back equal', async (t) => {
  const influx = await startInflux()
  t.teardown(() => influx.stop())
  await influx.query('CREATE DATABASE pull')
  for (const precision of ['ns', 's']) {
    const r = await bridge.app.inject({ method: 'GET', url: `/metrics/m1?window=2m&step=1s&precision=${precision}` })
    t.equal(r.statusCode, 200)
    const w = await influx.write('pull', r.body, precision)
    t.equal(w.status, 204, w.body)
  }
  const [res] = await influx.query('SELECT count("value") FROM egauge WHERE register = \'Grid\'', 'pull')
  t.equal(res!.series![0]!.values[0]![1], 120, 'both writes landed on the same 120 points: no duplicates')
  const [grid] = await influx.query(`SELECT "value" FROM egauge WHERE register = 'L1 Voltage' AND time = ${NOW}s`, 'pull')
  const sim = sims[0]!
  const reg = sim.model.registers.find((r) => r.name === 'L1 Voltage')!
  const { raw } = await import('../../src/simulator/data.js')
  const exact = Number(raw(sim.model, reg, NOW) - raw(sim.model, reg, NOW - 1)) / registerType('V').perUnit
  t.equal(grid!.series![0]!.values[0]![1], exact, 'the exact difference of the simulator integrals')
})
