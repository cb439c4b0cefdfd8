/**
 * "Energy per day" on both Grafana dashboards, against days of history: a real InfluxDB filled by
 * the bridge's backfill (minute rows), and a real Prometheus holding the bridge's own answers to a
 * scrape every 5 minutes over the same days (loaded as blocks with promtool, since a test cannot
 * wait days for scrapes). Each panel's query runs as Grafana runs it (helpers/grafana.ts) in two
 * time zones on either side of UTC, one of them a half-hour zone, with a range that starts in the
 * middle of a day: every bar must equal the energy the simulator's model integrates over that
 * local day (`raw()`, the meter's own cumulative register), today so far included, on both.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { registerType } from '../../src/egauge/registers.js'
import { CheckpointStore } from '../../src/push/checkpoints.js'
import { runBackfill } from '../../src/push/backfill.js'
import { createWriter } from '../../src/sinks/writer.js'
import { raw } from '../../src/simulator/data.js'
import { Simulator } from '../../src/simulator/server.js'
import { sleep } from '../../src/util/sleep.js'
import { testBridge } from '../helpers/bridge.js'
import { alignedRange, expandInfluxQL, expandPromQL, localMidnight } from '../helpers/grafana.js'
import { startInflux } from '../helpers/influxdb.js'
import { startPrometheus } from '../helpers/prometheus.js'

const root = new URL('../../', import.meta.url).pathname
const DAY = 86_400
// An afternoon in UTC, mid-November (no daylight-saving change within the days below).
const NOW = Date.UTC(2026, 10, 20, 14, 23, 20) / 1000
const FIRST = NOW - 5 * DAY
const SCRAPE = 300

let meterNow = NOW
const sim = new Simulator({ seed: 3, clock: () => meterNow * 1000 })
const simUrl = await sim.listen()
const influx = await startInflux()
const bridge = testBridge({
  sensors: [{ name: 'home', url: simUrl }],
  influx: { url: influx.url, database: 'egauge' },
  // Every scrape below is a new answer from the meter, at its own time.
  server: { cache_ttl: '0s' },
  push: { state_file: join(root, '.tap', 'energy-per-day-state.json') }
})
t.teardown(async () => {
  await bridge.close()
  await influx.stop()
  await sim.close()
})

const powerRegisters = sim.model.registers.filter((r) => r.type === 'P')
const perUnit = registerType('P').perUnit
/** kWh the model's power integrates to between two instants: the meter's own counter. */
const kWh = (name: string, from: number, to: number): number => {
  const r = powerRegisters.find((x) => x.name === name)!
  return Number(raw(sim.model, r, to) - raw(sim.model, r, from)) / perUnit / 3_600_000
}

// InfluxDB: what `egauge-bridge backfill home --from … --step 1m` writes.
const writer = createWriter(bridge.config.influx)
t.teardown(() => writer.close())
const done = await runBackfill({
  config: bridge.config,
  pool: bridge.live.pool,
  sensors: ['home'],
  from: FIRST,
  to: NOW,
  step: 60,
  writer,
  store: CheckpointStore.open(bridge.config.push.stateFile, () => {}),
  metrics: bridge.metrics,
  log: { info: () => {}, warn: () => {}, error: () => {} },
  progress: { write: () => {}, isTTY: false },
  now: () => NOW * 1000,
  sleep
})

// Prometheus: the bridge's answer to a scrape every 5 minutes, each stamped with its scrape time.
const samples = new Map<string, string[]>()
for (let at = Math.ceil(FIRST / SCRAPE) * SCRAPE; at <= NOW; at += SCRAPE) {
  meterNow = at
  const r = await bridge.app.inject({ method: 'GET', url: '/metrics/home?format=prometheus' })
  for (const line of r.body.split('\n')) {
    if (!line.startsWith('egauge_energy_joules{')) continue
    samples.set('egauge_energy_joules', [...(samples.get('egauge_energy_joules') ?? []), `${line} ${at}`])
  }
}
meterNow = NOW
// OpenMetrics wants each family's samples together and each series' in time order.
const series = samples.get('egauge_energy_joules')!.sort((a, b) => {
  const [ka, kb] = [a.slice(0, a.indexOf('}')), b.slice(0, b.indexOf('}'))]
  return ka === kb ? Number(a.split(' ').at(-1)) - Number(b.split(' ').at(-1)) : ka < kb ? -1 : 1
})
const prom = await startPrometheus('', { history: `# TYPE egauge_energy_joules gauge\n${series.join('\n')}\n# EOF\n` })
t.teardown(() => prom.stop())

