import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { formatDuration, parseDuration, parseSize } from '../../../src/config/duration.js'
import { configPath, loadConfigFile, loadConfigText, migrateConfigText, stateFileProblem } from '../../../src/config/load.js'
import { isPulled, parseListen, validateConfig } from '../../../src/config/schema.js'
import { isLegacy } from '../../../src/config/legacy.js'
import { ConfigError, errorCode } from '../../../src/model/errors.js'

const dir = new URL('../../config/', import.meta.url).pathname
const read = (name: string): string => readFileSync(join(dir, name), 'utf8')

t.test('one invalid file per rule, each with its exact message', async (t) => {
  const files = readdirSync(join(dir, 'invalid')).filter((f) => f.endsWith('.yml')).sort()
  t.ok(files.length >= 30)
  for (const file of files) {
    t.test(file, async (t) => {
      const text = read(join('invalid', file))
      const expected = /^# error: (.*)$/m.exec(text)![1]
      const err = t.throws(() => loadConfigText(text, { EGAUGE_BRIDGE_TOKEN: 'x' })) as ConfigError
      t.type(err, ConfigError)
      t.equal(err.message.split('\n')[0], expected)
    })
  }
})

t.test('defaults, in one place', async (t) => {
  const c = validateConfig({ sensors: [{ name: 'eGauge123' }] })
  t.same(c.server, { host: '0.0.0.0', port: 9430, cacheTtlMs: 1000, auth: { kind: 'none' } })
  const s = c.sensors[0]!
  t.equal(s.url, 'https://eGauge123.d.egauge.net', 'the eGauge proxy by default')
  t.equal(s.timeoutMs, 10_000)
  t.equal(s.maxResponseBytes, 32 * 1024 * 1024)
  t.equal(s.tlsInsecure, false)
  t.equal(c.influx.version, 1)
  t.equal(c.influx.measurement, 'egauge')
  t.equal(c.influx.createDatabase, true)
  t.same(c.push, { intervalMs: 300_000, stepSeconds: 1, concurrency: 8, stateFile: './egauge-bridge-state.json' })
  t.same(loadConfigText('', {}).config.sensors, [], 'an empty file is valid')
})

t.test('every key of the modern format, with environment and file secrets', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'cfg-'))
  writeFileSync(join(tmp, 'token'), 'the-influx-token\n')
  const env = { EGAUGE_BRIDGE_TOKEN: 'a-bridge-token-of-length', EGAUGE123_PASSWORD: 'p4ss', TOKEN_FILE: join(tmp, 'token') }
  const { config, legacy } = loadConfigText(read('full.yml'), env)
  t.equal(legacy, false)
  t.same(config.server, { host: '127.0.0.1', port: 9430, cacheTtlMs: 2000, auth: { kind: 'bearer', token: 'a-bridge-token-of-length' } })
  const [a, b] = config.sensors
  t.same(a, {
    name: 'eGauge123',
    url: 'https://eGauge123.d.egauge.net',
    api: 'xml',
    username: 'owner',
    password: 'p4ss',
    tlsInsecure: true,
    tlsLegacy: false,
    timeoutMs: 5000,
    maxResponseBytes: 32 * 1024 * 1024,
    maxRegisters: 512,
    maxRegisterName: 256,
    totals: true,
    tags: { site: 'paris-5' },
    registers: ['Grid', 'Solar'],
    registerUnits: undefined
  })
  t.equal(b!.tlsLegacy, true)
  t.equal(b!.timeoutMs, 20_000, 'a sensor key overrides defaults')
  t.equal(b!.maxResponseBytes, 8 * 1024 * 1024)
  t.same([b!.maxRegisters, b!.maxRegisterName, b!.totals], [64, 40, false])
  t.equal(config.influx.token, 'the-influx-token', 'token_file read, trailing newline trimmed')
  t.equal(config.influx.version, 2)
  t.equal(config.influx.batchSize, 2000)
  t.same(config.push, { intervalMs: 60_000, stepSeconds: 1, concurrency: 4, stateFile: '/var/lib/egauge-bridge/state.json' })
})

