/**
 * Push mode against real databases, with simulated meters on one injected clock: hours of meter
 * time run in seconds. Every scenario ends with the same check: every second (or, where the meter
 * only still holds minutes, every minute) of every register is in the database once, with the
 * value the simulator's integrals give.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfigText } from '../../src/config/load.js'
import { registerType } from '../../src/egauge/registers.js'
import { backfillKey, runBackfill } from '../../src/push/backfill.js'
import { CheckpointStore } from '../../src/push/checkpoints.js'
import { PushLoop } from '../../src/push/loop.js'
import { createWriter, WriterSet } from '../../src/sinks/writer.js'
import { raw, virtualRaw } from '../../src/simulator/data.js'
import { Simulator } from '../../src/simulator/server.js'
import { testBridge, type TestBridge } from '../helpers/bridge.js'
import { startInflux, type InfluxServer } from '../helpers/influxdb.js'
import { startVictoria, type VictoriaSeries } from '../helpers/victoria.js'

const T0 = 1_700_000_100 // a 5-minute boundary
let nowMs = T0 * 1000
const clock = (): number => nowMs
const sims = { m1: new Simulator({ seed: 11, clock }), m2: new Simulator({ seed: 12, clock }) }
const urls = { m1: await sims.m1.listen(), m2: await sims.m2.listen() }
const AUTH = { username: 'admin', password: 'influx-secret' }
const influx = await startInflux({ auth: AUTH })
t.teardown(async () => {
  await influx.stop()
  await sims.m1.close()
  await sims.m2.close()
})
const stateDir = mkdtempSync(join(tmpdir(), 'push-'))

interface Harness { bridge: TestBridge, loop: PushLoop, store: CheckpointStore, sleeps: number[], logs: string[], infos: string[], close: () => Promise<void> }

function harness (raw: Record<string, unknown>, name: string): Harness {
  const bridge = testBridge({
    // A generous meter timeout: a loaded CI machine once took over 500 ms to serve 30 minutes of
    // seconds, and the cycle then stopped short. Faults here are answers, never silence.
    sensors: [{ name: 'm1', url: urls.m1, timeout: '10s' }, { name: 'm2', url: urls.m2, timeout: '10s' }],
    push: { interval: '5m', step: '1s', state_file: join(stateDir, `${name}.json`) },
    ...raw
  }, { push: true, now: clock })
  const logs: string[] = []
  const infos: string[] = []
  const log = { info: (_o: object, m: string) => { infos.push(m) }, warn: (_o: object, m: string) => { logs.push(m) }, error: (o: object, m: string) => { logs.push(`${JSON.stringify(o)} ${m}`) } }
  const store = CheckpointStore.open(bridge.config.push.stateFile, (m) => logs.push(m))
  const writer = createWriter(bridge.config.influx)
  const sleeps: number[] = []
  const loop = new PushLoop({ live: () => bridge.live, writer, store, metrics: bridge.metrics, log, now: clock, sleep: async (ms) => { sleeps.push(ms) }, retries: 2 })
  return { bridge, loop, store, sleeps, logs, infos, close: async () => { await writer.close(); await bridge.close() } }
}

const influxConfig = (db: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  influx: { url: influx.url, database: db, username: AUTH.username, password: AUTH.password, batch_size: 2000, ...extra }
})

/**
 * The exact average the meter's registers give over (t - step, t]; for its totals (power, in W),
 * the signed sums of registers the simulator defines.
 */
function expected (sim: Simulator, register: string, time: number, step: number): number {
  const total = sim.model.virtuals.find((v) => v.name === register)
  if (total !== undefined) return Number(virtualRaw(sim.model, total, time) - virtualRaw(sim.model, total, time - step)) / step
  const reg = sim.model.registers.find((r) => r.name === register)!
  return Number(raw(sim.model, reg, time) - raw(sim.model, reg, time - step)) / (registerType(reg.type).perUnit * step)
}

/** Every register a push of the simulator writes: its 24, then its two totals (tagged virtual=true). */
const pushedRegisters = (sim: Simulator): Array<{ name: string, virtual: boolean }> =>
  [...sim.model.registers.map((r) => ({ name: r.name, virtual: false })), ...sim.model.virtuals.map((v) => ({ name: v.name, virtual: true }))]

