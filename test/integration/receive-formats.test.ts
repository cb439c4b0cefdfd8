/**
 * The receiver's other ways in, against a real InfluxDB: register JSON (a meter's `json` push
 * option) in every Content-Encoding a sender uses, a push that skips rows, a body over the size
 * limit, a state file that cannot be saved, and the commands that read meters refusing a meter
 * that only pushes. Last, the simulator binary pushing into the bridge as a meter does.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { main } from '../../src/cli.js'
import { testBridge } from '../helpers/bridge.js'
import { startInflux } from '../helpers/influxdb.js'
import { postChunked } from '../helpers/post.js'

const influx = await startInflux()
t.teardown(async () => { await influx.stop() })
const CREDS = { username: 'meter', password: 'json-push-secret' }
const dir = mkdtempSync(join(tmpdir(), 'receive-formats-'))

const T = 1_700_000_000
/**
 * A JSON push of rows from `newest` back to `oldest`, as the meter writes it: Grid gains 1000 W·s
 * a second, Temp holds 21.5 °C (21 500 m°C·s a second), Usage (virtual, no `did`) 3 W.
 */
function jsonPush (newest: number, oldest: number): string {
  const rows: string[][] = []
  for (let time = newest; time >= oldest; time--) rows.push([String(1000 * (time - T)), String(21_500 * (time - T)), String(3 * (time - T))])
  return JSON.stringify({
    registers: [{ name: 'Grid', type: 'P', did: 0 }, { name: 'Temp', type: 'T', did: 1 }, { name: 'Usage', type: 'P' }],
    ranges: [{ ts: `${newest}.123`, delta: 1, rows }]
  })
}