t.test('receive: a push-only meter has no url, a pulled one keeps its url; secrets from a file', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'cfg-'))
  writeFileSync(join(tmp, 'push-password'), 'meter-push-secret\n')
  const { config } = loadConfigText(`sensors:
  - name: cabin
    receive: { username: meter, password_file: ${join(tmp, 'push-password')} }
  - name: shed
    url: http://10.0.0.9
    receive: { username: shed, password: "\${SHED_PUSH}", interval: 5m }
  - name: house
influx: { url: "http://127.0.0.1:8086", database: egauge }
`, { SHED_PUSH: 'shed-secret' })
  const [cabin, shed, house] = config.sensors
  t.equal(cabin!.url, undefined, 'receive without url: the meter only pushes')
  t.same(cabin!.receive, { username: 'meter', password: 'meter-push-secret', intervalMs: 60_000 })
  t.equal(shed!.url, 'http://10.0.0.9', 'a meter can be pulled and push too')
  t.same(shed!.receive, { username: 'shed', password: 'shed-secret', intervalMs: 300_000 })
  t.equal(house!.receive, undefined)
  t.equal(house!.url, 'https://house.d.egauge.net')
  t.same(config.sensors.filter(isPulled).map((s) => s.name), ['shed', 'house'])
})

t.test('the 2019 Peper config loads unchanged and maps as the README migration section says', async (t) => {
  const { config, legacy, warnings } = loadConfigText(read('peper-2019.yml'), {})
  t.equal(legacy, true)
  t.same(warnings, [])
  t.equal(config.sensors.length, 2)
  const s = config.sensors[0]!
  t.equal(s.name, 'eGauge123')
  t.equal(s.url, 'http://eGauge123.egaug.es')
  t.same(s.tags, { ID: 'eGauge123', IP: '192.168.1.20', GPS_lat: '48.85', GPS_long: '2.35', Ville: 'Paris', CP: '75000', Rue: '5 rue Pierre' })
  t.same(s.registerUnits, { Grid: 'W', Solar: 'W', CT15_Amperage: 'A' })
  t.same(config.sensors[1]!.registerUnits, { Grid: 'W', Solar: 'kW' }, 'a comma-separated Registre too')
  t.same(config.influx, {
    version: 1,
    url: 'http://192.168.1.10:8086',
    database: 'peper',
    retentionPolicy: '',
    username: 'admin_influx',
    password: 'example-password',
    org: '',
    bucket: '',
    token: undefined,
    measurement: 'measure',
    schema: 'peper',
    createDatabase: true,
    timeoutMs: 30_000,
    batchSize: 5000
  })
  t.same(config.push, { intervalMs: 300_000, stepSeconds: 1, concurrency: 8, stateFile: './egauge-bridge-state.json' })
})

t.test('legacy: every value read as the 2019 script read it (YAML 1.1, then Python\'s str()), and named where that differs', async (t) => {
  const { config, warnings } = loadConfigText(read('peper-2019-nice.yml'), {})
  const [a, b] = config.sensors
  t.same(a!.tags, {
    ID: 'eGauge700',
    IP: '192.168.1.40',
    GPS_lat: '43.7', // a float; Python prints 43.70 as 43.7
    GPS_long: '7.0', // a float; Python prints it 7.0, where JavaScript prints 7
    Ville: 'Nice',
    CP: '3072', // YAML 1.1: a leading 0 makes 06000 an octal integer, 3072
    Rue: 'True' // YAML 1.1: yes is a boolean, which Python prints True
  })
  t.same(b!.tags, { ID: 'eGauge701', IP: '192.168.1.41', GPS_lat: '43.7', GPS_long: '7.25', Ville: 'Nice', CP: '06100', Rue: '2 rue de France' }, 'quoted values stay as typed')
  t.same(warnings, [
    'sensors.eGauge700.GPS_lat: 43.70 was read by the 2019 script as a float and written as "43.7"; the bridge writes "43.7" too, so the series continue (quote it, "43.70", to start new series with the value as typed)',
    'sensors.eGauge700.CP: 06000 was read by the 2019 script as an octal integer (YAML 1.1: a leading 0) and written as "3072"; the bridge writes "3072" too, so the series continue (quote it, "06000", to start new series with the value as typed)',
    'sensors.eGauge700.Rue: yes was read by the 2019 script as a YAML 1.1 boolean and written as "True"; the bridge writes "True" too, so the series continue (quote it, "yes", to start new series with the value as typed)'
  ])
})