/** Asserts the database holds exactly the points at `times` for every register of a sensor. */
async function holdsExactly (t: Test, db: Influx, sensor: 'm1' | 'm2', times: number[], what: string): Promise<void> {
  const sim = sims[sensor]
  const from = times[0]! - 1
  const to = times[times.length - 1]!
  for (const reg of pushedRegisters(sim)) {
    const virtual = reg.virtual ? "virtual = 'true'" : "virtual != 'true'"
    const [res] = await db.server.query(`SELECT "value" FROM egauge WHERE sensor = '${sensor}' AND register = '${reg.name.replace(/'/g, "\\'")}' AND ${virtual} AND time > ${from}s AND time <= ${to}s`, db.name)
    const rows = (res?.series?.[0]?.values ?? []) as Array<[number, number]>
    const got = rows.map((r) => r[0])
    if (got.length !== times.length || got.some((x, i) => x !== times[i])) {
      t.fail(`${sensor} ${reg.name}: ${what}: expected ${times.length} points, got ${got.length}`)
      return
    }
    // The first point's interval has the same length as the next one's.
    const wrong = rows.find(([time, value], i) => value !== expected(sim, reg.name, time, i === 0 ? times[1]! - times[0]! : time - times[i - 1]!))
    if (wrong !== undefined) {
      t.fail(`${sensor} ${reg.name} at ${wrong[0]}: ${wrong[1]}`)
      return
    }
  }
  t.pass(`${sensor}: ${what}: all 24 registers and the 2 totals, ${times.length} points each, exact values`)
}

interface Influx { server: InfluxServer, name: string }
const range = (from: number, to: number, step = 1): number[] => Array.from({ length: (to - from) / step }, (_, i) => from + step * (i + 1))
const cycles = async (h: Harness, n: number): Promise<void> => {
  for (let i = 0; i < n; i++) {
    nowMs += 300_000
    await h.loop.runCycle()
  }
}

t.test('N cycles, then the database down for 20 minutes, then the meter down for 30: no gap, no duplicate', async (t) => {
  nowMs = T0 * 1000
  const h = harness(influxConfig('push'), 'main')
  t.teardown(() => h.close())
  const db = { server: influx, name: 'push' }
  await h.loop.runCycle()
  await cycles(h, 3)
  const start = T0 - 300
  let now = nowMs / 1000
  await holdsExactly(t, db, 'm1', range(start, now), 'four cycles')
  t.equal(h.store.get('m1'), now)

  await influx.pause()
  await cycles(h, 4)
  t.equal(h.store.get('m1'), now, 'checkpoint kept while the database is down')
  t.match(h.logs.join('\n'), /INFLUX_UNREACHABLE/)
  t.same(h.sleeps.slice(0, 4).sort(), [1000, 1000, 2000, 2000], 'retries back off within a cycle (two sensors)')
  t.match(await (await h.bridge.app.inject({ method: 'GET', url: '/metrics' })).body, /egauge_bridge_push_errors_total\{sensor="m1",reason="INFLUX_UNREACHABLE"\} 4/)
  await influx.resume()
  await cycles(h, 1)
  now = nowMs / 1000
  await holdsExactly(t, db, 'm1', range(start, now), 'after a 20-minute database outage')
  await holdsExactly(t, db, 'm2', range(start, now), 'after a 20-minute database outage')

  sims.m1.fault = { status: 503 }
  await cycles(h, 6)
  const m1Stuck = h.store.get('m1')!
  t.equal(m1Stuck, now, 'm1 checkpoint kept while its meter is down')
  await holdsExactly(t, db, 'm2', range(start, nowMs / 1000), 'm2 unaffected while m1 is down')
  const api = JSON.parse((await h.bridge.app.inject({ method: 'GET', url: '/api/sensors' })).body) as { sensors: Array<{ name: string, push: { lastError: { code: string } | null, lagSeconds: number } }> }
  t.equal(api.sensors[0]!.push.lastError?.code, 'EGAUGE_HTTP_STATUS')
  t.equal(api.sensors[0]!.push.lagSeconds, 1800)
  sims.m1.fault = { body: '<html><body>502 Proxy Error</body></html>' }
  const [garbage] = await h.loop.runCycle()
  t.same(garbage!.error, { code: 'EGAUGE_PARSE', message: 'sensor m1: unreadable meter answer: expected <group> as the document root, got <html>' }, 'a garbage answer is a parse error, checkpoint kept')
  sims.m1.fault = undefined
  await cycles(h, 1)
  await holdsExactly(t, db, 'm1', range(start, nowMs / 1000), 'after a 30-minute meter outage')
})