t.test('register JSON, plain, zlib, raw deflate and x-gzip: pushes joined, exact values, a skipped stretch averaged and reported', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'json', receive: CREDS }],
    influx: { url: influx.url, database: 'json', timeout: '2s' },
    push: { state_file: join(dir, 'json-state.json') }
  })
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const url = `${base}/receive/json`
  const json = { 'content-type': 'application/json; charset=utf-8' }
  const sent: Array<[string, Buffer | string, Record<string, string>]> = [
    ['plain', jsonPush(T + 10, T + 0), json],
    ['deflate (zlib)', deflateSync(jsonPush(T + 20, T + 11)), { ...json, 'content-encoding': 'deflate' }],
    ['deflate (raw, as some senders do)', deflateRawSync(jsonPush(T + 30, T + 21)), { ...json, 'content-encoding': 'deflate' }],
    // eGauge documents no content type for JSON pushes: the document says what it is.
    ['x-gzip, labelled text/xml', gzipSync(jsonPush(T + 40, T + 31)), { 'content-type': 'text/xml', 'content-encoding': 'x-gzip' }]
  ]
  for (const [how, body, headers] of sent) {
    const answer = await postChunked(url, body, { auth: CREDS, headers })
    t.equal(answer.status, 200, how)
    // 10 intervals × 3 registers: the first push has 11 rows, the others 10 joined to the previous one.
    t.equal(answer.body, `ok: ${how === 'plain' ? 11 : 10} rows, 30 points written\n`, how)
  }
  // The meter was unreachable for 20 s and sent only its newest rows: one point covers the gap.
  const skipped = await postChunked(url, jsonPush(T + 65, T + 61), { auth: CREDS, headers: json })
  t.equal(skipped.status, 200)
  t.match(b.logs(), /"sensor":"json","gapSeconds":21,"msg":"push starts 21 s after the previous one ended: the rows between were not sent \(set old_first on the meter\)/)

  const [grid] = await influx.query("SELECT \"value\" FROM egauge WHERE sensor = 'json' AND register = 'Grid'", 'json')
  const times = (grid!.series![0]!.values as Array<[number, number]>).map(([time]) => time)
  t.same(times, [...Array.from({ length: 40 }, (_, i) => T + 1 + i), T + 61, T + 62, T + 63, T + 64, T + 65], 'every second once, the gap as one point')
  t.ok(grid!.series![0]!.values.every(([, value]) => value === 1000), 'Grid 1000 W throughout, the gap point included')
  const [temp] = await influx.query("SELECT \"value\", unit, quantity FROM egauge WHERE sensor = 'json' AND register = 'Temp' LIMIT 1", 'json')
  t.same(temp!.series![0]!.values[0]!.slice(1), [21.5, 'degC', 'temperature'])
  const [usage] = await influx.query("SELECT count(\"value\") FROM egauge WHERE sensor = 'json' AND register = 'Usage' AND virtual = 'true'", 'json')
  t.equal(usage!.series![0]!.values[0]![1], 45, 'a register without did is virtual')

  // A register added on the meter: the previous row lacks it, so the push starts unjoined.
  const added = JSON.parse(jsonPush(T + 67, T + 66)) as { registers: unknown[], ranges: Array<{ rows: string[][] }> }
  added.registers.push({ name: 'New', type: 'P', did: 5 })
  for (const row of added.ranges[0]!.rows) row.push('0')
  const unjoined = await postChunked(url, JSON.stringify(added), { auth: CREDS, headers: json })
  t.equal(unjoined.body, 'ok: 2 rows, 4 points written\n', 'one interval inside the push, four registers')
  t.match(b.logs(), /push not joined to the previous one \(register \\"New\\" is new since the previous push\): its oldest row has no rate/)

  const form = await postChunked(url, jsonPush(T + 70, T + 68), { auth: CREDS, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(form.status, 415, 'a form is not a push')
  const bad = await postChunked(url, '{"registers":[]}', { auth: CREDS, headers: json })
  t.equal(bad.status, 400)
  t.equal(bad.body, 'sensor json: push is not an eGauge register JSON document: no "registers" in the register document\n')

  // A meter that only pushes is not read by the bridge: the read routes and commands say so.
  const metrics = await b.app.inject({ url: '/metrics/json' })
  t.equal(metrics.statusCode, 404)
  t.match(metrics.body, /sensor json has no url: it pushes its data to the bridge, which writes them to the database/)
  const file = join(dir, 'json.yml')
  writeFileSync(file, `sensors:\n  - name: json\n    receive: { username: meter, password: json-push-secret }\ninflux: { url: "${influx.url}", database: json }\n`)
  let err = ''
  t.equal(await main(['once', 'json', '--config', file], () => {}, (s) => { err += s }), 2)
  t.match(err, /sensor "json" has no url: it pushes its data to the bridge, there is nothing to read/)
  err = ''
  t.equal(await main(['backfill', 'json', '--from', '2023-11-14T00:00:00Z', '--config', file], () => {}, (s) => { err += s }), 2)
  t.match(err, /sensor "json" has no url: it pushes its data to the bridge, and backfill reads meters/)
  let out = ''
  t.equal(await main(['push', '--once', '--config', file], (s) => { out += s }, () => {}), 0, 'nothing to read: a cycle of no sensors')
  t.match(out, /"sensors":\["json"\],"msg":"these sensors push their own data to POST \/receive\/<name>, which only serve takes/)
})

t.test('the peper schema: pushes land as the 2019 script wrote its series', async (t) => {
  // A row file left corrupt (a disk that lied): reported, and the push starts unjoined.
  mkdirSync(join(dir, 'peper-state.json.receive'))
  writeFileSync(join(dir, 'peper-state.json.receive', 'peper.json'), '{"time": 17')
  const b = testBridge({
    sensors: [{ name: 'peper', receive: CREDS, tags: { ID: 'peper', Ville: 'Paris' }, register_units: { Grid: 'W', Temp: 'C' } }],
    influx: { url: influx.url, database: 'peper', schema: 'peper', timeout: '2s' },
    push: { state_file: join(dir, 'peper-state.json') }
  })
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  for (const [newest, oldest] of [[T + 3, T], [T + 6, T + 4]] as const) {
    const answer = await postChunked(`${base}/receive/peper`, jsonPush(newest, oldest), { auth: CREDS, headers: { 'content-type': 'application/json' } })
    t.equal(answer.status, 200)
  }
  const [grid] = await influx.query('SELECT "Grid", "Unit", "Ville" FROM measure WHERE "Grid" > 0', 'peper')
  t.same(grid!.series![0]!.values.map((v) => v[0]), [T + 1, T + 2, T + 3, T + 4, T + 5, T + 6], 'joined across the pushes')
  t.same(grid!.series![0]!.values[0]!.slice(1), [1000, 'W', 'Paris'], 'a W register keeps its watts')
  const [temp] = await influx.query('SELECT "Temp" FROM measure WHERE "Temp" > 0 LIMIT 1', 'peper')
  t.equal(temp!.series![0]!.values[0]![1], 21.5, 'Δraw / (Δt × 1000) for the others')
  t.match(b.logs(), /peper\.json is corrupt: the next push of peper starts without its previous row/)
  const [fields] = await influx.query('SHOW FIELD KEYS FROM measure', 'peper')
  t.same(fields!.series![0]!.values.map((v) => v[0]).sort(), ['Grid', 'Temp'], 'the virtual Usage left out: the 2019 script never wrote totals')
})

t.test('an XML push with the meter\'s totals (its `totals` option): use and gen written as Total Usage and Total Generation, virtual=true', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'xml', receive: CREDS }],
    influx: { url: influx.url, database: 'totals', timeout: '2s' },
    push: { state_file: join(dir, 'totals-state.json') }
  })
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const rows = [2, 1, 0].map((i) => `<r><c>${300 * i}</c><c>${100 * i}</c><c>${200 * i}</c></r>`).join('')
  const xml = `<group serial="0x1"><data columns="3" time_stamp="0x${(T + 2).toString(16)}" time_delta="1" epoch="0x0"><cname t="P">use</cname><cname t="P">gen</cname><cname t="P">Grid</cname>${rows}</data></group>`
  const answer = await postChunked(`${base}/receive/xml`, xml, { auth: CREDS, headers: { 'content-type': 'text/xml' } })
  t.equal(answer.status, 200, answer.body)
  const [res] = await influx.query('SELECT last("value") FROM egauge GROUP BY "register", "virtual"', 'totals')
  const got = res!.series!.map((s) => [s.tags!.register, s.tags!.virtual, s.values[0]![1]]).sort()
  t.same(got, [['Grid', '', 200], ['Total Generation', 'true', 100], ['Total Usage', 'true', 300]])
})

