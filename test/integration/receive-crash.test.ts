/**
 * The simulator pushing as a meter does, into the bridge binary (a real process) and a real
 * InfluxDB, for many intervals of meter time: through a SIGKILL of the bridge, a database
 * outage and a two-hour network gap (the meter then sends minute rows for what it no longer holds
 * by the second, oldest first). At the end every second, or minute where only minutes were left,
 * is in the database once: each point is the exact average over the interval since the one
 * before it, and the points chain from the first row to the last with no interval missing.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { registerType } from '../../src/egauge/registers.js'
import { meterModel, raw } from '../../src/simulator/data.js'
import { Pusher } from '../../src/simulator/pusher.js'
import { startInflux } from '../helpers/influxdb.js'
import { freePort } from '../helpers/ports.js'

const influx = await startInflux()
t.teardown(async () => { await influx.stop() })
const dir = mkdtempSync(join(tmpdir(), 'receive-crash-'))
const CREDS = { username: 'pusher', password: 'receive-crash-secret' }
writeFileSync(join(dir, 'bridge.yml'), `sensors:
  - name: cabin
    receive: { username: ${CREDS.username}, password: ${CREDS.password} }
influx:
  url: ${influx.url}
  database: received
  timeout: 2s
push:
  state_file: ${join(dir, 'state.json')}
`)
const port = await freePort()
const bin = new URL('../../dist/cli.js', import.meta.url).pathname
let bridge: ChildProcess | undefined
const start = async (): Promise<void> => {
  const child = spawn(process.execPath, [bin, '--config', join(dir, 'bridge.yml'), '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: 'ignore' })
  bridge = child
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error('the bridge did not start')
}
const kill = async (): Promise<void> => {
  const child = bridge!
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}
t.teardown(kill)

const T0 = 1_700_000_100
let nowMs = T0 * 1000
const model = meterModel(31)
const pusher = new Pusher(model, { url: `http://127.0.0.1:${port}/receive/cabin`, intervalMs: 60_000, auth: CREDS, gzip: true, max: 900, clock: () => nowMs, timeoutMs: 5000 })

/** Advances the meter's clock by one interval and pushes; returns the receiver's status. */
const interval = async (): Promise<number | undefined> => {
  nowMs += 60_000
  return (await pusher.pushOnce()).status
}

t.test('pushes through a SIGKILL, a database outage and a two-hour gap: every interval once, exact', async (t) => {
  await start()
  const first = pusher.pending(T0)[0]!
  const firstRow = first.times[first.times.length - 1]!
  const statuses: Array<number | undefined> = []
  for (let i = 0; i < 5; i++) statuses.push(await interval())
  t.same(statuses, [200, 200, 200, 200, 200], 'five pushes acknowledged')

  // Killed while a push is in flight: acknowledged or not, nothing may be lost.
  nowMs += 60_000
  const inFlight = pusher.pushOnce()
  await kill()
  await inFlight
  t.equal(await interval(), undefined, 'no bridge: no answer, the meter keeps its rows')
  await start()
  for (let i = 0; i < 3; i++) t.equal(await interval(), 200, `after the restart, push ${i + 1}`)

  await influx.pause()
  for (let i = 0; i < 3; i++) t.equal(await interval(), 503, `database down: 503, push ${i + 1}`)
  await influx.resume()
  t.equal(await interval(), 200, 'the database is back: the backlog goes in one push (240 rows)')

  // Two hours without reaching the bridge: the meter holds second rows for one hour only.
  nowMs += 7200_000
  let pushes = 0
  while (pusher.cursor! < Math.floor(nowMs / 1000) && pushes < 20) {
    t.equal((await pusher.pushOnce()).status, 200)
    pushes++
  }
  t.ok(pushes >= 5, `the 2-hour backlog went in ${pushes} pushes of at most 900 rows, oldest first`)
  const end = pusher.cursor!
  t.equal(end, Math.floor(nowMs / 1000), 'caught up')

  let minutes = 0
  for (const reg of model.registers) {
    const [res] = await influx.query(`SELECT "value" FROM egauge WHERE sensor = 'cabin' AND register = '${reg.name.replace(/'/g, "\\'")}'`, 'received')
    const points = res!.series![0]!.values as Array<[number, number]>
    if (points[0]![0] !== firstRow + 1 || points[points.length - 1]![0] !== end) {
      t.fail(`${reg.name}: points from ${points[0]![0]} to ${points[points.length - 1]![0]}, expected ${firstRow + 1} to ${end}`)
      continue
    }
    let previous = firstRow
    const wrong = points.find(([time, value]) => {
      const expected = Number(raw(model, reg, time) - raw(model, reg, previous)) / (registerType(reg.type).perUnit * (time - previous))
      if (time - previous === 60) minutes++
      previous = time
      return value !== expected
    })
    if (wrong !== undefined) t.fail(`${reg.name} at ${wrong[0]}: ${wrong[1]}`)
  }
  t.ok(minutes > 24 * 50, `minute points where the meter no longer held seconds (${minutes / 24} per register)`)
  t.pass('every register: a chain of exact averages from the first row to the last, no interval missing, none twice')
})
