/**
 * The simulator answers every egauge-show parameter the bridge, the 2019 script and the XML API
 * document as a meter does (egauge-api.md §1.1): one test per parameter, each on the rows'
 * times and each block's time_delta, read back by fast-xml-parser (an independent parser).
 */
import { XMLParser } from 'fast-xml-parser'
import t from 'tap'
import { Simulator } from '../../../src/simulator/server.js'

const NOW = 1_700_000_040 // a whole minute
let nowMs = NOW * 1000
const sim = new Simulator({ seed: 8, clock: () => nowMs })
const oracle = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, isArray: (n) => ['data', 'r', 'c', 'cname'].includes(n) })

interface Block { stamp: number, delta: number, times: number[], attrs: Record<string, string> }

/** The blocks of an answer: each row's time from its block's time_stamp and time_delta. */
function show (query: string): { blocks: Block[], times: number[], columns: string[] } {
  const doc = oracle.parse(sim.answer('/cgi-bin/egauge-show', query).body) as { group: { data: Array<Record<string, string> & { r?: unknown[], cname?: Array<{ '#text': string }> }> } }
  const blocks = doc.group.data.map((d) => {
    const stamp = parseInt(d.time_stamp!, 16)
    const delta = Number(d.time_delta)
    return { stamp, delta, times: (d.r ?? []).map((_, i) => stamp - i * delta), attrs: d }
  })
  return { blocks, times: blocks.flatMap((b) => b.times), columns: (doc.group.data[0]!.cname ?? []).map((c) => c['#text']) }
}
const seconds = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.floor((from - to) / step) + 1 }, (_, i) => from - i * step)

t.beforeEach(() => { nowMs = NOW * 1000 })

t.test('n is a maximum; without it, every row back to t (the 2019 script\'s second and later requests)', async (t) => {
  t.same(show('S&n=5').times, seconds(NOW, NOW - 4))
  t.same(show(`S&s=0&t=${NOW - 300}`).times, seconds(NOW, NOW - 300), 'from now back to t, 301 rows')
  t.same(show(`S&n=10&t=${NOW - 300}`).times, seconds(NOW, NOW - 9), 'n still caps them')
})

t.test('the 2019 script\'s exact sequence: S&s=0&n=341, then S&s=0&t=<its newest row> every 5 minutes', async (t) => {
  const first = show('S&s=0&n=341')
  t.same(first.times, seconds(NOW, NOW - 340))
  let last = first.times[0]!
  for (let cycle = 1; cycle <= 3; cycle++) {
    nowMs += 300_000
    const next = show(`S&s=0&t=${last}`)
    t.same(next.times, seconds(last + 300, last), `cycle ${cycle}: the 300 new seconds and the row it had`)
    t.same(next.blocks.map((b) => b.delta), [1])
    last = next.times[0]!
  }
})

t.test('s: rows skipped after each one, in the unit (h&s=23 is d)', async (t) => {
  t.same(show('S&s=9&n=3').times, [NOW, NOW - 10, NOW - 20])
  const hourly = show('h&s=23&n=2').times
  const daily = show('d&n=2').times
  t.same(hourly, daily)
  t.equal(hourly[0]! - hourly[1]!, 86400)
})

t.test('the units S, m, h, d (m without one); a block\'s time_delta is the stored resolution where it is coarser', async (t) => {
  t.same(['S', 'm', 'h', 'd', ''].map((u) => show(`${u}${u === '' ? '' : '&'}n=3`).blocks.map((b) => b.delta)), [[1], [60], [3600], [86400], [60]])
  // Seconds are kept for an hour (EG4xxx): asked for 3700 seconds, the meter gives the hour in
  // seconds, then minute rows, each block with its own time_delta.
  const across = show('S&n=3700')
  t.same(across.blocks.map((b) => b.delta), [1, 60])
  t.equal(across.blocks[0]!.times.at(-1), NOW - 3600)
  t.ok(across.blocks[1]!.times.every((x) => x % 60 === 0 && x < NOW - 3600))
  t.same(show(`S&n=2&f=${NOW - 7200}`).times, [NOW - 7200, NOW - 7260], 'two hours ago only minute rows remain')
})

t.test('f: the newest row, snapped to a stored row; t: the oldest', async (t) => {
  t.same(show(`m&n=2&f=${NOW - 90}`).times, [NOW - 120, NOW - 180])
  t.same(show(`m&f=${NOW - 60}&t=${NOW - 300}`).times, seconds(NOW - 60, NOW - 300, 60))
  t.same(show(`m&n=5&f=${sim.model.epoch - 10}`).times, [], 'before the epoch: no rows')
})

t.test('w: only rows newer than it; none yet: an empty block whose wait_time says when', async (t) => {
  t.same(show(`S&w=${NOW - 5}`).times, seconds(NOW, NOW - 4))
  const now = show(`S&w=${NOW}`)
  t.same(now.times, [])
  t.equal(now.blocks[0]!.attrs.wait_time, '1', 'the next second')
  t.equal(show(`S&w=${NOW + 10}`).blocks[0]!.attrs.wait_time, '11')
  t.equal(show('S&n=3').blocks[0]!.attrs.wait_time, undefined, 'only with w')
  t.same(show(`S&e&w=${NOW - 3}`).times, seconds(NOW, NOW - 2), 'e has no effect with w')
})

t.test('e: one stored row beyond the range, at the resolution stored there', async (t) => {
  t.same(show('h&n=2&e').times, [NOW - NOW % 3600, NOW - NOW % 3600 - 3600, NOW - NOW % 3600 - 7200])
  t.same(show(`S&t=${NOW - 3}&e`).times, seconds(NOW, NOW - 4))
  // Past the hour of seconds: the row beyond is the next minute row.
  t.same(show(`S&f=${NOW - 3600}&t=${NOW - 3600}&e`).times, [NOW - 3600, NOW - 3660])
})

t.test('T: one block per timestamp, each snapped to the row stored at its age', async (t) => {
  const { blocks } = show(`T=${NOW - 5},${NOW - 30 * 86400 - 17}`)
  t.same(blocks.map((b) => [b.delta, b.times]), [[1, [NOW - 5]], [60, [NOW - 30 * 86400 - 60]]])
  t.same(show(`T=${NOW + 100},${sim.model.epoch - 1}`).times, [], 'the future and before the epoch: nothing')
})

t.test('a, C and E: the totals first as use and gen, delta rows, values from the epoch', async (t) => {
  t.same(show('a&S&n=1').columns.slice(0, 3), ['use', 'gen', 'Grid'])
  const plain = oracle.parse(sim.answer('/cgi-bin/egauge-show', 'S&n=3').body) as { group: { data: Array<{ r: Array<{ c: string[] }> }> } }
  const delta = oracle.parse(sim.answer('/cgi-bin/egauge-show', 'C&S&n=3').body) as { group: { data: Array<{ r: Array<{ c: string[] }>, delta: string }> } }
  const p = plain.group.data[0]!.r.map((r) => BigInt(r.c[0]!))
  const d = delta.group.data[0]!.r.map((r) => BigInt(r.c[0]!))
  t.equal(delta.group.data[0]!.delta, 'true')
  t.same(d, [p[0], p[1]! - p[0]!, p[2]! - p[1]!], 'first row absolute, then each minus the newer one')
  const e = oracle.parse(sim.answer('/cgi-bin/egauge-show', `E&m&n=1&f=${sim.model.epoch}`).body) as { group: { data: Array<{ r: Array<{ c: string[] }> }> } }
  t.ok(e.group.data[0]!.r[0]!.c.every((c) => c === '0'), 'zero at the epoch')
})
