import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { XMLParser } from 'fast-xml-parser'
import t from 'tap'
import { ParseError } from '../../../../src/model/errors.js'
import { parseInst, parseShow } from '../../../../src/egauge/xml/parse.js'
import { exactValues } from '../../../../src/model/history.js'
import { historyReadings, windowReadings } from '../../../../src/model/rates.js'
import { registerType, totalName } from '../../../../src/egauge/registers.js'
import { decodeText } from '../../../../src/egauge/xml/scanner.js'
import { rateFamily } from '../../../../src/formats/prometheus.js'

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/egauge/${name}`, import.meta.url), 'utf8')

/** A one-column history of two rows `dt` seconds apart, newest first. */
function twoRows (type: string | undefined, newer: string, older: string, dt = 10): string {
  const t0 = 1_700_000_000
  return `<group serial="0x1"><data columns="1" time_stamp="0x${(t0 + dt).toString(16)}" time_delta="${dt}" epoch="0x0">
<cname${type === undefined ? '' : ` t="${type}"`}>R</cname><r><c>${newer}</c></r><r><c>${older}</c></r></data></group>`
}

t.test('hand-computed average rates per type code', async (t) => {
  const cases: Array<[string, string | undefined, string, string, number, number, string]> = [
    // name, type, newer, older, seconds, expected SI rate, unit
    ['power P', 'P', '55357226851', '55357243343', 60, -274.8666666666667, 'W'], // KB worked example
    ['voltage V', 'V', '4511385868513', '4511319123106', 600, 111.24234500000001, 'V'], // KB: 111.24 V
    ['current I', 'I', '150000', '0', 10, 15, 'A'],
    ['frequency F', 'F', '600000', '0', 10, 60, 'Hz'],
    ['temperature T', 'T', '215000', '0', 10, 21.5, 'degC'],
    ['apparent power S', 'S', '3000', '0', 10, 300, 'VA'],
    ['humidity h (XML quantum 0.1)', 'h', '4500', '0', 10, 45, '%'],
    ['unknown code Zz (quantum 1)', 'Zz', '420', '0', 10, 42, 'unknown'],
    ['missing t means P', undefined, '990', '0', 10, 99, 'W'],
    ['money $ (2^-29)', '$', String(10 * 2 ** 29), '0', 10, 1, 'currency/s']
  ]
  for (const [name, type, newer, older, dt, expected, unit] of cases) {
    t.test(name, async (t) => {
      const [r] = historyReadings(parseShow(twoRows(type, newer, older, dt)), 's')
      t.equal(r!.unit, unit)
      t.ok(Math.abs(r!.rate - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `${r!.rate} ≈ ${expected}`)
      t.equal(r!.time, 1_700_000_000 + dt, 'stamped at the end of the interval')
    })
  }
})

t.test('the fixture check of the reference: Solar at night is -13.99 W', async (t) => {
  const h = parseShow(fixture('show-egauge-rb-hourly.xml'))
  t.equal(h.rows.length, 24)
  const readings = historyReadings(h, 's')
  t.equal(readings.length, 23 * 2, 'n+1 rows give n points per register')
  t.equal(readings[0]!.register, 'Solar')
  t.equal(Math.round(readings[0]!.rate * 100) / 100, -13.99)
})

t.test('wrap-around across 2^63 is one small step', async (t) => {
  const [r] = historyReadings(parseShow(twoRows('P', String(-(2n ** 63n) + 5n), String(2n ** 63n - 11n), 1)), 's')
  t.equal(r!.rate, 16)
})

/** A delta-encoded (`C`) history of two columns, newest row first, one second apart. */
function deltaRows (rows: Array<[string, string]>): string {
  const t0 = 1_700_000_000
  const body = rows.map(([a, b]) => `<r><c>${a}</c><c>${b}</c></r>`).join('')
  return `<group serial="0x1"><data columns="2" time_stamp="0x${t0.toString(16)}" time_delta="1" delta="true" epoch="0x0">
