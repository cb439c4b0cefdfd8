/**
 * The XML client's totals over real HTTP: history asks for them with `a`, names them as current
 * values do, learns the other virtual registers from current values once, and leaves them all
 * out for a sensor with `totals: false`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { validateConfig, type PulledSensor } from '../../../../src/config/schema.js'
import { XmlClient } from '../../../../src/egauge/xml/client.js'
import { Simulator } from '../../../../src/simulator/server.js'

const NOW = 1_700_000_000
const sim = new Simulator({ seed: 3, clock: () => NOW * 1000 })
const url = await sim.listen()
t.teardown(() => sim.close())

function client (raw: Record<string, unknown>, at = url): XmlClient {
  const sensor = validateConfig({ sensors: [{ name: 'm', url: at, timeout: '2s', ...raw }] }).sensors[0] as PulledSensor
  const c = new XmlClient(sensor)
  t.teardown(() => c.close())
  return c
}
const queries = (): string[] => sim.requests.splice(0).map((r) => r.query)
const virtualColumns = (names: Array<{ name: string, virtual: boolean }>): string[] => names.filter((c) => c.virtual).map((c) => c.name)

t.test('history with the totals: current values read once first, then `a`; the totals named as current values name them', async (t) => {
  queries()
  const c = client({})
  const first = await c.history({ step: 1, rows: 3 })
  t.same(queries(), ['inst&tot', 'a&S&n=3'])
  t.same(virtualColumns(first.data.columns), ['Total Usage', 'Total Generation'])
  await c.history({ step: 60, rows: 2 })
  t.same(queries(), ['a&m&n=2'], 'the names are known: one request')
})

t.test('current values and history asked at once (the status page): one read of current values', async (t) => {
  queries()
  const c = client({})
  const [current, history] = await Promise.all([c.current(), c.history({ step: 1, rows: 2 })])
  t.same(queries().sort(), ['a&S&n=2', 'inst&tot'])
  t.same(current.data.readings.filter((r) => r.virtual).map((r) => r.register), ['Total Usage', 'Total Generation'])
  t.same(virtualColumns(history.data.columns), ['Total Usage', 'Total Generation'])
})

t.test('totals: false: no `a`, and no total on any route', async (t) => {
  queries()
  const c = client({ totals: false })
  const history = await c.history({ step: 1, rows: 2 })
  const current = await c.current()
  t.same(queries(), ['S&n=2', 'inst&tot'], 'history needs no current values first')
  t.same(virtualColumns(history.data.columns), [])
  t.equal(history.data.columns.length, sim.model.registers.length)
  t.same(current.data.readings.filter((r) => r.virtual), [], 'current values without Total Usage and Total Generation')
  t.equal(current.data.readings.length, sim.model.registers.length)
})

t.test('totals: false and a physical register named use first: kept under its own name', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' }).end(`<group serial="0x1"><data columns="2" time_stamp="0x${NOW.toString(16)}" time_delta="1" epoch="0x0">` +
      '<cname t="P">use</cname><cname t="P">Grid</cname><r><c>10</c><c>20</c></r><r><c>4</c><c>5</c></r></data></group>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const history = await client({ totals: false }, `http://127.0.0.1:${(server.address() as AddressInfo).port}`).history({ step: 1, rows: 2 })
  t.same(history.data.columns.map((c) => [c.name, c.virtual]), [['use', false], ['Grid', false]])
  t.same(history.data.rows.map((r) => r.values), [[10, 20], [4, 5]])
})

t.test('current values that cannot be read fail no history: the totals are still found by name, and asked again next time', async (t) => {
  let instCalls = 0
  const server = createServer((req, res) => {
    const [path, query = ''] = req.url!.split('?')
    if (path === '/cgi-bin/egauge') {
      instCalls++
      res.writeHead(500).end('broken\n')
      return
    }
    const answer = sim.answer(path!, query)
    res.writeHead(answer.status, { 'content-type': 'text/xml' }).end(answer.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const c = client({}, `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  const history = await c.history({ step: 1, rows: 2 })
  t.same(virtualColumns(history.data.columns), ['Total Usage', 'Total Generation'])
  await c.history({ step: 1, rows: 2 })
  t.equal(instCalls, 2, 'tried once per history request until it answers')
  await t.rejects(c.current(), { code: 'EGAUGE_HTTP_STATUS' }, 'current values themselves still fail')
})
