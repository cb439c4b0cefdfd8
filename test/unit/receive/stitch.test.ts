import t from 'tap'
import { registerType } from '../../../src/egauge/registers.js'
import type { Column, History } from '../../../src/model/history.js'
import { dropBoundaryArtefacts, newestRow, stitch } from '../../../src/receive/stitch.js'

const col = (name: string, type = 'P'): Column => ({ name, type, kind: registerType(type), virtual: false })
const history = (columns: Column[], rows: Array<[number, ...number[]]>): History => ({
  serial: 'm',
  columns,
  rows: rows.map(([time, ...values]) => ({ time, values }))
})

t.test('stitch adds the previous push\'s newest row under the oldest row, columns matched by name', async (t) => {
  const h = history([col('a'), col('b')], [[103, 30, 300], [102, 20, 200]])
  const s = stitch(h, { time: 101, columns: ['b', 'a', 'gone'], values: ['100', '10', '7'] })
  t.equal(s.bridged, true)
  t.equal(s.gapSeconds, 1)
  t.equal(s.notBridged, undefined)
  t.same(s.history.rows[2], { time: 101, values: [10, 100] })
  t.same(h.rows.length, 2, 'the input history is left as it was')
})

t.test('stitch keeps values past 15 digits exact', async (t) => {
  const h = history([col('a')], [[50, 1]])
  const s = stitch(h, { time: 40, columns: ['a'], values: ['-1234567890123456789'] })
  t.same(s.history.rows[1], { time: 40, values: [Number(-1234567890123456789n)], exact: [-1234567890123456789n] })
  t.equal(s.gapSeconds, 10, 'a gap is reported in seconds')
  const up = stitch(h, { time: 40, columns: ['a'], values: ['1000000000000000'] })
  t.same(up.history.rows[1]!.exact, [1000000000000000n])
})

t.test('stitch leaves a history alone when it cannot or need not join', async (t) => {
  const h = history([col('a'), col('new')], [[103, 30, 1], [102, 20, 1]])
  t.same(stitch(h, undefined), { history: h, bridged: false, gapSeconds: undefined }, 'no previous push')
  t.same(stitch(history([col('a')], []), { time: 1, columns: ['a'], values: ['1'] }).bridged, false, 'an empty push')
  t.same(stitch(h, { time: 102, columns: ['a', 'new'], values: ['20', '1'] }), { history: h, bridged: false, gapSeconds: undefined },
    'a re-sent push reaches back to the stored row: nothing to add')
  const added = stitch(h, { time: 101, columns: ['a'], values: ['10'] })
  t.equal(added.bridged, false)
  t.equal(added.history, h)
  t.equal(added.notBridged, 'register "new" is new since the previous push')
})

t.test('newestRow keeps the exact values as text', async (t) => {
  t.equal(newestRow(history([col('a')], [])), undefined)
  t.same(newestRow(history([col('a'), col('b')], [[9, 1, -2], [8, 0, 0]])), { time: 9, columns: ['a', 'b'], values: ['1', '-2'] })
  const big: History = { serial: '', columns: [col('a')], rows: [{ time: 9, values: [Number(2n ** 62n)], exact: [2n ** 62n + 1n] }] }
  t.same(newestRow(big)!.values, [(2n ** 62n + 1n).toString()])
})

t.test('dropBoundaryArtefacts: the one-second row before minute rows that turns a counter back', async (t) => {
  // Newest first: 1-second rows 302, 301, then minute rows from 300 on. Row 300 is where the
  // spacing changes; the counter reads 500 there, above both neighbours (the real meter's artefact).
  const h = history([col('a')], [[302, 130], [301, 120], [300, 500], [240, 60], [180, 0]])
  const { history: clean, dropped } = dropBoundaryArtefacts(h)
  t.same(dropped, [300])
  t.same(clean.rows.map((r) => r.time), [302, 301, 240, 180])
  const below = history([col('a')], [[302, 130], [301, 120], [300, -5], [240, 60]])
  t.same(dropBoundaryArtefacts(below).dropped, [300], 'below both neighbours too')
})

t.test('dropBoundaryArtefacts keeps real rows', async (t) => {
  const steady = history([col('a')], [[302, 130], [301, 120], [300, 110], [240, 60], [180, 0]])
  const r = dropBoundaryArtefacts(steady)
  t.same(r.dropped, [])
  t.equal(r.history, steady, 'nothing dropped: the same history')
  const turnsMidRange = history([col('a')], [[303, 100], [302, 130], [301, 120], [300, 110]])
  t.same(dropBoundaryArtefacts(turnsMidRange).dropped, [], 'no change of spacing: a counter turning back is the meter\'s data')
  const discrete = history([col('d', 'd'), col('a')], [[302, 1, 130], [301, 9, 120], [300, 1, 110], [240, 9, 60]])
  t.same(dropBoundaryArtefacts(discrete).dropped, [], 'discrete registers jump by nature')
  t.same(dropBoundaryArtefacts(history([col('a')], [[2, 5], [1, 9]])).dropped, [], 'fewer than three rows')
})
