/**
 * What the bridge exposes, checked by the real consumer (promtool), and the built binary as a
 * process: demo mode, SIGHUP reload, SIGTERM.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Simulator } from '../../src/simulator/server.js'
import { testBridge } from '../helpers/bridge.js'
import { allFamilies } from '../helpers/exposition.js'
import { freePort } from '../helpers/ports.js'
import { promtoolCheck } from '../helpers/promtool.js'

const NOW = 1_700_000_000
const simB = new Simulator({ seed: 2, clock: () => NOW * 1000 })
const urlB = await simB.listen()
t.teardown(async () => { await simB.close() })

t.test('promtool accepts every family, a sensor scrape and the self-metrics', async (t) => {
  const families = await allFamilies()
  t.equal(promtoolCheck(families).status, 0, promtoolCheck(families).stderr)
  const b = testBridge({ sensors: [{ name: 'b', url: urlB }] }, { processMetrics: true })
  t.teardown(() => b.close())
  const text = await b.app.inject({ method: 'GET', url: '/metrics/b', headers: { accept: 'text/plain;version=0.0.4' } })
  t.equal(text.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.equal(promtoolCheck(text.body).status, 0, promtoolCheck(text.body).stderr)
  const probe = await b.app.inject({ method: 'GET', url: '/probe?target=b' })
  t.equal(promtoolCheck(probe.body).status, 0, '/probe without Accept: ' + promtoolCheck(probe.body).stderr)
  const self = await b.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(promtoolCheck(self.body).status, 0, promtoolCheck(self.body).stderr)
})

t.test('the binary: demo mode, SIGHUP reload (bad config keeps the old one), SIGTERM exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-'))
  const file = join(dir, 'bridge.yml')
  writeFileSync(file, `sensors:\n  - name: one\n    url: ${urlB}\n`)
  const port = await freePort()
  const bin = new URL('../../dist/cli.js', import.meta.url).pathname
  const child = spawn(process.execPath, [bin, '--config', file, '--listen', `127.0.0.1:${port}`, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let logs = ''
  child.stdout.on('data', (d: Buffer) => { logs += d.toString() })
  const base = `http://127.0.0.1:${port}`
  const until = async (check: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      try { if (await check()) return } catch {}
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error('condition not reached')
  }
  await until(async () => (await fetch(`${base}/readyz`)).status === 200)
  const names = async (): Promise<string[]> => ((await (await fetch(`${base}/api/sensors`)).json()) as { sensors: Array<{ name: string }> }).sensors.map((s) => s.name)
  t.same(await names(), ['one'])

  writeFileSync(file, `sensors:\n  - name: one\n    url: ${urlB}\n  - name: two\n    url: ${urlB}\n`)
  child.kill('SIGHUP')
  await until(async () => (await names()).length === 2)
  t.same(await names(), ['one', 'two'], 'reloaded')
  t.match(await (await fetch(`${base}/metrics`)).text(), /egauge_bridge_config_last_reload_successful 1/)

  writeFileSync(file, 'sensors:\n  - name: [broken\n')
  child.kill('SIGHUP')
  await until(async () => /egauge_bridge_config_last_reload_successful 0/.test(await (await fetch(`${base}/metrics`)).text()))
  t.same(await names(), ['one', 'two'], 'a bad config keeps the old one')
  t.equal((await fetch(`${base}/metrics/two`)).status, 200)
  t.match(logs, /config reload failed, keeping the previous config: invalid YAML/)

  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exit, 0)
  t.match(logs, /"signal":"SIGTERM","msg":"shutting down"/)
})
