/**
 * The ingestion bundle (telegraf/, grafana/, docker-compose.yml, Dockerfile), checked against what
 * it drives, since Telegraf, Grafana and Docker cannot run here: every URL is a route the bridge
 * serves and its body is accepted by a real InfluxDB; every dashboard query, with Grafana's macros
 * expanded as Grafana expands them, returns data from a real InfluxDB and a real Prometheus fed by
 * the bridge from simulated meters; the compose file agrees with the CLI and the config.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { loadConfigText } from '../../src/config/load.js'
import { CheckpointStore } from '../../src/push/checkpoints.js'
import { PushLoop } from '../../src/push/loop.js'
import { createWriter } from '../../src/sinks/writer.js'
import { Simulator } from '../../src/simulator/server.js'
import { testBridge } from '../helpers/bridge.js'
import { alignedRange, expandInfluxQL, expandPromQL } from '../helpers/grafana.js'
import { startInflux } from '../helpers/influxdb.js'
import { startPrometheus } from '../helpers/prometheus.js'

const root = new URL('../../', import.meta.url).pathname
mkdirSync(join(root, '.tap'), { recursive: true })
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

interface Compose {
  services: Record<string, { image?: string, build?: string, command?: string[], ports?: string[], volumes?: string[], configs?: Array<{ source: string, target: string }>, environment?: Record<string, string>, healthcheck?: { test: string[] } }>
  configs: Record<string, { content: string }>
  volumes: Record<string, unknown>
}
const compose = parseYaml(read('docker-compose.yml')) as Compose
const TELEGRAF_DB = 'egauge_telegraf'
const telegrafConf = parseToml(read('telegraf/telegraf.conf')) as { inputs: { http: Array<{ urls: string[] }>, prometheus: Array<{ name_override: string, fieldinclude: string[], tagexclude: string[] }> } }
const composeBridge = loadConfigText(compose.configs['egauge-bridge-config']!.content, {}).config

// The compose file's two meters, as simulators on this machine, behind the compose bridge config.
const sims: Record<string, Simulator> = { house: new Simulator({ seed: 1 }), garage: new Simulator({ seed: 2 }) }
const simUrls: Record<string, string> = {}
for (const [name, sim] of Object.entries(sims)) simUrls[name] = await sim.listen()
const influx = await startInflux()
const bridge = testBridge({
  // The pulled meters at the local simulators; the pushing one as it is (it comes to the bridge).
  sensors: [
    ...composeBridge.sensors.map((s) => s.url === undefined
      ? { name: s.name, tags: s.tags, receive: { username: s.receive!.username, password: s.receive!.password } }
      : { name: s.name, url: simUrls[s.name], api: s.api, tags: s.tags }),
    // A meter that never answers (nothing listens on the discard port): it must be on both
    // dashboards all the same, down, with its errors.
    { name: 'attic', url: 'http://127.0.0.1:9' }
  ],
  influx: { url: influx.url, database: composeBridge.influx.database },
  push: { state_file: join(root, '.tap', 'bundle-state.json') }
}, { push: true })
const address = await bridge.app.listen({ host: '127.0.0.1', port: 0 })
t.teardown(async () => {
  await bridge.close()
  await influx.stop()
  for (const sim of Object.values(sims)) await sim.close()
})

// Data the dashboards read: one push cycle (5 minutes at 1 s), with a meter error on the way so
// the error panels have series, and the pushing meter's first push, run as compose runs it.
const writer = createWriter(bridge.config.influx)
t.teardown(() => writer.close())
// The first cycle a minute ago, so the bridge's own health (written at each cycle) has two points.
let clockShiftMs = -60_000
const loop = new PushLoop({ live: () => bridge.live, writer, store: CheckpointStore.open(join(root, '.tap', 'bundle-state.json'), () => {}), metrics: bridge.metrics, log: { info: () => {}, warn: () => {}, error: () => {} }, now: () => Date.now() + clockShiftMs })
sims.garage!.fault = { status: 500 }
await bridge.app.inject({ method: 'GET', url: '/metrics/garage' })
await loop.runCycle()
sims.garage!.fault = undefined
clockShiftMs = 0
await loop.runCycle()
const pushedAcknowledged = await runComposePusher()

/**
 * The compose file's pushing meter, its command run by the built binary as compose runs it, with
 * only its listen address and the bridge's host changed: it must push into the bridge with the
 * credentials the compose bridge config expects. Resolves with the push acknowledgement's log line.
 */