t.test('an outage longer than the meter keeps second data: the older part arrives at minute resolution', async (t) => {
  nowMs = (T0 + 86400) * 1000
  const h = harness(influxConfig('long'), 'long')
  t.teardown(() => h.close())
  const db = { server: influx, name: 'long' }
  await h.loop.runCycle()
  const start = nowMs / 1000
  sims.m1.fault = { status: 503 }
  await cycles(h, 18) // 90 minutes
  sims.m1.fault = undefined
  await cycles(h, 1)
  const now = nowMs / 1000
  // The meter holds 1 s rows for an hour; the planner keeps 2 minutes of margin, on a minute edge.
  const boundary = Math.ceil((now - 3600 + 120) / 60) * 60
  await holdsExactly(t, db, 'm1', range(start, boundary, 60), 'minute points where only minutes remain')
  await holdsExactly(t, db, 'm1', range(boundary, now), 'second points for the last hour')
})

t.test('the same meters read over the WebAPI: cycles, a 30-minute meter outage, then one past the hour of seconds: no gap, no duplicate', async (t) => {
  nowMs = (T0 + 2 * 86400) * 1000
  const h = harness({
    sensors: [{ name: 'm1', url: urls.m1, api: 'webapi', timeout: '10s' }, { name: 'm2', url: urls.m2, api: 'webapi', timeout: '10s' }],
    ...influxConfig('webapi')
  }, 'webapi')
  t.teardown(() => h.close())
  const db = { server: influx, name: 'webapi' }
  await h.loop.runCycle()
  const start = nowMs / 1000 - 300
  await cycles(h, 2)
  await holdsExactly(t, db, 'm1', range(start, nowMs / 1000), 'three cycles')
  sims.m1.fault = { status: 503 }
  await cycles(h, 6)
  t.equal(h.store.get('m1'), start + 900, 'checkpoint kept while the meter is down')
  await holdsExactly(t, db, 'm2', range(start, nowMs / 1000), 'm2 unaffected')
  sims.m1.fault = undefined
  await cycles(h, 1)
  await holdsExactly(t, db, 'm1', range(start, nowMs / 1000), 'after a 30-minute meter outage')
  sims.m1.fault = { status: 503 }
  const down = nowMs / 1000
  await cycles(h, 18) // 90 minutes
  sims.m1.fault = undefined
  await cycles(h, 1)
  const now = nowMs / 1000
  const boundary = Math.ceil((now - 3600 + 120) / 60) * 60
  await holdsExactly(t, db, 'm1', range(down, boundary, 60), 'minute points where only minutes remain')
  await holdsExactly(t, db, 'm1', range(boundary, now), 'second points for the last hour')
})

t.test('a 400 for a batch: skipped and counted, the rest written', async (t) => {
  // InfluxDB refuses points older than a retention policy's duration with HTTP 400 (partial write).
  nowMs = Math.floor(Date.now() / 60_000) * 60_000
  await influx.query('CREATE DATABASE short WITH DURATION 1h SHARD DURATION 1h NAME hour')
  const h = harness(influxConfig('short', { create_database: false, batch_size: 24 }), 'short')
  t.teardown(() => h.close())
  const now = nowMs / 1000
  h.store.set('m1', now - 3720)
  h.store.set('m2', now - 300)
  await h.loop.runCycle()
  t.match(h.logs.join('\n'), /"code":"INFLUX_REJECTED".*database refused a batch, skipped: InfluxDB answered HTTP 400: partial write: points beyond retention policy dropped=24/)
  t.match((await h.bridge.app.inject({ method: 'GET', url: '/metrics' })).body, /egauge_bridge_push_errors_total\{sensor="m1",reason="INFLUX_REJECTED"\} [1-9]/)
  t.equal(h.store.get('m1'), now, 'the checkpoint moves past a refused batch')
  await holdsExactly(t, { server: influx, name: 'short' }, 'm1', range(now - 3000, now), 'the batches after the refused ones')
})

