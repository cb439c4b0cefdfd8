import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { CheckpointStore } from '../../../src/push/checkpoints.js'
import { PushLoop } from '../../../src/push/loop.js'
import { networkError } from '../../../src/sinks/write-error.js'
import { Simulator } from '../../../src/simulator/server.js'
import { testBridge } from '../../helpers/bridge.js'

const NOW = 1_700_000_000

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
  t.same([result!.ok, result!.points, store.get('m')], [true, 300 * 26, NOW], 'written and acknowledged: 24 registers and the meter\'s two totals')
  t.equal(errors.length, 1)
  t.match(errors[0], { obj: { code: 'ENOENT' }, msg: /cannot save push checkpoints: points since the last save will be written again/ })
})

t.test('every pushed sensor has its series from the first cycle: last success 0 until one succeeds, each error reason at 0', async (t) => {
  const sim = new Simulator({ clock: () => NOW * 1000 })
  const bridge = testBridge({ sensors: [{ name: 'ok', url: await sim.listen() }, { name: 'dead', url: 'http://127.0.0.1:9', timeout: '300ms' }] })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: { target: 'x', prepare: async () => {}, write: async () => {}, close: async () => {} },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
    metrics: bridge.metrics,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    now: () => NOW * 1000
  })
  await loop.runCycle()
  const text = await bridge.metrics.registry.metrics()
  t.match(text, /^egauge_bridge_push_last_success_timestamp_seconds\{sensor="dead"\} 0$/m, 'a sensor that never succeeded is stale since the epoch')
  t.match(text, new RegExp(`^egauge_bridge_push_last_success_timestamp_seconds\\{sensor="ok"\\} ${NOW}$`, 'm'))
  t.match(text, /^egauge_bridge_push_errors_total\{sensor="dead",reason="EGAUGE_UNREACHABLE"\} 1$/m)
  for (const reason of ['EGAUGE_TIMEOUT', 'EGAUGE_PARSE', 'INFLUX_REJECTED', 'INFLUX_AUTH', 'INFLUX_NOT_FOUND', 'INFLUX_UNAVAILABLE', 'INFLUX_UNREACHABLE', 'INFLUX_TIMEOUT']) {
    t.match(text, new RegExp(`^egauge_bridge_push_errors_total\\{sensor="ok",reason="${reason}"\\} 0$`, 'm'), reason)
  }
})

t.test('stop() with a frozen database returns within its grace: an aborted write is not retried', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  const bridge = testBridge({ sensors: [{ name: 'a', url }], influx: { url: 'http://127.0.0.1:9', database: 'x' }, push: { interval: '5m' } })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  let writes = 0
  const loop = new PushLoop({
    live: () => bridge.live,
    // A database that never answers: each write ends only when the loop aborts it, as undici's does.
    writer: {
      target: 'frozen',
      prepare: async () => {},
      write: async (_lines, signal) => {
        writes++
        await new Promise((_resolve, reject) => signal!.addEventListener('abort', () => { reject(networkError(new Error('aborted'), false)) }, { once: true }))
      },
      close: async () => {}
    },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
    metrics: bridge.metrics,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    setTimer: () => ({ cancel: () => {} }),
    now: () => NOW * 1000
  })
  let results: Awaited<ReturnType<PushLoop['runCycle']>> = []
  const runCycle = loop.runCycle.bind(loop)
  loop.runCycle = async () => (results = await runCycle())
  loop.start()
  // eslint-disable-next-line no-unmodified-loop-condition -- the writer, called by the running cycle, counts
  while (writes === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const started = performance.now()
  await loop.stop(100)
  const [result] = results
  t.ok(performance.now() - started < 1000, `stopped in ${Math.round(performance.now() - started)} ms (the retries would take 7 s)`)
  t.equal(writes, 1, 'no retry after the abort')
  t.notOk(result!.ok)
  t.equal(result!.checkpoint, undefined, 'nothing acknowledged, nothing checkpointed')
})

