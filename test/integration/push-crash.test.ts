/**
 * The bridge binary in push mode, killed with SIGKILL in the middle of writing a backlog, then
 * restarted: every second of every register ends up in InfluxDB exactly once. Real time, real
 * processes: the simulator's clock is the wall clock here.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { registerType } from '../../src/egauge/registers.js'
import { raw, virtualRaw } from '../../src/simulator/data.js'
import { Simulator } from '../../src/simulator/server.js'
import { startInflux } from '../helpers/influxdb.js'
import { freePort } from '../helpers/ports.js'

const sim = new Simulator({ seed: 21 })
const simUrl = await sim.listen()
const influx = await startInflux()
t.teardown(async () => { await influx.stop(); await sim.close() })

const dir = mkdtempSync(join(tmpdir(), 'crash-'))
const stateFile = join(dir, 'state.json')
const seed = Math.floor(Date.now() / 1000) - 3000
writeFileSync(stateFile, JSON.stringify({ version: 1, checkpoints: { m1: seed } }))
writeFileSync(join(dir, 'bridge.yml'), `sensors:
  - name: m1
    url: ${simUrl}
influx:
  url: ${influx.url}
  database: crash
  batch_size: 500
push:
  interval: 5m
  step: 1s
  state_file: ${stateFile}
`)
const bin = new URL('../../dist/cli.js', import.meta.url).pathname
const start = async (): Promise<ChildProcess> => spawn(process.execPath, [bin, '--push', '--config', join(dir, 'bridge.yml'), '--listen', `127.0.0.1:${await freePort()}`, '--log-level', 'warn'], { stdio: 'ignore' })
const count = async (): Promise<number> => {
  const [r] = await influx.query('SELECT count("value") FROM egauge', 'crash').catch(() => [undefined])
  return (r?.series?.[0]?.values[0]?.[1] as number | undefined) ?? 0
}
const checkpoint = (): number => (JSON.parse(readFileSync(stateFile, 'utf8')) as { checkpoints: { m1: number } }).checkpoints.m1

// The simulator's 24 registers and its two totals.
const REGISTERS = 26

t.test('SIGKILL mid-write, restart: no gap, no duplicate', async (t) => {
  const first = await start()
  let atKill = 0
  for (let i = 0; i < 1000; i++) {
    atKill = await count()
    if (atKill > 0) break
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const killed = new Promise((resolve) => first.once('exit', resolve))
  first.kill('SIGKILL')
  await killed
  t.ok(atKill > 0 && atKill < 3000 * REGISTERS, `killed mid-write: ${atKill} of ${3000 * REGISTERS} points were in the database`)
  t.equal(checkpoint(), seed, 'the checkpoint did not move: the chunk was not acknowledged whole')

  const second = await start()
  for (let i = 0; i < 600 && checkpoint() === seed; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const stopped = new Promise<number | null>((resolve) => second.once('exit', resolve))
  second.kill('SIGTERM')
  t.equal(await stopped, 0, 'SIGTERM exits 0')
  const end = checkpoint()
  t.ok(end >= seed + 3000, 'the restarted bridge caught up')

  const [res] = await influx.query(`SELECT "value", "register" FROM egauge WHERE time > ${seed}s AND time <= ${end}s`, 'crash')
  const rows = res!.series![0]!.values as Array<[number, number, string]>
  t.equal(rows.length, (end - seed) * REGISTERS, 'every second of every register, once')
  const byRegister = new Map<string, number[]>()
  for (const [time, , register] of rows) byRegister.set(register, [...(byRegister.get(register) ?? []), time])
  t.equal(byRegister.size, REGISTERS)
  for (const times of byRegister.values()) t.ok(times.every((x, i) => x === seed + i + 1), 'consecutive seconds')
  const wrong = rows.filter(([time, value, register]) => {
    const total = sim.model.virtuals.find((v) => v.name === register)
    if (total !== undefined) return value !== Number(virtualRaw(sim.model, total, time) - virtualRaw(sim.model, total, time - 1))
    const reg = sim.model.registers.find((r) => r.name === register)!
    return value !== Number(raw(sim.model, reg, time) - raw(sim.model, reg, time - 1)) / registerType(reg.type).perUnit
  })
  t.equal(wrong.length, 0, 'exact values')
})
