import { connect } from 'node:net'
import t from 'tap'
import { statusFor } from '../../../src/server/app.js'
import { deadlineMs, negotiate, parseMetricsRequest } from '../../../src/server/params.js'
import { virtualRaw } from '../../../src/simulator/data.js'
import { Simulator } from '../../../src/simulator/server.js'
import { testBridge } from '../../helpers/bridge.js'
import { freePort } from '../../helpers/ports.js'

const NOW = 1_700_000_000
// What Prometheus sends, built as its scrape code builds it (prometheus/prometheus scrape/scrape.go
// acceptHeader(), config.ScrapeProtocolsHeaders): 2.x before scrape_protocols (2.42, Debian's) sent
// one fixed header; 3.x weighs each protocol of scrape_protocols from q=0.6 down (six protocols
// known, plus one) and adds escaping= to the 1.0.0 text formats.
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
const PROMETHEUS3_ACCEPT = 'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2'
// scrape_protocols: [PrometheusText1.0.0], with the underscores escaping scheme.
const PROMETHEUS3_TEXT1_ACCEPT = 'text/plain;version=1.0.0;escaping=underscores;q=0.6,*/*;q=0.5'
const SECRETS = ['meter-secret-pw', 'bridge-token-0123456789']

const simA = new Simulator({ seed: 1, clock: () => NOW * 1000, auth: { username: 'owner', password: SECRETS[0]! } })
const simB = new Simulator({ seed: 2, clock: () => NOW * 1000 })
const urlA = await simA.listen()
const urlB = await simB.listen()
t.teardown(async () => { await simA.close(); await simB.close() })

const bridge = testBridge({
  server: { cache_ttl: '0s', auth: { bearer_token: SECRETS[1] } },
  sensors: [
    { name: 'a', url: urlA, username: 'owner', password: SECRETS[0], timeout: '500ms', tags: { site: 'lab' } },
    { name: 'b', url: urlB, timeout: '500ms' }
  ]
}, { processMetrics: true })
t.teardown(() => bridge.close())
const auth = { authorization: `Bearer ${SECRETS[1]}` }
const get = async (url: string, headers: Record<string, string> = {}) => await bridge.app.inject({ method: 'GET', url, headers: { ...auth, ...headers } })