t.test('a body over max_response_size without compression: 413, nothing read past the limit', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'small', receive: CREDS, max_response_size: '1KiB' }],
    influx: { url: influx.url, database: 'small', timeout: '2s' },
    push: { state_file: join(dir, 'small-state.json') }
  })
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const big = await postChunked(`${base}/receive/small`, jsonPush(T + 100, T), { auth: CREDS, headers: { 'content-type': 'application/json' } })
  t.equal(big.status, 413)
  t.equal(big.body, 'sensor small: push body larger than 1024 bytes (max_response_size) refused\n')
  const fits = await postChunked(`${base}/receive/small`, jsonPush(T + 2, T), { auth: CREDS, headers: { 'content-type': 'application/json' } })
  t.equal(fits.status, 200)
})

t.test('written but the state file cannot be saved: 503, so the meter sends it again', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'nostate', receive: { ...CREDS, interval: '2m' } }],
    influx: { url: influx.url, database: 'nostate', timeout: '2s' },
    push: { state_file: join(dir, 'no-such-dir', 'state.json') }
  })
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const answer = await postChunked(`${base}/receive/nostate`, jsonPush(T + 5, T), { auth: CREDS, headers: { 'content-type': 'application/json' } })
  t.equal(answer.status, 503)
  t.equal(answer.headers['retry-after'], '120', 'the meter\'s interval')
  t.match(answer.body, /^sensor nostate: push written but its newest row cannot be saved to .*no-such-dir\/state\.json\.receive\/nostate\.json \(ENOENT\): the meter will send it again/)
  const { sensors } = await (await fetch(`${base}/api/sensors`)).json() as { sensors: Array<{ receive: { state: string, lastError: { code: string } } }> }
  t.equal(sensors[0]!.receive.state, 'failing')
  t.equal(sensors[0]!.receive.lastError.code, 'STATE_FILE')
})

