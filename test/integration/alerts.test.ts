/**
 * prometheus/alerts.yml: promtool accepts it, its unit tests (alerts.test.yml) fire each alert
 * when they should and only then, and every series it names is one the bridge exports from
 * start-up (a renamed metric would silence an alert without any error).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { ensureBinary } from '../helpers/debian.js'
import { testBridge } from '../helpers/bridge.js'
import { freePort } from '../helpers/ports.js'

const dir = new URL('../../prometheus/', import.meta.url).pathname

t.test('promtool check rules and promtool test rules pass', async (t) => {
  const promtool = ensureBinary('/usr/bin/promtool', 'prometheus')
  const check = spawnSync(promtool, ['check', 'rules', 'alerts.yml'], { cwd: dir, encoding: 'utf8' })
  t.equal(check.status, 0, check.stdout + check.stderr)
  t.match(check.stdout, /SUCCESS: 6 rules found/)
  const test = spawnSync(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8' })
  t.equal(test.status, 0, test.stdout + test.stderr)
  t.match(test.stdout, /SUCCESS/)
  // docker-compose.yml's Prometheus loads the same file: its config passes promtool with it.
  const compose = parseYaml(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as { configs: Record<string, { content: string }>, services: { prometheus: { volumes: string[] } } }
  t.ok(compose.services.prometheus.volumes.includes('./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro'), 'compose mounts the rules')
  const tmp = mkdtempSync(join(tmpdir(), 'alerts-'))
  writeFileSync(join(tmp, 'prometheus.yml'), compose.configs['prometheus-config']!.content.replace('/etc/prometheus/alerts.yml', `${dir}alerts.yml`))
  const config = spawnSync(promtool, ['check', 'config', join(tmp, 'prometheus.yml')], { encoding: 'utf8' })
  t.equal(config.status, 0, config.stdout + config.stderr)
  t.match(config.stdout, /SUCCESS: 6 rules found/)
})

t.test('every bridge series an alert names exists right after start-up, for a dead meter too', async (t) => {
  const rules = readFileSync(`${dir}alerts.yml`, 'utf8')
  const names = [...new Set(rules.match(/egauge_bridge_[a-z_]+/g))].filter((n) => !rules.includes(`# ${n}`))
  t.ok(names.length >= 3, names.join(', '))
  // Pulled and pushing, so the receive series are there too; no database either.
  const bridge = testBridge({
    sensors: [{ name: 'dead', url: `http://127.0.0.1:${await freePort()}`, timeout: '200ms', receive: { username: 'meter', password: 'dead-meter-secret' } }],
    influx: { url: `http://127.0.0.1:${await freePort()}`, timeout: '200ms' }
  })
  t.teardown(() => bridge.close())
  const loop = bridge.bridge.pushLoop()
  await loop.runCycle() // what --push does at start-up; the meter is dead and nothing is written
  const text = await bridge.metrics.registry.metrics()
  for (const name of names) t.match(text, new RegExp(`^${name}\\{sensor="dead"`, 'm'), name)
})
