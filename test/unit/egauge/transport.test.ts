import { getEventListeners } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { validateConfig, type PulledSensor } from '../../../src/config/schema.js'
import { MeterTransport } from '../../../src/egauge/transport.js'
import { INST_PATH, showPath } from '../../../src/egauge/xml/client.js'
import type { HistoryQuery } from '../../../src/model/history.js'
import { redactUrl } from '../../../src/util/redact.js'
import { digestAuthorization, parseDigestChallenge } from '../../../src/egauge/digest.js'
import { EgaugeError } from '../../../src/model/errors.js'
import { Simulator } from '../../../src/simulator/server.js'
import { freePort } from '../../helpers/ports.js'
import { dependants } from '../../helpers/signals.js'

/** The transport, asked for the XML API's two documents: what the XML client sends, unparsed. */
class MeterClient {
  private readonly transport: MeterTransport
  constructor (sensor: PulledSensor) { this.transport = new MeterTransport(sensor) }
  async fetchInst (signal?: AbortSignal): Promise<{ xml: string }> { return { xml: (await this.transport.fetch(INST_PATH, signal)).text } }
  async fetchShow (q: HistoryQuery): Promise<{ xml: string }> { return { xml: (await this.transport.fetch(showPath(q))).text } }
  async close (): Promise<void> { await this.transport.close() }
}

function sensor (url: string, extra: Record<string, unknown> = {}): PulledSensor {
  return validateConfig({ sensors: [{ name: 'm1', url, timeout: '1s', ...extra }] }).sensors[0] as PulledSensor
}

async function rejects (t: Test, promise: Promise<unknown>, code: string): Promise<EgaugeError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  t.type(err, EgaugeError)
  t.equal((err as EgaugeError).code, code)
  return err as EgaugeError
}