interface Panel { title: string, targets: Array<{ query?: string, expr?: string, interval?: string }> }
const panel = (file: string): Panel => (JSON.parse(readFileSync(join(root, 'grafana/dashboards', file), 'utf8')) as { panels: Panel[] }).panels.find((p) => p.title === 'Energy per day')!
const influxPanel = panel('egauge-influxdb.json')
const promPanel = panel('egauge-prometheus.json')

t.test('the backfill and the scrapes cover the days', async (t) => {
  t.equal(done, true)
  const [count] = await influx.query('SELECT count("total") FROM egauge WHERE register = \'Grid\'', 'egauge')
  t.equal(count!.series![0]!.values[0]![1], 5 * 1440, 'a minute row for every minute of the five days')
  // The meter's virtual totals are series too (Total Usage, Total Generation).
  const keys = new Set(series.map((line) => line.slice(0, line.indexOf('}'))))
  t.equal(keys.size, powerRegisters.length + 2)
  t.equal(series.length, keys.size * 5 * DAY / SCRAPE, 'one sample per series per scrape')
})

for (const timeZone of ['America/New_York', 'Asia/Kolkata']) {
  t.test(`${timeZone}: both dashboards give each local day's kWh, today so far included`, async (t) => {
    // A range that starts mid-afternoon three days ago: the first day is whole all the same.
    const today = localMidnight(timeZone, NOW)
    const from = today - 3 * DAY + 15 * 3600
    const days = [today - 3 * DAY, today - 2 * DAY, today - DAY, today]
    const names = powerRegisters.map((r) => r.name)
    const context = { from, to: NOW, timeZone, interval: '1d', vars: { sensor: ['home'], register: names } }

    const [res] = await influx.query(expandInfluxQL(influxPanel.targets[0]!.query!, context), 'egauge')
    t.notOk((res as { error?: string }).error)
    t.equal(res!.series!.length, names.length, 'a series per power register')
    for (const s of res!.series!) {
      const name = s.tags!.register!
      // Bars are stamped at the day's start (plus the millisecond that makes days end at midnight).
      t.same(s.values.map((v) => v[0]), days, `InfluxDB ${name}: a bar per local day, at its midnight`)
      s.values.forEach(([day, value], i) => {
        const end = Math.min(Number(day) + DAY, Math.floor(NOW / 60) * 60)
        t.ok(Math.abs((value as number) - kWh(name, Number(day), end)) < 1e-9, `InfluxDB ${name} day ${i}: ${String(value)} kWh`)
      })
    }

    // Grafana's 1-day step (the panel's interval), aligned to the zone's midnights.
    const { start, end } = alignedRange(from, NOW, DAY, timeZone)
    t.equal(start, days[0], 'Grafana starts the panel at the first day\'s midnight')
    const expr = expandPromQL(promPanel.targets[0]!.expr!, { ...context, intervalMs: DAY * 1000, rateInterval: '1d' })
    t.equal(promPanel.targets[0]!.interval, '1d', 'the query\'s min interval: a 1-day step')
    const result = await prom.queryRange(expr, start, end, DAY)
    t.equal(result.length, names.length)
    for (const s of result) {
      const name = s.metric.register!
      t.same(s.values.map((v) => v[0]), days, `Prometheus ${name}: a bar per local day, at its midnight`)
      s.values.forEach(([day, value], i) => {
        const last = Math.min(day + DAY, Math.floor(NOW / SCRAPE) * SCRAPE)
        t.ok(Math.abs(Number(value) - kWh(name, day, last)) < 1e-9, `Prometheus ${name} day ${i}: ${value} kWh`)
      })
    }
    // The same day on both: whole days agree exactly; today differs only by the readings'
    // spacing (the last minute row against the last 5-minute scrape).
    const grid = (await prom.queryRange(expr.replace(/register=~"[^"]*"/g, 'register="Grid"'), start, end, DAY))[0]!
    const [influxGrid] = await influx.query(expandInfluxQL(influxPanel.targets[0]!.query!, { ...context, vars: { sensor: ['home'], register: ['Grid'] } }), 'egauge')
    t.same(grid.values.slice(0, 3).map((v) => Number(v[1])), influxGrid!.series![0]!.values.slice(0, 3).map((v) => v[1]), 'whole days: the same kWh on both dashboards')
  })
}
