import { readFileSync } from 'node:fs'
import t from 'tap'
import { MAX_JSON_REGISTERS, MAX_JSON_ROWS, parseDbLevels, parseIdentityValue, parseRegisterJson, parseRegisterRates } from '../../../../src/egauge/webapi/register.js'
import { webapiRegisterType } from '../../../../src/egauge/registers.js'
import { LimitError, ParseError } from '../../../../src/model/errors.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/egauge-webapi/${name}`, import.meta.url), 'utf8')

t.test("eGauge's worked example: registers as an object, a 1 s and a 60 s range", async (t) => {
  const h = parseRegisterJson(fixture('webapi-doc_register_reg8_time_now_now-86400.json'))
  t.same(h.columns.map((c) => [c.name, c.type, c.kind.quantity, c.kind.perUnit, c.virtual]), [['temp', 'T', 'temperature', 1000, false]])
  // Range times are cut to whole seconds: 1678477555.154 → 1678477555.
  t.same(h.rows, [{ time: 1678477555, values: [7494425049] }, { time: 1678391100, values: [7033149079] }])
})

t.test('a real meter with 21 registers and no ranges: columns, no rows', async (t) => {
  const h = parseRegisterJson(fixture('solarnetwork-central_egauge-register-01.json'))
  t.equal(h.columns.length, 21)
  t.same(h.rows, [])
  const pq = h.columns.find((c) => c.type === 'PQ')!
  t.same(pq.kind, { quantity: 'reactive_power', unit: 'var', perUnit: 1 })
  t.equal(h.columns.find((c) => c.type === '#3')!.kind.perUnit, 1000)
})

t.test('one range of two rows, a fractional delta: rows land on whole seconds', async (t) => {
  const h = parseRegisterJson(fixture('solarnetwork-central_egauge-register-data-02.json'))
  t.same(h.rows.map((r) => r.time), [1678477555, Math.floor(1678477555.154 - 86455.154)])
  t.same(h.rows.map((r) => r.values[0]), [7494425049, 7033149079])
})

t.test('a push: several ranges, newest first, overlapping times once, virtual registers without did', async (t) => {
  const h = parseRegisterJson(JSON.stringify({
    registers: [{ name: 'Grid', type: 'P', did: 0 }, { name: 'Total Usage', type: 'P' }, { name: 'Humidity', type: 'h', did: 2 }, { name: 'odd' }],
    ranges: [
      { ts: '1700000120', delta: 1, rows: [['10', '20', 30, '-1'], ['9', '19', '29', '-2']] },
      { ts: '1700000119', delta: 60, rows: [['9', '19', '29', '-2'], ['1', '2', '3', '4']] }
    ]
  }))
  t.same(h.columns.map((c) => [c.name, c.virtual]), [['Grid', false], ['Total Usage', true], ['Humidity', false], ['odd', true]])
  t.equal(h.columns[2]!.kind.perUnit, 1000, 'the WebAPI counts humidity in 0.001 %')
  t.equal(h.columns[3]!.type, 'P', 'no type: power, as the XML API assumes')
  t.same(h.rows, [
    { time: 1700000120, values: [10, 20, 30, -1] },
    { time: 1700000119, values: [9, 19, 29, -2] },
    { time: 1700000059, values: [1, 2, 3, 4] }
  ])
  t.equal(h.serial, '')
})

t.test('values past 15 digits are kept exact as BigInt; past 64 bits they wrap as the register does', async (t) => {
  const h = parseRegisterJson(JSON.stringify({
    registers: [{ name: 'a', did: 0 }, { name: 'b', did: 1 }],
    ranges: [{ ts: '100', delta: 1, rows: [['9007199254740993', '5'], ['18446744073709551617', '-9223372036854775808']] }]
  }))
  t.same(h.rows[0]!.exact, [9007199254740993n, 5n])
  t.equal(h.rows[0]!.values[1], 5)
  t.same(h.rows[1]!.exact, [1n, -9223372036854775808n])
  t.same(h.rows[1]!.values, [1, -9223372036854775808])
})

t.test('a document without ranges or with an empty range is valid', async (t) => {
  t.same(parseRegisterJson('{"registers":[{"name":"a"}]}').rows, [])
  t.same(parseRegisterJson('{"registers":[{"name":"a"}],"ranges":[{"ts":"5","delta":0,"rows":[["1"]]}]}').rows, [{ time: 5, values: [1] }])
})