t.test('a reload during a push cycle fails none of its sensors: the old pool closes after the cycle', async (t) => {
  const { writeFileSync } = await import('node:fs')
  const { createBridge } = await import('../../../src/bridge/bridge.js')
  const { loadConfigFile } = await import('../../../src/config/load.js')
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  // A database that takes every write.
  const { createServer } = await import('node:http')
  let written = 0
  const db = createServer((req, res) => { req.resume(); req.on('end', () => { if (req.url!.startsWith('/write')) written++; res.writeHead(204).end() }) })
  await new Promise<void>((resolve) => db.listen(0, '127.0.0.1', resolve))
  const dbUrl = `http://127.0.0.1:${(db.address() as { port: number }).port}`
  t.teardown(() => { db.closeAllConnections(); db.close() })
  const dir = mkdtempSync(join(tmpdir(), 'reload-push-'))
  const file = join(dir, 'bridge.yml')
  const sensors = ['a', 'b', 'c'].map((n) => `  - name: ${n}\n    url: ${url}\n`).join('')
  // One sensor at a time: b and c start after the reload, on the pool the cycle began with.
  writeFileSync(file, `sensors:\n${sensors}influx:\n  url: ${dbUrl}\n  database: x\npush:\n  interval: 5m\n  concurrency: 1\n  state_file: ${join(dir, 's.json')}\n`)
  const bridge = createBridge({ config: loadConfigFile(file).config, configFile: file, push: true, processMetrics: false, now: () => NOW * 1000 })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  sim.fault = { latencyMs: 150 }
  const cycle = bridge.pushLoop().runCycle()
  await new Promise((resolve) => setTimeout(resolve, 50))
  writeFileSync(file, `sensors:\n${sensors}  - name: d\n    url: ${url}\ninflux:\n  url: ${dbUrl}\n  database: x\npush:\n  interval: 5m\n  concurrency: 1\n  state_file: ${join(dir, 's.json')}\n`)
  t.ok(await bridge.reload())
  const results = await cycle
  sim.fault = undefined
  t.same(results.map((r) => [r.sensor, r.ok, r.error?.code]), [['a', true, undefined], ['b', true, undefined], ['c', true, undefined]])
  t.same(results.map((r) => r.points), [7800, 7800, 7800], 'every point of every sensor written')
  t.ok(written >= 3)
})

t.test('push_lag_seconds tells the truth while a cycle is stuck: now minus the newest acknowledged point, at each scrape', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  const bridge = testBridge({ sensors: [{ name: 'a', url }], influx: { url: 'http://127.0.0.1:9', database: 'x' }, push: { interval: '5m' } })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  let now = NOW * 1000
  let writes = 0
  const store = CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {})
  store.set('a', NOW - 400)
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: { target: 'frozen', prepare: async () => {}, write: async (_l, signal) => { writes++; await new Promise((_resolve, reject) => signal!.addEventListener('abort', () => { reject(networkError(new Error('aborted'), false)) }, { once: true })) }, close: async () => {} },
    store,
    metrics: bridge.metrics,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    now: () => now,
    setTimer: () => ({ cancel: () => {} })
  })
  const lag = async (): Promise<string | undefined> => /egauge_bridge_push_lag_seconds\{sensor="a"\} (\S+)/.exec(await bridge.metrics.registry.metrics())?.[1]
  t.equal(await lag(), '400', 'from the state file, before any cycle')
  loop.start()
  // eslint-disable-next-line no-unmodified-loop-condition -- the writer, called by the running cycle, counts
  while (writes === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  now += 300_000
  t.equal(await lag(), '700', 'the database frozen: the lag grows with the clock, not at the end of the cycle')
  await loop.stop(10)
})

t.test('a state file that cannot be saved: its own reason, the sensor still ok, no temp file left', async (t) => {
  const { mkdirSync, readdirSync } = await import('node:fs')
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  const bridge = testBridge({ sensors: [{ name: 'a', url }], influx: { url: 'http://127.0.0.1:9', database: 'x' }, push: { interval: '5m' } })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  const dir = mkdtempSync(join(tmpdir(), 's-'))
  // A directory where the file should be: every save fails at the rename, after the temp file is written.
  const file = join(dir, 'state.json')
  mkdirSync(file)
  const logs: string[] = []
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: { target: 'ok', prepare: async () => {}, write: async () => {}, close: async () => {} },
    store: CheckpointStore.open(file, () => {}, 0),
    metrics: bridge.metrics,
    log: { info: () => {}, warn: (_o, m) => { logs.push(m) }, error: (o, m) => { logs.push(`${JSON.stringify(o)} ${m}`) } },
    now: () => NOW * 1000
  })
  const [result] = await loop.runCycle()
  t.ok(result!.ok, 'the points were written: the sensor is not failed')
  t.equal(result!.checkpoint, NOW)
  t.match(logs.join('\n'), /"code":"STATE_FILE".*cannot save push checkpoints \(EISDIR\): the points are written; the save is retried/)
  t.notMatch(logs.join('\n'), /could not read the meter/)
  t.match(await bridge.metrics.registry.metrics(), /egauge_bridge_push_errors_total\{sensor="a",reason="STATE_FILE"\} [1-9]/)
  t.same(readdirSync(dir), ['state.json'], 'no temp file left behind')
})

