/**
 * The status page: its pure parts (chart, formatting, snippets, the page for each state) and the
 * view it gathers from a simulated meter over real HTTP, with energy today held to the
 * simulator's own registers. Chromium renders it in test/integration/status-page.test.ts.
 */
import t from 'tap'
import type { History } from '../../../src/model/history.js'
import { registerType } from '../../../src/egauge/registers.js'
import { ago, duration, formatValue, kWh, powerChart, snippets, statusPage, type BridgeInfo, type StatusPageInput } from '../../../src/server/status-page.js'
import { energyBetween, energySince, gather, MAX_LIVE_SENSORS, orderReadings, pageRequests, powerSeries } from '../../../src/server/status-view.js'
import { raw } from '../../../src/simulator/data.js'
import { Simulator } from '../../../src/simulator/server.js'
import { StatusBook } from '../../../src/telemetry/status-book.js'
import { testBridge } from '../../helpers/bridge.js'
import { freePort } from '../../helpers/ports.js'

const NOW = 1_700_000_000_000 // 2023-11-14T22:13:20Z
const POWER = registerType('P')

t.test('durations, times and values read as a person reads them', async (t) => {
  t.equal(duration(-3), '0s')
  t.equal(duration(45), '45s')
  t.equal(duration(600), '10m')
  t.equal(duration(9000), '2.5h')
  t.equal(duration(7200), '2h')
  t.equal(duration(3 * 86400), '3d')
  t.equal(ago(undefined, NOW), '—')
  t.equal(ago(NOW - 30_000, NOW), '30s ago')
  t.equal(formatValue(1559.194, 'W'), '1559 W')
  t.equal(formatValue(-12_345, 'W'), '-12.35 kW')
  t.equal(formatValue(230.41, 'V'), '230.4 V')
  t.equal(formatValue(0.4567, ''), '0.457')
  t.equal(formatValue(Number.NaN, 'W'), 'NaN')
  t.equal(kWh(3.6e6 * 12.345), '12.35 kWh')
  t.equal(kWh(3.6e6 * 150), '150 kWh')
})

t.test('the chart: a line per series, gaps left open, zero line, negative values labelled', async (t) => {
  const end = NOW / 1000
  const series = [
    { register: 'Grid', virtual: false, points: [[end - 180, -500], [end - 120, 800], [end - 60, Number.NaN], [end, 900]] as Array<[number, number]> },
    { register: 'Solar', virtual: false, points: [[end - 120, 2000], [end - 60, 2100]] as Array<[number, number]> }
  ]
  const svg = powerChart(series, NOW)
  t.equal((svg.match(/<polyline/g) ?? []).length, 2, 'Grid before its gap, and Solar')
  t.equal((svg.match(/<circle/g) ?? []).length, 1, 'Grid after its gap: one point')
  t.match(svg, />2100 W</, 'the top of the axis')
  t.match(svg, />-500\.0 W</, 'a negative minimum')
  t.match(svg, /<i style="background:#2563eb"><\/i>Grid/)
  t.match(powerChart([{ register: 'x', virtual: false, points: [[end, Number.NaN]] }], NOW), /No power history/)
  t.match(powerChart([{ register: 'idle', virtual: false, points: [[end - 60, 0], [end, 0]] }], NOW), /<polyline[^>]*points="[\d.]+,8\.0 [\d.]+,8\.0"/, 'all zero: a flat line, no division by zero')
})

t.test('snippets: Prometheus and Telegraf configs for each kind of bridge auth', async (t) => {
  const none = snippets('house 1', 'http://bridge:9430', 'none', 10_000)
  t.match(none.prometheus, /job_name: egauge-house_1\n {4}scheme: http\n {4}metrics_path: \/metrics\/house%201\n {4}scrape_timeout: 12s\n {4}static_configs:\n {6}- targets: \['bridge:9430'\]/)
  t.match(none.telegraf, /urls = \["http:\/\/bridge:9430\/metrics\/house%201"\]\n {2}data_format = "influx"\n {2}timeout = "12s"$/)
  const bearer = snippets('h', 'https://b.example', 'bearer', 3000)
  t.match(bearer.prometheus, /scheme: https[\s\S]*credentials_file/)
  t.match(bearer.telegraf, /bearer_token = /)
  const basic = snippets('h', 'http://b', 'basic', 3000)
  t.match(basic.prometheus, /basic_auth:/)
  // eslint-disable-next-line no-template-curly-in-string
  t.match(basic.telegraf, 'password = "${EGAUGE_BRIDGE_PASSWORD}"')
})

