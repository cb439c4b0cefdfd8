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
import { historyBatches, historyText, lineProtocolOptions } from '../../../src/formats/render.js'
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