t.test('a checkpoint in the future (a day, 1e300) is replaced with a warning, and the cycle writes the interval', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  const bridge = testBridge({ sensors: [{ name: 'a', url }, { name: 'b', url }], influx: { url: 'http://127.0.0.1:9', database: 'x' }, push: { interval: '5m' } })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  const store = CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {})
  store.set('a', NOW + 86_400)
  store.set('b', 1e300)
  const logs: string[] = []
  let lines = 0
  const health: string[] = []
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: {
      target: 'ok',
      prepare: async () => {},
      write: async (body) => {
        for (const line of String(body).split('\n').filter(Boolean)) {
          if (line.startsWith('egauge_bridge,')) health.push(line)
          else lines++
        }
      },
      close: async () => {}
    },
    store,
    metrics: bridge.metrics,
    log: { info: () => {}, warn: (_o, m) => { logs.push(m) }, error: () => {} },
    now: () => NOW * 1000
  })
  const results = await loop.runCycle()
  t.same(results.map((r) => [r.ok, r.points, r.checkpoint]), [[true, 7800, NOW], [true, 7800, NOW]], 'each sensor: 300 s × (24 registers + 2 totals)')
  t.equal(lines, 15_600)
  // After the points, the bridge's own health, per sensor, as Telegraf's inputs.prometheus writes /metrics.
  t.ok(health.includes(`egauge_bridge,sensor=a egauge_bridge_push_points_total=7800 ${NOW}`), health.join('\n'))
  t.ok(health.includes(`egauge_bridge,sensor=b egauge_bridge_push_lag_seconds=0 ${NOW}`))
  t.ok(health.includes(`egauge_bridge,reason=EGAUGE_TIMEOUT,sensor=a egauge_bridge_fetch_errors_total=0 ${NOW}`), 'every reason, at 0 too')
  t.ok(health.includes(`egauge_bridge,sensor=a egauge_bridge_push_last_success_timestamp_seconds=${NOW} ${NOW}`))
  t.match(logs[0], /push checkpoint is 86400 s in the future: ignored, pushing from 1699999700 instead/)
  t.equal(logs.length, 2)
  t.equal(store.get('b'), NOW)
})

t.test('the bridge\'s health is best effort: a write that fails is logged, the cycle stays ok', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  const bridge = testBridge({ sensors: [{ name: 'a', url }], influx: { url: 'http://127.0.0.1:9', database: 'x' }, push: { interval: '5m' } })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  const warnings: Array<[unknown, string]> = []
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: {
      target: 'ok',
      prepare: async () => {},
      write: async (body) => { if (String(body).startsWith('egauge_bridge,')) throw Object.assign(new Error('retention policy not found'), { code: 'INFLUX_REJECTED' }) },
      close: async () => {}
    },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
    metrics: bridge.metrics,
    log: { info: () => {}, warn: (o, m) => { warnings.push([o, m]) }, error: () => {} },
    now: () => NOW * 1000
  })
  const [result] = await loop.runCycle()
  t.equal(result!.ok, true)
  t.same(warnings, [[{ code: 'INFLUX_REJECTED' }, 'the bridge\'s health (measurement egauge_bridge) not written this cycle: retention policy not found']])
})