const info: BridgeInfo = { version: '1.2.3', startedAt: NOW - 7200_000, configFile: '/etc/egauge-bridge/bridge.yml', demo: false, lastReload: undefined, push: undefined }

function page (over: Partial<StatusPageInput>): string {
  return statusPage({ info, sensors: [], timeoutsMs: new Map(), protocols: new Map(), meters: new Map(), baseUrl: 'http://127.0.0.1:9430', auth: 'none', now: NOW, ...over })
}

t.test('the page: demo banner, bridge facts, push cycle, a dead meter with its errors, escaping', async (t) => {
  const book = new StatusBook([{ name: 'up<1>', url: 'http://u:pw@meter-a/' }, { name: 'dead', url: 'http://meter-b/' }, { name: 'many', url: 'http://c' }], () => NOW)
  book.fetchSucceeded('up<1>', 42)
  for (let i = 0; i < 7; i++) book.fetchFailed('dead', i % 2 === 0 ? 'EGAUGE_UNREACHABLE' : 'EGAUGE_TIMEOUT', `failure ${i} <b>`)
  book.setPush('dead', { checkpoint: NOW / 1000 - 900, lagSeconds: 900, lastSuccess: undefined, lastError: { code: 'INFLUX_UNAVAILABLE', message: 'database down', at: NOW }, lastPoints: 0, clockOffsetSeconds: -10_800, clockSkewed: true })
  book.setPush('up<1>', { checkpoint: NOW / 1000 - 2, lagSeconds: 2, lastSuccess: NOW / 1000 - 2, lastError: undefined, lastPoints: 7200, clockOffsetSeconds: 3 })
  const reading = { sensor: 'up<1>', type: 'P', quantity: 'power', unit: 'W', time: NOW / 1000, total: 0, rawRate: 0 }
  const readings = [
    { ...reading, register: 'Grid', virtual: false, rate: 1500 },
    { ...reading, register: 'Total Usage', virtual: true, rate: 4000 },
    ...Array.from({ length: 12 }, (_, i) => ({ ...reading, register: `R${i}`, virtual: false, rate: i }))
  ]
  const html = page({
    info: { ...info, demo: true, lastReload: { at: NOW - 60_000, ok: false }, push: { target: 'http://db:8086 database energy', intervalMs: 300_000, stepSeconds: 1, lastCycle: { at: NOW - 10_000, durationMs: 1234, sensors: 2, failed: 1, points: 7200 }, nextCycleAt: NOW + 290_000 } },
    sensors: book.statuses(),
    meters: new Map([
      ['up<1>', { readings: orderReadings(readings), today: new Map([['Total Usage', 3.6e6 * 21.5]]), since: NOW / 1000 - 3600, hour: [{ register: 'Grid', virtual: false, points: [[NOW / 1000 - 60, 1], [NOW / 1000, 2]] }], note: undefined }],
      ['dead', { readings: undefined, today: undefined, since: undefined, hour: undefined, note: 'meter unreachable (ECONNREFUSED)' }]
    ])
  })
  t.match(html, /<div class="demo">Demo mode/)
  t.match(html, /<title>egauge-bridge \(demo\)<\/title>/)
  t.match(html, /<meta http-equiv="refresh" content="30">/)
  t.match(html, /<dt>Version<\/dt><dd>1\.2\.3<\/dd>\n<dt>Up for<\/dt><dd>2h<\/dd>/)
  t.match(html, /<dt>Last reload<\/dt><dd><span class="bad">failed, previous config kept<\/span> <time[^>]*>60s ago<\/time>/)
  t.match(html, /<dt>Writes to<\/dt><dd>http:\/\/db:8086 database energy<\/dd>/)
  t.match(html, /10s ago<\/time>: 7200 points, 1\/2 sensors, 1\.2 s/)
  t.match(html, /<dt>Next cycle<\/dt><dd>in 5m<\/dd>/)
  t.match(html, /3 sensors, 1 up, push mode on/)
  t.match(html, /<h2>up&lt;1&gt;<\/h2>/, 'names are escaped')
  t.notMatch(html, /pw@/, 'the URL is shown without its credentials')
  t.match(html, /<span class="now">Total Usage: <strong>4000 W<\/strong>/, 'power now: the meter\'s total first')
  t.match(html, /Total Usage <span class="tag">total<\/span><\/td><td class="num">4000 W<\/td><td class="num">21\.50 kWh<\/td>/)
  t.match(html, /2 more registers on <code>\/metrics<\/code>/, '12 of 14 registers shown')
  t.match(html, /<svg class="chart"/)
  t.match(html, /<dt>Last cycle<\/dt><dd>7200 points<\/dd>/)
  t.match(html, /<dt>Meter clock<\/dt><dd>in step \(3s ahead\)<\/dd>/)
  t.match(html, /<dt>Meter clock<\/dt><dd><span class="bad">3h behind: push follows the meter's time<\/span><\/dd>/, 'a skewed meter clock, on its card')
  t.match(html, /<dt>Backlog<\/dt><dd>600 rows beyond one interval<\/dd>/, '900 s behind at 1 s rows, one 300 s interval being normal')
  t.match(html, /meter unreachable \(ECONNREFUSED\)/)
  t.match(html, /<span class="code">EGAUGE_UNREACHABLE<\/span> ×4 · <span class="code">EGAUGE_TIMEOUT<\/span> ×3 · <span class="code">INFLUX_UNAVAILABLE<\/span> ×1/)
  t.equal((html.match(/<li><time/g) ?? []).length, 5, 'the five latest errors are listed')
  t.match(html, /<span class="src">push<\/span> <span class="code">INFLUX_UNAVAILABLE<\/span> database down/, 'newest first')
  t.match(html, /failure 6 &lt;b&gt;/)
  t.notMatch(html, /failure 1 /, 'older errors are counted, not listed')
  t.match(html, /<h3>Errors<\/h3><p class="muted">None since start-up/)
  t.match(html, /Values are shown for the first sensors only/, 'a sensor without a view')
  t.match(html, /No cycle has reached this sensor yet/)
  t.match(html, /<summary>Scrape this sensor<\/summary>/)

  const few = new StatusBook([{ name: 'few', url: 'http://f' }, { name: 'blank', url: 'http://b' }], () => NOW)
  few.setPush('few', { checkpoint: undefined, lagSeconds: undefined, lastSuccess: undefined, lastError: undefined })
  const small = page({
    info: { ...info, push: { target: 'x', intervalMs: 300_000, stepSeconds: 1, lastCycle: undefined, nextCycleAt: undefined } },
    sensors: few.statuses(),
    meters: new Map([
      ['few', { readings: readings.slice(0, 2), today: undefined, since: undefined, hour: undefined, note: undefined }],
      ['blank', { readings: undefined, today: undefined, since: undefined, hour: undefined, note: undefined }]
    ])
  })
  t.notMatch(small, /more registers/)
  t.match(small, /<dt>Lag<\/dt><dd>—<\/dd>\n<dt>Backlog<\/dt><dd>—<\/dd>[\s\S]*<dt>Last cycle<\/dt><dd>—<\/dd>/, 'a push status with nothing yet')
  t.match(small, /No history yet/)
  t.match(small, /<h3>Current values<\/h3><p class="muted">No values\.<\/p>/)

  const plain = page({ sensors: [], info })
  t.notMatch(plain, /class="demo"/)
  t.match(plain, /No sensors configured/)
  t.match(plain, /<dt>Config<\/dt><dd><code>\/etc\/egauge-bridge\/bridge\.yml<\/code><\/dd>/)
  t.match(plain, /<dt>Last reload<\/dt><dd>—<\/dd>/)
  t.notMatch(plain, /<h3>Push<\/h3>/)
  t.match(page({ info: { ...info, configFile: undefined } }), /<dt>Config<\/dt><dd>—<\/dd>/, 'a bridge built in code')
  t.match(page({ info: { ...info, configFile: undefined, demo: true, lastReload: { at: NOW, ok: true }, push: { target: 'x', intervalMs: 60_000, stepSeconds: 1, lastCycle: undefined, nextCycleAt: undefined } } }), /none \(demo\)[\s\S]*<dd>ok <time[\s\S]*<dt>Last cycle<\/dt><dd>—[\s\S]*<dt>Next cycle<\/dt><dd>—/)
})

const history = (rows: Array<[number, number[]]>): History => ({
  serial: '0x1',
  columns: [{ name: 'Grid', type: 'P', kind: POWER, virtual: false }, { name: 'Small', type: 'P', kind: POWER, virtual: false }, { name: 'Use', type: 'P', kind: POWER, virtual: true }, { name: 'Volt', type: 'V', kind: registerType('V'), virtual: false }],
  rows: rows.map(([time, values]) => ({ time, values }))
})

t.test('powerSeries: watts per minute, a gap where rows are missing, totals first, then the largest', async (t) => {
  const h = history([[600, [60_000 * 3, 60, 1e6, 5]], [540, [60_000 * 2, 0, 0, 4]], [240, [60_000, 0, 0, 3]], [180, [0, 0, 0, 2]]])
  const series = powerSeries(h)
  t.same(series.map((s) => s.register), ['Use', 'Grid', 'Small'], 'no voltage')
  t.same(series[1]!.points, [[240, 1000], [300, Number.NaN], [540, 200], [600, 1000]], 'oldest first; 300 s between rows is a gap')
  t.same(powerSeries(h, 1).map((s) => s.register), ['Use'])
  t.same([...energyBetween(h)], [['Grid', 180_000], ['Small', 60], ['Use', 1e6]], 'joules from the oldest row to the newest')
  t.same([...energyBetween(history([[1, [1, 1, 1, 1]]]))], [])
  const later = history([[600, [60_000 * 3, 60, 1e6, 5]]])
  t.same([...energySince(later, history([[180, [0, 0, 0, 2]]]))!], [['Grid', 180_000], ['Small', 60], ['Use', 1e6]])
  t.equal(energySince(later, { ...later, serial: '0x2' }), undefined, 'another configuration')
  t.equal(energySince(later, { ...later, columns: later.columns.slice(1) }), undefined)
  t.equal(energySince(later, { ...later, columns: [...later.columns.slice(1), later.columns[0]!] }), undefined)
  t.equal(energySince(later, { ...later, rows: [] }), undefined)
})

t.test('pageRequests: the last hour in minutes, and today in one request from local midnight', async (t) => {
  const r = pageRequests(NOW)
  const midnight = new Date(NOW)
  midnight.setHours(0, 0, 0, 0)
  t.equal(r.since, midnight.getTime() / 1000)
  t.same(r.hour, { kind: 'history', query: { step: 60, rows: 61 } })
  t.same(r.today, { kind: 'history', query: { step: 60, rows: 1, newest: r.since } })
  t.equal(pageRequests(midnight.getTime() + 30_000).today, undefined, 'in the first minute of the day there is nothing to count yet')
})

t.test('gather: values, the hour and energy today from a real simulated meter; a dead one is not asked twice', async (t) => {
  const sim = new Simulator({ seed: 3, clock: () => NOW })
  const url = await sim.listen()
  const dead = `http://127.0.0.1:${await freePort()}`
  const b = testBridge({ server: { cache_ttl: '0s' }, sensors: [{ name: 'm', url }, { name: 'dead', url: dead, timeout: '1s' }] })
  t.teardown(async () => { await b.close(); await sim.close() })
  const { pool, book, config } = b.live
  const views = await gather(pool, config.sensors, book.statuses(), NOW)
  const m = views.get('m')!
  t.equal(m.note, undefined)
  t.ok(m.readings!.length > 20)
  t.ok(m.readings![0]!.virtual, 'totals first')
  t.same(m.hour!.map((s) => s.points.length), [60, 60, 60, 60], 'four series of 60 minutes')
  // The oracle: the simulator's own cumulative registers at local midnight and at the minute.
  const since = pageRequests(NOW).since
  const newest = Math.floor(NOW / 60_000) * 60
  const grid = sim.model.registers.find((r) => r.name === 'Grid')!
  t.equal(m.today!.get('Grid'), Number(raw(sim.model, grid, newest) - raw(sim.model, grid, since)), 'joules today = Δ of the meter\'s own Grid register')
  const d = views.get('dead')!
  t.match(d.note, /unreachable/)
  t.equal(book.status('dead')!.state, 'down')
  const requestsBefore = sim.requests.length
  const again = await gather(pool, config.sensors, book.statuses(), NOW)
  t.match(again.get('dead')!.note, /not asked again for 30 s/)
  t.ok(sim.requests.length > requestsBefore, 'the live meter is asked again')

  sim.fault = { latencyMs: 400 }
  const slow = await gather(pool, config.sensors.slice(0, 1), book.statuses(), NOW, 50)
  t.match(slow.get('m')!.note, /slow to answer/)
  t.equal(slow.get('m')!.readings, undefined)
  sim.fault = undefined
})

t.test('gather in the first minute of the day asks for no midnight row; the book ignores unknown sensors', async (t) => {
  const midnight = new Date(NOW)
  midnight.setHours(0, 0, 30, 0)
  const sim = new Simulator({ seed: 1, clock: () => midnight.getTime() })
  const url = await sim.listen()
  const b = testBridge({ sensors: [{ name: 'm', url }] })
  t.teardown(async () => { await b.close(); await sim.close() })
  const view = (await gather(b.live.pool, b.live.config.sensors, b.live.book.statuses(), midnight.getTime())).get('m')!
  t.equal(view.today, undefined)
  t.ok(view.readings !== undefined && view.hour !== undefined)
  t.equal(sim.requests.length, 2, 'current values and the hour only')
  const book = new StatusBook([], () => NOW)
  book.fetchSucceeded('nope', 1)
  book.fetchFailed('nope', 'X', 'x')
  book.setPush('nope', { checkpoint: 1, lagSeconds: 1, lastSuccess: 1, lastError: undefined })
  t.same(book.statuses(), [])
})

t.test('gather stops at MAX_LIVE_SENSORS sensors', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW })
  const url = await sim.listen()
  const sensors = Array.from({ length: MAX_LIVE_SENSORS + 2 }, (_, i) => ({ name: `s${i}`, url }))
  const b = testBridge({ sensors })
  t.teardown(async () => { await b.close(); await sim.close() })
  const views = await gather(b.live.pool, b.live.config.sensors, b.live.book.statuses(), NOW)
  t.equal(views.size, MAX_LIVE_SENSORS)
  t.notOk(views.has(`s${MAX_LIVE_SENSORS}`))
})