t.test('a database dropped under a running bridge is created again (create_database) and written', async (t) => {
  nowMs = Math.floor(Date.now() / 60_000) * 60_000
  const h = harness(influxConfig('recreated', { create_database: true }), 'recreated')
  t.teardown(() => h.close())
  const now = nowMs / 1000
  await h.loop.runCycle()
  await holdsExactly(t, { server: influx, name: 'recreated' }, 'm1', range(now - 300, now), 'the first cycle')
  // What an InfluxDB that lost its data directory (a volume not mounted) answers: not found.
  await influx.query('DROP DATABASE recreated')
  nowMs += 300_000
  const results = await h.loop.runCycle()
  t.same(results.map((r) => r.ok), [true, true], 'no sensor failed')
  await holdsExactly(t, { server: influx, name: 'recreated' }, 'm1', range(now, now + 300), 'the cycle after the drop, in the new database')
})

t.test('a 401: checkpoint kept, error on the status page', async (t) => {
  nowMs = T0 * 1000
  const h = harness({ influx: { url: influx.url, database: 'push', username: 'admin', password: 'wrong' } }, 'auth')
  t.teardown(() => h.close())
  h.store.set('m1', T0 - 600)
  const [m1] = await h.loop.runCycle()
  t.equal(m1!.ok, false)
  t.equal(m1!.error?.code, 'INFLUX_AUTH')
  t.equal(h.store.get('m1'), T0 - 600)
  t.equal(h.sleeps.length, 0, 'a configuration error is not retried within the cycle')
  const page = (await h.bridge.app.inject({ method: 'GET', url: '/' })).body
  t.match(page, /INFLUX_AUTH<\/span> InfluxDB answered HTTP 401: authorization failed/)
  t.notOk(page.includes('wrong') || page.includes(AUTH.password), 'no password on the page')
})