<cname t="P">A</cname><cname t="P">B</cname>${body}</data></group>`
}

t.test('values past 15 digits are kept exact, alone or mixed with small ones in a row', async (t) => {
  const big = 2n ** 62n + 3n // 19 digits: not an exact double
  const h = parseShow(`<group serial="0x1"><data columns="3" time_stamp="0x10" time_delta="1" epoch="0x0">
<cname t="P">small</cname><cname t="P">big</cname><cname t="P">after</cname>
<r><c>7</c><c>${big + 5n}</c><c>-9</c></r><r><c>2</c><c>${big}</c><c>-10</c></r></data></group>`)
  t.same(exactValues(h.rows[0]!), [7n, big + 5n, -9n])
  t.same(historyReadings(h, 's').map((r) => r.rate), [5, 5, 1], 'differences taken exactly')
})

t.test('delta encoding stays exact past 10^15 and across 2^63', async (t) => {
  // The first row is absolute; each later (older) row is the difference from the row before it.
  const past = parseShow(deltaRows([['999999999999999', '0'], ['1', '-3']]))
  t.same(exactValues(past.rows[1]!), [1000000000000000n, -3n], 'a sum reaching 10^15 is kept exact')
  t.same(historyReadings(past, 's').map((r) => r.rate), [-1, 3])
  const wrap = parseShow(deltaRows([['0', String(2n ** 63n - 1n)], ['0', '1']]))
  t.same(exactValues(wrap.rows[1]!), [0n, -(2n ** 63n)], 'wraps around as the register does')
  t.same(historyReadings(wrap, 's').map((r) => r.rate), [0, -1], 'one step across the wrap')
  const small = parseShow(deltaRows([['10', '20'], ['-3', '4']]))
  t.same(exactValues(small.rows[1]!), [7n, 24n])
  t.equal(small.rows[1]!.exact, undefined, 'small sums need no BigInt')
})

t.test('values outside 64 bits or not integers are parse errors', async (t) => {
  t.throws(() => parseShow(twoRows('P', '123456789012345678901', '0')), ParseError)
  t.throws(() => parseShow(twoRows('P', '1.5', '0')), ParseError)
  t.throws(() => parseShow(twoRows('P', '', '0')), ParseError, 'an empty value is not zero')
  t.throws(() => parseShow(twoRows('P', '0x10', '0')), ParseError)
})

t.test('delta encoding continues across <data> blocks', async (t) => {
  const h = parseShow(fixture('show-esolarmonitor-C-T-delta.xml'))
  t.same(h.rows.map((r) => r.time), [0x573d785c, 0x57258d50])
  t.same(exactValues(h.rows[1]!), [121585688n - 222214687n, 7094219202n - 1038347707n, 7114255581n - 1041263960n])
  const [grid] = historyReadings(h, 's')
  t.equal(grid!.rate, 222214687 / (0x573d785c - 0x57258d50))
})

t.test('blocks with different steps: each row keeps its own timestamp', async (t) => {
  const h = parseShow(fixture('show-egauge-rb-T-multidata.xml'))
  t.equal(h.rows.length, 13)
  t.equal(h.rows[0]!.time, 0x5b880045, 'the second-level row')
  t.equal(h.rows[1]!.time, 0x5b613040, 'then the minute-level rows')
  const r = historyReadings(h, 's')
  t.equal(r[0]!.rate, (499946718248 - 423518443527) / (0x5b880045 - 0x5b613040))
})

t.test('rows inside one block step back by time_delta; blocks out of order are sorted', async (t) => {
  const xml = `<group serial="0x1"><data columns="1" time_stamp="0x100" time_delta="60" epoch="0x0"><cname t="P">A</cname>
