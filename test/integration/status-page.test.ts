/**
 * The status page in a real headless Chromium (Debian `chromium`), one bridge per state a user
 * meets: the demo, a healthy push into a real InfluxDB, a dead meter, a database that is down,
 * a meter that pushes to the bridge.
 * Each page loads with no console error or CSP violation, its DOM holds the values, the chart and
 * the errors, and a screenshot per state is kept in .tap/artifacts/ (README "Status page" shows
 * the healthy one).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test as TestContext } from 'tap'
import { Simulator } from '../../src/simulator/server.js'
import { testBridge, type TestBridge } from '../helpers/bridge.js'
import { ensureBinary } from '../helpers/debian.js'
import { startInflux } from '../helpers/influxdb.js'
import { freePort } from '../helpers/ports.js'

const chromium = ensureBinary('/usr/bin/chromium', 'chromium')
const artifacts = new URL('../../.tap/artifacts/', import.meta.url).pathname
mkdirSync(artifacts, { recursive: true })

const sim = new Simulator({ seed: 1 })
const meter = await sim.listen()
const influx = await startInflux()
t.teardown(async () => { await sim.close(); await influx.stop() })
const stateDir = mkdtempSync(join(tmpdir(), 'status-page-'))
const closedPort = `http://127.0.0.1:${await freePort()}`

/** Runs Chromium asynchronously: the page is served by this very process. */
async function browse (url: string, args: string[]): Promise<{ stdout: string, stderr: string, status: number | null }> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-'))
  return await new Promise((resolve) => {
    execFile(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0', ...args, url],
    { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => resolve({ stdout, stderr, status: err === null ? 0 : (err.code as number | null) ?? 1 }))
  })
}

/** The page's DOM as Chromium built it, and a full-page screenshot of it. */
async function view (t: TestContext, b: TestBridge, name: string, height: number): Promise<string> {
  const listening = b.app.server.address() as AddressInfo | null
  const address = listening === null ? await b.app.listen({ host: '127.0.0.1', port: 0 }) : `http://127.0.0.1:${listening.port}`
  const dom = await browse(`${address}/`, ['--virtual-time-budget=3000', '--dump-dom'])
  t.equal(dom.status, 0)
  t.notMatch(dom.stderr, /CONSOLE|Refused to|Failed to load/, 'no console errors, CSP violations or failed loads')
  const file = join(artifacts, `status-page-${name}.png`)
  const shot = await browse(`${address}/`, [`--window-size=1100,${height}`, '--hide-scrollbars', `--screenshot=${file}`])
  t.equal(shot.status, 0)
  t.ok(statSync(file).size > 10_000, `${file} written`)
  writeFileSync(join(artifacts, `status-page-${name}.html`), dom.stdout)
  return dom.stdout
}

t.test('demo: the banner, the demo meter\'s values and chart', async (t) => {
  const b = testBridge({ sensors: [{ name: 'demo', url: meter, tags: { site: 'demo' } }] }, { demo: true })
  t.teardown(() => b.close())
  const dom = await view(t, b, 'demo', 1250)
  t.match(dom, /<div class="demo">Demo mode/)
  t.match(dom, /<h2>demo<\/h2><span class="state">up<\/span><span class="now">Total Usage: <strong>[\d.]+ k?W<\/strong>/)
  t.match(dom, /<svg class="chart"[\s\S]*<polyline/, 'the last hour drawn')
  t.match(dom, /<td>Grid<\/td><td class="num">-?[\d.]+ k?W<\/td><td class="num">-?[\d.]+ kWh<\/td>/, 'power now and energy today')
  t.match(dom, /<dt>Config<\/dt><dd>none \(demo\)<\/dd>/)
})

