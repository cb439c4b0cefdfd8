/**
 * historyText() and historyBatches(): the history → line protocol paths of the pull server and
 * the push loop. The golden cases check the text; these check its range, its batches and, for the legacy schema
 * at minute resolution, that it prints what the readings print.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { loadConfigText } from '../../../src/config/load.js'
import { parseShow } from '../../../src/egauge/xml/parse.js'
import { historyReadings } from '../../../src/model/rates.js'
import { toLineProtocol } from '../../../src/formats/influx.js'
import { historyBatches, historyText, lineProtocolOptions, MAX_RESPONSE_LINES } from '../../../src/formats/render.js'
import { EgaugeError } from '../../../src/model/errors.js'
import { Simulator } from '../../../src/simulator/server.js'

const NOW = 1_700_000_000
const sim = new Simulator({ seed: 3, clock: () => NOW * 1000 })

t.test('only the points in (after, until], in batches of at most batchSize lines', async (t) => {
  const { config } = loadConfigText('sensors:\n  - name: m\n    registers: [Grid, Solar]\n', {})
  const sensor = config.sensors[0]!
  const history = parseShow(sim.answer('/cgi-bin/egauge-show', 'S&n=11').body)
  const stream = historyBatches(history, sensor, lineProtocolOptions(sensor, config.influx, 's'), 3, { after: NOW - 8, until: NOW - 2 })
  const batches = [...stream]
  const newest = stream.newest
  t.same(batches.map((b) => b.lines), [3, 3, 3, 3], '6 seconds × 2 registers')
  const times = batches.flatMap((b) => b.body.toString().trim().split('\n').map((line) => Number(line.split(' ')[2])))
  t.same([...new Set(times)], [NOW - 2, NOW - 3, NOW - 4, NOW - 5, NOW - 6, NOW - 7], 'newest first, both ends as documented')
  t.equal(newest, NOW - 2)
  t.same([...historyBatches(history, sensor, lineProtocolOptions(sensor, config.influx, 's'), 3, { after: NOW, until: NOW + 60 })], [], 'nothing in range: no batch')
})

t.test('batches are made as they are taken: the same bytes as the whole conversion, one batch held at a time', async (t) => {
  const { config } = loadConfigText('sensors:\n  - name: m\n', {})
  const sensor = config.sensors[0]!
  const history = parseShow(sim.answer('/cgi-bin/egauge-show', 'S&n=3600').body)
  const options = lineProtocolOptions(sensor, config.influx, 's')
  const whole = historyText(history, sensor, options)
  const stream = historyBatches(history, sensor, options, 5000)
  const sizes: number[] = []
  let joined = ''
  for (const batch of stream) {
    // Taken one at a time: what has been made so far is this batch and at most one more.
    t.ok(stream.lines - (sizes.reduce((a, b) => a + b, 0) + batch.lines) <= 5000, 'no more than one batch made ahead')
    sizes.push(batch.lines)
    joined += batch.body.toString()
  }
  t.equal(joined, whole, 'byte for byte the conversion in one piece')
  t.ok(sizes.slice(0, -1).every((n) => n === 5000), 'full batches of batchSize lines')
  t.equal(stream.lines, 3599 * history.columns.length)
  t.equal(stream.newest, NOW)
})

t.test('legacy schema at minute resolution prints what its readings print, for kW and =W registers', async (t) => {
  const { config } = loadConfigText(readFileSync(new URL('../../config/peper-2019.yml', import.meta.url), 'utf8'), {})
  const sensor = { ...config.sensors[0]!, registers: undefined }
  const units = sensor.registerUnits ?? {}
  t.ok(Object.values(units).includes('W'), 'the example configures a register as W')
  const history = parseShow(sim.answer('/cgi-bin/egauge-show', 'm&n=6').body)
  const options = lineProtocolOptions(sensor, config.influx, 's')
  const direct = historyText(history, sensor, options)
  t.equal([...historyBatches(history, sensor, options, Number.POSITIVE_INFINITY)][0]!.body.toString(), direct, 'bytes and text agree')
  t.equal(direct, toLineProtocol(historyReadings(history, sensor.name), options))
  t.match(direct, /=-?\d+\.\d+ /, 'minute averages are not whole numbers')
})

t.test('a window of more than MAX_RESPONSE_LINES lines is refused with what to ask instead; a register list brings it under', async (t) => {
  const columns = Array.from({ length: 200 }, (_, i) => ({ name: `r${i}`, type: 'P', kind: { quantity: 'power', unit: 'W', perUnit: 1 }, virtual: false }))
  const history = { serial: '', columns, rows: Array.from({ length: 3601 }, (_, i) => ({ time: NOW - i, values: columns.map(() => 1000 - i) })) }
  const all = loadConfigText('sensors:\n  - name: big\n    url: http://m\n', {}).config
  const options = lineProtocolOptions(all.sensors[0]!, all.influx, 's')
  t.throws(() => historyText(history, all.sensors[0]!, options), new EgaugeError('EGAUGE_TOO_LARGE', 'big', `window too large for one response: 3600 points × 200 registers = 720000 lines, more than ${MAX_RESPONSE_LINES}: ask a shorter window, a coarser step, or fewer registers (the sensor's registers list)`))
  const two = loadConfigText('sensors:\n  - name: big\n    url: http://m\n    registers: [r1, r7]\n', {}).config
  const text = historyText(history, two.sensors[0]!, options)
  t.equal(text.split('\n').filter(Boolean).length, 7200)
  t.match(text, /^egauge,quantity=power,register=r1,sensor=big,unit=W value=1,total=1000 1700000000\n/)
})
