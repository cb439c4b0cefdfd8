import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { meterModel } from '../../../src/simulator/data.js'
import { oldestRows, Pusher } from '../../../src/simulator/pusher.js'
import { freePort } from '../../helpers/ports.js'

t.test('oldestRows keeps the oldest rows across blocks, newest first', async (t) => {
  const blocks = [{ timeStamp: 10, timeDelta: 1, times: [10, 9, 8] }, { timeStamp: 7, timeDelta: 60, times: [7, 6] }]
  t.same(oldestRows(blocks, 10), blocks, 'fewer than max: all')
  t.same(oldestRows(blocks, 3), [{ timeStamp: 8, timeDelta: 1, times: [8] }, { timeStamp: 7, timeDelta: 60, times: [7, 6] }])
  t.same(oldestRows(blocks, 2), [{ timeStamp: 7, timeDelta: 60, times: [7, 6] }], 'a whole block skipped')
  t.same(oldestRows(blocks, 1), [{ timeStamp: 6, timeDelta: 60, times: [6] }])
})

interface Seen { headers: IncomingHttpHeaders, body: Buffer }

async function receiver (statuses: number[]): Promise<{ url: string, seen: Seen[], close: () => Promise<void> }> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks) })
      res.statusCode = statuses.shift() ?? 200
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/receive/x`, seen, close: async () => { await new Promise((resolve) => server.close(resolve)) } }
}

t.test('a push as the meter sends it: headers, minute rows without delta, the cursor moves only on a 2xx', async (t) => {
  const r = await receiver([500, 204])
  t.teardown(r.close)
  let now = 1_700_000_000_000
  const pusher = new Pusher(meterModel(2), { url: r.url, intervalMs: 300_000, granularity: 60, gzip: true, auth: { username: 'u', password: 'p' }, clock: () => now })
  const refused = await pusher.pushOnce()
  t.same(refused, { status: 500, rows: 5, cursor: 1_700_000_000 - 300 }, 'five minute rows pending; a 500 leaves the cursor')
  const seen = r.seen[0]!
  t.equal(seen.headers['content-type'], 'text/xml')
  t.equal(seen.headers['user-agent'], 'egauge/pusher')
  t.equal(seen.headers['content-encoding'], 'gzip')
  t.equal(seen.headers['transfer-encoding'], 'chunked', 'no Content-Length, as the meter sends it')
  t.equal(seen.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`)
  const xml = gunzipSync(seen.body).toString()
  t.match(xml, /<data columns="\d+" time_stamp="0x[0-9a-f]+" time_delta="60" epoch="0x[0-9a-f]+">/, 'minute rows are not delta-encoded')
  t.notMatch(xml, /delta="true"/)
  t.equal((xml.match(/<r>/g) ?? []).length, 5)
  const ok = await pusher.pushOnce()
  t.same(ok, { status: 204, rows: 5, cursor: Math.floor(1_700_000_000 / 60) * 60 }, 'the same rows again, acknowledged')
  t.same(await pusher.pushOnce(), { status: undefined, rows: 0, cursor: ok.cursor }, 'nothing new: no connection')
  t.equal(r.seen.length, 2)
  now += 60_000
  t.equal((await pusher.pushOnce()).rows, 1)
})

t.test('no answer: the outcome says why; https is spoken for https URLs', async (t) => {
  const port = await freePort()
  for (const scheme of ['http', 'https']) {
    // The wall clock, as the simulate command's.
    const pusher = new Pusher(meterModel(2), { url: `${scheme}://127.0.0.1:${port}/receive/x`, intervalMs: 5000 })
    const outcome = await pusher.pushOnce()
    t.equal(outcome.status, undefined, scheme)
    t.match(outcome.error, /ECONNREFUSED/, scheme)
  }
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.closeAllConnections(); silent.close() })
  const slow = new Pusher(meterModel(2), { url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, intervalMs: 1000, timeoutMs: 100, clock: () => 1_700_000_000_000 })
  t.match((await slow.pushOnce()).error, /no answer in time/)
})

t.test('start pushes at once and every interval until stop', async (t) => {
  const r = await receiver([])
  t.teardown(r.close)
  let now = 1_700_000_000_000
  const pusher = new Pusher(meterModel(2), { url: r.url, intervalMs: 20, clock: () => (now += 1000) })
  const outcomes: Array<number | undefined> = []
  await new Promise<void>((resolve) => {
    pusher.start((o) => {
      outcomes.push(o.status)
      if (outcomes.length === 3) {
        pusher.stop()
        resolve()
      }
    })
  })
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.same(outcomes, [undefined, 200, 200], 'the first interval rounds to 0 s: nothing to send yet; no push after stop')
  t.equal(r.seen.length, 2)
})
