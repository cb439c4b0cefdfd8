/**
 * The receiver against a real InfluxDB, fed the five real pushes of a 2015 meter
 * (test/fixtures/egauge-push) as the meter sent them: chunked, here also gzip-encoded. Expected
 * values come from an independent reading of the same documents (fast-xml-parser, the deltas
 * undone by hand) and a few are stated outright below.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XMLParser } from 'fast-xml-parser'
import t from 'tap'
import { testBridge } from '../helpers/bridge.js'
import { startInflux } from '../helpers/influxdb.js'
import { postChunked } from '../helpers/post.js'
import { capturedPushes } from '../helpers/push-capture.js'

const influx = await startInflux()
t.teardown(async () => { await influx.stop() })
const pushes = capturedPushes()
const CREDS = { username: 'pusher', password: 'push-secret-1' }
const REGISTERS = ['heater', 'lamp', 'lamp+']

function bridgeConfig (db: string, stateFile: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sensors: [{ name: 'sead', receive: { ...CREDS, interval: '60s' } }, { name: 'other', receive: { username: 'o', password: 'other-secret' } }],
    influx: { url: influx.url, database: db, timeout: '2s' },
    push: { state_file: stateFile },
    ...extra
  }
}

/** Every row of every push, absolute, by time: the documents read without the bridge's parser. */
function oracleRows (): Map<number, number[]> {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['data', 'r', 'c', 'cname'].includes(name) })
  const rows = new Map<number, number[]>()
  for (const push of pushes) {
    const group = parser.parse(push.body).group as { data: Array<{ time_stamp: string, time_delta: string, delta?: string, r: Array<{ c: number[] }> }> }
    const delta = group.data[0]!.delta === 'true'
    let previous: number[] | undefined
    for (const block of group.data) {
      let time = Number(block.time_stamp)
      for (const r of block.r) {
        // With delta="true" every row after the first is the difference to the row before it
        // (the next newer one), running on across <data> blocks.
        const values: number[] = delta && previous !== undefined ? r.c.map((c, i) => previous![i]! + Number(c)) : r.c.map(Number)
        rows.set(time, values)
        previous = values
        time -= Number(block.time_delta)
      }
    }
  }
  return rows
}

const HEATER = 0