/** A hand-written meter: answers each request with `handler`. */
async function fakeMeter (t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('Digest: the RFC 2617 §3.5 example gives the published response', async (t) => {
  const challenge = parseDigestChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')!
  const header = digestAuthorization({ challenge, username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: '0a4f113b' })
  t.match(header, /response="6629fae49393a05397450978507c4ef1"/)
  t.match(header, /qop=auth, nc=00000001, cnonce="0a4f113b"/)
  t.match(header, /opaque="5ccc069c403ebaf9f0171e9517f40e41"/)
})

t.test('Digest MD5-sess hashes the nonces into HA1', async (t) => {
  const challenge = parseDigestChallenge('Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess')!
  const sess = digestAuthorization({ challenge, username: 'u', password: 'p', method: 'GET', uri: '/x', nc: 1, cnonce: 'c' })
  const plain = digestAuthorization({ challenge: { ...challenge, algorithm: 'MD5' }, username: 'u', password: 'p', method: 'GET', uri: '/x', nc: 1, cnonce: 'c' })
  t.not(/response="(\w+)"/.exec(sess)![1], /response="(\w+)"/.exec(plain)![1])
})

t.test('Digest challenge variants', async (t) => {
  t.equal(parseDigestChallenge('Basic realm="x"'), undefined)
  t.equal(parseDigestChallenge('Digest realm="x"'), undefined, 'no nonce')
  t.equal(parseDigestChallenge('Digest realm="x", nonce="n", algorithm=SHA-512-256'), undefined, 'unsupported algorithm')
  t.equal(parseDigestChallenge('Digest realm="x", nonce="n", qop="auth-int"'), undefined, 'auth-int only')
  const noQop = parseDigestChallenge('Digest realm="r", nonce="n"')!
  t.equal(noQop.qop, undefined)
  // RFC 2069 style (no qop): response = MD5(HA1:nonce:HA2)
  t.match(digestAuthorization({ challenge: noQop, username: 'u', password: 'p', method: 'GET', uri: '/x', nc: 1 }), /response="[0-9a-f]{32}"/)
  t.notMatch(digestAuthorization({ challenge: noQop, username: 'u', password: 'p', method: 'GET', uri: '/x', nc: 1 }), /nc=/)
  const stale = parseDigestChallenge('digest REALM="eGauge Administration", nonce="a\\"b", stale=TRUE, algorithm=md5-sess, qop=auth')!
  t.same([stale.realm, stale.nonce, stale.stale, stale.algorithm], ['eGauge Administration', 'a"b', true, 'MD5-SESS'])
  const sha = parseDigestChallenge('Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256')!
  t.match(digestAuthorization({ challenge: sha, username: 'u', password: 'p', method: 'GET', uri: '/x', nc: 2, cnonce: 'c' }), /algorithm=SHA-256, response="[0-9a-f]{64}"/)
})

t.test('against the simulator over real HTTP', async (t) => {
  const sim = new Simulator({ seed: 3, clock: () => 1_700_000_000_000, auth: { username: 'owner', password: 's3cret pass' } })
  const url = await sim.listen()
  t.teardown(() => sim.close())

  t.test('Digest auth: one challenge, then the nonce is reused', async (t) => {
    sim.requests.length = 0
    const client = new MeterClient(sensor(url, { username: 'owner', password: 's3cret pass' }))
    t.teardown(() => client.close())
    const a = await client.fetchInst()
    t.equal(sim.requests.at(-1)?.path, '/cgi-bin/egauge', 'the instantaneous document was asked for')
    t.match(a.xml, /<ts>1700000000<\/ts>/)
    const b = await client.fetchShow({ step: 1, rows: 3 })
    t.match(b.xml, /time_stamp="0x6553f100"/)
    t.equal(sim.requests.length, 3, 'challenge + 2 authorised requests')
    t.equal(sim.requests[0]!.authorization, undefined)
    t.match(sim.requests[2]!.authorization!, /nc=00000002/)
    t.equal(sim.requests[2]!.path, '/cgi-bin/egauge-show')
    t.equal(sim.requests[2]!.query, 'S&n=3')
  })

  t.test('no credentials: EGAUGE_AUTH that says what to set', async (t) => {
    const client = new MeterClient(sensor(url))
    t.teardown(() => client.close())
    const err = await rejects(t, client.fetchInst(), 'EGAUGE_AUTH')
    t.equal(err.message, 'sensor m1: meter requires credentials (set username and password)')
    t.equal(err.status, 401)
  })

  t.test('wrong password: EGAUGE_AUTH, and the password is in no message', async (t) => {
    const client = new MeterClient(sensor(url, { username: 'owner', password: 'hunter2-wrong' }))
    t.teardown(() => client.close())
    const err = await rejects(t, client.fetchInst(), 'EGAUGE_AUTH')
    t.equal(err.message, 'sensor m1: meter refused the credentials (HTTP 401)')
    t.notMatch(err.message + String(err.stack), /hunter2/)
  })
})

t.test('faults: each gives its typed error quickly', async (t) => {
  const sim = new Simulator({ clock: () => 1_700_000_000_000 })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const client = new MeterClient(sensor(url, { timeout: '300ms', max_response_size: '1MiB', tls_legacy: true }))
  t.teardown(() => client.close())

  const timed = async (fn: () => Promise<unknown>, code: string, maxMs: number): Promise<EgaugeError> => {
    const started = performance.now()
    const err = await rejects(t, fn(), code)
    t.ok(performance.now() - started < maxMs, `${code} within ${maxMs} ms`)
    return err
  }
  sim.fault = { hang: true }
  t.match((await timed(() => client.fetchInst(), 'EGAUGE_TIMEOUT', 1500)).message, /did not answer within 0\.3s/)
  sim.fault = { latencyMs: 2000 }
  await timed(() => client.fetchInst(), 'EGAUGE_TIMEOUT', 1500)
  sim.fault = { status: 500 }
  t.equal((await timed(() => client.fetchInst(), 'EGAUGE_HTTP_STATUS', 500)).status, 500)
  sim.fault = { status: 403 }
  await timed(() => client.fetchInst(), 'EGAUGE_AUTH', 500)
  sim.fault = { hugeBytes: 100 * 1024 * 1024 }
  t.match((await timed(() => client.fetchInst(), 'EGAUGE_TOO_LARGE', 3000)).message, /exceeds 1048576 bytes/)
  sim.fault = undefined
  t.match((await client.fetchInst()).xml, /<ts>/, 'the client recovers after faults')

  const caller = new AbortController()
  sim.fault = { hang: true }
  setTimeout(() => caller.abort(), 50)
  await timed(() => client.fetchInst(caller.signal), 'EGAUGE_TIMEOUT', 250)
  sim.fault = undefined
})

t.test('a declared Content-Length over the cap is refused before reading', async (t) => {
  const url = await fakeMeter(t, (_req, res) => {
    res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) })
    res.write('x')
  })
  const client = new MeterClient(sensor(url, { max_response_size: '1MiB' }))
  t.teardown(() => client.close())
  await rejects(t, client.fetchInst(), 'EGAUGE_TOO_LARGE')
})