async function runComposePusher (): Promise<string> {
  const { spawn } = await import('node:child_process')
  const service = Object.values(compose.services).find((x) => x.command?.includes('--push-to'))!
  const argv = service.command!.map((arg) => arg === '0.0.0.0:8080' ? '127.0.0.1:0' : arg.replace('http://egauge-bridge:9430', address))
  const child = spawn(process.execPath, [join(root, 'dist/cli.js'), ...argv], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...service.environment } })
  let out = ''
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no acknowledged push: ${out}`)), 20_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const acknowledged = out.split('\n').find((l) => l.includes('"push acknowledged"'))
      if (acknowledged !== undefined) {
        clearTimeout(timer)
        resolve(acknowledged)
      }
    })
  })
  child.kill('SIGTERM')
  return line
}

t.test('telegraf configs: TOML, routes the bridge serves, bodies InfluxDB accepts as Telegraf sends them', async (t) => {
  for (const file of ['telegraf/telegraf.conf', 'telegraf/telegraf-history.conf']) {
    const conf = parseToml(read(file)) as { inputs: { http: Array<{ urls: string[], data_format: string, tagexclude: string[], timeout: string }>, prometheus?: Array<{ urls: string[] }> }, outputs: { influxdb: Array<{ urls: string[], database: string }> } }
    const http = conf.inputs.http[0]!
    t.equal(http.data_format, 'influx', `${file}: data_format`)
    t.same(http.tagexclude, ['url'], `${file}: the url tag is dropped`)
    t.ok(/^\d+s$/.test(http.timeout), `${file}: a timeout`)
    t.equal(conf.outputs.influxdb[0]!.database, TELEGRAF_DB, `${file}: a database of its own, not the one --push writes`)
    t.not(TELEGRAF_DB, composeBridge.influx.database)
    t.same(conf.outputs.influxdb[0]!.urls, ['http://influxdb:8086'])
    await influx.query('CREATE DATABASE telegraf_check')
    for (const url of http.urls) {
      const u = new URL(url)
      t.equal(u.host, 'egauge-bridge:9430', `${url}: the compose service and port`)
      const r = await bridge.app.inject({ method: 'GET', url: u.pathname + u.search })
      t.equal(r.statusCode, 200, `${url} is served`)
      // Telegraf parses the body and writes it with its default nanosecond precision.
      const w = await influx.write('telegraf_check', r.body, 'ns')
      t.equal(w.status, 204, `${url}: InfluxDB accepts the body ${w.body}`)
    }
    for (const url of conf.inputs.prometheus?.[0]?.urls ?? []) {
      t.equal((await bridge.app.inject({ method: 'GET', url: new URL(url).pathname })).statusCode, 200, `${url} is served`)
    }
  }
})

/** The bridge's /metrics as telegraf.conf's inputs.prometheus (metric_version 2, name_override, fieldinclude) stores it. */
function telegrafPrometheus (exposition: string, time: number): string {
  const input = telegrafConf.inputs.prometheus[0]!
  let out = ''
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || !Number.isFinite(Number(m[3])) || !input.fieldinclude.includes(m[1]!)) continue
    const tags = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `,${k}=${v!.replace(/[ ,=]/g, '\\$&')}`).sort().join('')
    out += `${input.name_override}${tags} ${m[1]}=${Number(m[3])} ${time}\n`
  }
  return out
}

/** Grafana's expansion of an InfluxQL query over the last hour, with the variables chosen so far. */
const influxQL = (query: string, vars: Record<string, string[]>): string => {
  const now = Math.floor(Date.now() / 1000)
  return expandInfluxQL(query, { from: now - 3600, to: now + 60, timeZone: 'UTC', interval: '10s', vars })
}
/** Energy per day needs a reading from before the day: days of history, in energy-per-day.test.ts. */
const DAYS_OF_HISTORY = 'Energy per day'

t.test('the InfluxDB dashboard: every query returns series, from --push\'s database and from Telegraf\'s', async (t) => {
  const dash = JSON.parse(read('grafana/dashboards/egauge-influxdb.json')) as { uid: string, panels: Array<{ title: string, fieldConfig: { defaults: { unit?: string } }, targets: Array<{ query: string, rawQuery: boolean }> }>, templating: { list: Array<{ name: string, query: string | { query: string } }> } }
  // What the Telegraf route writes: its inputs.http bodies (nanoseconds) and the bridge's health.
  await influx.query(`CREATE DATABASE ${TELEGRAF_DB}`)
  const now = Math.floor(Date.now() / 1000)
  for (const at of [now - 60, now]) {
    const w = await influx.write(TELEGRAF_DB, telegrafPrometheus(await bridge.metrics.registry.metrics(), at), 's')
    t.equal(w.status, 204, w.body)
  }
  for (const url of telegrafConf.inputs.http[0]!.urls) {
    const w = await influx.write(TELEGRAF_DB, (await bridge.app.inject({ method: 'GET', url: new URL(url).pathname })).body, 'ns')
    t.equal(w.status, 204, w.body)
  }
  for (const db of [composeBridge.influx.database, TELEGRAF_DB]) {
    const vars: Record<string, string[]> = {}
    for (const v of dash.templating.list.filter((x) => x.name !== 'datasource')) {
      const [res] = await influx.query(influxQL(v.query as string, vars), db)
      const values = (res?.series?.[0]?.values ?? []).map((row) => String(row[1]))
      t.ok(values.length > 0, `${db}: variable ${v.name}: ${values.join(', ')}`)
      vars[v.name] = values
    }
    t.same(vars.sensor, ['attic', 'cabin', 'garage', 'house'], `${db}: every configured meter, the pushing and the dead one too, from the bridge's health`)
    t.ok(vars.register!.includes('Grid') && !vars.register!.includes('L1 Voltage'), 'the register variable lists power registers')
    t.ok(dash.panels.length >= 9)
    for (const panel of dash.panels) {
      t.ok(panel.fieldConfig.defaults.unit, `${panel.title}: unit set`)
      for (const target of panel.targets) {
        t.equal(target.rawQuery, true)
        const q = influxQL(target.query, vars)
        const [res] = await influx.query(q, db)
        t.notOk(res?.error, `${db}, ${panel.title}: ${res?.error ?? 'runs'}`)
        if (panel.title !== DAYS_OF_HISTORY) t.ok((res?.series?.length ?? 0) > 0, `${db}, ${panel.title}: returns series for ${q}`)
      }
    }
    const [power] = await influx.query(influxQL(dash.panels[0]!.targets[0]!.query, vars), db)
    t.ok(power!.series!.length >= 2 * 12, `${db}, power: a series per pulled sensor and register`)
  }
  // In --push's database the health is the bridge's own: the garage's failed first cycle is in it.
  const [errors] = await influx.query("SELECT max(\"egauge_bridge_fetch_errors_total\") FROM \"egauge_bridge\" WHERE \"sensor\" = 'garage' AND \"reason\" = 'EGAUGE_HTTP_STATUS'", composeBridge.influx.database)
  t.ok((errors!.series![0]!.values[0]![1] as number) >= 1, 'the garage\'s fetch error, written by the bridge itself')
  // The dead meter in the health panels: down, and its errors counted.
  const [attic] = await influx.query("SELECT last(\"egauge_bridge_sensor_up\") FROM \"egauge_bridge\" WHERE \"sensor\" = 'attic'", composeBridge.influx.database)
  t.equal(attic!.series![0]!.values[0]![1], 0, 'the dead meter is down in the bridge\'s health')
  const panel = dash.panels.find((p) => p.title === 'Bridge errors')!
  // In push mode a meter that cannot be read is a push error (the second query of the panel).
  const [atticErrors] = await influx.query(influxQL(panel.targets[1]!.query, { sensor: ['attic'] }), composeBridge.influx.database)
  t.same(atticErrors!.series!.filter((s) => s.tags?.reason === 'EGAUGE_UNREACHABLE').map((s) => s.values.map((v) => v[1])), [[1]], 'the dead meter\'s new error between the two cycles, by reason')
})

