/**
 * The writers' error classification against servers that misbehave on purpose (as undici's own
 * tests do): status codes, Retry-After, error bodies, hangs and refused connections, for v1 and v2.
 */
import { getEventListeners } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { validateConfig } from '../../../src/config/schema.js'
import { WriteError } from '../../../src/sinks/write-error.js'
import { createWriter, type Writer } from '../../../src/sinks/writer.js'
import { freePort } from '../../helpers/ports.js'
import { dependants } from '../../helpers/signals.js'

async function fakeDatabase (t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function writer (t: Test, influx: Record<string, unknown>): Writer {
  const w = createWriter(validateConfig({ influx: { timeout: '300ms', ...influx } }).influx)
  t.teardown(() => w.close())
  return w
}

async function failure (p: Promise<unknown>): Promise<WriteError> {
  return await p.then(() => { throw new Error('expected a failure') }, (e: unknown) => e as WriteError)
}

t.test('v1: what each answer means', async (t) => {
  const seen: string[] = []
  let answer: (res: ServerResponse) => void = (res) => res.writeHead(204).end()
  const url = await fakeDatabase(t, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`)
    answer(res)
  })
  const w = writer(t, { url: `${url}/influx`, database: 'e g', retention_policy: 'rp1', username: 'u', password: 'p' })
  t.equal(w.target, `${url}/influx database e g`, 'the target names no credentials')
  await w.prepare()
  await w.prepare()
  await w.write('m v=1 1\n')
  t.same(seen, [
    'POST /influx/query Basic dTpw',
    'POST /influx/write?db=e+g&precision=s&rp=rp1 Basic dTpw'
  ], 'CREATE DATABASE once, then /write with db, precision and rp; credentials in a header')

  answer = (res) => res.writeHead(500, { 'retry-after': '3' }).end('{"error":"timeout"}')
  const e500 = await failure(w.write('m v=1 1\n'))
  t.same([e500.code, e500.kind, e500.retryAfterMs, e500.message], ['INFLUX_UNAVAILABLE', 'retry', 3000, 'InfluxDB answered HTTP 500: timeout'])
  answer = (res) => res.writeHead(400).end('not json at all\n')
  t.equal((await failure(w.write('x'))).message, 'InfluxDB answered HTTP 400: not json at all')
  answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0,"error":"database name required"}]}')
  const q = await failure(createWriter(validateConfig({ influx: { url } }).influx).prepare())
  t.same([q.code, q.message], ['INFLUX_REJECTED', 'InfluxDB refused the query: {"results":[{"statement_id":0,"error":"database name required"}]}'])
  answer = () => {} // never answers
  const started = performance.now()
  t.equal((await failure(w.write('x'))).code, 'INFLUX_TIMEOUT')
  t.ok(performance.now() - started < 2000)
})

t.test('v1: writes under one long-lived signal leave nothing on it; an aborted write is not a timeout', async (t) => {
  const url = await fakeDatabase(t, (_req, res) => res.writeHead(204).end())
  const w = writer(t, { url, create_database: false })
  const shutdown = new AbortController()
  for (let i = 0; i < 50; i++) await w.write('m v=1 1\n', shutdown.signal)
  t.equal(getEventListeners(shutdown.signal, 'abort').length, 0, 'no listener')
  t.equal(dependants(shutdown.signal), undefined, 'and no AbortSignal.any() dependants (nodejs/node#55351)')
  shutdown.abort()
  t.equal((await failure(w.write('m v=1 1\n', shutdown.signal))).code, 'INFLUX_UNREACHABLE')
})

t.test('v1: unreachable, and no CREATE DATABASE when not asked', async (t) => {
  const w = writer(t, { url: `http://127.0.0.1:${await freePort()}`, create_database: false })
  await w.prepare()
  const e = await failure(w.write('x'))
  t.same([e.code, e.kind, e.message], ['INFLUX_UNREACHABLE', 'retry', 'InfluxDB unreachable (ECONNREFUSED)'])
})

t.test('v2: the client library errors become the same classes', async (t) => {
  const seen: string[] = []
  let answer: (res: ServerResponse) => void = (res) => res.writeHead(204).end()
  const url = await fakeDatabase(t, (req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? '-'}`)
    answer(res)
  })
  const w = writer(t, { version: 2, url, org: 'home', bucket: 'energy', token: 'tok' })
  t.equal(w.target, `${url} bucket energy`)
  await w.prepare()
  await w.write('m v=1 1\n')
  t.same(seen, ['/api/v2/write?org=home&bucket=energy&precision=s Token tok'])
  answer = (res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"unauthorized","message":"unauthorized access"}')
  const e401 = await failure(w.write('x'))
  t.same([e401.code, e401.kind, e401.message], ['INFLUX_AUTH', 'config', 'InfluxDB answered HTTP 401: unauthorized access'])
  answer = (res) => res.writeHead(429, { 'retry-after': '2' }).end()
  const e429 = await failure(w.write('x'))
  t.same([e429.code, e429.retryAfterMs], ['INFLUX_UNAVAILABLE', 2000])
  answer = (res) => res.writeHead(404).end()
  t.equal((await failure(w.write('x'))).code, 'INFLUX_NOT_FOUND')
  answer = () => {}
  t.equal((await failure(w.write('x'))).code, 'INFLUX_TIMEOUT')
  const down = writer(t, { version: 2, url: `http://127.0.0.1:${await freePort()}`, bucket: 'b' })
  t.same([(await failure(down.write('x'))).code], ['INFLUX_UNREACHABLE'])
})

t.test('v2: writes and queries under one long-lived signal leave no listener on it (the client never removes its own)', async (t) => {
  const url = await fakeDatabase(t, (req, res) => {
    req.resume()
    if (req.url!.startsWith('/api/v2/query')) res.writeHead(200, { 'content-type': 'text/csv' }).end('_time\r\n2023-11-14T22:13:20Z\r\n')
    else res.writeHead(204).end()
  })
  const w = writer(t, { version: 2, url, org: 'home', bucket: 'energy', token: 'tok' })
  const shutdown = new AbortController()
  for (let i = 0; i < 20; i++) await w.write('m v=1 1\n', shutdown.signal)
  for (let i = 0; i < 5; i++) t.equal(await w.newest!({ measurement: 'm', tags: {} }, 0, shutdown.signal), 1700000000)
  t.equal(getEventListeners(shutdown.signal, 'abort').length, 0)
  t.equal(dependants(shutdown.signal), undefined)
})

t.test('a database that echoes the credentials into its error body: never in the message, raw or base64', async (t) => {
  const password = 'db-secret-pass-1'
  const token = 'tok-secret-0123456789'
  const url = await fakeDatabase(t, (req, res) => {
    req.resume()
    // What a misconfigured proxy or a debugging build answers: the request's header, and control bytes.
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `bad request, Authorization: ${req.headers.authorization ?? ''} (${req.headers.authorization?.startsWith('Basic') === true ? password : token})\u0007\n${'x'.repeat(5000)}` }))
  })
  const cases = [
    { influx: { url, database: 'd', username: 'admin', password }, secrets: [password, Buffer.from(`admin:${password}`).toString('base64')] },
    { influx: { version: 2, url, org: 'o', bucket: 'b', token }, secrets: [token, Buffer.from(token).toString('base64')] }
  ]
  for (const { influx, secrets } of cases) {
    const err = await failure(writer(t, { ...influx, create_database: false }).write('m v=1 1'))
    t.equal(err.code, 'INFLUX_UNAVAILABLE')
    for (const secret of secrets) {
      t.notOk(err.message.includes(secret), `no ${secret.slice(0, 6)}… in the message`)
    }
    t.match(err.message, /\[redacted\]/)
    // eslint-disable-next-line no-control-regex -- the point of the assertion
    t.notMatch(err.message, /[\u0000-\u001f]/, 'no control characters')
    t.ok(err.message.length <= 401, `capped (${err.message.length})`)
  }
})