t.test('legacy: a database value or a Registre unit read differently is named, a password never quoted', async (t) => {
  const { config, warnings } = loadConfigText('sensors:\n  m1: { Registre: { Grid: 010 } }\ndatabase:\n  database: { name: p, ip: h, port: 0x1F96, mdp: yes }\n', {})
  t.equal(config.influx.url, 'http://h:8086', 'port 0x1F96 was the integer 8086')
  t.equal(config.influx.password, 'True', 'what the script sent for the password yes')
  t.same(config.sensors[0]!.registerUnits, { Grid: '8' })
  t.same(warnings, [
    'sensors.m1.Registre.Grid: 010 was read by the 2019 script as an octal integer (YAML 1.1: a leading 0) and used as "8"; the bridge uses "8" too',
    'database.database.port: 0x1F96 was read by the 2019 script as a hexadecimal integer and used as "8086"; the bridge uses "8086" too',
    'database.database.mdp: the 2019 script read this password as a YAML 1.1 boolean and sent Python\'s str() of it; the bridge sends the same (quote the password in the file to send it as typed)'
  ])
  t.notMatch(warnings.join('\n'), /yes|True/, 'the password in neither form')
  const none = loadConfigText('sensors:\n  m1: { CP: ~, Ville: }\ndatabase:\n  database: { name: p, ip: h }\n', {})
  t.same(none.config.sensors[0]!.tags, { ID: 'm1' }, 'None: no such tag, as the script wrote none')
  t.same(none.warnings, [
    'sensors.m1.CP: empty (~): the 2019 script read None and wrote no such tag; the bridge writes none either',
    'sensors.m1.Ville: empty (no value): the 2019 script read None and wrote no such tag; the bridge writes none either'
  ])
})

t.test('legacy: one database block per sensor, in order; a count that cannot be mapped is refused', async (t) => {
  const { config } = loadConfigText(read('peper-2019-nice.yml'), {})
  const [a, b] = config.sensors
  t.equal(a!.influx, undefined, 'the first sensor: the first block, the top-level influx')
  t.same([config.influx.url, config.influx.database, config.influx.username, config.influx.password], ['http://192.168.1.10:8086', 'peper_nice', 'admin_influx', 'example-password'])
  t.same([b!.influx!.url, b!.influx!.database, b!.influx!.username, b!.influx!.password], ['http://192.168.1.11:8087', 'peper_nice_2', 'other_user', 'other-password'])
  t.same([b!.influx!.schema, b!.influx!.measurement, b!.influx!.createDatabase], ['peper', 'measure', true], 'the rest inherited')
  const three = 'sensors:\n  a: {}\n  b: {}\n  c: {}\ndatabase:\n  d1: { name: x, ip: h }\n  d2: { name: y, ip: h }\n'
  t.throws(() => loadConfigText(three, {}), new ConfigError('database', '2 database blocks for 3 sensors: the 2019 script wrote the i-th sensor into the i-th block, so give one block per sensor in the order of the sensors, or one block for all of them'))
  const one = loadConfigText('sensors:\n  a: {}\n  b: {}\ndatabase:\n  database: { name: x, ip: h }\n', {}).config
  t.same(one.sensors.map((s) => s.influx), [undefined, undefined], 'one block: every sensor writes there')
})