t.test('the Prometheus dashboard: every query returns data from a real Prometheus scraping the bridge', async (t) => {
  const dash = JSON.parse(read('grafana/dashboards/egauge-prometheus.json')) as { panels: Array<{ title: string, fieldConfig: { defaults: { unit?: string } }, targets: Array<{ expr: string }> }>, templating: { list: Array<{ name: string, definition?: string }> } }
  const hostPort = address.replace('http://', '')
  const promConfig = parseYaml(compose.configs['prometheus-config']!.content) as { scrape_configs: unknown[] }
  const scrape = JSON.stringify(promConfig.scrape_configs).replaceAll('egauge-bridge:9430', hostPort)
  const prom = await startPrometheus((parseYaml(scrape) as unknown[]).map((job) => '  - ' + JSON.stringify(job)).join('\n') + '\n')
  t.teardown(() => prom.stop())
  await prom.waitFor('count(egauge_power_watts) >= 28') // 14 power registers (totals included) per meter
  await prom.waitFor('count_over_time(egauge_bridge_sensor_up[1m]) >= 3')
  const values = async (metric: string, label: string): Promise<string[]> => [...new Set((await prom.query(metric)).map((s) => s.metric[label]!))].sort()
  // The variables as Grafana fills them: label_values(<selector>, <label>).
  const variable = async (name: string, vars: Record<string, string[]>): Promise<string[]> => {
    const [, selector, label] = /^label_values\((.*), (\w+)\)$/.exec(dash.templating.list.find((v) => v.name === name)!.definition!)!
    return await values(selector!.replace('$sensor', (vars.sensor ?? []).join('|')), label!)
  }
  const vars: Record<string, string[]> = {}
  vars.sensor = await variable('sensor', vars)
  vars.register = await variable('register', vars)
  t.same(vars.sensor, ['attic', 'cabin', 'garage', 'house'], 'every configured meter, from series the bridge exports from start-up (a dead one too)')
  t.ok(vars.register.includes('Grid'))
  for (const panel of dash.panels) {
    t.ok(panel.fieldConfig.defaults.unit, `${panel.title}: unit set`)
    for (const target of panel.targets) {
      const now = Math.floor(Date.now() / 1000)
      // Grafana's interval is at least the scrape interval: 1 s here, 15 s in compose.
      const expr = expandPromQL(target.expr, { from: now - 3600, to: now, timeZone: 'UTC', interval: '2s', intervalMs: 2000, rateInterval: '1m', vars })
      if (panel.title === DAYS_OF_HISTORY) {
        const { start, end } = alignedRange(now - 3600, now, 86_400, 'UTC')
        t.ok(Array.isArray(await prom.queryRange(expr, start, end, 86_400)), `${panel.title}: runs, as Grafana sends it`)
        continue
      }
      const result = await prom.waitFor(expr, 10_000).catch(() => [])
      t.ok(result.length > 0, `${panel.title}: returns data for ${expr}`)
      if (panel.title === 'Meters up') t.equal(result.find((r) => r.metric.sensor === 'attic')?.value[1], '0', 'the dead meter shows as down')
    }
  }
})