/** A tag value with what Flux would interpolate inside a string. */
const INTERPOLATION = 'a$' + '{x}"b'

t.test('newest point of a series: v2 by Flux (an InfluxDB 2 cannot run here: a fake speaks its query API)', async (t) => {
  const bodies: Array<{ url: string, body: { query: string } }> = []
  let answer: (res: ServerResponse) => void = (res) => res.writeHead(200, { 'content-type': 'text/csv' }).end('result,table,_time\r\n,0,2023-11-14T22:13:20Z\r\n')
  const url = await fakeDatabase(t, (req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      bodies.push({ url: req.url!, body: req.url!.startsWith('/api/v2/query') ? JSON.parse(body) as { query: string } : { query: '' } })
      answer(res)
    })
  })
  const w = writer(t, { version: 2, url, org: 'home', bucket: 'en"ergy', token: 'tok' })
  t.equal(await w.newest!({ measurement: 'egauge', tags: { sensor: INTERPOLATION } }, 1_699_000_000), 1_700_000_000)
  t.equal(bodies[0]!.url, '/api/v2/query?org=home')
  t.equal(bodies[0]!.body.query, 'from(bucket: "en\\"ergy") |> range(start: 1699000000) |> filter(fn: (r) => r._measurement == "egauge" and r["sensor"] == "a\\$' + '{x}\\"b") |> keep(columns: ["_time"]) |> group() |> max(column: "_time")', 'quoted for Flux, interpolation included')
  answer = (res) => res.writeHead(200, { 'content-type': 'text/csv' }).end('result,table,_time\r\n')
  t.equal(await w.newest!({ measurement: 'egauge', tags: { sensor: 'a' } }, 1), undefined, 'no row: none')
  answer = (res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"unauthorized access"}')
  t.equal((await failure(w.newest!({ measurement: 'egauge', tags: { sensor: 'a' } }, 1))).code, 'INFLUX_AUTH', 'other errors are errors')
  // No Flux (VictoriaMetrics): its Prometheus query API.
  answer = (res) => {
    const last = bodies.at(-1)!.url
    if (last.startsWith('/api/v2/query')) res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"unsupported path"}')
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1796300839,"1700000123"]}]}}')
  }
  t.equal(await w.newest!({ measurement: 'e.g', tags: { sensor: 'a"b' } }, Math.floor(Date.now() / 1000) - 3600), 1_700_000_123)
  const query = new URLSearchParams(bodies.at(-1)!.url.split('?')[1]).get('query')
  t.equal(query, 'max(tlast_over_time({__name__=~"e\\\\.g_.+",db=~"|en\\"ergy",sensor="a\\"b"}[3600s]))', 'the series as VictoriaMetrics names it')
})