t.test('every malformed document: ParseError naming what is wrong', async (t) => {
  const reg = '"registers":[{"name":"a"}]'
  const cases: Array<[string, RegExp]> = [
    ['{', /^not JSON: /],
    ['[1]', /is not a JSON object/],
    ['null', /is not a JSON object/],
    ['{"error":"Authentication required."}', /^the meter answered an error: Authentication required\.$/],
    ['{}', /no "registers"/],
    ['{"registers":[]}', /no "registers"/],
    ['{"registers":"a"}', /no "registers"/],
    ['{"registers":[{"type":"P"}]}', /registers\[0\] has no name/],
    ['{"registers":[{"name":""}]}', /registers\[0\] has no name/],
    ['{"registers":[7]}', /registers\[0\] has no name/],
    [`{${reg},"ranges":{}}`, /"ranges" is not a list/],
    [`{${reg},"ranges":[1]}`, /ranges\[0\] is not an object/],
    [`{${reg},"ranges":[{"ts":5,"delta":1,"rows":[]}]}`, /ranges\[0\]\.ts is not a unix time/],
    [`{${reg},"ranges":[{"ts":"-5","delta":1,"rows":[]}]}`, /ranges\[0\]\.ts is not a unix time/],
    [`{${reg},"ranges":[{"ts":"5","rows":[]}]}`, /ranges\[0\]\.delta is not a number of seconds/],
    [`{${reg},"ranges":[{"ts":"5","delta":-1,"rows":[]}]}`, /ranges\[0\]\.delta is not a number of seconds/],
    [`{${reg},"ranges":[{"ts":"5","delta":1}]}`, /ranges\[0\]\.rows is not a list/],
    [`{${reg},"ranges":[{"ts":"5","delta":0,"rows":[["1"],["2"]]}]}`, /delta 0 and more than one row/],
    [`{${reg},"ranges":[{"ts":"1","delta":1,"rows":[["1"],["2"],["3"]]}]}`, /ranges\[0\]\.rows\[2\] falls before 1970/],
    [`{${reg},"ranges":[{"ts":"5","delta":1,"rows":[["1","2"]]}]}`, /ranges\[0\]\.rows\[0\] does not have 1 values/],
    [`{${reg},"ranges":[{"ts":"5","delta":1,"rows":["1"]}]}`, /ranges\[0\]\.rows\[0\] does not have 1 values/],
    [`{${reg},"ranges":[{"ts":"5","delta":1,"rows":[["1.5"]]}]}`, /ranges\[0\]\.rows\[0\]\[0\] is not a 64-bit integer/],
    [`{${reg},"ranges":[{"ts":"5","delta":1,"rows":[[1.5]]}]}`, /ranges\[0\]\.rows\[0\]\[0\] is not a 64-bit integer/],
    [`{${reg},"ranges":[{"ts":"5","delta":1,"rows":[[null]]}]}`, /is not a 64-bit integer/],
    [`{${reg},"ranges":[{"ts":"5","delta":1,"rows":[["123456789012345678901"]]}]}`, /is not a 64-bit integer/]
  ]
  for (const [text, message] of cases) {
    const err = t.throws(() => parseRegisterJson(text), text) as Error
    t.type(err, ParseError, text)
    t.match(err.message, message, text)
  }
})

t.test('size limits: rows and registers', async (t) => {
  const many = JSON.stringify({ registers: [{ name: 'a' }], ranges: [{ ts: '1000000', delta: 1, rows: Array.from({ length: MAX_JSON_ROWS + 1 }, () => ['1']) }] })
  t.throws(() => parseRegisterJson(many), new LimitError(`more than ${MAX_JSON_ROWS} rows in one answer`))
  const wide = JSON.stringify({ registers: Array.from({ length: MAX_JSON_REGISTERS + 1 }, (_, i) => ({ name: `r${i}` })) })
  t.throws(() => parseRegisterJson(wide), new LimitError(`more than ${MAX_JSON_REGISTERS} registers in one answer`))
})

t.test('the WebAPI type table: its own codes, unknown codes degrade', async (t) => {
  t.same(webapiRegisterType('ppm'), { quantity: 'concentration', unit: 'ppm', perUnit: 1000 })
  t.same(webapiRegisterType('%'), { quantity: 'percentage', unit: '%', perUnit: 1000 })
  t.same(webapiRegisterType('var'), webapiRegisterType('PQ'))
  t.same(webapiRegisterType('zz'), { quantity: 'unknown', unit: 'unknown', perUnit: 1 })
  t.same(webapiRegisterType('constructor'), { quantity: 'unknown', unit: 'unknown', perUnit: 1 })
})