<r><c>10</c></r><r><c>5</c></r></data><data time_stamp="0x200" time_delta="1"><r><c>20</c></r></data></group>`
  const h = parseShow(xml)
  t.same(h.rows.map((r) => r.time), [0x200, 0x100, 0x100 - 60])
})

t.test('virtual columns (a) come first: use and gen get the names of current values, and virtual', async (t) => {
  const h = parseShow(fixture('show-esolarmonitor-daily-virtual.xml'))
  t.same(h.columns.map((c) => [c.name, c.virtual]), [['Total Usage', true], ['Total Generation', true], ['Grid', false], ['Solar', false], ['Solar+', false]])
  // The values stay the meter's: use = Grid + Solar+ in this real answer (egauge-api.md §2.3).
  t.equal(h.rows[0]!.values[0], h.rows[0]!.values[2]! + h.rows[0]!.values[4]!)
})

t.test('only leading use and gen are totals; other virtual registers are named by the meter\'s current values', async (t) => {
  const xml = '<group serial="0x1"><data columns="4" time_stamp="0x10" time_delta="1"><cname t="P">use</cname><cname t="P">Net</cname>' +
    '<cname t="P">Grid</cname><cname t="P">gen</cname><r><c>1</c><c>2</c><c>3</c><c>4</c></r></data></group>'
  t.same(parseShow(xml).columns.map((c) => [c.name, c.virtual]), [['Total Usage', true], ['Net', false], ['Grid', false], ['gen', false]])
  t.same(parseShow(xml, undefined, { totals: true, names: new Set(['Net']) }).columns.map((c) => [c.name, c.virtual]), [['Total Usage', true], ['Net', true], ['Grid', false], ['gen', false]])
  t.same(parseShow(xml, undefined, { totals: false }).columns.map((c) => [c.name, c.virtual]), [['use', false], ['Net', false], ['Grid', false], ['gen', false]], 'asked without a: a register named use is a register')
})

t.test('window average: newest row against oldest', async (t) => {
  const h = parseShow(fixture('show-egauge-rb-hourly.xml'))
  const [solar] = windowReadings(h, 's')
  t.equal(solar!.rate, (146158283881 - 145331525489) / (23 * 3600))
  t.same(windowReadings({ ...h, rows: h.rows.slice(0, 1) }, 's'), [], 'one row has no average')
})

t.test('self-closing elements are skipped', async (t) => {
  const s = parseInst('<data serial="0x1"><ts>5</ts><gen/><r t="P" n="A"><v>1</v><i>2</i><note/></r></data>', 'x', new Set(['B']))
  t.same(s.readings, [], 'and the filter drops registers not listed')
})

t.test('register filter and empty names', async (t) => {
  const h = parseShow(fixture('show-egauge-rb-hourly.xml'))
  t.same([...new Set(historyReadings(h, 's', new Set(['Solar+'])).map((r) => r.register))], ['Solar+'])
  const inst = parseInst('<data serial="0x1"><ts>5</ts><r t="P" n=""><v>1</v><i>1</i></r><r t="P" n="A"><v>1</v><i>2</i></r></data>', 's')
  t.same(inst.readings.map((r) => r.register), ['A'], 'a register with an empty name is skipped')
})

t.test('instantaneous: <i> is already SI, totals are virtual, unknown elements skipped', async (t) => {
  const s = parseInst(fixture('inst-tot-egauge_ruby.xml'), 'x')
  t.equal(s.time, 1421689501)
  t.equal(s.serial, '0x24658c9e')
  const total = s.readings.find((r) => r.register === 'Total Usage')!
  t.equal(total.virtual, true)
  t.equal(total.rate, 451)
  t.equal(total.total, -281426661664787)
  t.equal(s.readings.find((r) => r.register === 'Grid')!.virtual, false)
  const v = parseInst('<data serial="0x1"><ts>5</ts><r t="V" n="L1"><v>1000</v><i>235.971</i></r><r t="d" n="D"><v>7</v></r></data>', 'x')
  t.equal(v.readings[0]!.rate, 235.971, 'V rate is taken as volts, not millivolts')
  t.equal(v.readings[0]!.total, 1)
  t.equal(v.readings[1]!.rate, 7, 'discrete values are reported as they are')
  t.ok(Number.isNaN(v.readings[1]!.total))
  t.ok(Number.isNaN(parseInst('<data><ts>5</ts><r n="A"><v>1</v></r></data>', 'x').readings[0]!.rate), 'no <i> without inst')
})

t.test('hostile and broken documents give ParseError, quickly', async (t) => {
  const show = fixture('show-egauge-rb-hourly.xml')
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /expected <group> as the document root, got end of document/],
    ['close tag first', '</group>', /got <\/group>/],
    ['self-closing root', '<group serial="0x1"/>', /got <group>/],
    ['names after rows', '<group><data time_stamp="0x10" time_delta="1"><cname>A</cname><r><c>1</c></r><cname>B</cname></data></group>', /<cname> after data rows/],
    ['not XML', 'HTTP/1.1 502 Bad Gateway', /expected <group>/],
    ['HTML error page', '<html><body>Oops</body></html>', /expected <group> as the document root, got <html>/],
    ['truncated in a row', show.slice(0, show.length / 2), /truncated/],
    ['truncated after a row', show.slice(0, show.lastIndexOf('</data>')), /truncated/],
    ['billion laughs', '<?xml version="1.0"?><!DOCTYPE group [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><group><data><cname>&b;</cname></data></group>', /internal subset/],
    ['external entity', '<!DOCTYPE group [<!ENTITY x SYSTEM "file:///etc/passwd">]><group>&x;</group>', /internal subset/],
    ['undefined entity', '<group serial="0x1"><data columns="1" time_stamp="0x1" time_delta="1"><cname>&x;</cname></data></group>', /undefined entity/],
    ['bare ampersand', '<group serial="0x1"><data columns="1" time_stamp="0x1" time_delta="1"><cname>a & b</cname></data></group>', /bare '&'/],
    ['bad char ref', '<group><data><cname>&#0;</cname></data></group>', /invalid character reference/],
    ['surrogate char ref', '<group><data><cname>&#xD800;</cname></data></group>', /invalid character reference &#xD800;/],
    ['row too wide', twoRows('P', '1</c><c>2', '0'), /more values than the 1 columns/],
    ['row too narrow', twoRows('P', '1', '0').replace('<r><c>1</c></r>', '<r></r>'), /0 values for 1 columns/],
    ['no columns', '<group serial="0x1"></group>', /without <cname>/],
    ['rows without stamps', '<group><data><cname>A</cname><r><c>1</c></r></data></group>', /without time_stamp/],
    ['bad stamp', '<group><data time_stamp="yesterday" time_delta="1"><cname>A</cname></data></group>', /time_stamp "yesterday"/],
    ['inst without ts', '<data serial="0x1"><r n="A"><v>1</v></r></data>', /without <ts>/],
    ['inst without value', '<data serial="0x1"><ts>1</ts><r n="A"></r></data>', /without a <v> value/],
    ['inst bad rate', '<data serial="0x1"><ts>1</ts><r n="A"><v>1</v><i>NaN</i></r></data>', /is not a number/],
    ['unquoted attribute', '<group serial=1></group>', /unquoted attribute/],
    ['unterminated comment', '<group><!-- ', /unterminated comment/]
  ]
  for (const [name, xml, message] of cases) {
    t.test(name, async (t) => {
      const parse = xml.includes('<group') || !xml.includes('<data') ? parseShow : (x: string) => parseInst(x, 's')
      const started = performance.now()
      t.throws(() => parse(xml), message)
      t.throws(() => parse(xml), ParseError)
      t.ok(performance.now() - started < 200)
    })
  }
})

t.test('a DOCTYPE without internal subset is skipped, never fetched', async (t) => {
  const h = parseShow(fixture('show-egauge-rb-T-multidata.xml'))
  t.equal(h.serial, '0xd7e9c8d')
})

t.test('CDATA, comments and processing instructions are read like text', async (t) => {
  const h = parseShow('<?xml version="1.0"?><!-- c --><group serial="0x1"><?pi x?><data columns="1" time_stamp="0x10" time_delta="1"><cname t="P"><![CDATA[A&B]]></cname><r><c>1</c></r></data></group>')
  t.equal(h.columns[0]!.name, 'A&B')
})

t.test('decodeText', async (t) => {
  t.equal(decodeText('a &amp; b &lt;&gt;&quot;&apos; &#233;&#xE9;'), "a & b <>\"' éé")
  t.equal(decodeText('plain'), 'plain')
})

t.test('the type table: every code maps to a unit and a Prometheus family', async (t) => {
  t.equal(registerType('var').quantity, 'reactive_power')
  t.equal(registerType('toString').quantity, 'unknown', 'no prototype lookups')
  t.equal(rateFamily(registerType('Qe').quantity).name, 'egauge_charge_coulombs')
})

t.test('property: mutated fixtures give ParseError or a result, never another exception', async (t) => {
  const docs = ['show-egauge-rb-hourly.xml', 'show-egauge-rb-T-multidata.xml', 'show-esolarmonitor-C-T-delta.xml', 'inst-tot-egauge_ruby.xml', 'show-esolarmonitor-daily-virtual.xml'].map(fixture)
  const mutation = fc.record({
    doc: fc.integer({ min: 0, max: docs.length - 1 }),
    ops: fc.array(fc.record({
      kind: fc.constantFrom('cut', 'flip', 'insert', 'delete', 'dup'),
      at: fc.nat(),
      text: fc.constantFrom('<', '>', '&', '"', '</c>', '<r>', '<c>', '-', '9', '0x', '<!DOCTYPE x [', ']]>', '\u0000', 'é', '<data time_stamp="0x1" time_delta="0">')
    }), { minLength: 1, maxLength: 4 })
  })
  fc.assert(fc.property(mutation, ({ doc, ops }) => {
    let xml = docs[doc]!
    for (const op of ops) {
      const at = op.at % (xml.length + 1)
      if (op.kind === 'cut') xml = xml.slice(0, at)
      else if (op.kind === 'flip') xml = xml.slice(0, at) + String.fromCharCode((xml.charCodeAt(at) || 32) ^ 1) + xml.slice(at + 1)
      else if (op.kind === 'insert') xml = xml.slice(0, at) + op.text + xml.slice(at)
      else if (op.kind === 'delete') xml = xml.slice(0, at) + xml.slice(at + 5)
      else xml = xml.slice(0, at) + xml.slice(at, at + 40) + xml.slice(at)
    }
    try {
      if (xml.includes('<group')) historyReadings(parseShow(xml), 's')
      else parseInst(xml, 's')
    } catch (err) {
      if (!(err instanceof ParseError)) throw err
    }
  }), { numRuns: 3000, seed: 42 })
  t.pass('3000 mutations')
})

t.test('agrees with fast-xml-parser (an independent parser) on every fixture value', async (t) => {
  const oracle = new XMLParser({ ignoreAttributes: false, parseTagValue: false, isArray: (n) => ['data', 'r', 'c', 'cname'].includes(n), processEntities: true })
  for (const name of ['show-egauge-rb-hourly.xml', 'show-egauge-rb-T-multidata.xml', 'show-esolarmonitor-daily-virtual.xml']) {
    const doc = oracle.parse(fixture(name)) as { group: { data: Array<{ r?: Array<{ c: string[] }>, cname?: Array<{ '#text': string }> }> } }
    const expected = doc.group.data.flatMap((d) => (d.r ?? []).map((r) => r.c.map((c) => BigInt(c.trim()))))
    const ours = parseShow(fixture(name))
    t.same(ours.rows.map(exactValues), expected, name)
    // The oracle reads the stored names; the bridge renames the two leading totals (registers.ts totalName).
    const stored = doc.group.data[0]!.cname!.map((c) => c['#text'])
    t.same(ours.columns.map((c) => c.name), stored.map((n, i) => (i < 2 && totalName(n)) || n), `${name} names`)
  }
})

t.test('time_delta="0" with several rows, or a delta that reaches before 1970: a parse error, not duplicate or negative times', async (t) => {
  const doc = (stamp: string, delta: string, rows: number): string => `<group serial="0x1"><data columns="1" time_stamp="${stamp}" time_delta="${delta}" epoch="0x0"><cname t="P">Grid</cname>${'<r><c>5</c></r>'.repeat(rows)}</data></group>`
  t.throws(() => parseShow(doc('0x65538ef4', '0', 2)), new ParseError('time_delta="0" in a <data> block with more than one row'))
  t.equal(parseShow(doc('0x65538ef4', '0', 1)).rows.length, 1, 'one row needs no delta')
  t.throws(() => parseShow(doc('0x10', '0xffffffff', 2)), /before 1970/)
  t.equal(parseShow(doc('0x10', '0x10', 2)).rows[1]!.time, 0, 'exactly 1970 is a time')
})