t.test('a meter whose clock is 3 h ahead or behind: push writes its rows in its own time, says so once, exports the offset', async (t) => {
  let bridgeNow = NOW
  const skews = { ahead: 3 * 3600, behind: -3 * 3600, right: 30 }
  const sims = Object.fromEntries(Object.entries(skews).map(([name, skew]) => [name, new Simulator({ seed: 1, clock: () => (bridgeNow + skew) * 1000 })]))
  const sensors = []
  for (const [name, sim] of Object.entries(sims)) sensors.push({ name, url: await sim.listen() })
  const bridge = testBridge({ sensors, influx: { url: 'http://127.0.0.1:9', database: 'x' }, push: { interval: '5m' } })
  t.teardown(async () => {
    await bridge.close()
    for (const sim of Object.values(sims)) await sim.close()
  })
  const times = new Map<string, number[]>()
  const logs: Array<{ level: string, obj: { sensor?: string, offsetSeconds?: number }, msg: string }> = []
  const loop = new PushLoop({
    live: () => bridge.live,
    writer: {
      target: 'ok',
      prepare: async () => {},
      write: async (body) => {
        for (const line of String(body).split('\n').filter((l) => l.startsWith('egauge,'))) {
          const sensor = /sensor=(\w+)/.exec(line)![1]!
          if (!times.has(sensor)) times.set(sensor, [])
          times.get(sensor)!.push(Number(line.split(' ').at(-1)))
        }
      },
      close: async () => {}
    },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
    metrics: bridge.metrics,
    log: {
      info: (obj, msg) => { logs.push({ level: 'info', obj, msg }) },
      warn: (obj, msg) => { logs.push({ level: 'warn', obj, msg }) },
      error: (obj, msg) => { logs.push({ level: 'error', obj, msg }) }
    },
    now: () => bridgeNow * 1000
  })
  const results = await loop.runCycle()
  t.same(results.map((r) => [r.sensor, r.ok, r.points]), [['ahead', true, 7800], ['behind', true, 7800], ['right', true, 7800]], 'every meter\'s interval is written, whatever its clock')
  for (const [name, skew] of Object.entries(skews)) {
    const own = Math.abs(skew) > 120 ? NOW + skew : NOW
    t.equal(Math.max(...times.get(name)!), own, `${name}: the newest point is the meter's own newest row`)
    t.equal(Math.min(...times.get(name)!), own - 299, `${name}: the whole interval before it`)
  }
  const skewLogs = logs.filter((l) => l.msg.includes('meter clock'))
  t.same(skewLogs.map((l) => [l.level, l.obj.sensor, l.obj.offsetSeconds]), [['warn', 'ahead', 10_800], ['warn', 'behind', -10_800]], 'a warning naming the sensor and the offset, for the skewed meters only')
  t.match(skewLogs[1]!.msg, /meter clock of behind is 3 h 0 min behind of the bridge's: push follows the meter's time/)
  const metrics = await bridge.metrics.registry.metrics()
  t.match(metrics, /egauge_bridge_meter_clock_offset_seconds\{sensor="ahead"\} 10800/)
  t.match(metrics, /egauge_bridge_meter_clock_offset_seconds\{sensor="behind"\} -10800/)
  t.match(metrics, /egauge_bridge_meter_clock_offset_seconds\{sensor="right"\} 30/)
  t.same(bridge.live.book.status('behind')!.push, { ...bridge.live.book.status('behind')!.push, clockOffsetSeconds: -10_800, clockSkewed: true })
  t.equal(bridge.live.book.status('right')!.push!.clockSkewed, false)
  // The lag is the bridge's: a meter 3 h behind is 3 h late in the database, and it shows.
  t.equal(bridge.live.book.status('behind')!.push!.lagSeconds, 10_800)

  // The next cycle continues in the meter's time, without a second warning; a clock set right is noted.
  bridgeNow += 300
  skews.behind = 0
  sims.behind!.clock = () => bridgeNow * 1000
  times.clear()
  const next = await loop.runCycle()
  t.same(next.map((r) => r.ok), [true, true, true])
  // Set right, the meter now holds 3 h newer than its checkpoint: push catches up from it (the
  // last hour in seconds, the two before in minutes, as the meter keeps them), without a gap.
  t.equal(Math.min(...times.get('behind')!), Math.ceil((NOW - 3 * 3600 + 1) / 60) * 60, 'from the first minute row after the checkpoint on')
  t.equal(Math.max(...times.get('behind')!), bridgeNow, 'up to now')
  t.equal(Math.max(...times.get('ahead')!), bridgeNow + 3 * 3600, 'the meter still ahead: its own time')
  t.same(logs.filter((l) => l.msg.includes('meter clock')).slice(2).map((l) => [l.level, l.obj.sensor]), [['info', 'behind']], 'no second warning for the meter still ahead; the one set right is back in step')
})