t.test('the five real pushes, chunked and gzip-encoded: every rate in InfluxDB, pushes joined, the artefact row dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'receive-'))
  const b = testBridge(bridgeConfig('capture', join(dir, 'state.json')))
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  for (const [i, push] of pushes.entries()) {
    const answer = await postChunked(`${base}/receive/sead`, push.body, { headers: { 'content-type': push.headers['content-type']!, 'user-agent': push.headers['user-agent']! }, auth: CREDS, gzip: true, chunkSize: 300 })
    t.equal(answer.status, 200, `push ${i + 1} acknowledged: ${answer.body.trim()}`)
  }

  const rows = oracleRows()
  // 23:01:53 (0x55036c61): the oldest one-second row of push 4 stands 204 431 W·s above both
  // neighbours, the row after it at 23:01:00 cancelling it exactly (reference §2.3): an artefact.
  const ARTEFACT = 0x55036c61
  t.equal(rows.get(ARTEFACT)![HEATER]! - rows.get(ARTEFACT - 1 + 2)![HEATER]!, 204431, 'the artefact as the capture has it (its newer neighbour is 23:01:54)')
  rows.delete(ARTEFACT)
  const times = [...rows.keys()].sort((a, b) => a - b)
  t.equal(times.length, 2 + 1 + 1 + 61 + 7 + 60, 'rows in the capture, less the artefact')

  const [res] = await influx.query("SELECT \"value\", \"total\", register FROM egauge WHERE sensor = 'sead' GROUP BY register", 'capture')
  const series = new Map((res!.series ?? []).map((s) => [s.tags!.register!, s.values as Array<[number, number, number]>]))
  t.same([...series.keys()].sort(), REGISTERS.slice().sort(), 'the three registers')
  for (const [c, register] of REGISTERS.entries()) {
    const got = series.get(register)!
    // Every row but the oldest has a rate: the rows at push boundaries included.
    t.same(got.map((p) => p[0]), times.slice(1), `${register}: a point at every row after the first`)
    const wrong = got.find(([time, value], i) => {
      const older = times[i]!
      return value !== (rows.get(time)![c]! - rows.get(older)![c]!) / (time - older)
    })
    t.equal(wrong, undefined, `${register}: every value is Δ/Δt of the meter's own counters`)
  }
  const heater = new Map(series.get('heater')!.map((p) => [p[0], p[1]]))
  t.equal(heater.get(0x55036a4c), (-369850 - -366147) / 60, 'push 2\'s only row, joined to push 1\'s newest: -61.72 W')
  t.equal(heater.get(0x55036a88), (-373553 - -369850) / 60, 'push 3 joined to push 2')
  t.equal(heater.get(0x55036ac4), -296 / 60, 'push 4\'s oldest minute row (22:55:00), joined to push 3\'s 22:54:00: -4.93 W')
  t.equal(heater.get(ARTEFACT + 1), 0, '23:01:54 averages over the 54 s back to 23:01:00, where the heater counter stood still')
  t.equal(heater.get(0x55036c9e), -62, 'push 4\'s newest row, one second of a delta-encoded block')
  t.equal(heater.get(0x55036c9f), (rows.get(0x55036c9f)![HEATER]! - rows.get(0x55036c9e)![HEATER]!), 'push 5\'s oldest row joined to push 4\'s newest, one second apart')
  t.match(b.logs(), /1 row\(s\) at a change of resolution dropped/, 'the dropped row is logged')

  // Sent again (a meter that did not get the answer): the same points, no duplicate.
  const again = await postChunked(`${base}/receive/sead`, pushes[3]!.body, { auth: CREDS })
  t.equal(again.status, 200)
  const [count] = await influx.query("SELECT count(\"value\") FROM egauge WHERE sensor = 'sead' AND register = 'heater'", 'capture')
  t.equal(count!.series![0]!.values[0]![1], times.length - 1, 'a re-sent push leaves no duplicate')

  const api = JSON.parse((await b.app.inject({ url: '/api/sensors' })).body) as { sensors: Array<{ name: string, state: string, url: string | null, receive: { state: string, lastSuccess: { rows: number }, newest: string } | null }> }
  const sead = api.sensors.find((s) => s.name === 'sead')!
  t.equal(sead.url, null, 'a receive-only sensor has no url')
  t.equal(sead.receive!.newest, new Date(0x55036cda * 1000).toISOString(), 'the newest row received')
  t.equal(sead.receive!.lastSuccess.rows, 69, 'the last push had 69 rows (push 4 again)')
  const metrics = (await b.app.inject({ url: '/metrics' })).body
  t.match(metrics, /egauge_bridge_receive_points_total\{sensor="sead"\} (\d+)/)
  t.match(metrics, /egauge_bridge_receive_errors_total\{sensor="other",reason="RECEIVE_AUTH"\} 0/, 'a sensor that never pushed has its series from start-up')
  t.match(metrics, /egauge_bridge_receive_last_success_timestamp_seconds\{sensor="other"\} 0/)

  // The newest row, kept beside the state file for the next push after a restart.
  const kept = JSON.parse(readFileSync(join(dir, 'state.json.receive', 'sead.json'), 'utf8')) as { time: number, columns: string[], values: string[] }
  t.same(kept, { time: 0x55036cda, columns: REGISTERS, values: rows.get(0x55036cda)!.map(String) })
})