t.test('meters that push: a card without fetches for a push-only meter, a receive panel with the meter settings', async (t) => {
  let now = NOW - 30_000
  const book = new StatusBook([{ name: 'cabin <1>', url: undefined, receive: { intervalMs: 60_000 } }, { name: 'shed', url: 'http://10.0.0.9', receive: { intervalMs: 300_000 } }], () => now)
  book.received('cabin <1>', { at: now, rows: 61, points: 1440, durationMs: 8.4 }, now / 1000 - 1)
  now = NOW
  const html = page({ sensors: book.statuses(), baseUrl: 'https://bridge.example.org/egauge' })
  const cabin = html.slice(html.indexOf('id="sensor-cabin &lt;1&gt;"'), html.indexOf('id="sensor-shed"'))
  t.match(cabin, /<span class="state">up<\/span><span class="url">pushes to the bridge<\/span>/)
  t.notMatch(cabin, /<h3>Fetch<\/h3>|Power, last hour|Scrape this sensor/, 'nothing to fetch, chart or scrape')
  t.match(cabin, /<h3>Receive <span class="rstate up">up<\/span><\/h3>/)
  t.match(cabin, /<dt>Last push<\/dt><dd><time[^>]*>30s ago<\/time>: 61 rows, 1440 points, 8 ms<\/dd>/)
  t.match(cabin, /<dt>Lag<\/dt><dd>31s<\/dd>/)
  t.match(cabin, /<dt>Expected every<\/dt><dd>60s \(late after 2m\)<\/dd>/)
  t.match(cabin, 'URI:      https://bridge.example.org/egauge/receive/cabin%20%3C1%3E\nInterval: 60 s\nOptions:  sec,old_first,max=9000,gzip')
  const other = page({ sensors: book.statuses(), baseUrl: 'http://127.0.0.1:9430/' })
  const shed = other.slice(other.indexOf('id="sensor-shed"'))
  t.match(shed, /<h3>Fetch<\/h3>/, 'a pulled meter that pushes too keeps its fetch panel')
  t.match(shed, /<h3>Receive <span class="rstate waiting">waiting<\/span><\/h3>/)
  t.match(shed, /<dt>Last push<\/dt><dd>—<\/dd>\n<dt>Last accepted<\/dt><dd>—<\/dd>\n<dt>Lag<\/dt><dd>—<\/dd>/)
  t.match(shed, 'URI:      http://127.0.0.1:9430/receive/shed\nInterval: 300 s')
})