t.test('an answer in UTF-8 keeps its non-ASCII names; an ASCII one reads the same either way', async (t) => {
  const xml = '<?xml version="1.0" encoding="UTF-8" ?><group serial="0x1"><data columns="1" time_stamp="0x10" time_delta="1" epoch="0x0"><cname t="P">Küche ☀</cname><r><c>1</c></r></data></group>'
  const url = await fakeMeter(t, (_req, res) => { res.setHeader('content-type', 'text/xml; charset=utf-8'); res.end(Buffer.from(xml, 'utf8')) })
  const client = new MeterClient(sensor(url))
  t.teardown(() => client.close())
  t.equal((await client.fetchShow({ step: 1, rows: 1 })).xml, xml)
})

t.test('unreachable meter: EGAUGE_UNREACHABLE with the cause code', async (t) => {
  const port = await freePort()
  const client = new MeterClient(sensor(`http://127.0.0.1:${port}`))
  t.teardown(() => client.close())
  t.match((await rejects(t, client.fetchInst(), 'EGAUGE_UNREACHABLE')).message, /meter unreachable \(ECONNREFUSED\)/)
})

t.test('Basic challenge and a meter behind a path prefix', async (t) => {
  const seen: string[] = []
  const url = await fakeMeter(t, (req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? '-'}`)
    if (req.headers.authorization !== 'Basic ' + Buffer.from('owner:pw').toString('base64')) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="meter"' }).end()
      return
    }
    res.end('<data serial="0x1"><ts>1</ts></data>')
  })
  const client = new MeterClient(sensor(`${url}/5F049`, { username: 'owner', password: 'pw' }))
  t.teardown(() => client.close())
  await client.fetchInst()
  t.same(seen, ['/5F049/cgi-bin/egauge?inst&tot -', `/5F049/cgi-bin/egauge?inst&tot Basic ${Buffer.from('owner:pw').toString('base64')}`])
})

t.test('a challenge the bridge cannot answer', async (t) => {
  const url = await fakeMeter(t, (_req, res) => { res.writeHead(401, { 'www-authenticate': 'Negotiate' }).end() })
  const client = new MeterClient(sensor(url, { username: 'u', password: 'p' }))
  t.teardown(() => client.close())
  t.match((await rejects(t, client.fetchInst(), 'EGAUGE_AUTH')).message, /cannot answer/)
})

t.test('at most two requests in flight per meter', async (t) => {
  let inFlight = 0
  let peak = 0
  const url = await fakeMeter(t, (_req, res) => {
    inFlight++
    peak = Math.max(peak, inFlight)
    setTimeout(() => { inFlight--; res.end('<data serial="0x1"><ts>1</ts></data>') }, 30)
  })
  const client = new MeterClient(sensor(url))
  t.teardown(() => client.close())
  await Promise.all(Array.from({ length: 10 }, async () => await client.fetchInst()))
  t.equal(peak, 2)
})

t.test('showPath and redactUrl', async (t) => {
  t.equal(showPath({ step: 1, rows: 301 }), '/cgi-bin/egauge-show?S&n=301')
  t.equal(showPath({ step: 60, rows: 61, newest: 120, oldest: 60 }), '/cgi-bin/egauge-show?m&n=61&f=120&t=60')
  t.equal(showPath({ step: 900, rows: 2 }), '/cgi-bin/egauge-show?m&n=2&s=14')
  t.equal(showPath({ step: 300, rows: 2 }), '/cgi-bin/egauge-show?m&n=2&s=4')
  t.equal(showPath({ step: 86400, rows: 2 }), '/cgi-bin/egauge-show?d&n=2')
  t.equal(showPath({ step: 7, rows: 2 }), '/cgi-bin/egauge-show?S&n=2&s=6')
  t.throws(() => showPath({ step: 0, rows: 1 }), RangeError)
  t.equal(redactUrl('https://u:p@meter.example/x/?token=abc'), 'https://meter.example/x')
  t.equal(redactUrl('nope'), '(invalid url)')
})

t.test('a closed transport stays closed, whether or not it ever connected', async (t) => {
  const sim = new Simulator({ seed: 1 })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const never = new MeterTransport(sensor(url))
  await never.close()
  const err = await rejects(t, never.fetch(INST_PATH), 'EGAUGE_UNREACHABLE')
  t.match(err.message, /UND_ERR_CLOSED/)
  t.equal(sim.requests.length, 0, 'no request was sent')
  const used = new MeterTransport(sensor(url))
  await used.fetch(INST_PATH)
  await used.close()
  await rejects(t, used.fetch(INST_PATH), 'EGAUGE_UNREACHABLE')
  t.equal(sim.requests.length, 1)
})

t.test('a meter offering Basic and Digest gets Digest, in one header or in two; the password never crosses', async (t) => {
  for (const [what, headers] of [
    ['two headers, Basic first', ['Basic realm="meter"', 'Digest realm="meter", nonce="abc", qop="auth"']],
    ['one header, Basic first', ['Basic realm="meter", Digest realm="meter", nonce="abc", qop="auth"']]
  ] as const) {
    const seen: string[] = []
    const url = await fakeMeter(t, (req, res) => {
      const auth = req.headers.authorization ?? '-'
      seen.push(auth.split(' ')[0]!)
      if (!auth.startsWith('Digest ')) {
        res.setHeader('www-authenticate', [...headers])
        res.writeHead(401).end()
        return
      }
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<data serial="0x1"></data>')
    })
    const client = new MeterClient(sensor(url, { username: 'owner', password: 'pw-never-sent' }))
    t.teardown(() => client.close())
    await client.fetchInst()
    t.same(seen, ['-', 'Digest'], what)
  }
})

t.test('a 20 kB challenge header is a meter answer too large, not a meter unreachable', async (t) => {
  const url = await fakeMeter(t, (_req, res) => {
    res.writeHead(401, { 'www-authenticate': `Digest realm="m", nonce="${'n'.repeat(20_000)}"` }).end()
  })
  const client = new MeterClient(sensor(url, { username: 'u', password: 'p' }))
  t.teardown(() => client.close())
  const err = await rejects(t, client.fetchInst(), 'EGAUGE_TOO_LARGE')
  t.equal(err.message, 'sensor m1: meter answered with headers larger than 16 KiB')
})

t.test('redirects: http to https on the same host is followed once and remembered; any other is an error naming the target', async (t) => {
  const sim = new Simulator({ seed: 5, auth: { username: 'owner', password: 'redirect-secret' } })
  const tls = { key: readFileSync(new URL('../../fixtures/tls/meter-key.pem', import.meta.url)), cert: readFileSync(new URL('../../fixtures/tls/meter-cert.pem', import.meta.url)) }
  // The meter on TLS: the simulator's answers behind a self-signed certificate, Digest included.
  const inner = await sim.listen()
  t.teardown(() => sim.close())
  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const r = await fetch(inner + req.url!, { headers: req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization } })
    const headers: Record<string, string> = {}
    r.headers.forEach((v, k) => { if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection' && k !== 'keep-alive') headers[k] = v })
    res.writeHead(r.status, headers).end(await r.text())
  }
  const https = createHttpsServer(tls, (req, res) => { relay(req, res).catch(() => res.destroy()) })
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { https.closeAllConnections(); https.close() })
  const tlsPort = (https.address() as AddressInfo).port
  const plainRequests: string[] = []
  const plain = await fakeMeter(t, (req, res) => {
    plainRequests.push(`${req.url!} ${req.headers.authorization ?? ''}`)
    res.writeHead(301, { location: `https://127.0.0.1:${tlsPort}${req.url!}` }).end()
  })
  const meter = new MeterClient(sensor(plain, { tls_insecure: true, username: 'owner', password: 'redirect-secret' }))
  t.teardown(() => meter.close())
  t.match((await meter.fetchInst()).xml, /<data serial=/)
  t.match((await meter.fetchShow({ step: 1, rows: 2 })).xml, /<group serial=/)
  t.same(plainRequests, [`${INST_PATH} `], 'one request over http, without credentials; the rest went to https')
  t.ok(sim.requests.some((r) => r.authorization?.startsWith('Digest ') === true), 'Digest answered on https')

  const cases: Array<[string, RegExp]> = [
    ['https://elsewhere.example/cgi-bin/egauge?token=abc', /^sensor m1: meter redirected \(HTTP 301\) to https:\/\/elsewhere\.example\/cgi-bin\/egauge; the bridge follows only http to https on the same host: set the sensor's url to where the meter is$/],
    [`http://127.0.0.1:${tlsPort}/x`, /to http:\/\/127\.0\.0\.1:\d+\/x; the bridge follows only/],
    ['', /^sensor m1: meter answered HTTP 301 without a usable Location$/],
    ['http://[invalid', /^sensor m1: meter answered HTTP 301 without a usable Location$/]
  ]
  for (const [location, message] of cases) {
    const url = await fakeMeter(t, (_req, res) => { res.writeHead(301, location === '' ? {} : { location }).end() })
    const other = new MeterClient(sensor(url))
    const err = await rejects(t, other.fetchInst(), 'EGAUGE_HTTP_STATUS')
    t.match(err.message, message, location)
    t.notMatch(err.message, /token=abc/, 'never the query')
    await other.close()
  }
  // From https, nothing is followed (not even back to http).
  const back = createHttpsServer(tls, (_req, res) => { res.writeHead(302, { location: plain + '/cgi-bin/egauge' }).end() })
  await new Promise<void>((resolve) => back.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { back.closeAllConnections(); back.close() })
  const down = new MeterClient(sensor(`https://127.0.0.1:${(back.address() as AddressInfo).port}`, { tls_insecure: true }))
  t.match((await rejects(t, down.fetchInst(), 'EGAUGE_HTTP_STATUS')).message, /^sensor m1: meter redirected \(HTTP 302\) to http:\/\/127\.0\.0\.1:\d+\/cgi-bin\/egauge; the bridge follows only http to https/)
  await down.close()
})