t.test('docker-compose.yml is valid Compose: the compose-spec JSON schema accepts it', async (t) => {
  const { Ajv } = await import('ajv')
  // Draft-07, Ajv's own draft, named by an https URL Ajv does not know as its meta-schema: dropped.
  // The schema also uses annotations of later drafts (deprecated): not validation, so not strict.
  const { $schema, ...schema } = JSON.parse(read('test/fixtures/compose-spec/compose-spec.json')) as { $schema: string }
  t.equal($schema, 'https://json-schema.org/draft-07/schema')
  const validate = new Ajv({ strict: false, allErrors: true }).compile(schema)
  t.ok(validate(compose), JSON.stringify(validate.errors))
  // It can fail: a misspelt key and a dependency written as a bare string are refused.
  const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> }
  broken.services.influxdb!.healthchek = broken.services.influxdb!.healthcheck
  t.notOk(validate(broken), 'an unknown service key is refused')
  const badDepends = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> }
  badDepends.services.grafana!.depends_on = 'influxdb'
  t.notOk(validate(badDepends), 'depends_on as a string (a list or a map in Compose) is refused')
})

t.test('docker-compose.yml agrees with the bridge CLI, its config and the files it mounts', async (t) => {
  const s = compose.services
  for (const name of ['meter-house', 'meter-garage', 'meter-cabin', 'influxdb', 'egauge-bridge', 'telegraf', 'prometheus', 'grafana']) t.ok(s[name], `service ${name}`)
  for (const [name, service] of Object.entries(s)) {
    t.ok(service.image !== undefined && /:[\w.-]+$/.test(service.image), `${name}: image pinned (${service.image})`)
    t.notMatch(service.image!, /:latest$/)
    for (const volume of service.volumes ?? []) {
      const [source] = volume.split(':')
      if (source!.startsWith('./')) t.ok(existsSync(join(root, source!)), `${name} mounts ${source}, which exists`)
      else t.ok(source! in compose.volumes, `${name}: named volume ${source}`)
    }
    for (const c of service.configs ?? []) t.ok(compose.configs[c.source], `${name}: config ${c.source}`)
  }
  t.equal(s.grafana!.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, '/var/lib/grafana/dashboards/egauge-influxdb.json')
  t.ok(existsSync(join(root, 'grafana/dashboards/egauge-influxdb.json')))

  // The bridge service: a command the CLI accepts, a listen port the port mapping publishes.
  const { main } = await import('../../src/cli.js')
  const command = s['egauge-bridge']!.command!
  t.same(command.slice(0, 2), ['--push', '--config'])
  t.equal(command[2], s['egauge-bridge']!.configs![0]!.target, 'the config file is the mounted config')
  const configFile = join(root, '.tap', 'compose-bridge.yml')
  writeFileSync(configFile, compose.configs['egauge-bridge-config']!.content)
  t.equal(await main(['check-config', '--config', configFile], () => {}, () => {}), 0, 'check-config accepts the compose config')
  t.equal(`127.0.0.1:${composeBridge.server.port}:${composeBridge.server.port}`, s['egauge-bridge']!.ports![0])
  for (const [name, service] of Object.entries(s)) {
    // Nothing in the stack has auth on: published on this machine only.
    for (const port of service.ports ?? []) t.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${name}: ${port} on the loopback only`)
    t.equal((service as { restart?: string }).restart, 'unless-stopped', `${name}: restarted`)
    // The bridge's own comes from the image (its HEALTHCHECK, image.test.ts).
    if (name !== 'egauge-bridge') t.ok(service.healthcheck, `${name}: a health check`)
  }
  t.ok(s.prometheus!.volumes!.includes('prometheus-data:/prometheus'), 'Prometheus keeps its data')
  t.equal(composeBridge.push.stateFile.startsWith('/var/lib/egauge-bridge/'), true, 'the state file is on the bridge-state volume')
  t.ok(s['egauge-bridge']!.volumes!.includes('bridge-state:/var/lib/egauge-bridge'))

  // Each pulled sensor points at a meter service, on the port its `simulate` command listens on;
  // each pushing one has a meter service pushing to it, with its credentials (run above).
  for (const sensor of composeBridge.sensors) {
    if (sensor.url === undefined) {
      const pusher = Object.values(s).find((x) => x.command?.includes(`http://egauge-bridge:9430/receive/${sensor.name}`))!
      t.ok(pusher, `${sensor.name}: a meter service pushes to it`)
      const option = (name: string): string | undefined => pusher.command![pusher.command!.indexOf(name) + 1]
      t.equal(option('--push-user'), sensor.receive!.username, `${sensor.name}: the user the bridge expects`)
      t.equal(pusher.environment!.EGAUGE_PUSH_PASSWORD, sensor.receive!.password, `${sensor.name}: the password the bridge expects`)
      t.equal(option('--push-interval'), `${sensor.receive!.intervalMs / 1000}s`, `${sensor.name}: the interval the bridge expects`)
      t.match(pushedAcknowledged, /"status":200,"rows":60/, `${sensor.name}: the compose command pushed into the bridge`)
      continue
    }
    const url = new URL(sensor.url)
    const meter = s[url.hostname]!
    t.ok(meter, `${sensor.name}: service ${url.hostname}`)
    t.equal(meter.command![0], 'simulate')
    t.equal(meter.command![meter.command!.indexOf('--listen') + 1], `0.0.0.0:${url.port}`, `${sensor.name}: port ${url.port}`)
  }
  t.equal(new URL(composeBridge.influx.url).host, 'influxdb:8086')
  t.ok(s.influxdb!.ports!.includes('127.0.0.1:8086:8086'))

  // Grafana's data sources point at the compose services and the bridge's database.
  const ds = parseYaml(read('grafana/provisioning/datasources/egauge.yml')) as { datasources: Array<{ uid: string, url: string, jsonData: { dbName?: string } }> }
  t.same(ds.datasources.map((d) => d.url), ['http://influxdb:8086', 'http://influxdb:8086', 'http://prometheus:9090'])
  t.same(ds.datasources.map((d) => d.jsonData.dbName), [composeBridge.influx.database, TELEGRAF_DB, undefined], '--push\'s database first (the default), then Telegraf\'s')
  const provider = parseYaml(read('grafana/provisioning/dashboards/egauge.yml')) as { providers: Array<{ options: { path: string } }> }
  t.ok(s.grafana!.volumes!.includes(`./grafana/dashboards:${provider.providers[0]!.options.path}:ro`), 'dashboards mounted where the provider looks')
  // Telegraf's URLs name sensors that exist.
  for (const url of (parseToml(read('telegraf/telegraf.conf')) as { inputs: { http: Array<{ urls: string[] }> } }).inputs.http[0]!.urls) {
    t.ok(composeBridge.sensors.some((x) => new URL(url).pathname === `/metrics/${x.name}`), `${url}: a configured sensor`)
  }

  // The Dockerfile: non-root, the CLI as entry point, the default port (the rest: image.test.ts).
  const dockerfile = read('Dockerfile')
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /^ENTRYPOINT \["node", "\/app\/dist\/cli\.js"\]$/m)
  t.match(dockerfile, /^EXPOSE 9430$/m)
  // The image's HEALTHCHECK looks for a serve process: every other service brings its own.
  for (const [name, service] of Object.entries(s)) {
    if (service.image === 'egauge-bridge:local' && service.command?.[0] === 'simulate') t.ok(service.healthcheck, `${name}: a health check of its own`)
  }
  t.equal((await bridge.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
})