t.test('the legacy Peper config end to end: measure, its tags as the script wrote them, the script values, a database per meter', async (t) => {
  nowMs = T0 * 1000
  const port = new URL(influx.url).port
  const legacy = loadConfigText(`sensors:
  m1:
    name: m1
    iplocal: 192.168.1.20
    GPS_lat: 43.70
    GPS_long: 7.0
    Ville: Nice
    CP: 06000
    Rue: yes
    Registre: [Grid=W, L1 Current=A]
  m2:
    name: m2
    CP: "06000"
database:
  database: { name: peper, port: ${port}, ip: 127.0.0.1, identifiant: ${AUTH.username}, mdp: ${AUTH.password} }
  database2: { name: peper2, port: ${port}, ip: 127.0.0.1, identifiant: ${AUTH.username}, mdp: ${AUTH.password} }
`, {}).config
  t.equal(legacy.sensors[0]!.url, 'http://m1.egaug.es')
  t.equal(legacy.sensors[0]!.totals, false, 'the 2019 script never asked for the totals')
  // The only change: the meters are the simulators, not the eGauge proxy (the pool reads them as the legacy sensors).
  const sensors = legacy.sensors.map((s) => ({ ...s, url: urls[s.name as 'm1' | 'm2'] }))
  const bridge = testBridge({ sensors: [{ name: 'm1', url: urls.m1, totals: false }, { name: 'm2', url: urls.m2, totals: false }] })
  t.teardown(() => bridge.close())
  bridge.live.config = { ...legacy, sensors, push: { ...legacy.push, stateFile: join(stateDir, 'peper.json') } }
  const writers = new WriterSet(legacy.influx)
  t.teardown(() => writers.close())
  const loop = new PushLoop({ live: () => bridge.live, writer: writers.main, writerOf: (s) => writers.of(s), store: CheckpointStore.open(join(stateDir, 'peper.json'), () => {}), metrics: bridge.metrics, log: { info: () => {}, warn: () => {}, error: () => {} }, now: clock })
  t.same((await loop.runCycle()).map((r) => [r.sensor, r.ok]), [['m1', true], ['m2', true]])
  const [tags] = await influx.query('SHOW TAG KEYS FROM measure', 'peper')
  t.same(tags!.series![0]!.values.flat(), ['CP', 'GPS_lat', 'GPS_long', 'ID', 'IP', 'Rue', 'Unit', 'Ville'])
  // The tag values the 2019 script wrote: YAML 1.1 (PyYAML) read the file, Python's str() printed it.
  const [series] = await influx.query('SHOW SERIES FROM measure WHERE "Unit" = \'W\'', 'peper')
  t.same(series!.series![0]!.values.flat(), [[
    'measure',
    'CP=3072', // 06000: a leading 0 makes an octal integer in YAML 1.1; str(3072)
    'GPS_lat=43.7', // 43.70: a float; str(43.7)
    'GPS_long=7.0', // 7.0: a float; Python prints 7.0 (JavaScript would print 7)
    'ID=m1',
    'IP=192.168.1.20',
    'Rue=True', // yes: a YAML 1.1 boolean; str(True)
    'Unit=W',
    'Ville=Nice'
  ].join(',')])
  const [res] = await influx.query(`SELECT "Grid", "L1 Current", "HVAC", "L1 Voltage", "Unit" FROM measure WHERE time = ${T0}s`, 'peper')
  const rows = res!.series![0]!.values as Array<[number, number | null, number | null, number | null, number | null, string]>
  const field = (i: number): number => rows.find((r) => r[i] !== null)![i] as number
  const rawRate = (name: string): number => { const r = sims.m1.model.registers.find((x) => x.name === name)!; return Number(raw(sims.m1.model, r, T0) - raw(sims.m1.model, r, T0 - 1)) }
  t.equal(field(1), rawRate('Grid') / 1000 * 1000, 'Grid=W: watts')
  t.equal(field(2), rawRate('L1 Current') / 1000, 'L1 Current=A: Δraw/(Δt×1000), i.e. amperes')
  t.equal(field(3), rawRate('HVAC') / 1000, 'an unlisted power register: kilowatts, as the script wrote it')
  t.equal(field(4), rawRate('L1 Voltage') / 1000, 'volts')
  const [count] = await influx.query('SELECT count("Grid") FROM measure', 'peper')
  t.equal(count!.series![0]!.values[0]![1], 300, 'one point per second of the first interval')
  const [fields] = await influx.query('SHOW FIELD KEYS FROM measure', 'peper')
  const names = fields!.series![0]!.values.map((v) => v[0])
  t.same(names.filter((n) => String(n).startsWith('Total')), [], 'the 2019 columns only: no totals, as the script never asked for them')
  t.equal(names.length, 24, 'the 24 registers')
  // Each meter in the database of its block.
  const [ids] = await influx.query('SHOW TAG VALUES FROM measure WITH KEY = "ID"', 'peper')
  t.same(ids!.series![0]!.values.map((v) => v[1]), ['m1'], 'the first block: the first sensor only')
  const [second] = await influx.query('SHOW SERIES FROM measure WHERE "Unit" = \'W\'', 'peper2')
  t.same(second!.series![0]!.values.flat(), ['measure,CP=06000,ID=m2,Unit=W'], 'the second block: the second sensor, its quoted CP as typed')
  const [count2] = await influx.query('SELECT count("Grid") FROM measure', 'peper2')
  t.equal(count2!.series![0]!.values[0]![1], 300)
})

t.test('InfluxDB v2 API (VictoriaMetrics): every second once, even after re-sending', async (t) => {
  nowMs = T0 * 1000
  const vm = await startVictoria()
  t.teardown(() => vm.stop())
  const h = harness({ influx: { version: 2, url: vm.url, org: 'home', bucket: 'energy', token: 'vm-ignores-it' } }, 'vm')
  t.teardown(() => h.close())
  await h.loop.runCycle()
  await cycles(h, 1)
  h.store.set('m1', T0 - 100) // not moved back by set(): emulate a crash before the checkpoint was saved
  h.store.delete('m1')
  h.store.set('m1', T0 - 100)
  await cycles(h, 1)
  const now = nowMs / 1000
  const series = await vm.export('{__name__="egauge_value",sensor="m1"}', (found) => found.length === 26 && found.every((x) => x.timestamps.length === range(T0 - 300, now).length))
  t.equal(series.length, 26, '24 registers and the two totals')
  t.same(series.filter((x) => x.metric.virtual === 'true').map((x) => x.metric.register).sort(), ['Total Generation', 'Total Usage'])
  for (const s of series) {
    const ts = s.timestamps.map((x) => x / 1000)
    t.same(ts, range(T0 - 300, now), `${s.metric.register}: every second once`)
    // VictoriaMetrics stores floats as decimals of about 12 significant digits.
    const worst = Math.max(...ts.map((time, i) => Math.abs(s.values[i]! - expected(sims.m1, s.metric.register!, time, 1)) / Math.max(1, Math.abs(s.values[i]!))))
    t.ok(worst < 1e-11, `${s.metric.register}: values equal the integrals (relative error ${worst})`)
  }
})