t.test('connections are let go once idle: none kept between push cycles, the next request opens one', async (t) => {
  const server = createServer((req, res) => {
    const answer = (): void => { res.writeHead(200, { 'content-type': 'text/xml' }).end('<data/>') }
    if (req.url === '/slow') setTimeout(answer, 150)
    else answer()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  let opened = 0
  const open = new Set<object>()
  server.on('connection', (socket) => { opened++; open.add(socket); socket.on('close', () => { open.delete(socket) }) })
  const transport = new MeterTransport(sensor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), {}, 100)
  t.teardown(() => transport.close())
  const idle = async (): Promise<void> => { for (let i = 0; i < 100 && open.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20)) }
  await Promise.all([transport.fetch('/a'), transport.fetch('/b')])
  await transport.fetch('/c')
  t.equal(opened, 2, 'two in flight: two connections, kept alive for the third request')
  await idle()
  t.equal(open.size, 0, 'closed by the bridge after 100 ms without a request')
  t.equal((await transport.fetch('/d')).text, '<data/>', 'the next request opens a connection')
  t.equal(opened, 3)
  await idle()
  t.equal(open.size, 0, 'and lets it go again')
  // Push lets a meter's connections go as soon as it is done with it, never under a request.
  const slow = transport.fetch('/slow')
  transport.release()
  t.equal((await slow).text, '<data/>', 'a release during a request: the request finishes')
  t.equal(open.size, 1, 'and its connection is kept')
  transport.release()
  await idle()
  t.equal(open.size, 0, 'released at once when idle')
  // Unref'd timers are invisible to process.getActiveResourcesInfo(), hence the look inside: one
  // left armed per meter would wake an idle push bridge for nothing.
  t.equal((transport as unknown as { idleTimer?: unknown }).idleTimer, undefined, 'and no idle timer is left armed')
})

t.test('requests under one long-lived signal leave nothing on it', async (t) => {
  const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/xml' }).end('<data/>') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const transport = new MeterTransport(sensor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  t.teardown(() => transport.close())
  const shutdown = new AbortController()
  for (let i = 0; i < 50; i++) await transport.fetch('/x', shutdown.signal)
  await t.rejects(transport.fetch('/x', AbortSignal.abort()), { code: 'EGAUGE_TIMEOUT' })
  t.equal(getEventListeners(shutdown.signal, 'abort').length, 0, 'no listener')
  t.equal(dependants(shutdown.signal), undefined, 'and no AbortSignal.any() dependants (nodejs/node#55351)')
})
