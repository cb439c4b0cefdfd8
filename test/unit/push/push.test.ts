import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { progressLine } from '../../../src/push/backfill.js'
import { CheckpointStore } from '../../../src/push/checkpoints.js'
import { MAX_ROWS } from '../../../src/meters/query.js'
import { PushLoop } from '../../../src/push/loop.js'
import { planChunks } from '../../../src/push/planner.js'
import { parseShard, shardOf } from '../../../src/push/shard.js'
import { parseRetryAfter, statusError } from '../../../src/sinks/write-error.js'
import { eachLimited } from '../../../src/util/limit.js'
import { sleep } from '../../../src/util/sleep.js'
import { testBridge } from '../../helpers/bridge.js'

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

t.test('checkpoint store: durable, monotonic, survives a corrupt or foreign file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'))
  const file = join(dir, 'state.json')
  const warnings: string[] = []
  const store = CheckpointStore.open(file, (m) => warnings.push(m))
  t.same(warnings, [], 'a missing file is a fresh start, silently')
  store.set('m1', 100)
  store.set('m1', 50)
  t.equal(store.get('m1'), 100, 'never moves backwards')
  store.set('b', 7)
  store.persist()
  t.same(JSON.parse(readFileSync(file, 'utf8')), { version: 1, checkpoints: { b: 7, m1: 100 } })
  t.equal(CheckpointStore.open(file, () => {}).get('m1'), 100)
  for (const [content, why] of [['{"version":1,"checkp', 'truncated'], ['[1,2]', 'not a state file'], ['{"version":2,"checkpoints":{}}', 'unknown version']] as const) {
    writeFileSync(file, content)
    const w: string[] = []
    const s = CheckpointStore.open(file, (m) => w.push(m))
    t.equal(s.get('m1'), undefined, why)
    t.same(w, [`state file ${file} is corrupt: starting without checkpoints`], why)
  }
  writeFileSync(file, '{"version":1,"checkpoints":{"ok":5,"bad":"x","neg":-1}}')
  const partial = CheckpointStore.open(file, () => {})
  t.same([partial.get('ok'), partial.get('bad'), partial.get('neg')], [5, undefined, undefined])
  const w: string[] = []
  CheckpointStore.open(dir, (m) => w.push(m))
  t.match(w[0], /cannot read state file .* \(EISDIR\): starting without checkpoints/)
})

t.test('checkpoint store: the push path saves at most once per interval, and on flush', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'state.json')
  const saved = (): unknown => JSON.parse(readFileSync(file, 'utf8')).checkpoints
  const store = CheckpointStore.open(file, () => {}, 60_000)
  store.persistDue()
  t.throws(() => readFileSync(file), 'nothing to save: no file written')
  store.set('m1', 100)
  store.persistDue()
  t.same(saved(), { m1: 100 }, 'the first save is due at once')
  store.set('m1', 200)
  store.persistDue()
  t.same(saved(), { m1: 100 }, 'within the interval: kept in memory only')
  store.flush()
  t.same(saved(), { m1: 200 }, 'flush saves it')
  store.set('m1', 150)
  store.delete('gone')
  writeFileSync(file, 'untouched')
  store.flush()
  t.equal(readFileSync(file, 'utf8'), 'untouched', 'nothing changed (no move backwards, nothing deleted): no write')
  store.delete('m1')
  store.flush()
  t.same(saved(), {}, 'a deletion is a change')
  const eager = CheckpointStore.open(file, () => {}, 0)
  eager.set('a', 1)
  eager.persistDue()
  eager.set('a', 2)
  eager.persistDue()
  t.same(saved(), { a: 2 }, 'interval 0: every acknowledged chunk is saved')
})

