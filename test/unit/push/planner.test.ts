import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { parseDbLevels } from '../../../src/egauge/webapi/register.js'
import { MAX_ROWS } from '../../../src/meters/query.js'
import { heldSeconds, planChunks } from '../../../src/push/planner.js'

const NOW = 1_700_000_000

t.test('planner: chunks cover (from, to] exactly, at the finest resolution the meter holds', async (t) => {
  const cases: Array<[string, number, number, number, Array<[number, number, number, number]>]> = [
    // name, from, to, step → [step, after, until, rows]
    ['five minutes at 1 s', NOW - 300, NOW, 1, [[1, NOW - 300, NOW, 301]]],
    ['nothing to do', NOW, NOW, 1, []],
    // 1699996560: an hour minus 2 minutes of margin before now, rounded up to a minute.
    ['two hours: minutes, then seconds from the retention edge', NOW - 7200, NOW, 1, [[60, NOW - 7200, 1699996560, 64], [1, 1699996560, NOW, 3441]]],
    ['minute step stays at minutes', NOW - 3000, NOW, 60, [[60, NOW - 3000, 1699999980, 51]]],
    ['older than a year: 15-minute rows', NOW - 400 * 86400, NOW - 399 * 86400, 60, [[900, NOW - 400 * 86400, 1665525600, 97]]]
  ]
  for (const [name, from, to, step, expected] of cases) {
    t.same(planChunks(from, to, step, NOW).map((c) => [c.step, c.after, c.until, c.rows]), expected, name)
  }
  // A long range: contiguous, ≤ MAX_ROWS rows each, oldest first, each chunk's first row one step before its points.
  for (const [from, to, step] of [[NOW - 86400, NOW, 1], [NOW - 40 * 86400, NOW - 86400, 60], [NOW - 800 * 86400, NOW, 1]] as const) {
    const chunks = planChunks(from, to, step, NOW)
    t.equal(chunks[0]!.after, from)
    chunks.forEach((c, i) => {
      if (i > 0) t.equal(c.after, chunks[i - 1]!.until, 'no gap, no overlap')
      t.ok(c.rows <= MAX_ROWS)
      t.equal(c.oldest, Math.floor(c.after / c.step) * c.step)
      t.equal(c.rows, (c.newest - c.oldest) / c.step + 1)
    })
    t.equal(chunks[chunks.length - 1]!.until, Math.floor(to / chunks[chunks.length - 1]!.step) * chunks[chunks.length - 1]!.step)
  }
})

t.test('how far back the meter keeps rows finer than its last resolution', async (t) => {
  t.equal(heldSeconds(), 366 * 86_400, 'EG4xxx: a year of minute rows')
  t.equal(heldSeconds({ levels: [{ step: 1, maxAge: 3600 }] }), 3600)
  t.equal(heldSeconds({ levels: [{ step: 900, maxAge: Number.POSITIVE_INFINITY }] }), 0, 'only an unbounded level: nothing to resume from')
})

t.test('planned from the meter\'s own levels (/api/sys/db, eGauge\'s example: 32 768 rows of seconds, ~9.1 h)', async (t) => {
  // The levels of webapi-doc_sysDbLevel_example.yaml, as /api/sys/db wraps them.
  const example = parse(readFileSync(new URL('../../fixtures/egauge-webapi/webapi-doc_sysDbLevel_example.yaml', import.meta.url), 'utf8')) as { example: unknown[] }
  const levels = parseDbLevels(JSON.stringify({ result: { level: example.example } }))
  t.same(levels.levels, [{ step: 1, maxAge: 32_768 }, { step: 60, maxAge: 60 * 527_040 }, { step: 900, maxAge: 900 * 350_640 }, { step: 86_400, maxAge: Number.POSITIVE_INFINITY }])
  // A five-hour outage: an EG4xxx has kept only one hour of seconds, this meter all five.
  const eg4xxx = planChunks(NOW - 5 * 3600, NOW, 1, NOW)
  const own = planChunks(NOW - 5 * 3600, NOW, 1, NOW, levels)
  t.same([...new Set(eg4xxx.map((c) => c.step))], [60, 1])
  t.same([...new Set(own.map((c) => c.step))], [1], 'every second, as the meter still holds them')
  t.equal(own.reduce((n, c) => n + c.until - c.after, 0), 5 * 3600)
  t.equal(heldSeconds(levels), 900 * 350_640, 'resumable as far back as its quarter-hour rows go')
  t.throws(() => parseDbLevels('{"result": {"level": [{"interval": 500, "row-count": 3}]}}'), /level\[0\] has no whole-second interval/)
  t.throws(() => parseDbLevels('{"result": {}}'), /no "level" list/)
  t.throws(() => parseDbLevels('nope'), /not JSON/)
})