t.test('refusals: wrong credentials, unknown sensor, unreadable body, bomb, database down — nothing written, the right status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'receive-'))
  const b = testBridge(bridgeConfig('refusals', join(dir, 'state.json')))
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const body = pushes[0]!.body

  const wrong = await postChunked(`${base}/receive/sead`, body, { auth: { username: 'pusher', password: 'nope' } })
  t.equal(wrong.status, 401)
  t.match(String(wrong.headers['www-authenticate']), /^Basic realm=/)
  const none = await postChunked(`${base}/receive/sead`, body)
  t.equal(none.status, 401, 'no credentials')
  const other = await postChunked(`${base}/receive/other`, body, { auth: CREDS })
  t.equal(other.status, 401, 'another sensor\'s credentials')
  const unknown = await postChunked(`${base}/receive/nosuch`, body, { auth: CREDS })
  t.equal(unknown.status, 404, 'an unknown sensor, with server.auth off (names are public on /api/sensors)')

  const truncated = await postChunked(`${base}/receive/sead`, body.slice(0, body.lastIndexOf('<r>')), { auth: CREDS })
  t.equal(truncated.status, 400)
  t.match(truncated.body, /^sensor sead: push is not an eGauge egauge-show XML document: .*truncated/)
  const badGzip = await postChunked(`${base}/receive/sead`, 'not gzip at all', { auth: CREDS, headers: { 'content-encoding': 'gzip' } })
  t.equal(badGzip.status, 400, 'a body that is not what its Content-Encoding says')
  const html = await postChunked(`${base}/receive/sead`, '<html/>', { auth: CREDS, headers: { 'content-type': 'text/html' } })
  t.equal(html.status, 415)

  // 1 GiB of zeros, gzip-compressed to about 1 MB: refused at 32 MiB of output.
  const { gzipSync } = await import('node:zlib')
  const bomb = gzipSync(Buffer.alloc(1 << 30), { level: 9 })
  const before = process.memoryUsage().rss
  const bombed = await postChunked(`${base}/receive/sead`, bomb, { auth: CREDS, headers: { 'content-encoding': 'gzip' }, chunkSize: 65536 })
  t.equal(bombed.status, 413)
  t.ok(process.memoryUsage().rss - before < 200 * 2 ** 20, 'memory stays bounded (the output is capped at 32 MiB)')

  // Well formed and small, but with a register name far beyond max_register_name (256).
  const longName = body.replace(/<cname([^>]*)>[^<]*<\/cname>/, (_all, attrs: string) => `<cname${attrs}>${'x'.repeat(10_000)}</cname>`)
  const named = await postChunked(`${base}/receive/sead`, longName, { auth: CREDS })
  t.equal(named.status, 413)
  t.equal(named.body, 'sensor sead: push too large: a register name of 10000 characters, more than 256 (max_register_name)\n')

  const [res] = await influx.query('SHOW MEASUREMENTS', 'refusals')
  t.equal(res!.series, undefined, 'nothing was written')
  const metrics = (await b.app.inject({ url: '/metrics' })).body
  t.match(metrics, /egauge_bridge_receive_errors_total\{sensor="sead",reason="RECEIVE_AUTH"\} 2/)
  t.match(metrics, /egauge_bridge_receive_errors_total\{sensor="other",reason="RECEIVE_AUTH"\} 1/)
  t.match(metrics, /egauge_bridge_receive_errors_total\{sensor="sead",reason="RECEIVE_BAD_BODY"\} 3/)
  t.match(metrics, /egauge_bridge_receive_errors_total\{sensor="sead",reason="RECEIVE_TOO_LARGE"\} 2/)
  t.notMatch(b.logs(), /push-secret-1|nope/, 'no password in the log')

  // The database stopped: 503 within influx.timeout, with Retry-After; the same body taken afterwards.
  await influx.pause()
  const started = Date.now()
  const down = await postChunked(`${base}/receive/sead`, body, { auth: CREDS })
  t.equal(down.status, 503)
  t.ok(Date.now() - started < 2500, 'answered within influx.timeout')
  t.equal(down.headers['retry-after'], '60')
  t.match(down.body, /sensor sead: push not written, the meter will send it again: InfluxDB unreachable/)
  await influx.resume()
  const up = await postChunked(`${base}/receive/sead`, body, { auth: CREDS })
  t.equal(up.status, 200)
  const [count] = await influx.query("SELECT count(\"value\") FROM egauge WHERE sensor = 'sead'", 'refusals')
  t.equal(count!.series![0]!.values[0]![1], 3, 'push 1: one point per register, once')
})

t.test('with server.auth on, an unknown sensor gets the same 401 as wrong credentials', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'receive-'))
  const b = testBridge(bridgeConfig('authon', join(dir, 'state.json'), { server: { auth: { bearer_token: 'a-long-bridge-token-123' } } }))
  t.teardown(() => b.close())
  const base = await b.bridge.listen('127.0.0.1', 0)
  const unknown = await postChunked(`${base}/receive/nosuch`, pushes[0]!.body, { auth: CREDS })
  t.equal(unknown.status, 401)
  const ok = await postChunked(`${base}/receive/sead`, pushes[0]!.body, { auth: CREDS })
  t.equal(ok.status, 200, 'the meter\'s own credentials, not the bridge token')
  const api = await b.app.inject({ url: '/api/sensors' })
  t.equal(api.statusCode, 401, 'the read routes keep the bridge\'s auth')
})