t.test('GET /metrics/:sensor negotiates the format', async (t) => {
  const lp = await get('/metrics/a')
  t.equal(lp.statusCode, 200)
  t.equal(lp.headers['content-type'], 'text/plain; charset=utf-8')
  t.match(lp.body, /^egauge,quantity=power,register=Grid,sensor=a,site=lab,unit=W value=/)
  t.match(lp.body, / 1700000000000000000\n/, 'nanoseconds by default')

  const om = await get('/metrics/a', { accept: PROMETHEUS_ACCEPT })
  t.equal(om.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  t.match(om.body, /# EOF\n$/)
  const text = await get('/metrics/a', { accept: 'text/plain;version=0.0.4' })
  t.equal(text.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  const forced = await get('/metrics/a?format=influx', { accept: PROMETHEUS_ACCEPT })
  t.match(forced.body, /^egauge,/, '?format wins over Accept')
  t.equal((await get('/metrics/a?format=openmetrics')).headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  t.match((await get('/metrics/a?precision=s')).body, / 1700000000\n/)
  t.match((await get('/metrics/a?precision=ms')).body, / 1700000000000\n/)
})

t.test('window and step: history for line protocol, the average for Prometheus', async (t) => {
  simB.requests.length = 0
  const lp = await get('/metrics/b?window=5m&step=1s')
  t.equal(lp.statusCode, 200)
  t.equal(lp.body.split('\n').filter((l) => l.includes('register=Grid,')).length, 300)
  // The first history request reads current values once, for the names of the virtual registers.
  t.same(simB.requests.map((r) => r.query), ['inst&tot', 'a&S&n=301'], 'n points need n+1 rows, with the meter\'s totals (a)')
  t.equal(lp.body.split('\n').filter((l) => l.includes('register=Total\\ Usage,') && l.includes(',virtual=true ')).length, 300, 'the totals under the names of current values')
  const avg = await get('/metrics/b?window=1h&format=prometheus')
  t.match(avg.body, /egauge_power_watts\{sensor="b",register="Grid"\} -?\d/)
  t.equal(simB.requests[2]!.query, 'a&h&n=2', 'an average needs only the two ends of the window')
  t.match((await get('/metrics/b?window=1d&step=1h')).body, /register=Grid,/)
})

t.test('the totals: one name and virtual=true on current values and ?window=, values the simulator\'s sums', async (t) => {
  const lines = (body: string, register: string): string[] => body.split('\n').filter((l) => l.includes(`register=${register.replace(' ', '\\ ')},`))
  const current = (await get('/metrics/b')).body
  const series = (await get('/metrics/b?window=5m&step=1s')).body
  for (const total of simB.model.virtuals) {
    t.match(lines(current, total.name)[0], /,virtual=true value=/, `${total.name}: current values`)
    const points = lines(series, total.name)
    t.equal(points.length, 300, `${total.name}: 300 points in the window`)
    t.ok(points.every((l) => l.includes(',virtual=true ')), `${total.name}: every point virtual=true`)
    // value = the exact 1-second difference of the summed registers (W), total = their sum (J).
    const wrong = points.find((l) => {
      const [, value, totalJ, ns] = /value=(\S+),total=(\S+) (\d+)$/.exec(l)!
      const time = Number(BigInt(ns!) / 1_000_000_000n)
      return Number(value) !== Number(virtualRaw(simB.model, total, time) - virtualRaw(simB.model, total, time - 1)) ||
        Number(totalJ) !== Number(virtualRaw(simB.model, total, time))
    })
    t.equal(wrong, undefined, `${total.name}: every value the simulator's sum`)
  }
  t.equal(lines(series, 'use').length + lines(series, 'gen').length, 0, 'never under the stored names use and gen')
})

t.test('/probe is the same, for multi-target relabelling', async (t) => {
  const probe = await get('/probe?target=b&format=prometheus')
  t.equal(probe.statusCode, 200)
  t.match(probe.body, /egauge_sensor_info\{sensor="b",serial="0x[0-9a-f]+"\} 1/)
  const plain = await get('/probe?target=b')
  t.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8', 'no Accept: the Prometheus exposition, as blackbox_exporter answers')
  t.match(plain.body, /egauge_sensor_info\{sensor="b"/)
  t.equal((await get('/probe?target=b&format=influx')).headers['content-type'], 'text/plain; charset=utf-8', 'line protocol when asked')
  const text1 = await get('/metrics/b', { accept: PROMETHEUS3_TEXT1_ACCEPT })
  t.equal(text1.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8', 'Prometheus 3 asking for text 1.0.0 gets the text format')
  t.equal((await get('/probe')).statusCode, 400)
  t.equal((await get('/probe?target=nope')).statusCode, 404)
})

t.test('errors: status codes and one plain line', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['/metrics/nope', 404, 'unknown sensor\n'],
    ['/metrics/..%2F..%2Fetc%2Fpasswd', 404, 'unknown sensor\n'],
    ['/metrics/http%3A%2F%2F169.254.169.254%2F', 404, 'unknown sensor\n'],
    ['/metrics/a/../../x', 404, 'not found\n'],
    ['/probe?target=http://evil.example/', 404, 'unknown sensor\n'],
    ['/metrics/a?format=json', 400, 'format must be influx, prometheus or openmetrics\n'],
    ['/metrics/a?precision=h', 400, 'precision must be s, ms, us or ns\n'],
    ['/metrics/a?window=5m&step=7s', 400, 'step must be one of 1s, 1m, 15m, 1h, 1d\n'],
    ['/metrics/a?window=2h&step=1s', 400, 'window/step must be at most 3599 points (3600 meter rows)\n'],
    ['/metrics/a?window=90s&step=1m', 400, 'window must be a whole number of steps\n'],
    ['/metrics/a?step=1s', 400, 'step needs a window\n'],
    ['/metrics/a?format=influx&format=influx', 400, 'repeated query parameter\n'],
    ['/nothing', 404, 'not found\n']
  ]
  const before = simA.requests.length + simB.requests.length
  for (const [url, status, body] of cases) {
    const r = await get(url)
    t.equal(r.statusCode, status, url)
    t.equal(r.body, body, url)
    t.match(r.headers['content-type'], /^text\/plain/)
  }
  t.equal(simA.requests.length + simB.requests.length, before, 'no bad request reached a meter')
})

t.test('bridge auth: 401 without or with a wrong token, constant-time compared', async (t) => {
  const none = await bridge.app.inject({ method: 'GET', url: '/metrics/a' })
  t.equal(none.statusCode, 401)
  t.equal(none.body, 'missing or wrong credentials\n')
  t.equal(none.headers['www-authenticate'], 'Bearer realm="egauge-bridge"')
  t.equal((await bridge.app.inject({ method: 'GET', url: '/', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
  t.equal((await bridge.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'health checks need no token')
  t.equal((await bridge.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const basic = testBridge({ server: { auth: { basic: { username: 'u', password: 'p' } } }, sensors: [] })
  t.teardown(() => basic.close())
  t.equal((await basic.app.inject({ method: 'GET', url: '/api/sensors' })).headers['www-authenticate'], 'Basic realm="egauge-bridge", charset="UTF-8"')
  t.equal((await basic.app.inject({ method: 'GET', url: '/api/sensors', headers: { authorization: 'Basic ' + Buffer.from('u:p').toString('base64') } })).statusCode, 200)
})

t.test('meter faults over real HTTP: 502/504 within the deadline; other sensors still answer', async (t) => {
  simA.fault = { hang: true }
  const started = performance.now()
  const [hung, other] = await Promise.all([get('/metrics/a'), get('/metrics/b')])
  t.equal(hung.statusCode, 504)
  t.equal(hung.body, 'sensor a: meter did not answer within 0.5s\n')
  t.ok(performance.now() - started < 1500, 'answered within the deadline')
  t.equal(other.statusCode, 200, 'a hanging meter does not hold up another')

  simA.fault = { latencyMs: 2000 }
  const scrape = await get('/metrics/a', { 'x-prometheus-scrape-timeout-seconds': '0.7' })
  t.equal(scrape.statusCode, 504)
  t.equal(scrape.body, 'sensor a: meter did not answer within the scrape deadline of 0.2s\n', 'Prometheus scrape timeout minus 0.5 s')
  // The shared fetch behind that answer runs on to the sensor's own timeout; later requests would join it.
  await new Promise((resolve) => setTimeout(resolve, 400))

  simA.fault = { truncate: true }
  const cut = await get('/metrics/a')
  t.equal(cut.statusCode, 502)
  t.match(cut.body, /^sensor a: (unreadable meter answer: truncated document|meter unreachable)/)
  simA.fault = { status: 500 }
  t.equal((await get('/metrics/a')).body, 'sensor a: meter answered HTTP 500\n')
  simA.fault = { body: 'not xml at all' }
  t.equal((await get('/metrics/a')).body, 'sensor a: unreadable meter answer: expected <data> as the document root, got text "not xml at all"\n')
  simA.fault = undefined

  const down = testBridge({ sensors: [{ name: 'gone', url: `http://127.0.0.1:${await freePort()}` }] })
  t.teardown(() => down.close())
  const r = await down.app.inject({ method: 'GET', url: '/metrics/gone' })
  t.equal(r.statusCode, 502)
  t.equal(r.body, 'sensor gone: meter unreachable (ECONNREFUSED)\n')
  t.match(down.logs(), /"level":40,.*"sensor":"gone","url":"http:\/\/127\.0\.0\.1:\d+","code":"EGAUGE_UNREACHABLE","durationMs":\d+,"msg":"sensor gone: meter unreachable \(ECONNREFUSED\)"/)
  t.equal((await get('/metrics/a')).statusCode, 200, 'recovers once the meter does')
})

t.test('coalescing: 200 concurrent requests make one upstream request per TTL', async (t) => {
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const b = testBridge({ server: { cache_ttl: '10s' }, sensors: [{ name: 'c', url }] })
  t.teardown(() => b.close())
  sim.fault = { latencyMs: 100 }
  const answers = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
    await b.app.inject({ method: 'GET', url: i % 2 === 0 ? '/metrics/c' : '/metrics/c?format=prometheus' })))
  t.ok(answers.every((a) => a.statusCode === 200))
  t.equal(sim.requests.length, 1, 'one meter request for 200 scrapes, both formats')
  await b.app.inject({ method: 'GET', url: '/metrics/c' })
  t.equal(sim.requests.length, 1, 'then served from the cache within the TTL')
  await b.app.inject({ method: 'GET', url: '/metrics/c?window=1m' })
  t.equal(sim.requests.length, 2, 'a different request is a different fetch')
  const self = (await b.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(self, /egauge_bridge_coalesced_requests_total 200/)
  t.match(self, /egauge_bridge_upstream_requests_total\{sensor="c"\} 2/)
})

t.test('the cache cannot be grown without bound by varying request parameters', async (t) => {
  const { MAX_CACHED_PER_SENSOR } = await import('../../../src/meters/pool.js')
  let now = 1_000_000
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const b = testBridge({ server: { cache_ttl: '10s' }, sensors: [{ name: 'c', url }] }, { now: () => now })
  t.teardown(() => b.close())
  for (let seconds = 2; seconds < 120; seconds++) {
    t.equal((await b.app.inject({ method: 'GET', url: `/metrics/c?window=${seconds}s` })).statusCode, 200)
  }
  t.ok(b.live.pool.cachedEntries('c') <= 2 * MAX_CACHED_PER_SENSOR, `bounded: ${b.live.pool.cachedEntries('c')} entries after 118 distinct windows`)
  const before = sim.requests.length
  await b.app.inject({ method: 'GET', url: '/metrics/c?window=119s' })
  t.equal(sim.requests.length, before, 'the newest entries are still served from the cache')
  now += 11_000
  await b.app.inject({ method: 'GET', url: '/metrics/c' })
  t.equal(b.live.pool.cachedEntries('c'), 2, 'expired entries are swept when a new one is stored')
  t.equal(b.live.pool.cachedEntries('nope'), 0)
})

t.test('/metrics (self), /api/sensors, /readyz, the status page', async (t) => {
  // Its own bridge and its own failures, so this subtest runs alone (--grep) as well as in order.
  const own = testBridge({
    sensors: [
      { name: 'a', url: urlA, username: 'owner', password: SECRETS[0], timeout: '300ms' },
      { name: 'b', url: urlB, timeout: '300ms' }
    ]
  }, { processMetrics: true })
  t.teardown(() => own.close())
  const get = async (url: string): Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }> => await own.app.inject({ method: 'GET', url }) as never
  simA.fault = { hang: true }
  t.equal((await get('/metrics/a')).statusCode, 504)
  t.equal((await get('/metrics/a')).statusCode, 504)
  simA.fault = undefined
  t.equal((await get('/metrics/a')).statusCode, 200)
  await get('/metrics/b')
  const self = await get('/metrics')
  t.equal(self.statusCode, 200)
  for (const name of ['egauge_bridge_fetch_duration_seconds_bucket', 'egauge_bridge_fetch_errors_total', 'egauge_bridge_sensor_up', 'egauge_bridge_upstream_requests_total', 'egauge_bridge_process_cpu_seconds_total', 'egauge_bridge_config_last_reload_successful']) {
    t.match(self.body, new RegExp(`^${name}`, 'm'), name)
  }
  t.match(self.body, /egauge_bridge_sensor_up\{sensor="b"\} 1/)
  t.match(self.body, /egauge_bridge_fetch_errors_total\{sensor="a",reason="EGAUGE_TIMEOUT"\} 2/)
  t.match(self.body, /egauge_bridge_fetch_errors_total\{sensor="b",reason="EGAUGE_PARSE"\} 0/, 'every reason is exported at 0')
  t.match(self.body, new RegExp(`egauge_bridge_build_info\\{version="\\d+\\.\\d+\\.\\d+[^"]*",node="${process.version}"\\} 1`))

  const api = JSON.parse((await get('/api/sensors')).body) as { sensors: Array<{ name: string, state: string, lastError: { code: string, at: unknown } | null, url: string, lastFetch: unknown, lastSuccess: unknown }> }
  t.same(api.sensors.map((s) => [s.name, s.state]), [['a', 'up'], ['b', 'up']])
  const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
  for (const value of [api.sensors[0]!.lastFetch, api.sensors[0]!.lastSuccess, api.sensors[0]!.lastError!.at]) t.match(value, isoTime, 'every time an ISO 8601 UTC string')
  t.equal(api.sensors[0]!.lastError!.code, 'EGAUGE_TIMEOUT', 'the last error stays beside the last success')
  t.equal(api.sensors[0]!.url, urlA)
  const ready = await get('/readyz')
  t.same(JSON.parse(ready.body), { status: 'ready', sensors: 2, push: false, version: '0.1.0' })

  const page = await get('/')
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  t.match(page.headers['content-security-policy'] as string, /default-src 'none'/)
  t.match(page.body, /<h2>a<\/h2>/)
  t.match(page.body, /href="metrics\/b\?format=prometheus"/)
})

t.test('no secret in any response, header or log line', async (t) => {
  const urls = ['/', '/api/sensors', '/metrics', '/metrics/a', '/metrics/a?format=prometheus', '/readyz', '/metrics/nope']
  simA.fault = { status: 401 }
  urls.push('/metrics/a')
  let everything = ''
  for (const url of urls) {
    const r = await get(url)
    everything += JSON.stringify(r.headers) + r.body
  }
  simA.fault = undefined
  everything += bridge.logs()
  for (const secret of SECRETS) t.notOk(everything.includes(secret), 'secret absent')
  t.notOk(everything.includes(Buffer.from(`owner:${SECRETS[0]}`).toString('base64')))
  t.ok(bridge.logs().length > 0, 'logs were captured')
})

t.test('pure helpers: negotiation, deadline, status mapping', async (t) => {
  t.equal(negotiate(PROMETHEUS_ACCEPT), 'openmetrics')
  t.equal(negotiate('text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), 'prometheus')
  t.equal(negotiate('text/plain;version=0.0.4,application/openmetrics-text;q=0.2'), 'prometheus')
  t.equal(negotiate('*/*'), 'influx', 'curl')
  t.equal(negotiate(undefined), 'influx', 'Telegraf sends no Accept')
  t.equal(negotiate(PROMETHEUS3_ACCEPT), 'openmetrics', 'Prometheus 3 defaults')
  t.equal(negotiate(PROMETHEUS3_TEXT1_ACCEPT), 'prometheus', 'Prometheus 3, PrometheusText1.0.0 only')
  t.equal(negotiate('text/plain;version=1.0.0;escaping=values'), 'prometheus', 'every escaping scheme: the names need none')
  t.equal(negotiate('text/plain'), 'influx', 'a plain text/plain is not the exposition')
  t.equal(negotiate(undefined, 'prometheus'), 'prometheus', 'a probe answers the exposition by default')
  t.equal(negotiate('*/*', 'prometheus'), 'prometheus')
  t.equal(negotiate('application/openmetrics-text;version=1.0.0;q=0.1', 'prometheus'), 'openmetrics', 'but gives what is asked for')
  t.same(parseMetricsRequest({ window: '5m', step: '1m' }, undefined), { format: 'influx', precision: 'ns', window: { seconds: 300, step: 60 } })
  t.equal(deadlineMs(10_000, '10'), 9500)
  t.equal(deadlineMs(2000, '10'), 2000)
  t.equal(deadlineMs(2000, 'soon'), 2000)
  t.equal(deadlineMs(2000, ['0.3']), 100, 'never below 100 ms')
  t.equal(statusFor(new Error('x')), 500)
  t.equal(statusFor(Object.assign(new Error('x'), { statusCode: 415 })), 415)
})

t.test('buildApp defaults: no logger; /readyz is 503 until the listener is up', async (t) => {
  const { buildApp } = await import('../../../src/server/app.js')
  const { createSelfMetrics } = await import('../../../src/telemetry/self-metrics.js')
  const live = bridge.live
  const app = buildApp({ live: () => live, metrics: createSelfMetrics(false), push: true, ready: () => false })
  t.teardown(() => app.close())
  const r = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(r.statusCode, 503)
  t.same(JSON.parse(r.body), { status: 'starting', sensors: 2, push: true, version: '0.1.0' })
  // Without `ready` and `info` (the bridge always passes both): ready, and a page without push facts.
  const bare = buildApp({ live: () => live, metrics: createSelfMetrics(false), push: false })
  t.teardown(() => bare.close())
  t.equal((await bare.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const page = await bare.inject({ method: 'GET', url: '/', headers: auth })
  t.equal(page.statusCode, 200)
  t.match(page.body, /<dt>Version<\/dt><dd>0\.1\.0<\/dd>/)
})

t.test('an internal error is a 500 without details, logged', async (t) => {
  const b = testBridge({ sensors: [{ name: 'x', url: urlB }] })
  t.teardown(() => b.close())
  b.live.pool.answer = async () => { throw new TypeError('secret internals') }
  const r = await b.app.inject({ method: 'GET', url: '/metrics/x' })
  t.equal(r.statusCode, 500)
  t.equal(r.body, 'internal error\n')
  t.match(b.logs(), /"level":50.*secret internals/)
})

t.test('what the HTTP parser and the router refuse is one plain line too, never JSON', async (t) => {
  const b = testBridge({ sensors: [{ name: 'a', url: urlA }] })
  t.teardown(() => b.close())
  const address = new URL(await b.bridge.listen('127.0.0.1', 0))
  const raw = async (request: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = connect(Number(address.port), address.hostname)
    let answer = ''
    socket.on('data', (d) => { answer += d.toString() })
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
    socket.end(request)
  })
  const big = await raw(`GET /metrics/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(big, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
  t.match(big, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/)
  t.match(big, /\r\n\r\nrequest headers \(or URL\) too large\n$/)
  const longUrl = await raw(`GET /metrics/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.match(longUrl, /^HTTP\/1\.1 431 .*\r\n\r\nrequest headers \(or URL\) too large\n$/s, 'a URL too long for the parser')
  t.match(await raw('NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400 Bad Request\r\n.*\r\n\r\nmalformed HTTP request\n$/s)
  const badUrl = await b.app.inject({ method: 'GET', url: '/metrics/%E0%A4%A' })
  t.same([badUrl.statusCode, badUrl.headers['content-type'], badUrl.body], [400, 'text/plain; charset=utf-8', 'malformed URL\n'], 'the URL is not echoed')
})

t.test('self-metrics: every sensor has its series from start-up; a scrape deadline is counted and flips sensor_up', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const own = testBridge({ sensors: [{ name: 'a', url: urlA, username: 'owner', password: SECRETS[0], timeout: '2s' }, { name: 'dead', url: dead }] })
  t.teardown(() => own.close())
  const metrics = async (): Promise<string> => (await own.app.inject({ method: 'GET', url: '/metrics' })).body
  const before = await metrics()
  for (const sensor of ['a', 'dead']) {
    t.match(before, new RegExp(`^egauge_bridge_sensor_up\\{sensor="${sensor}"\\} 0$`, 'm'), `${sensor}: sensor_up 0 before any fetch`)
    for (const reason of ['EGAUGE_TIMEOUT', 'EGAUGE_UNREACHABLE', 'EGAUGE_HTTP_STATUS', 'EGAUGE_AUTH', 'EGAUGE_TOO_LARGE', 'EGAUGE_PARSE', 'SCRAPE_DEADLINE']) {
      t.match(before, new RegExp(`^egauge_bridge_fetch_errors_total\\{sensor="${sensor}",reason="${reason}"\\} 0$`, 'm'), `${sensor} ${reason} at 0`)
    }
  }
  t.equal((await own.app.inject({ method: 'GET', url: '/metrics/a' })).statusCode, 200)
  t.match(await metrics(), /^egauge_bridge_sensor_up\{sensor="a"\} 1$/m)
  // Prometheus allows 0.7 s; the meter takes 1.5 s: the scrape gets a 504 at 0.2 s.
  simA.fault = { latencyMs: 1500 }
  t.teardown(() => { simA.fault = undefined })
  const scrape = await own.app.inject({ method: 'GET', url: '/metrics/a?window=1m', headers: { 'x-prometheus-scrape-timeout-seconds': '0.7' } })
  t.equal(scrape.statusCode, 504)
  const after = await metrics()
  t.match(after, /^egauge_bridge_sensor_up\{sensor="a"\} 0$/m, 'the failed scrape flips sensor_up')
  t.match(after, /^egauge_bridge_fetch_errors_total\{sensor="a",reason="SCRAPE_DEADLINE"\} 1$/m)
  t.match(own.logs(), /"sensor":"a".*"code":"EGAUGE_TIMEOUT".*scrape deadline of 0\.2s/, 'and logged')
  t.match(JSON.parse((await own.app.inject({ method: 'GET', url: '/api/sensors' })).body).sensors[0].lastError, { code: 'SCRAPE_DEADLINE' })
})

t.test('plainClientError: nothing for a reset or destroyed socket, 408 for a request too slow', async (t) => {
  const { plainClientError } = await import('../../../src/server/errors.js')
  const { PassThrough } = await import('node:stream')
  const answer = (code: string | undefined, destroyed = false): string => {
    const socket = new PassThrough()
    let written = ''
    socket.on('data', (d: Buffer) => { written += d.toString() })
    socket.on('error', () => {})
    if (destroyed) socket.destroy()
    plainClientError(Object.assign(new Error('x'), code === undefined ? {} : { code }), socket)
    return written + (socket.read() as Buffer | null ?? '').toString()
  }
  t.equal(answer('ECONNRESET'), '', 'the client left: nothing to answer')
  t.equal(answer('HPE_INVALID_METHOD', true), '', 'a destroyed socket: nothing to write')
  t.match(answer('ERR_HTTP_REQUEST_TIMEOUT'), /^HTTP\/1\.1 408 Request Timeout\r\n.*\r\n\r\nrequest not received in time\n$/s)
  t.match(answer(undefined), /^HTTP\/1\.1 400 Bad Request\r\n/)
})

t.test('POST /-/reload: the same reload as SIGHUP, behind the bridge auth; a bad file keeps the config', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const { loadConfigFile } = await import('../../../src/config/load.js')
  const file = join(mkdtempSync(join(tmpdir(), 'reload-')), 'bridge.yml')
  const auth = `server:\n  auth: { bearer_token: "${SECRETS[1]}" }\n`
  writeFileSync(file, `${auth}sensors:\n  - name: one\n    url: ${urlA}\n`)
  const { createBridge } = await import('../../../src/bridge/bridge.js')
  const bridge = createBridge({ config: loadConfigFile(file).config, configFile: file, processMetrics: false, ready: () => true })
  t.teardown(() => bridge.close())
  const post = async (headers: Record<string, string> = auth0): Promise<{ statusCode: number, body: string }> => await bridge.app.inject({ method: 'POST', url: '/-/reload', headers }) as never
  const auth0 = { authorization: `Bearer ${SECRETS[1]}` }
  t.equal((await post({})).statusCode, 401, 'the bridge auth applies')
  writeFileSync(file, `${auth}sensors:\n  - name: one\n    url: ${urlA}\n  - name: two\n    url: ${urlB}\n`)
  t.same(await post().then((r) => [r.statusCode, r.body]), [200, 'config reloaded\n'])
  t.same(bridge.live().config.sensors.map((s) => s.name), ['one', 'two'])
  writeFileSync(file, `${auth}sensors: [{ name: broken, url: "not a url" }]\n`)
  t.same(await post().then((r) => [r.statusCode, r.body]), [500, 'config reload failed: the running config stays (the log says why)\n'])
  t.same(bridge.live().config.sensors.map((s) => s.name), ['one', 'two'], 'the old config stays')
  // A reload while a fetch is in flight: the fetch finishes on the old pool, then that pool closes.
  simB.fault = { latencyMs: 300 }
  const inFlight = bridge.live().pool.answer('two', { kind: 'current' }, 5000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  writeFileSync(file, `${auth}sensors:\n  - name: one\n    url: ${urlA}\n  - name: two\n    url: ${urlB}\n`)
  t.equal((await post()).statusCode, 200)
  const answered = await inFlight.then((a) => a.kind, (e: Error) => e.message)
  simB.fault = undefined
  t.equal(answered, 'current', 'the in-flight fetch is not failed by the reload')
  // A file without sensors (emptied, or half written by an editor) would answer 404 for every
  // sensor: a failed reload, not a success.
  for (const text of ['', `${auth}sensors: []\n`]) {
    writeFileSync(file, text)
    t.equal((await post()).statusCode, 500, JSON.stringify(text))
    t.same(bridge.live().config.sensors.map((s) => s.name), ['one', 'two'])
    t.equal(await bridge.metrics.configReloadOk.get().then((m) => m.values[0]!.value), 0, 'config_last_reload_successful 0')
  }
  const demo = testBridge({ sensors: [{ name: 'a', url: urlA }] })
  t.teardown(() => demo.close())
  const r = await demo.app.inject({ method: 'POST', url: '/-/reload' })
  t.same([r.statusCode, r.body], [400, 'nothing to reload: no config file (demo mode)\n'])
})

t.test('/api/sensors: the push state in the same time format, null where nothing happened yet', async (t) => {
  // The lag is read when asked: now (12 s after the checkpoint) minus the checkpoint, whatever the cycle stored.
  const b = testBridge({ sensors: [{ name: 'a', url: urlA }, { name: 'b', url: urlB }] }, { now: () => 1_700_000_012_000 })
  t.teardown(() => b.close())
  b.live.book.setPush('a', { checkpoint: 1_700_000_000, lagSeconds: 3, lastSuccess: 1_700_000_010, lastError: { code: 'INFLUX_UNAVAILABLE', message: 'busy', at: 1_700_000_005_000 }, clockOffsetSeconds: -10_800, clockSkewed: true })
  b.live.book.setPush('b', { checkpoint: undefined, lagSeconds: undefined, lastSuccess: undefined, lastError: undefined })
  const api = JSON.parse((await b.app.inject({ method: 'GET', url: '/api/sensors' })).body) as { sensors: Array<{ push: unknown, lastSuccess: unknown }> }
  t.same(api.sensors[0]!.push, { checkpoint: '2023-11-14T22:13:20.000Z', lagSeconds: 12, lastSuccess: '2023-11-14T22:13:30.000Z', lastError: { code: 'INFLUX_UNAVAILABLE', message: 'busy', at: '2023-11-14T22:13:25.000Z' }, clockOffsetSeconds: -10_800, clockSkewed: true })
  t.same(api.sensors[1]!.push, { checkpoint: null, lagSeconds: null, lastSuccess: null, lastError: null, clockOffsetSeconds: null, clockSkewed: false })
  t.equal(api.sensors[1]!.lastSuccess, null, 'no fetch has succeeded')
})

t.test('a route with a schema still validates and serializes: Fastify\'s compilers load on first use', async (t) => {
  const b = testBridge({ sensors: [{ name: 'x', url: urlB }] })
  t.teardown(() => b.close())
  b.app.get('/typed', {
    schema: {
      querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
      response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } }
    }
  }, async (req) => ({ n: (req.query as { n: number }).n, dropped: 'by the serializer' }))
  const ok = await b.app.inject({ method: 'GET', url: '/typed?n=3' })
  t.equal(ok.statusCode, 200)
  t.same(JSON.parse(ok.body), { n: 3 }, 'coerced by Ajv, shaped by fast-json-stringify')
  t.equal((await b.app.inject({ method: 'GET', url: '/typed' })).statusCode, 400)
})

t.test('the bridge\'s own /metrics: OpenMetrics when asked for, the same samples, and the text format unchanged after it', async (t) => {
  const own = testBridge({ sensors: [{ name: 'o', url: urlB, timeout: '500ms' }] }, { processMetrics: true })
  t.teardown(() => own.close())
  await own.app.inject({ method: 'GET', url: '/metrics/o' })
  own.metrics.fetchErrors.inc({ sensor: 'o\n"\\', reason: 'X' })
  const scrape = async (accept?: string) => await own.app.inject({ method: 'GET', url: '/metrics', headers: accept === undefined ? {} : { accept } })
  const text = await scrape()
  t.equal(text.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  const om = await scrape(PROMETHEUS3_ACCEPT)
  t.equal(om.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  t.match(om.body, /# EOF\n$/)
  t.match(om.body, /^# TYPE egauge_bridge_upstream_requests counter\negauge_bridge_upstream_requests_total\{sensor="o"\} 1$/m, 'a counter: the family without _total, its sample with')
  t.match(om.body, /^# TYPE egauge_bridge_fetch_duration_seconds histogram$/m)
  t.match(om.body, /^egauge_bridge_fetch_duration_seconds_bucket\{le="\+Inf",sensor="o",endpoint="[^"]+"\} 1$/m)
  t.match(om.body, /^egauge_bridge_fetch_duration_seconds_count\{/m)
  t.match(om.body, /^egauge_bridge_fetch_errors_total\{sensor="o\\n\\"\\\\",reason="X"\} 1$/m, 'label values escaped')
  t.match(om.body, /^# HELP egauge_bridge_build_info /m)
  // Every sample line of the text format is in OpenMetrics (label order aside), and back.
  const samples = (body: string): string[] => body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.replace(/\{[^}]*\}/, (m) => '{' + m.slice(1, -1).split(/,(?=[a-z_]+=")/).sort().join(',') + '}').replace(/ .*$/, '')).sort()
  t.same(samples(om.body), samples(text.body))
  t.match((await scrape()).body, /^# TYPE egauge_bridge_upstream_requests_total counter\negauge_bridge_upstream_requests_total\{sensor="o"\} 1$/m, 'counters keep _total in the text format after an OpenMetrics scrape')
  t.equal((await scrape('application/openmetrics-text')).headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
})

t.test('a meter that echoes the credentials into its answer: the secret in no answer, page or log line', async (t) => {
  const { createServer } = await import('node:http')
  const password = 'meter-echo-secret'
  const basic = Buffer.from(`owner:${password}`).toString('base64')
  // A meter (or whatever answers in its place) that asks for Basic and quotes the header into a value.
  const server = createServer((req, res) => {
    if (req.headers.authorization === undefined) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="m"' }).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/xml' }).end(`<data serial="0x1"><r t="P" n="Grid"><v>${req.headers.authorization} ${password}</v><i>1</i></r></data>`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const b = testBridge({ sensors: [{ name: 'echo', url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, username: 'owner', password }] })
  t.teardown(() => b.close())
  const r = await b.app.inject({ method: 'GET', url: '/metrics/echo' })
  t.equal(r.statusCode, 502)
  t.match(r.body, /\[redacted\]/, 'the quoted value is shown, redacted')
  const seen = [r.body, (await b.app.inject({ method: 'GET', url: '/api/sensors' })).body, (await b.app.inject({ method: 'GET', url: '/' })).body, b.logs()]
  for (const text of seen) {
    t.notOk(text.includes(password), 'no password')
    t.notOk(text.includes(basic), 'no Basic credentials')
  }
})
