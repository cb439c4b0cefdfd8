/**
 * What one meter answer may cost (#11 item 3): a well-formed answer within the size cap but with
 * register names of 10 kB, or with 700 000 registers, used to take the process to gigabytes and
 * stall every sensor for seconds. The sensor's `max_registers` and `max_register_name` refuse it
 * while it is read: EGAUGE_TOO_LARGE, quickly, the server answering meanwhile, RSS sampled.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { checkRegister, LimitError } from '../../../../src/model/errors.js'
import { parseInst, parseShow } from '../../../../src/egauge/xml/parse.js'
import { testBridge } from '../../../helpers/bridge.js'
import { measured } from '../../../helpers/memory.js'

const NOW = 1_700_000_000
const longNames = (() => {
  let xml = `<?xml version="1.0" encoding="UTF-8" ?>\n<group serial="0x1">\n<data columns="50" time_stamp="0x${NOW.toString(16)}" time_delta="1" epoch="0x0">\n`
  for (let c = 0; c < 50; c++) xml += `<cname t="P">${String(c).padEnd(10_000, 'x')}</cname>\n`
  for (let r = 0; r < 3600; r++) xml += `<r>${'<c>123456</c>'.repeat(50)}</r>\n`
  return xml + '</data>\n</group>\n'
})()
const manyRegisters = (() => {
  const parts = [`<?xml version="1.0" encoding="UTF-8" ?>\n<data serial="0x1">\n<ts>${NOW}</ts>\n`]
  for (let i = 0; i < 700_000; i++) parts.push(`<r t="P" n="r${i}"><v>1</v><i>1</i></r>\n`)
  return parts.join('') + '</data>\n'
})()

t.test('the limits, pure: count and name length, the defaults of a sensor', async (t) => {
  const limits = { maxRegisters: 2, maxRegisterName: 4 }
  checkRegister(limits, 2, 'abcd')
  checkRegister(undefined, 1e9, 'x'.repeat(1e5))
  t.throws(() => { checkRegister(limits, 3, 'a') }, new LimitError('more than 2 registers in one answer (max_registers)'))
  t.throws(() => { checkRegister(limits, 1, 'abcde') }, new LimitError('a register name of 5 characters, more than 4 (max_register_name)'))
  t.throws(() => parseShow(longNames, { maxRegisters: 512, maxRegisterName: 256 }), /a register name of 10000 characters/)
  t.throws(() => parseInst(manyRegisters, 's', undefined, { maxRegisters: 512, maxRegisterName: 256 }), /more than 512 registers/)
  t.equal(parseShow(longNames).columns.length, 50, 'without limits (the tests\' oracle use) it reads')
})

t.test('through the bridge: refused while read, quickly, with the sensor named; the server answers meanwhile', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' })
    res.end(req.url!.startsWith('/cgi-bin/egauge-show') ? longNames : manyRegisters)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const bridge = testBridge({ sensors: [{ name: 'hostile', url, timeout: '10s' }] })
  t.teardown(() => bridge.close())
  const { result: [show, inst], rssGrowth, seconds } = await measured(async () => await Promise.all([
    bridge.app.inject({ method: 'GET', url: '/metrics/hostile?window=59m&step=1s' }),
    bridge.app.inject({ method: 'GET', url: '/metrics/hostile?format=prometheus' })
  ]))
  t.equal(show.statusCode, 502)
  t.equal(show.body, 'sensor hostile: meter answer too large: a register name of 10000 characters, more than 256 (max_register_name)\n')
  t.equal(inst.statusCode, 502)
  t.equal(inst.body, 'sensor hostile: meter answer too large: more than 512 registers in one answer (max_registers)\n')
  t.ok(seconds < 3, `both refused in ${seconds.toFixed(2)} s (the 10 kB names took 11 s and 5 GB before)`)
  t.ok(rssGrowth < 400e6, `RSS grew by ${(rssGrowth / 1e6).toFixed(0)} MB at most: the 25 MB answer and its text, not gigabytes`)
  t.match(await bridge.metrics.registry.metrics(), /egauge_bridge_fetch_errors_total\{sensor="hostile",reason="EGAUGE_TOO_LARGE"\} 2/)
  t.equal((await bridge.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
})

t.test('config: the two limits, their defaults and their bounds', async (t) => {
  const { validateConfig } = await import('../../../../src/config/schema.js')
  const s = validateConfig({ sensors: [{ name: 'a', url: 'http://m' }] }).sensors[0]!
  t.same([s.maxRegisters, s.maxRegisterName], [512, 256])
  const d = validateConfig({ defaults: { max_registers: 64, max_register_name: 40 }, sensors: [{ name: 'a', url: 'http://m' }] }).sensors[0]!
  t.same([d.maxRegisters, d.maxRegisterName], [64, 40])
  t.throws(() => validateConfig({ sensors: [{ name: 'a', url: 'http://m', max_registers: 0 }] }), /sensors\[0\]\.max_registers: must be a whole number from 1 to 100000/)
})
