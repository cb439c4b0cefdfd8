/**
 * What one WebAPI answer may cost, as for XML (test/unit/egauge/xml/limits.test.ts): register
 * names of 10 kB over 3600 rows, a million registers, a truncated document, numbers where the
 * spec has strings, all within the size cap. Typed errors only (EGAUGE_TOO_LARGE, EGAUGE_PARSE),
 * quickly, the server answering meanwhile, RSS sampled. One JSON.parse of the capped body is the
 * cost's bound: max_response_size (README "Security").
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { testBridge } from '../../../helpers/bridge.js'
import { measured } from '../../../helpers/memory.js'

const NOW = 1_700_000_000
const longNames = JSON.stringify({
  ts: String(NOW),
  registers: Array.from({ length: 50 }, (_, i) => ({ name: String(i).padEnd(10_000, 'x'), type: 'P', idx: i, did: i })),
  ranges: [{ ts: String(NOW), delta: 1, rows: Array.from({ length: 3600 }, (_, r) => Array.from({ length: 50 }, () => String(1e9 - r))) }]
})
const manyRegisters = JSON.stringify({
  ts: String(NOW),
  registers: Array.from({ length: 1_000_000 }, (_, i) => ({ name: `r${i}`, did: i })),
  ranges: [{ ts: String(NOW), delta: 1, rows: [] }]
})

t.test('a hostile WebAPI meter through the bridge: refused while read, quickly, with the sensor named', async (t) => {
  let body = ''
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body !== '' ? body : req.url!.includes('rate') ? manyRegisters : longNames)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const bridge = testBridge({ server: { cache_ttl: '0s' }, sensors: [{ name: 'hostile', url, api: 'webapi', timeout: '10s' }] })
  t.teardown(() => bridge.close())
  t.ok(manyRegisters.length < 32 * 2 ** 20 && manyRegisters.length > 40e6 / 2, `a million registers in ${(manyRegisters.length / 2 ** 20).toFixed(0)} MiB, within the 32 MiB cap`)
  const { result: [history, current], rssGrowth, seconds } = await measured(async () => await Promise.all([
    bridge.app.inject({ method: 'GET', url: '/metrics/hostile?window=59m&step=1s' }),
    bridge.app.inject({ method: 'GET', url: '/metrics/hostile?format=prometheus' })
  ]))
  t.equal(history.statusCode, 502)
  t.equal(history.body, 'sensor hostile: meter answer too large: a register name of 10000 characters, more than 256 (max_register_name)\n')
  t.equal(current.statusCode, 502)
  t.equal(current.body, 'sensor hostile: meter answer too large: more than 512 registers in one answer (max_registers)\n')
  t.ok(seconds < 5, `both refused in ${seconds.toFixed(2)} s`)
  t.ok(rssGrowth < 400e6, `RSS grew by ${(rssGrowth / 1e6).toFixed(0)} MB at most: one parse of the capped answers, not gigabytes`)
  t.match(await bridge.metrics.registry.metrics(), /egauge_bridge_fetch_errors_total\{sensor="hostile",reason="EGAUGE_TOO_LARGE"\} 2/)
  t.equal((await bridge.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)

  // Truncated, wrong types, numbers where the spec has strings: a parse error naming the part.
  const cases: Array<[string, RegExp]> = [
    [longNames.slice(0, 100_000), /unreadable meter answer: not JSON/],
    ['{"registers": [{"name": "Grid", "type": "P", "did": 0}], "ranges": [{"ts": 1700000000, "delta": 1, "rows": [["1"]]}]}', /ranges\[0\]\.ts is not a unix time as a decimal string/],
    ['{"registers": [{"name": "Grid", "did": 0}], "ranges": [{"ts": "1700000000", "delta": "1", "rows": [["1"]]}]}', /ranges\[0\]\.delta is not a number of seconds/],
    ['{"registers": {"name": "Grid", "did": 0}, "ranges": {"ts": "1700000000"}}', /"ranges" is not a list/],
    ['{"ts": "1700000000", "registers": [{"name": 5}], "ranges": []}', /registers\[0\] has no name/],
    ['{"ts": "1700000000", "registers": [{"name": "Grid", "did": 0}], "ranges": [{"ts": "1700000000", "delta": 1, "rows": [[1.5]]}]}', /rows\[0\]\[0\] is not a 64-bit integer/],
    ['"a string"', /unreadable meter answer/],
    ['null', /unreadable meter answer/]
  ]
  for (const [text, message] of cases) {
    body = text
    const r = await bridge.app.inject({ method: 'GET', url: '/metrics/hostile?window=1m&step=1s' })
    t.equal(r.statusCode, 502, text.slice(0, 60))
    t.match(r.body, /^sensor hostile: /)
    t.match(r.body, message)
  }
})