t.test('the sensor\'s limits apply while the registers are read, as in the XML parser', async (t) => {
  const doc = JSON.stringify({ registers: [{ name: 'Grid', type: 'P', did: 0 }, { name: 'x'.repeat(300), type: 'P', did: 1 }], ranges: [] })
  t.throws(() => parseRegisterJson(doc, { maxRegisters: 512, maxRegisterName: 256 }), new LimitError('a register name of 300 characters, more than 256 (max_register_name)'))
  t.throws(() => parseRegisterJson(doc, { maxRegisters: 1, maxRegisterName: 256 }), new LimitError('more than 1 registers in one answer (max_registers)'))
  t.equal(parseRegisterJson(doc).columns.length, 2, 'without limits it reads')
})

t.test('the totals (virtual use and gen, first) get the names current values give them; a physical register keeps its name', async (t) => {
  const h = parseRegisterJson(JSON.stringify({
    registers: [{ name: 'use', type: 'P', idx: 0 }, { name: 'gen', type: 'P', idx: 1 }, { name: 'Net', type: 'P', idx: 2 }, { name: 'use', type: 'P', idx: 3, did: 0 }],
    ranges: [{ ts: '1700000000', delta: 1, rows: [['5', '3', '2', '1']] }]
  }))
  t.same(h.columns.map((c) => [c.name, c.virtual]), [['Total Usage', true], ['Total Generation', true], ['Net', true], ['use', false]])
})

t.test('current values (rate, time=now): rates as given, totals from the one row, discrete as read; every malformed part a ParseError', async (t) => {
  const doc = (registers: unknown, rows: string[][] = [['5000', '7', '3000']], ts: unknown = '1700000000.5'): string => JSON.stringify({ ts, registers, ranges: [{ ts: '1700000000', delta: 1, rows }] })
  const s = parseRegisterRates(doc([{ name: 'use', type: 'P', idx: 0, rate: 12.5 }, { name: 'Mode', type: 'd', idx: 1, did: 0 }, { name: 'Temp', type: 'T', idx: 2, did: 1, rate: 21.5 }]), 'm')
  t.equal(s.time, 1700000000)
  t.same(s.readings.map((r) => [r.register, r.virtual, r.rate, r.total, r.rawRate]), [
    ['Total Usage', true, 12.5, 5000, 12.5],
    ['Mode', false, 7, Number.NaN, 7],
    ['Temp', false, 21.5, 3, 21500]
  ])
  t.same(parseRegisterRates(doc([{ name: 'Grid', type: 'P', idx: 0, did: 0 }], [['5']]), 'm', new Set(['nope'])).readings, [], 'the allow-list applies')
  t.ok(Number.isNaN(parseRegisterRates(fixture('webapi-doc_register_reg8_time_now_now-86400.json'), 'm').readings[0]!.rate), 'no rate asked: none given (registers as one object)')
  t.throws(() => parseRegisterRates(doc([{ name: 'Grid', idx: 0, did: 0, rate: 'x' }], [['5']]), 'm'), new ParseError('registers[0].rate is not a number'))
  t.throws(() => parseRegisterRates(doc([{ name: 'Grid', idx: 0, did: 0 }], []), 'm'), new ParseError('current values without a row (ask with time=now)'))
  t.throws(() => parseRegisterRates(doc([{ name: 'Grid', idx: 0, did: 0 }], [['5']], 17), 'm'), /ts is not a unix time/)
})

t.test('/api/sys/db levels: every malformed part a ParseError', async (t) => {
  const db = (level: unknown): string => JSON.stringify({ result: { level } })
  t.same(parseDbLevels(db([{ interval: 60_000, 'row-count': 10 }, { interval: 1000, 'row-count': 5 }])).levels, [{ step: 1, maxAge: 5 }, { step: 60, maxAge: Number.POSITIVE_INFINITY }], 'finest first')
  for (const bad of [[5], [{ interval: 1500, 'row-count': 3 }], [{ interval: 1000, 'row-count': 0 }], [{ interval: '1000', 'row-count': 3 }], [{ interval: 1000 }]]) {
    t.throws(() => parseDbLevels(db(bad)), /level\[0\] has no whole-second interval and row-count/, JSON.stringify(bad))
  }
  t.throws(() => parseDbLevels(db([])), /no "level" list/)
  t.throws(() => parseDbLevels('[]'), /no "level" list/)
})

t.test('/api/sys/sn and /api/config/net/hostname values: printable, short, else none', async (t) => {
  t.equal(parseIdentityValue('{"result": "G12345"}'), 'G12345')
  t.equal(parseIdentityValue('{"result": "eGauge-garage_2.local"}'), 'eGauge-garage_2.local')
  for (const text of ['', 'not json', '[1]', '{"result": 12345}', '{"result": ""}', '{"result": "two words"}', `{"result": "${'x'.repeat(65)}"}`, '{"error": "no rights"}']) {
    t.equal(parseIdentityValue(text), undefined, JSON.stringify(text).slice(0, 40))
  }
})
