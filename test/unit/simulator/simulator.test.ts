import { readFileSync } from 'node:fs'
import { XMLParser } from 'fast-xml-parser'
import t from 'tap'
import { parseInst, parseShow } from '../../../src/egauge/xml/parse.js'
import { historyReadings } from '../../../src/model/rates.js'
import { registerType } from '../../../src/egauge/registers.js'
import { instantRate, meterModel, raw, resolutionAt } from '../../../src/simulator/data.js'
import { planRows } from '../../../src/simulator/xml.js'
import { MAX_NONCES, MAX_REQUEST_LOG, Simulator } from '../../../src/simulator/server.js'

const NOW = 1_700_000_000
const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/egauge/${name}`, import.meta.url), 'utf8')
const oracle = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, isArray: (n) => ['data', 'r', 'c', 'cname'].includes(n) })

interface Shape { root: string[], first: string[], later: string[][], cname: string[], rowWidths: Set<number> }

/** The structure of an egauge-show document, as an independent parser sees it. */
function shape (xml: string): Shape {
  const doc = oracle.parse(xml) as Record<string, { data: Array<Record<string, unknown> & { r?: Array<{ c: string[] }>, cname?: Array<Record<string, string>> }> } & Record<string, string>>
  const group = doc.group!
  const [first, ...later] = group.data
  return {
    root: Object.keys(group).filter((k) => k.startsWith('@')).sort(),
    first: Object.keys(first!).filter((k) => k.startsWith('@') && k !== '@delta').sort(),
    later: later.map((d) => Object.keys(d).filter((k) => k.startsWith('@')).sort()),
    cname: Object.keys(first!.cname![0]!).sort(),
    rowWidths: new Set(group.data.flatMap((d) => (d.r ?? []).map((r) => r.c.length)))
  }
}

t.test('the simulator XML has the shape of the real fixtures', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const real = shape(fixture('show-egauge-rb-T-multidata.xml'))
  const ours = sim.answer('/cgi-bin/egauge-show', `S&n=8&f=${NOW - 3596}`).body
  const s = shape(ours)
  t.same(s.root, real.root, 'group attributes')
  t.same(s.first, real.first, 'first <data> attributes')
  t.same(s.later[0], real.later[0], 'later <data> attributes')
  t.same(s.cname, real.cname, '<cname> attributes')
  t.same([...s.rowWidths], [24], 'every row has one value per column')
  t.match(ours, /^<\?xml version="1\.0" encoding="UTF-8" \?>\n<!DOCTYPE group PUBLIC "-\/\/ESL\/DTD eGauge 1\.0\/\/EN" "http:\/\/www\.egauge\.net\/DTD\/egauge-hist\.dtd">\n/)
  t.match(ours, /time_stamp="0x[0-9a-f]+"/, 'hex stamps')

  const inst = oracle.parse(sim.answer('/cgi-bin/egauge', 'inst&tot').body) as { data: { '@serial': string, ts: string, r: unknown } }
  const realInst = oracle.parse(fixture('inst-tot-egauge_ruby.xml')) as { data: Record<string, unknown> }
  t.same(Object.keys(inst.data).filter((k) => k !== 'gen').sort(), Object.keys(realInst.data).filter((k) => k !== 'gen').sort())
})

t.test('retention: 1 s rows for an hour, then minute rows, in separate <data> blocks', async (t) => {
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const h = parseShow(sim.answer('/cgi-bin/egauge-show', `S&n=8&f=${NOW - 3596}`).body)
  t.same(h.rows.map((r) => NOW - r.time), [3596, 3597, 3598, 3599, 3600, 3620, 3680, 3740])
  t.same(planRows(sim.model, NOW, { step: 1, rows: 8, first: NOW - 3596, virtuals: false, delta: false, relative: false }).map((b) => b.timeDelta), [1, 60])
  t.equal(resolutionAt(NOW, NOW - 3600), 1)
  t.equal(resolutionAt(NOW, NOW - 3601), 60)
  t.equal(resolutionAt(NOW, NOW - 367 * 86400), 900)
  const old = parseShow(sim.answer('/cgi-bin/egauge-show', `m&n=3&f=${NOW - 400 * 86400}`).body)
  t.same(old.rows.map((r) => old.rows[0]!.time - r.time), [0, 900, 1800], 'older than a year: 15-minute rows')
  const early = parseShow(sim.answer('/cgi-bin/egauge-show', `d&n=5&f=${sim.model.epoch + 86400}`).body)
  t.equal(early.rows.length, 2, 'nothing before recording started')
  const minute = Math.floor(NOW / 60) * 60 - 7200
  const range = parseShow(sim.answer('/cgi-bin/egauge-show', `m&n=100&f=${minute}&t=${minute - 600}`).body)
  t.same([range.rows.length, range.rows[0]!.time, range.rows[10]!.time], [11, minute, minute - 600], 'f and t bound the rows')
  const unaligned = parseShow(sim.answer('/cgi-bin/egauge-show', `m&n=100&f=${minute + 30}&t=${minute - 570}`).body)
  t.same([unaligned.rows.length, unaligned.rows[0]!.time], [10, minute], 'rows snap to stored minutes')
  const clipped = parseShow(sim.answer('/cgi-bin/egauge-show', `S&n=100&f=${minute}&t=${minute - 10}`).body)
  t.equal(clipped.rows.length, 1, 'a minute row older than t is not returned')
  const future = parseShow(sim.answer('/cgi-bin/egauge-show', `S&n=2&f=${NOW + 100}`).body)
  t.equal(future.rows[0]!.time, NOW, 'nothing after now')
})

t.test('differences of stored values are the true average rates', async (t) => {
  const sim = new Simulator({ seed: 5, clock: () => NOW * 1000 })
  const readings = historyReadings(parseShow(sim.answer('/cgi-bin/egauge-show', 'S&n=301').body), 'sim')
  t.equal(readings.length, 300 * 24)
  const model = sim.model
  for (const r of readings.filter((_, i) => i % 97 === 0)) {
    const reg = model.registers.find((x) => x.name === r.register)!
    const q = 1 / registerType(reg.type).perUnit
    const exact = Number(raw(model, reg, r.time) - raw(model, reg, r.time - 1)) / registerType(reg.type).perUnit
    t.equal(r.rate, exact, `${r.register} at ${r.time}`)
    // Within a meter unit of the true instantaneous rate over a 1 s interval.
    t.ok(Math.abs(r.rate - instantRate(model, reg, r.time - 0.5)) <= q * 1.01 + 1e-9 * Math.abs(r.rate) + Math.abs(instantRate(model, reg, r.time) - instantRate(model, reg, r.time - 1)))
  }
})

t.test('inst&tot: rates, totals, and virtual registers', async (t) => {
  const sim = new Simulator({ seed: 5, clock: () => NOW * 1000 })
  const s = parseInst(sim.answer('/cgi-bin/egauge', 'inst&tot').body, 'sim')
  t.equal(s.readings.length, 26)
  t.same(s.readings.filter((r) => r.virtual).map((r) => r.register), ['Total Usage', 'Total Generation'])
  const noI = parseInst(sim.answer('/cgi-bin/egauge', 'tot').body, 'sim')
  t.ok(Number.isNaN(noI.readings[0]!.rate), 'no <i> without inst')
  t.equal(parseInst(sim.answer('/cgi-bin/egauge', 'inst').body, 'sim').readings.length, 24, 'no totals without tot')
})

t.test('C (delta), a (virtual columns), E (epoch-relative) and T (timestamps)', async (t) => {
  const sim = new Simulator({ seed: 5, clock: () => NOW * 1000 })
  const plain = parseShow(sim.answer('/cgi-bin/egauge-show', 'm&n=4').body)
  const delta = parseShow(sim.answer('/cgi-bin/egauge-show', 'C&m&n=4').body)
  t.same(delta.rows, plain.rows, 'delta encoding decodes to the same values')
  t.match(sim.answer('/cgi-bin/egauge-show', 'C&m&n=4').body, /delta="true"/)
  const aBody = sim.answer('/cgi-bin/egauge-show', 'a&m&n=2').body
  t.match(aBody, /<data [^>]*>\s*<cname t="P">use<\/cname>\s*<cname t="P">gen<\/cname>/, 'the totals first, under their stored names')
  const a = parseShow(aBody)
  t.same(a.columns.slice(0, 2).map((c) => [c.name, c.virtual]), [['Total Usage', true], ['Total Generation', true]])
  const e = parseShow(sim.answer('/cgi-bin/egauge-show', `E&m&n=1&f=${sim.model.epoch}`).body)
  t.ok(e.rows[0]!.values.every((v) => v === 0), 'zero at the epoch with E')
  const times = sim.answer('/cgi-bin/egauge-show', `T=now,${NOW - 86400 * 30}`).body
  t.equal((times.match(/<data /g) ?? []).length, 2, 'one <data> block per T timestamp')
  t.equal(sim.answer('/cgi-bin/nope', '').status, 404)
  const empty = parseShow(sim.answer('/cgi-bin/egauge-show', `m&n=5&f=${sim.model.epoch - 10}`).body)
  t.same(empty.rows, [], 'no rows, but a header')
})

t.test('same seed, same meter; another seed, another meter', async (t) => {
  t.same(meterModel(9), meterModel(9))
  t.not(meterModel(9).serial, meterModel(10).serial)
})

t.test('listening on IPv6, digest refusals, closing with a hung request', async (t) => {
  await new Simulator().close()
  const sim = new Simulator({ auth: { username: 'owner', password: 'pw' } })
  const url = await sim.listen(0, '::1')
  t.match(url, /^http:\/\/\[::1\]:\d+$/)
  const refused = async (authorization: string): Promise<number> => (await fetch(`${url}/cgi-bin/egauge`, { headers: { authorization } })).status
  t.equal(await refused('Basic b3duZXI6cHc='), 401, 'Basic is not what a meter accepts')
  t.equal(await refused('Digest username="owner", realm="eGauge Administration", nonce="forged", uri="/cgi-bin/egauge", response="0"'), 401, 'unknown nonce')
  t.equal(await refused('Digest username=owner'), 401, 'incomplete')
  sim.fault = { hang: true }
  const pending = fetch(`${url}/cgi-bin/egauge`, { headers: { authorization: 'x' } }).then(() => 'answered', () => 'cut')
  const nonce = /nonce="(\w+)"/.exec((await fetch(`${url}/cgi-bin/egauge`)).headers.get('www-authenticate')!)![1]
  t.ok(nonce)
  await sim.close()
  t.equal(await pending, 'answered', 'an unauthorised request is answered even while hanging')
  const open = new Simulator()
  const openUrl = await open.listen()
  open.fault = { hang: true }
  const hung = fetch(`${openUrl}/cgi-bin/egauge`).then(() => 'answered', () => 'cut')
  await new Promise((resolve) => setTimeout(resolve, 50))
  await open.close()
  t.equal(await hung, 'cut', 'close() cuts requests left hanging')
})

t.test('control routes and the request log', async (t) => {
  const sim = new Simulator({ control: true })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  t.same(await (await fetch(`${url}/__sim/clock?now=${NOW}`)).json(), { now: NOW, fault: null, requests: 0 })
  await fetch(`${url}/__sim/fault?status=503`)
  t.equal((await fetch(`${url}/cgi-bin/egauge?inst`)).status, 503)
  await fetch(`${url}/__sim/fault?latency_ms=1&truncate`)
  t.same(sim.fault, { latencyMs: 1, truncate: true })
  await fetch(`${url}/__sim/fault?body=garbage`)
  t.equal(await (await fetch(`${url}/cgi-bin/egauge?inst`)).text(), 'garbage')
  sim.fault = { hugeBytes: 200_000 }
  t.equal((await (await fetch(`${url}/cgi-bin/egauge`)).arrayBuffer()).byteLength, 200_000, 'a huge body is sent whole to a reader that keeps reading')
  await fetch(`${url}/__sim/fault?hang`)
  t.same(sim.fault, { hang: true })
  await fetch(`${url}/__sim/fault`)
  t.equal(sim.fault, undefined)
  t.equal((await fetch(`${url}/__sim/nope`)).status, 404)
  const log = await (await fetch(`${url}/__sim/requests`)).json() as { requests: number }
  t.equal(log.requests, 3)
  t.same(sim.requests.map((r) => r.path), ['/cgi-bin/egauge', '/cgi-bin/egauge', '/cgi-bin/egauge'])
})

t.test('a long-lived simulator stays bounded: the request log and the Digest nonces are pruned', async (t) => {
  const sim = new Simulator({ seed: 1, auth: { username: 'u', password: 'p' } })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const { Agent, request } = await import('undici')
  const agent = new Agent({ connections: 8 })
  t.teardown(() => agent.close())
  // Unauthenticated requests: each is logged and gets a fresh nonce, as a scanner's would.
  const total = MAX_REQUEST_LOG + 1500
  for (let i = 0; i < total; i += 100) {
    await Promise.all(Array.from({ length: 100 }, async () => { await (await request(`${url}/cgi-bin/egauge?inst`, { dispatcher: agent })).body.dump() }))
  }
  t.ok(sim.requests.length <= MAX_REQUEST_LOG + 1000, `${sim.requests.length} requests kept of ${total}`)
  t.ok(sim.requests.length >= MAX_REQUEST_LOG, 'the latest ones')
  t.equal((sim as unknown as { nonces: Set<string> }).nonces.size, MAX_NONCES)
})