t.test('backfill over the WebAPI, schema peper: two days of minutes, the values the XML path gives', async (t) => {
  nowMs = (T0 + 10 * 86400) * 1000
  const results: Record<string, Array<[number, number]>> = {}
  for (const api of ['xml', 'webapi']) {
    const db = `backfill_${api}`
    const config = testBridge({
      sensors: [{ name: 'm2', url: urls.m2, api, tags: { ID: 'm2' }, registers: ['Grid', 'Humidity'] }],
      push: { state_file: join(stateDir, `${db}.json`) },
      ...influxConfig(db, { schema: 'peper' })
    })
    t.teardown(() => config.close())
    const writer = createWriter(config.config.influx)
    t.teardown(() => writer.close())
    const ok = await runBackfill({ config: config.config, pool: config.live.pool, sensors: ['m2'], from: T0, to: T0 + 2 * 86400, step: 60, writer, store: CheckpointStore.open(join(stateDir, `${db}.json`), () => {}), metrics: config.metrics, log: { info: () => {}, warn: () => {}, error: () => {} }, progress: { write: () => {}, isTTY: false }, now: clock, sleep: async () => {} })
    t.equal(ok, true, api)
    const [res] = await influx.query('SELECT "Grid", "Humidity" FROM measure', db)
    results[api] = res!.series![0]!.values as Array<[number, number]>
  }
  t.equal(results.xml!.length, 2 * 2 * 1440, 'every minute of two days, a row per register (one field each)')
  t.same(results.webapi, results.xml, 'the same points, the same values, humidity in its own unit per protocol')
})