t.test('a healthy push: the database, the last cycle, lag, no errors', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'house', url: meter }],
    influx: { url: influx.url, database: 'status', create_database: true },
    push: { interval: '5m', state_file: join(stateDir, 'healthy.json') }
  }, { push: true })
  t.teardown(() => b.close())
  const [result] = await b.bridge.pushLoop().runCycle()
  t.ok(result!.ok)
  const dom = await view(t, b, 'healthy-push', 1450)
  t.match(dom, /<dt>Writes to<\/dt><dd>http:\/\/127\.0\.0\.1:\d+ database status<\/dd>/)
  t.match(dom, new RegExp(`: ${result!.points} points, 1/1 sensors, `), 'the last cycle')
  t.match(dom, new RegExp(`<dt>Last cycle</dt><dd>${result!.points} points</dd>`), 'the sensor\'s share')
  t.match(dom, /<dt>Lag<\/dt><dd>\d+s<\/dd>/)
  t.match(dom, /None since start-up/)
  t.match(dom, /<summary>Scrape this sensor<\/summary>[\s\S]*metrics_path: \/metrics\/house[\s\S]*\[\[inputs\.http\]\]/)
})

t.test('a dead meter: down, never a success, its errors counted and listed', async (t) => {
  const b = testBridge({ sensors: [{ name: 'house', url: meter }, { name: 'barn', url: closedPort, timeout: '1s' }] })
  t.teardown(() => b.close())
  await b.app.inject({ method: 'GET', url: '/metrics/barn' })
  const dom = await view(t, b, 'dead-meter', 1900)
  t.match(dom, /2 sensors, 1 up/)
  t.match(dom, /<section class="sensor down" id="sensor-barn">[\s\S]*<dt>Last success<\/dt><dd>—<\/dd>/)
  t.match(dom, /<span class="code">EGAUGE_UNREACHABLE<\/span> ×\d/)
  t.match(dom, /<li><time[^>]*>\d+s ago<\/time> <span class="src">fetch<\/span> <span class="code">EGAUGE_UNREACHABLE<\/span> sensor barn: meter unreachable \(ECONNREFUSED\)/)
})

t.test('the database down: the push error, the lag growing, the meter still up', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'house', url: meter }],
    influx: { url: closedPort, database: 'status', timeout: '1s' },
    push: { interval: '5m', state_file: join(stateDir, 'down.json') }
  }, { push: true, retries: 0 })
  t.teardown(() => b.close())
  const [result] = await b.bridge.pushLoop().runCycle()
  t.notOk(result!.ok)
  const dom = await view(t, b, 'database-down', 1500)
  t.match(dom, /<section class="sensor up"/, 'the meter answers')
  t.match(dom, /: 0 points, 0\/1 sensors, /)
  t.match(dom, /<span class="src">push<\/span> <span class="code">INFLUX_UNREACHABLE<\/span>/)
})

t.test('a meter that pushes: its receive panel with the meter settings, beside a pulled meter', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'house', url: meter }, { name: 'cabin', receive: { username: 'cabin-meter', password: 'status-page-push-secret' } }],
    influx: { url: influx.url, database: 'status_receive' },
    push: { state_file: join(stateDir, 'receive.json') }
  })
  t.teardown(() => b.close())
  const address = await b.bridge.listen('127.0.0.1', 0)
  const { Pusher } = await import('../../src/simulator/pusher.js')
  const pusher = new Pusher(sim.model, { url: `${address}/receive/cabin`, intervalMs: 60_000, gzip: true, auth: { username: 'cabin-meter', password: 'status-page-push-secret' } })
  t.equal((await pusher.pushOnce()).status, 200)
  const dom = await view(t, b, 'receive', 1700)
  t.match(dom, /<section class="sensor up" id="sensor-cabin">\n<header><h2>cabin<\/h2><span class="state">up<\/span><span class="url">pushes to the bridge<\/span>/)
  t.match(dom, /<h3>Receive <span class="rstate up">up<\/span><\/h3>/)
  t.match(dom, /<dt>Last accepted<\/dt><dd><time[^>]*>\d+s ago<\/time>: 60 rows, 1416 points, \d+ ms<\/dd>/)
  t.match(dom, new RegExp(`URI:      ${address}/receive/cabin\nInterval: 60 s`))
  t.notMatch(dom, /status-page-push-secret/, 'the push password is not on the page')
})