t.test('failure classification (README "Push mode") and Retry-After', async (t) => {
  const cases: Array<[number, string, string]> = [
    [400, 'INFLUX_REJECTED', 'rejected'], [413, 'INFLUX_REJECTED', 'rejected'], [422, 'INFLUX_REJECTED', 'rejected'],
    [401, 'INFLUX_AUTH', 'config'], [403, 'INFLUX_AUTH', 'config'], [404, 'INFLUX_NOT_FOUND', 'config'],
    [429, 'INFLUX_UNAVAILABLE', 'retry'], [500, 'INFLUX_UNAVAILABLE', 'retry'], [503, 'INFLUX_UNAVAILABLE', 'retry']
  ]
  for (const [status, code, kind] of cases) {
    const e = statusError(status, 'msg', undefined)
    t.same([e.code, e.kind, e.status, e.message], [code, kind, status, `InfluxDB answered HTTP ${status}: msg`], String(status))
  }
  t.equal(statusError(429, '', '7').retryAfterMs, 7000)
  t.equal(statusError(502, '', undefined).message, 'InfluxDB answered HTTP 502')
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000)
  t.equal(parseRetryAfter('soon'), undefined)
  t.equal(parseRetryAfter(' '), undefined)
})

t.test('shards: stable, 1-based, every sensor in exactly one', async (t) => {
  t.equal(shardOf('eGauge123', 4), shardOf('eGauge123', 4))
  const names = Array.from({ length: 300 }, (_, i) => `egauge${i}`)
  const counts = [0, 0, 0]
  for (const n of names) counts[shardOf(n, 3)]!++
  t.ok(counts.every((c) => c > 70), `spread ${counts.join('/')}`)
  t.same(parseShard('2/3'), { index: 2, count: 3 })
  for (const bad of ['0/3', '4/3', '1/0', 'a/b', '1']) t.throws(() => parseShard(bad), /--shard must be i\/n/)
})

t.test('eachLimited never runs more than the limit at once', async (t) => {
  let running = 0
  let peak = 0
  const out = await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    running++
    peak = Math.max(peak, running)
    await new Promise((resolve) => setTimeout(resolve, 5))
    running--
    return x * 2
  })
  t.same(out, [2, 4, 6, 8, 10, 12, 14])
  t.equal(peak, 3)
  t.same(await eachLimited([], 3, async () => 1), [])
})

t.test('progress line', async (t) => {
  t.equal(progressLine('m1', 5, 10, 42, 10), 'm1 [#####-----]  50% 42 points')
  t.equal(progressLine('m1', 0, 0, 0, 4), 'm1 [####] 100% 0 points')
})

t.test('scheduler: aligned to the clock, no overlap, sharding, graceful stop', async (t) => {
  const bridge = testBridge({
    sensors: [{ name: 'a', url: 'http://127.0.0.1:9' }, { name: 'b', url: 'http://127.0.0.1:9' }, { name: 'c', url: 'http://127.0.0.1:9' }],
    push: { interval: '5m' }
  })
  t.teardown(() => bridge.close())
  let now = (NOW + 17) * 1000
  const timers: Array<{ fn: () => void, ms: number, cancelled: boolean }> = []
  const logs: string[] = []
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: { target: 'x', prepare: async () => {}, write: async () => {}, close: async () => {} },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
    metrics: bridge.metrics,
    log: { info: () => {}, warn: (_o, m) => { logs.push(m) }, error: () => {} },
    now: () => now,
    setTimer: (fn, ms) => {
      const timer = { fn, ms, cancelled: false }
      timers.push(timer)
      return { cancel: () => { timer.cancelled = true } }
    }
  })
  let release: () => void = () => {}
  let cycles = 0
  loop.runCycle = async () => {
    cycles++
    await new Promise<void>((resolve) => { release = resolve })
    return []
  }
  loop.start()
  t.equal(cycles, 1, 'the first cycle runs at start-up')
  t.equal(timers[0]!.ms, 300_000 - 17_000 - (NOW % 300) * 1000, 'the next tick is on the 5-minute boundary')
  now += timers[0]!.ms + 40 // a late timer
  timers[0]!.fn()
  t.equal(cycles, 1, 'a tick during a running cycle is skipped…')
  t.match(await bridge.metrics.registry.metrics(), /egauge_bridge_push_skipped_ticks_total 1/)
  t.match(logs[0], /tick skipped/)
  t.equal(timers[1]!.ms, 300_000 - 40, '…and lateness does not drift the schedule')
  release()
  await new Promise((resolve) => setImmediate(resolve))
  now += timers[1]!.ms
  timers[1]!.fn()
  t.equal(cycles, 2)
  setTimeout(() => release(), 150) // the abandoned cycle ends a little after the grace period
  const stopping = loop.stop(50)
  t.equal(timers[2]!.cancelled, true, 'no more ticks after stop')
  await stopping
  t.match(logs.join('\n'), /push cycle abandoned at shutdown/, 'a cycle that outlives the grace period is abandoned')
  timers[2]!.fn()
  t.equal(cycles, 2, 'a timer that fires after stop runs nothing')
  await loop.stop()

  const sharded = new PushLoop({ live: () => bridge.live, writer: { target: 'x', prepare: async () => {}, write: async () => {}, close: async () => {} }, store: CheckpointStore.open('/nonexistent/x', () => {}), metrics: bridge.metrics, log: { info: () => {}, warn: () => {}, error: () => {} }, shard: { index: 1, count: 2 } })
  const other = new PushLoop({ live: () => bridge.live, writer: { target: 'x', prepare: async () => {}, write: async () => {}, close: async () => {} }, store: CheckpointStore.open('/nonexistent/x', () => {}), metrics: bridge.metrics, log: { info: () => {}, warn: () => {}, error: () => {} }, shard: { index: 2, count: 2 } })
  t.same([...sharded.sensors(), ...other.sensors()].map((s) => s.name).sort(), ['a', 'b', 'c'], 'two shards split the sensors between them')
  t.ok(sharded.nextTickDelay() > 0 && sharded.nextTickDelay() <= 300_000)
})