t.test('no checkpoint: resumed from the database\'s newest point; what the database cannot say is logged, and the sensor starts as before', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  t.teardown(async () => { await sim.close() })
  const run = async (raw: Record<string, unknown>, newest: (series: { measurement: string, tags: Record<string, string> }, since: number) => Promise<number | undefined>): Promise<{ results: Awaited<ReturnType<PushLoop['runCycle']>>, logs: string[], asked: Array<[string, Record<string, string>, number]> }> => {
    const bridge = testBridge({ sensors: [{ name: 'a', url, tags: { site: 'x' } }, { name: 'b', url }], influx: { url: 'http://127.0.0.1:9', database: 'x', ...raw }, push: { interval: '5m' } })
    t.teardown(() => bridge.close())
    const logs: string[] = []
    const asked: Array<[string, Record<string, string>, number]> = []
    const loop = new PushLoop({
      live: () => bridge.live,
      writer: { target: 'ok', prepare: async () => {}, write: async () => {}, newest: async (series, since) => { asked.push([series.measurement, series.tags, since]); return await newest(series, since) }, close: async () => {} },
      store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
      metrics: bridge.metrics,
      log: { info: (_o, m) => { logs.push(m) }, warn: (_o, m) => { logs.push(m) }, error: () => {} },
      now: () => NOW * 1000
    })
    return { results: await loop.runCycle(), logs, asked }
  }
  const found = await run({}, async (series) => series.tags.sensor === 'a' ? NOW - 600 : undefined)
  t.same(found.asked, [['egauge', { sensor: 'a' }, NOW - 366 * 86_400], ['egauge', { sensor: 'b' }, NOW - 366 * 86_400]], 'schema egauge: the sensor tag, as far back as the meter keeps minute rows')
  t.same(found.results.map((r) => r.points), [600 * 26, 300 * 26], 'a: the 10 minutes since its newest point; b: nothing there, the last interval')
  t.ok(found.logs.includes(`no checkpoint for a: resuming from its newest point in the database, ${new Date((NOW - 600) * 1000).toISOString()}`))
  t.ok(found.logs.includes('no checkpoint for b and no point of it in the database between 2022-11-13T22:13:20.000Z and now: starting with the last interval'))

  const peper = await run({ schema: 'peper', measurement: 'measure' }, async () => NOW + 86_400)
  t.same(peper.asked, [['measure', { site: 'x' }, NOW - 366 * 86_400]], 'schema peper: the configured tags; without any, the points cannot be told apart and are not asked for')
  t.match(peper.logs.join('\n'), /no checkpoint for b; schema peper without tags cannot tell its points from other sensors': starting with the last interval/)
  t.match(peper.logs.join('\n'), /no checkpoint for a and no point of it in the database between .* and now/, 'a point in the future is not a place to resume from')
  t.same(peper.results.map((r) => r.points), [300 * 24, 300 * 24])

  const down = await run({}, async () => { throw new Error('InfluxDB answered HTTP 500') })
  t.match(down.logs.join('\n'), /no checkpoint for a, and the database could not say where it stopped \(InfluxDB answered HTTP 500\): starting with the last interval/)
  t.same(down.results.map((r) => r.ok), [true, true])
})

t.test('the health write: nothing to write for an empty shard; a failure without a code is still logged', async (t) => {
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  const url = await sim.listen()
  const bridge = testBridge({ sensors: [{ name: 'a', url }, { name: 'b', url }], influx: { url: 'http://127.0.0.1:9', database: 'x' } })
  t.teardown(async () => { await bridge.close(); await sim.close() })
  const writes: string[] = []
  const warnings: Array<[unknown, string]> = []
  const make = (shard: { index: number, count: number } | undefined, fail: boolean): PushLoop => new PushLoop({
    live: () => bridge.live,
    writer: { target: 'x', prepare: async () => {}, write: async (body) => { if (fail && String(body).startsWith('egauge_bridge')) throw new Error('disk full'); writes.push(String(body)) }, close: async () => {} },
    store: CheckpointStore.open(join(mkdtempSync(join(tmpdir(), 's-')), 's.json'), () => {}),
    metrics: bridge.metrics,
    log: { info: () => {}, warn: (o, m) => { warnings.push([o, m]) }, error: () => {} },
    now: () => NOW * 1000,
    shard
  })
  // Both names hash to one shard of 2 or they split; a shard of 1 000 000 is empty for both.
  const empty = make({ index: 1_000_000, count: 1_000_000 }, false)
  t.same(await empty.runCycle(), [], 'no sensor in this shard')
  t.equal(writes.length, 0, 'and no health line')
  await make(undefined, true).runCycle()
  t.same(warnings.filter(([, m]) => m.includes('health')).map(([o]) => o), [{ code: 'error' }], 'an error without a code is logged as "error"')
})