t.test('the simulator binary pushes into the bridge as a meter does, gzip and Basic, and stops on SIGTERM', async (t) => {
  const b = testBridge({
    sensors: [{ name: 'sim', receive: { username: 'pusher', password: 'sim-push-secret', interval: '1s' } }],
    influx: { url: influx.url, database: 'sim', timeout: '2s' },
    push: { state_file: join(dir, 'sim-state.json') }
  })
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const bin = new URL('../../dist/cli.js', import.meta.url).pathname
  const sim = spawn(process.execPath, [bin, 'simulate', '--listen', '127.0.0.1:0', '--seed', '3', '--push-to', `${base}/receive/sim`, '--push-interval', '1s', '--push-user', 'pusher', '--gzip'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EGAUGE_PUSH_PASSWORD: 'sim-push-secret' } })
  let out = ''
  const acknowledged = new Promise<void>((resolve) => {
    sim.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if ((out.match(/"msg":"push acknowledged"/g) ?? []).length >= 3) resolve()
    })
  })
  await acknowledged
  const exit = new Promise<number | null>((resolve) => sim.once('exit', resolve))
  sim.kill('SIGTERM')
  t.equal(await exit, 0)
  t.match(out, /"pushTo":"http:\/\/127\.0\.0\.1:\d+\/receive\/sim","intervalMs":1000,"gzip":true,"msg":"pushing its data"/)
  t.notMatch(out, /sim-push-secret/, 'the password is not logged')
  // Refused (an unknown sensor here): the simulator says so and keeps its rows, as a meter does.
  const refused = spawn(process.execPath, [bin, 'simulate', '--listen', '127.0.0.1:0', '--push-to', `${base}/receive/nosuch`, '--push-interval', '1s'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let said = ''
  await new Promise<void>((resolve) => {
    refused.stdout.on('data', (d: Buffer) => {
      said += d.toString()
      if (said.includes('"msg":"push not acknowledged')) resolve()
    })
  })
  const refusedExit = new Promise<number | null>((resolve) => refused.once('exit', resolve))
  refused.kill('SIGTERM')
  t.equal(await refusedExit, 0)
  t.match(said, /"status":404,"rows":1,.*"msg":"push not acknowledged: the same rows go again at the next interval"/)
  const [res] = await influx.query("SELECT count(\"value\") FROM egauge WHERE sensor = 'sim' AND register = 'Grid'", 'sim')
  t.ok((res!.series![0]!.values[0]![1] as number) >= 2, 'a point a second after the first push')
})

t.test('simulate: the --push-* options are checked before anything starts', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--push-interval', '5s'], /--push-interval, --push-user and --gzip need --push-to/],
    [['--gzip'], /need --push-to/],
    [['--push-to', 'not a url'], /--push-to must be an http:\/\/ or https:\/\/ URL/],
    [['--push-to', 'ftp://host/x'], /--push-to must be an http:\/\/ or https:\/\/ URL/],
    [['--push-to', 'http://h/receive/x', '--push-interval', '500ms'], /--push-interval must be a duration of at least 1s/],
    [['--push-to', 'http://h/receive/x', '--push-interval', 'often'], /--push-interval must be a duration/],
    [['--push-to', 'http://h/receive/x', '--push-user', 'u'], /--push-user and --push-password go together/],
    [['--push-to', 'http://h/receive/x', '--push-password', 'p'], /--push-user and --push-password go together/],
    [['--push-to', 'http://h/receive/x', '--push-max', '0'], /--push-max must be a whole number from 1 to 100000/],
    [['--push-to', 'http://h/receive/x', '--push-max', '2.5'], /--push-max must be a whole number/]
  ]
  const saved = process.env.EGAUGE_PUSH_PASSWORD
  delete process.env.EGAUGE_PUSH_PASSWORD
  t.teardown(() => { if (saved !== undefined) process.env.EGAUGE_PUSH_PASSWORD = saved })
  for (const [argv, message] of cases) {
    let err = ''
    t.equal(await main(['simulate', ...argv], () => {}, (s) => { err += s }), 2, argv.join(' '))
    t.match(err.split('\n')[0], message, argv.join(' '))
  }
})