t.test('checkpoints that cannot be saved at the end of a cycle: logged, and the cycle completes', async (t) => {
  const { Simulator } = await import('../../../src/simulator/server.js')
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const bridge = testBridge({ sensors: [{ name: 'm', url: await sim.listen() }] })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  const dir = mkdtempSync(join(tmpdir(), 's-'))
  const store = CheckpointStore.open(join(dir, 's.json'), () => {}, 60_000)
  store.set('other', 1)
  store.persist() // starts the interval: the cycle's own save is left to the flush at its end
  rmSync(dir, { recursive: true })
  const errors: Array<{ obj: object, msg: string }> = []
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: { target: 'x', prepare: async () => {}, write: async () => {}, close: async () => {} },
    store,
    metrics: bridge.metrics,
    log: { info: () => {}, warn: () => {}, error: (obj, msg) => { errors.push({ obj, msg }) } },
    now: () => NOW * 1000
  })
  const [result] = await loop.runCycle()
  t.same([result!.ok, result!.points, store.get('m')], [true, 300 * 24, NOW], 'written and acknowledged')
  t.equal(errors.length, 1)
  t.match(errors[0], { obj: { code: 'ENOENT' }, msg: /cannot save push checkpoints: points since the last save will be written again/ })
})

t.test('a database that recovers on the last retry: backoff, then the write lands', async (t) => {
  const { Simulator } = await import('../../../src/simulator/server.js')
  const { XmlClient } = await import('../../../src/egauge/xml/client.js')
  const { pushRange } = await import('../../../src/push/sync.js')
  const { createSelfMetrics } = await import('../../../src/telemetry/self-metrics.js')
  const { validateConfig } = await import('../../../src/config/schema.js')
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const config = validateConfig({ sensors: [{ name: 'm', url: await sim.listen() }] })
  const client = new XmlClient(config.sensors[0]!)
  t.teardown(async () => { await client.close(); await sim.close() })
  let calls = 0
  const sleeps: number[] = []
  const result = await pushRange(config.sensors[0]!, client, { key: 'm', from: NOW - 10, to: NOW, step: 1 }, {
    config,
    writer: { target: 'x', prepare: async () => {}, write: async () => { if (++calls <= 3) throw statusError(503, 'busy', calls === 2 ? '7' : undefined) }, close: async () => {} },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 'r-')), 's.json'), () => {}),
    metrics: createSelfMetrics(false),
    log: { info: () => {}, warn: () => {}, error: () => {} },
    now: () => NOW * 1000,
    sleep: async (ms) => { sleeps.push(ms) }
  })
  t.same([result.ok, result.points, result.checkpoint], [true, 240, NOW])
  t.equal(calls, 4, 'three failures, then the fourth (last) try succeeds')
  t.same(sleeps, [1000, 7000, 4000], 'exponential backoff, Retry-After when the server sends one')
})

t.test('sleep rejects when aborted', async (t) => {
  const c = new AbortController()
  const p = sleep(10_000, c.signal)
  c.abort(new Error('stop'))
  await t.rejects(p, /stop/)
  await sleep(1)
})