t.test('a modern sensor with its own database: the target keys only', async (t) => {
  const { config } = loadConfigText('influx: { url: "http://a:8086", database: main, batch_size: 10 }\nsensors:\n  - name: s\n    influx: { database: other }\n', {})
  t.same([config.sensors[0]!.influx!.url, config.sensors[0]!.influx!.database, config.sensors[0]!.influx!.batchSize], ['http://a:8086', 'other', 10])
  t.throws(() => loadConfigText('sensors:\n  - name: s\n    influx: { schema: peper }\n', {}), new ConfigError('sensors[0].influx.schema', 'unknown key (allowed: url, database, retention_policy, username, password, org, bucket, token)'))
})

t.test('legacy: unknown keys are warnings, Registre as a mapping', async (t) => {
  const { config, warnings } = loadConfigText('sensors:\n  m1: { Registre: { Grid: W }, colour: red }\ndatabase:\n  database: { name: p, ip: h }\nforever: yes\n', {})
  t.same(warnings, ['forever: unknown key in a legacy config, ignored', 'sensors.m1.colour: unknown key in a legacy sensor, ignored'])
  t.equal(config.sensors[0]!.name, 'm1', 'the map key names a sensor without name')
  t.same(config.sensors[0]!.registerUnits, { Grid: 'W' })
  t.equal(config.influx.url, 'http://h:8086')
})

t.test('migrate-config prints a modern file that loads to the same config', async (t) => {
  const text = migrateConfigText(read('peper-2019.yml'))
  t.match(text, /^# Migrated from a legacy Peper config/)
  const migrated = loadConfigText(text, {})
  t.equal(migrated.legacy, false)
  t.same(migrated.config, loadConfigText(read('peper-2019.yml'), {}).config)
  t.throws(() => migrateConfigText(read('full.yml')), /already in the modern format/)
})

t.test('config file discovery and read errors', async (t) => {
  t.equal(configPath('x.yml', {}), 'x.yml')
  t.equal(configPath(undefined, { EGAUGE_BRIDGE_CONFIG: '/etc/e.yml' }), '/etc/e.yml')
  t.equal(configPath(undefined, {}), undefined, 'no ./egauge-bridge.yml here: demo mode')
  t.throws(() => loadConfigFile('/nonexistent.yml'), /cannot read config file \/nonexistent.yml: ENOENT/)
  t.equal(loadConfigFile(join(dir, 'peper-2019.yml'), {}).source, join(dir, 'peper-2019.yml'))
})

t.test('./egauge-bridge.yml is found in the working directory; auth {} means none', async (t) => {
  const cwd = process.cwd()
  const tmp = mkdtempSync(join(tmpdir(), 'cwd-'))
  writeFileSync(join(tmp, 'egauge-bridge.yml'), 'sensors: []\n')
  process.chdir(tmp)
  t.teardown(() => process.chdir(cwd))
  t.equal(configPath(undefined, {}), './egauge-bridge.yml')
  t.same(validateConfig({ server: { auth: {} } }).server.auth, { kind: 'none' })
  t.equal(validateConfig({ influx: { schema: 'peper' } }).influx.measurement, 'measure', 'the peper schema defaults to its own measurement')
  const numeric = validateConfig({ sensors: [{ name: 12345, max_response_size: 4096 }] }).sensors[0]!
  t.same([numeric.name, numeric.maxResponseBytes], ['12345', 4096], 'YAML numbers where strings or sizes are expected')
  t.equal(isLegacy(null), false)
  t.equal(errorCode(new Error('x')), 'error')
})

t.test('durations, sizes, listen addresses', async (t) => {
  const cases: Array<[string, number | undefined]> = [['500ms', 500], ['10s', 10_000], ['5m', 300_000], ['1h30m', 5_400_000], ['2d', 172_800_000], ['1.5s', 1500], ['10', undefined], ['s', undefined], ['-1s', undefined]]
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, text)
  for (const ms of [0, 1000, 300_000, 5_400_000, 90_061_001]) t.equal(parseDuration(formatDuration(ms)), ms, `round trip ${ms}`)
  t.equal(parseSize('32MiB'), 33_554_432)
  t.equal(parseSize('500kB'), 500_000)
  t.equal(parseSize('1024'), 1024)
  t.equal(parseSize('1 TB'), undefined)
  t.same(parseListen(':9430', 'x'), { host: '0.0.0.0', port: 9430 })
  t.same(parseListen('[::1]:80', 'x'), { host: '::1', port: 80 })
  t.throws(() => parseListen('h:70000', 'x'), /is not host:port/)
})