t.test('newest point of a series: v1 reads the retention policy it writes to', async (t) => {
  const queries: string[] = []
  const url = await fakeDatabase(t, (req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      queries.push(new URLSearchParams(body).get('q') ?? req.url!)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0,"series":[{"name":"egauge","columns":["time","value"],"values":[[1700000000,1]]}]}]}')
    })
  })
  const w = writer(t, { url, database: 'energy', retention_policy: 'one_year' })
  t.equal(await w.newest!({ measurement: 'egauge', tags: { sensor: "o'brien" } }, 1_699_000_000), 1_700_000_000)
  t.same(queries, ['SELECT * FROM "one_year"."egauge" WHERE "sensor" = \'o\\\'brien\' AND time >= 1699000000s ORDER BY time DESC LIMIT 1'])
})

t.test('newest point: errors of the second request are errors; a writer without the query has none', async (t) => {
  const url = await fakeDatabase(t, (req, res) => {
    if (req.url!.startsWith('/query')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}')
    else res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded')
  })
  const v1 = writer(t, { url, database: 'energy' })
  t.equal((await failure(v1.newest!({ measurement: 'egauge', tags: { sensor: 'a' } }, 1))).code, 'INFLUX_UNAVAILABLE', 'InfluxQL found nothing, the Prometheus API failed')
  const down = writer(t, { version: 2, url: `http://127.0.0.1:${await freePort()}`, bucket: 'b' })
  t.equal((await failure(down.newest!({ measurement: 'egauge', tags: { sensor: 'a' } }, 1))).code, 'INFLUX_UNREACHABLE')
  const { redactingWriter } = await import('../../../src/sinks/writer.js')
  t.equal(redactingWriter({ target: 'x', prepare: async () => {}, write: async () => {}, close: async () => {} }, []).newest, undefined)
})

t.test('newest point, the edges: a signal passed on, an answer without _time, an empty error body, a user without a password', async (t) => {
  let answer: (res: ServerResponse) => void = (res) => res.writeHead(200, { 'content-type': 'text/csv' }).end('result,table,value\r\n,0,1\r\n')
  const auth: string[] = []
  const url = await fakeDatabase(t, (req, res) => {
    auth.push(req.headers.authorization ?? '-')
    req.resume()
    req.on('end', () => answer(res))
  })
  const v2 = writer(t, { version: 2, url, org: 'home', bucket: 'b', token: 'tok' })
  t.equal(await v2.newest!({ measurement: 'egauge', tags: {} }, 1, new AbortController().signal), undefined, 'no _time column: none')
  answer = (res) => res.writeHead(503).end()
  const e = await failure(v2.newest!({ measurement: 'egauge', tags: {} }, 1))
  t.same([e.code, e.message], ['INFLUX_UNAVAILABLE', 'InfluxDB answered HTTP 503'])
  answer = (res) => res.writeHead(204).end()
  await writer(t, { url, database: 'd', username: 'reader' }).write('m v=1 1\n')
  t.equal(auth.at(-1), 'Basic ' + Buffer.from('reader:').toString('base64'), 'a user without a password sends an empty one')
})