t.test('backfill: 30 simulated days at minute resolution, resumed after an interruption', async (t) => {
  nowMs = (T0 + 40 * 86400) * 1000
  const config = testBridge({
    sensors: [{ name: 'm1', url: urls.m1, registers: ['Grid', 'L1 Voltage', 'Total Usage', 'Total Generation'] }],
    push: { state_file: join(stateDir, 'backfill.json') },
    ...influxConfig('backfill')
  })
  t.teardown(() => config.close())
  const writer = createWriter(config.config.influx)
  t.teardown(() => writer.close())
  const from = T0
  const to = T0 + 30 * 86400
  const common = { config: config.config, pool: config.live.pool, sensors: ['m1'], from, to, step: 60, writer, metrics: config.metrics, log: { info: () => {}, warn: () => {}, error: () => {} }, now: clock, sleep: async () => {} }
  const abort = new AbortController()
  let lines = 0
  const first = await runBackfill({
    ...common,
    store: CheckpointStore.open(join(stateDir, 'backfill.json'), () => {}),
    progress: { write: (text) => { if (++lines === 4) abort.abort() }, isTTY: true },
    signal: abort.signal
  })
  t.equal(first, false, 'interrupted')
  const store = CheckpointStore.open(join(stateDir, 'backfill.json'), () => {})
  const resumedAt = store.get(backfillKey('m1', from, to, 60))!
  t.ok(resumedAt > from && resumedAt < to, 'progress was saved')
  const progress: string[] = []
  const second = await runBackfill({ ...common, store, progress: { write: (text) => progress.push(text), isTTY: false } })
  t.equal(second, true)
  t.match(progress[0], /^m1 \[#+-*\] +\d+% 0 points\n$/)
  t.match(progress[progress.length - 1], /^m1 \[#{30}\] 100% \d+ points\n$/)
  t.ok(progress.length <= 12, 'plain lines every 10%, not per chunk')
  t.equal(CheckpointStore.open(join(stateDir, 'backfill.json'), () => {}).get(backfillKey('m1', from, to, 60)), undefined, 'a finished job leaves no checkpoint')
  const written = Number(/egauge_bridge_push_points_total\{sensor="m1"\} (\d+)/.exec(await config.metrics.registry.metrics())![1])
  t.equal(written, 4 * 30 * 1440, 'each minute written once in total: the resumed run did not repeat acknowledged chunks')
  for (const register of ['Grid', 'L1 Voltage', 'Total Usage', 'Total Generation']) {
    const [res] = await influx.query(`SELECT "value" FROM egauge WHERE register = '${register}'`, 'backfill')
    const rows = res!.series![0]!.values as Array<[number, number]>
    t.same(rows.map((r) => r[0]), range(from, to, 60), `${register}: every minute of 30 days`)
    t.ok(rows.every(([time, value]) => value === expected(sims.m1, register, time, 60)), `${register}: exact minute averages`)
  }
})

t.test('the state file lost (a new machine, a container without its volume): push resumes from the newest point in the database, without a gap', async (t) => {
  const vm = await startVictoria()
  t.teardown(() => vm.stop())
  const targets: Array<[string, Record<string, unknown>]> = [
    ['InfluxDB 1.x', influxConfig('resume')],
    ['VictoriaMetrics, InfluxDB 1.x API', { influx: { url: vm.url, database: 'resume1' } }],
    ['VictoriaMetrics, InfluxDB 2.x API', { influx: { version: 2, url: vm.url, org: 'home', bucket: 'resume2', token: 'vm-ignores-it' } }]
  ]
  for (const [what, raw] of targets) {
    nowMs = T0 * 1000
    const first = harness(raw, `resume-first-${targets.findIndex((x) => x[0] === what)}`)
    await first.loop.runCycle()
    await cycles(first, 1)
    const stoppedAt = nowMs / 1000
    await first.close()
    await fetch(`${vm.url}/internal/force_flush`)
    // Another bridge, without the first one's state file, starts 30 minutes later.
    nowMs += 1_800_000
    const second = harness(raw, `resume-second-${targets.findIndex((x) => x[0] === what)}`)
    t.teardown(() => second.close())
    t.equal(second.store.get('m1'), undefined, `${what}: no checkpoint`)
    await second.loop.runCycle()
    const now = nowMs / 1000
    t.same([...first.logs, ...second.logs], [], `${what}: nothing went wrong on the way`)
    t.ok(second.infos.includes(`no checkpoint for m1: resuming from its newest point in the database, ${new Date(stoppedAt * 1000).toISOString()}`), `${what}: said where it resumes`)
    if (what === 'InfluxDB 1.x') {
      await holdsExactly(t, { server: influx, name: 'resume' }, 'm1', range(T0 - 300, now), `${what}: the 30 minutes in between filled`)
      await holdsExactly(t, { server: influx, name: 'resume' }, 'm2', range(T0 - 300, now), `${what}: the 30 minutes in between filled`)
      continue
    }
    // Writes through the v1 API are labelled with their database, through v2 with none.
    const want = range(T0 - 300, now)
    const complete = (series: VictoriaSeries[]): boolean => series.length === 26 && series.every((x) => x.timestamps.length === want.length)
    const series = await vm.export(`{__name__="egauge_value",sensor="m1",db="${what.includes('2.x') ? '' : 'resume1'}"}`, complete)
    t.equal(series.length, 26, `${what}: every register and the two totals`)
    const wrong = series.map((x) => ({ register: x.metric.register, got: x.timestamps.map((ms) => ms / 1000) })).filter((x) => JSON.stringify(x.got) !== JSON.stringify(want))
    // What the second bridge says it wrote tells a lost write from a database that has not shown it.
    const written = /egauge_bridge_push_points_total\{sensor="m1"\} (\d+)/.exec(await second.bridge.metrics.registry.metrics())?.[1]
    t.same(wrong.map((x) => ({ register: x.register, points: x.got.length, missing: want.filter((s) => !x.got.includes(s)).slice(0, 5), duplicated: x.got.filter((s, i) => x.got.indexOf(s) !== i).slice(0, 5) })), [], `${what}: every second from the first start to now, once (the second bridge wrote ${written} points of m1)`)
  }
})