/* eslint-disable no-template-curly-in-string -- config text with ${…} references, not template literals */
t.test('${…} references as a shell and Docker Compose read them', async (t) => {
  const token = (value: string, env: NodeJS.ProcessEnv): unknown => {
    // retention_policy: a string key that may be empty.
    const { config } = loadConfigText(`influx:\n  retention_policy: "${value}"\n`, env)
    return config.influx.retentionPolicy
  }
  const cases: Array<[string, NodeJS.ProcessEnv, string]> = [
    ['${T}', { T: 'set' }, 'set'],
    ['${T:-fallback}', {}, 'fallback'],
    ['${T:-fallback}', { T: '' }, 'fallback'],
    ['${T:-fallback}', { T: 'set' }, 'set'],
    ['${T-fallback}', { T: '' }, ''],
    ['${T-fallback}', {}, 'fallback'],
    ['${T:-}x', {}, 'x'],
    ['${T:?needed}', { T: 'set' }, 'set'],
    ['a-$${T}-b', { T: 'set' }, 'a-${T}-b'],
    ['${A}:${B:-2}', { A: '1' }, '1:2']
  ]
  for (const [value, env, expected] of cases) t.equal(token(value, env), expected, `${value} with ${JSON.stringify(env)}`)
  const errors: Array<[string, NodeJS.ProcessEnv, string]> = [
    ['${T}', {}, 'influx.retention_policy: environment variable T is not set'],
    ['${T:?set T to the bridge token}', {}, 'influx.retention_policy: environment variable T is not set: set T to the bridge token'],
    ['${T:?}', { T: '' }, 'influx.retention_policy: environment variable T is empty'],
    ['${T?x}', {}, 'influx.retention_policy: environment variable T is not set: x'],
    ['${T:+alt}', { T: 'a' }, 'influx.retention_policy: ${T:+alt} is not a supported reference: use ${VAR}, ${VAR:-default} or ${VAR:?message} (and $${…} for a literal ${…})'],
    ['${ T }', {}, 'influx.retention_policy: ${ T } is not a supported reference: use ${VAR}, ${VAR:-default} or ${VAR:?message} (and $${…} for a literal ${…})']
  ]
  for (const [value, env, message] of errors) {
    const err = t.throws(() => token(value, env)) as ConfigError
    t.equal(err.message, message, value)
  }
  t.equal(token('${T?x}', { T: '' }), '', '? without a colon accepts an empty value')
})
/* eslint-enable no-template-curly-in-string */

t.test('stateFileProblem: a directory that is missing is named; a writable one is fine', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'cfg-'))
  t.equal(stateFileProblem(join(tmp, 'state.json')), undefined)
  t.equal(stateFileProblem(join(tmp, 'gone', 'state.json')), `push.state_file: ${join(tmp, 'gone')} does not exist (ENOENT): push mode, backfill and meters that push cannot save their state there`)
  t.equal(stateFileProblem('./egauge-bridge-state.json'), undefined, 'relative to the working directory')
})
