import t from 'tap'
import { escapeKey, escapeMeasurement, toLineProtocol, type LineProtocolOptions } from '../../../src/formats/influx.js'
import type { Reading } from '../../../src/model/readings.js'
import { answerFromXml } from '../../helpers/golden.js'

const base: Reading = { sensor: 's', register: 'R', type: 'P', quantity: 'power', unit: 'W', virtual: false, time: 1_700_000_000, rate: 1.5, total: 10, rawRate: 1.5 }
const egauge: LineProtocolOptions = { schema: 'egauge', measurement: 'egauge', tags: {}, precision: 's' }

t.test('line protocol edge cases, one row each (after Telegraf serializer tests)', async (t) => {
  const cases: Array<[string, Partial<Reading>, Partial<LineProtocolOptions>, string]> = [
    ['plain', {}, {}, 'egauge,quantity=power,register=R,sensor=s,unit=W value=1.5,total=10 1700000000\n'],
    ['NaN rate: only total', { rate: Number.NaN }, {}, 'egauge,quantity=power,register=R,sensor=s,unit=W total=10 1700000000\n'],
    ['Infinity total: only value', { total: Number.POSITIVE_INFINITY }, {}, 'egauge,quantity=power,register=R,sensor=s,unit=W value=1.5 1700000000\n'],
    ['nothing finite: no line', { rate: Number.NaN, total: Number.NEGATIVE_INFINITY }, {}, ''],
    ['empty unit tag dropped', { unit: '' }, {}, 'egauge,quantity=power,register=R,sensor=s value=1.5,total=10 1700000000\n'],
    ['empty configured tag dropped', {}, { tags: { site: '' } }, 'egauge,quantity=power,register=R,sensor=s,unit=W value=1.5,total=10 1700000000\n'],
    ['configured tags sorted in', {}, { tags: { zone: 'z', building: 'b' } }, 'egauge,building=b,quantity=power,register=R,sensor=s,unit=W,zone=z value=1.5,total=10 1700000000\n'],
    ['virtual tag', { virtual: true }, {}, 'egauge,quantity=power,register=R,sensor=s,unit=W,virtual=true value=1.5,total=10 1700000000\n'],
    ['measurement escaping', {}, { measurement: 'my m,x' }, 'my\\ m\\,x,quantity=power,register=R,sensor=s,unit=W value=1.5,total=10 1700000000\n'],
    ['ns precision', {}, { precision: 'ns' }, 'egauge,quantity=power,register=R,sensor=s,unit=W value=1.5,total=10 1700000000000000000\n'],
    ['us precision', {}, { precision: 'us' }, 'egauge,quantity=power,register=R,sensor=s,unit=W value=1.5,total=10 1700000000000000\n'],
    ['large and small floats', { rate: 1e21, total: 5e-7 }, {}, 'egauge,quantity=power,register=R,sensor=s,unit=W value=1e+21,total=5e-7 1700000000\n'],
    ['negative zero', { rate: -0 }, {}, 'egauge,quantity=power,register=R,sensor=s,unit=W value=0,total=10 1700000000\n'],
    ['peper: W register stays in W', { rawRate: 1500 }, { schema: 'peper', measurement: 'measure', tags: { ID: 's' }, registerUnits: { R: 'W' } }, 'measure,ID=s,Unit=W R=1500 1700000000\n'],
    ['peper: other registers are divided by 1000', { rawRate: 1500 }, { schema: 'peper', measurement: 'measure', tags: { ID: 's' }, registerUnits: { R: 'kW' } }, 'measure,ID=s,Unit=kW R=1.5 1700000000\n'],
    ['peper: unlisted register takes the type unit', { rawRate: 1500, register: 'CT 1' }, { schema: 'peper', measurement: 'measure', tags: {} }, 'measure,Unit=W CT\\ 1=1.5 1700000000\n'],
    ['peper: no NaN', { rawRate: Number.NaN }, { schema: 'peper', measurement: 'measure', tags: {} }, '']
  ]
  for (const [name, reading, opts, expected] of cases) {
    t.equal(toLineProtocol([{ ...base, ...reading }], { ...egauge, ...opts }), expected, name)
  }
})

t.test('render: the register allow-list, and a history with no rows', async (t) => {
  const { renderAnswer } = await import('../../../src/formats/render.js')
  const { validateConfig } = await import('../../../src/config/schema.js')
  const config = validateConfig({ sensors: [{ name: 's', registers: ['B'] }] })
  const inst = '<data serial="0x1"><ts>5</ts><r t="P" n="A"><v>1</v><i>1</i></r><r t="P" n="B"><v>2</v><i>2</i></r></data>'
  t.equal(await renderAnswer(config.sensors[0]!, config.influx, answerFromXml(config.sensors[0]!, inst, 0), { format: 'influx', precision: 's' }),
    'egauge,quantity=power,register=B,sensor=s,unit=W value=2,total=2 5\n')
  const empty = '<group serial="0x1"><data columns="1" time_stamp="0x10" time_delta="1"><cname t="P">B</cname></data></group>'
  t.match(await renderAnswer(config.sensors[0]!, config.influx, answerFromXml(config.sensors[0]!, empty, 0), { format: 'prometheus', precision: 's' }),
    /egauge_sample_timestamp_seconds\{sensor="s"\} 0/)
  t.equal(await renderAnswer(config.sensors[0]!, config.influx, answerFromXml(config.sensors[0]!, empty, 0), { format: 'influx', precision: 's' }), '', 'no rows, no lines')
})

t.test('escaping rules', async (t) => {
  t.equal(escapeKey('a b,c=d'), 'a\\ b\\,c\\=d')
  t.equal(escapeKey('back\\slash'), 'back\\slash', 'InfluxDB 1.x reads a backslash before a plain character as itself')
  t.equal(escapeKey('end\\'), 'end/', 'a trailing backslash cannot be written')
  t.equal(escapeKey('a\\,b'), 'a/\\,b', 'nor one before an escaped character')
  t.equal(escapeKey('line\nbreak\ttab'), 'line\\ break\\ tab')
  t.equal(escapeMeasurement('m=1 2'), 'm=1\\ 2', 'equals signs need no escape in a measurement')
})
