import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli.js'
import { Simulator } from '../../src/simulator/server.js'
import { promtoolCheck } from '../helpers/promtool.js'

async function run (argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, (s) => { out += s }, (s) => { err += s })
  return { code, out, err }
}

const tmp = mkdtempSync(join(tmpdir(), 'cli-'))
const configDir = new URL('../config/', import.meta.url).pathname

t.test('once demo: line protocol of the 24 demo registers plus totals', async (t) => {
  const r = await run(['once', 'demo'])
  t.equal(r.code, 0, r.err)
  const lines = r.out.trim().split('\n')
  t.equal(lines.length, 26)
  t.match(lines[0], /^egauge,quantity=power,register=Grid,sensor=demo,site=demo,unit=W value=-?[\d.]+,total=-?[\d.e+]+ \d{19}$/)
  t.match(r.out, /register=Total\\ Usage,sensor=demo,site=demo,unit=W,virtual=true /)
})

t.test('once demo --format prometheus passes promtool; openmetrics ends in # EOF', async (t) => {
  const prom = await run(['once', 'demo', '--format', 'prometheus'])
  t.equal(prom.code, 0)
  t.match(prom.out, /^# HELP egauge_sensor_info/)
  t.match(prom.out, /egauge_voltage_volts\{sensor="demo",register="L1 Voltage"\} 1\d\d(\.\d+)?\n/)
  t.equal(promtoolCheck(prom.out).status, 0, promtoolCheck(prom.out).stderr)
  const om = await run(['once', 'demo', '--format', 'openmetrics', '--window', '5m'])
  t.equal(om.code, 0)
  t.match(om.out, /# EOF\n$/)
})

t.test('once with a window: one point per step', async (t) => {
  const r = await run(['once', 'demo', '--window', '1m', '--step', '1s', '--precision', 's'])
  t.equal(r.code, 0, r.err)
  const grid = r.out.split('\n').filter((l) => l.includes('register=Grid,'))
  t.equal(grid.length, 60)
  t.match(grid[0], / \d{10}$/, 'seconds precision')
})

t.test('usage and configuration errors exit 2 with one line', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['once'], /once needs a sensor name/],
    [['once', 'demo', 'extra'], /unexpected argument "extra"/],
    [['once', 'x', '--config', join(configDir, 'empty.yml')], /unknown sensor "x" \(configured: none\)/],
    [['once', 'nope'], /unknown sensor "nope" \(configured: demo\)/],
    [['once', 'demo', '--format', 'xml'], /format must be influx, prometheus or openmetrics/],
    [['once', 'demo', '--window', '5 minutes'], /window must be a duration/],
    [['once', 'demo', '--bogus'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['check-config', '--config', join(configDir, 'invalid', 'bad-url.yml')], /sensors\[0\]\.url: "not a url" is not a URL/],
    [['migrate-config'], /migrate-config needs the legacy config file/],
    [['migrate-config', '/nonexistent'], /cannot read \/nonexistent: ENOENT/],
    [['simulate', '--auth', 'nocolon'], /--auth must be user:pass/],
    [['simulate', '--seed', 'x'], /--seed must be a whole number/],
    [['serve', '--log-level', 'loud'], /--log-level must be one of fatal, error, warn, info, debug, trace, silent/]
  ]
  for (const [argv, message] of cases) {
    const r = await run(argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err.split('\n')[0], message)
  }
  const bad = await run(['once', 'demo', '--bogus'])
  t.equal(bad.err, "egauge-bridge: Unknown option '--bogus'\nusage: egauge-bridge once <sensor> [options] (egauge-bridge once --help for more)\n", "one line for the error, one for the command's usage")
  t.match((await run(['frobnicate'])).err, /^egauge-bridge: unknown command "frobnicate"\nusage: egauge-bridge \[command\] \[options\]\n\ncommands:\n/, 'the program usage for an unknown command')
})

t.test('--help for the program and every command, --version: exit 0 on stdout', async (t) => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await run(argv)
    t.same([r.code, r.err], [0, ''], argv.join(' '))
    for (const command of ['serve', 'push', 'once', 'backfill', 'check-config', 'migrate-config', 'simulate']) t.match(r.out, new RegExp(`^ {2}${command} +\\S`, 'm'), `${argv.join(' ')} lists ${command}`)
  }
  const expected: Record<string, RegExp[]> = {
    serve: [/^usage: egauge-bridge serve\n/, /--push /, /--shard I\/N /, /--log-level L /, / {2}egauge-bridge --push --config bridge\.yml\n/],
    push: [/^usage: egauge-bridge push\n/, /--once /, /egauge-bridge push --once --config bridge\.yml/],
    once: [/^usage: egauge-bridge once <sensor>\n/, /--format F /, /--window D /, /--step S /, /--precision P /, /egauge-bridge once demo\n/],
    backfill: [/^usage: egauge-bridge backfill <sensor…> --from T\n/, /--from T /, /--to T /],
    'check-config': [/^usage: egauge-bridge check-config\n/, /--config FILE /],
    'migrate-config': [/^usage: egauge-bridge migrate-config <legacy-file>\n/],
    simulate: [/^usage: egauge-bridge simulate\n/, /--name N /, /--control /, /--auth USER:PASS /]
  }
  for (const [command, patterns] of Object.entries(expected)) {
    for (const argv of [[command, '--help'], [command, '-h'], ['help', command]]) {
      const r = await run(argv)
      t.same([r.code, r.err], [0, ''], argv.join(' '))
      for (const p of patterns) t.match(r.out, p, `${argv.join(' ')}: ${p}`)
      t.match(r.out, /-h, --help +print this help/)
    }
  }
  const v = await run(['--version'])
  t.same([v.code, v.out], [0, `egauge-bridge ${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version} (Node.js ${process.version})\n`])
  t.equal((await run(['-V'])).out, v.out)
})

t.test('demo mode with a bad --listen or a busy port exits instead of hanging', async (t) => {
  const bad = await run(['--listen', 'nonsense'])
  t.equal(bad.code, 2)
  t.match(bad.err, /^egauge-bridge: --listen: "nonsense" is not host:port\n/)
  const { createServer } = await import('node:net')
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => busy.close())
  const port = (busy.address() as { port: number }).port
  const taken = await run(['--listen', `127.0.0.1:${port}`, '--log-level', 'silent'])
  t.equal(taken.code, 1)
  t.match(taken.err, /EADDRINUSE/)
  // If the demo meter were left running, this test file would never end (tap's timeout).
})

t.test('once over the WebAPI: the same output as over XML, the password never printed', async (t) => {
  const sim = new Simulator({ seed: 9, clock: () => 1_700_000_040_000, auth: { username: 'owner', password: 'once-secret' } })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const file = join(tmp, 'both.yml')
  writeFileSync(file, ['sensors:', ...['x', 'j'].map((name) => `  - { name: ${name}, url: "${url}", api: ${name === 'x' ? 'xml' : 'webapi'}, username: owner, password: once-secret }`)].join('\n') + '\n')
  for (const options of [[], ['--window', '5m', '--step', '1m'], ['--format', 'prometheus'], ['--format', 'openmetrics', '--window', '15m']]) {
    const viaXml = await run(['once', 'x', '--config', file, ...options])
    const viaJson = await run(['once', 'j', '--config', file, ...options])
    t.equal(viaJson.code, 0, viaJson.err)
    t.equal(viaJson.err, '')
    // Only egauge_sensor_info tells the protocols apart (README "JSON WebAPI"), and fetch times differ.
    const same = (text: string): string => text.replaceAll('sensor="j"', 'sensor="x"').replaceAll('sensor=j', 'sensor=x').replace(/^egauge_sensor_info\{.*$/m, '').replace(/(egauge_fetch_duration_seconds\{[^}]*\}) \S+/, '$1 0')
    t.equal(same(viaJson.out), same(viaXml.out), `once ${options.join(' ') || '(current values)'}`)
    t.ok(viaJson.out.length > 1000)
    t.notMatch(viaJson.out + viaJson.err, 'once-secret')
  }
})

t.test('a meter failure exits 1 with the sensor and the cause', async (t) => {
  const sim = new Simulator()
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const file = join(tmp, 'one.yml')
  writeFileSync(file, `sensors:\n  - name: m1\n    url: ${url}\n    timeout: 300ms\n`)
  sim.fault = { hang: true }
  const hang = await run(['once', 'm1', '--config', file])
  t.equal(hang.code, 1)
  t.equal(hang.err, 'egauge-bridge: sensor m1: meter did not answer within 0.3s [EGAUGE_TIMEOUT]\n')
  sim.fault = { body: '<html>proxy error</html>' }
  const garbage = await run(['once', 'm1', '--config', file])
  t.equal(garbage.code, 1)
  t.match(garbage.err, /sensor m1: unreadable meter answer: expected <data> as the document root, got <html> \[EGAUGE_PARSE\]/)
})

t.test('an unexpected runtime failure exits 1', async (t) => {
  const sim = new Simulator()
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const r = await run(['simulate', '--listen', url.replace('http://', '')])
  t.equal(r.code, 1)
  t.match(r.err, /^egauge-bridge: listen EADDRINUSE/)
})

t.test('backfill: usage errors, a run to a real InfluxDB, plain progress lines off a terminal', async (t) => {
  const usage: Array<[string[], RegExp]> = [
    [['backfill'], /backfill needs at least one sensor name/],
    [['backfill', 'm1'], /--from is required/],
    [['backfill', 'm1', '--from', 'yesterday'], /--from "yesterday" is not an ISO 8601 time/],
    [['backfill', 'm1', '--from', '2023-11-14T00:00:00Z', '--to', '2023-11-13T00:00:00Z'], /--from must be before --to/],
    [['backfill', 'm1', '--from', '2023-11-14T00:00:00Z', '--to', '2023-11-14T01:00:00Z', '--config', join(configDir, 'empty.yml')], /unknown sensor "m1"/],
    [['serve', '--shard', '3/2'], /--shard must be i\/n/]
  ]
  for (const [argv, message] of usage) {
    const r = await run(argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, message)
  }
  const { startInflux } = await import('../helpers/influxdb.js')
  const influx = await startInflux()
  t.teardown(() => influx.stop())
  const sim = new Simulator() // the wall clock, like the CLI's
  const url = await sim.listen()
  const to = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400
  const iso = (s: number): string => new Date(s * 1000).toISOString()
  t.teardown(() => sim.close())
  const file = join(tmp, 'backfill.yml')
  writeFileSync(file, `sensors:\n  - name: m1\n    url: ${url}\n    registers: [Grid]\ninflux:\n  url: ${influx.url}\n  database: cli\npush:\n  state_file: ${join(tmp, 'bf.json')}\n`)
  const r = await run(['backfill', 'm1', '--from', iso(to - 86_400), '--to', iso(to), '--step', '1m', '--config', file])
  t.equal(r.code, 0, r.err)
  t.match(r.err, /^m1 \[-+\] {3}0% 0 points\n/)
  t.match(r.err, /m1 \[#{30}\] 100% 1440 points\n$/)
  const [res] = await influx.query('SELECT count("value") FROM egauge', 'cli')
  t.equal(res!.series![0]!.values[0]![1], 1440, 'a day of minutes')
  t.equal((await run(['backfill', 'm1', '--from', '2023-11-14T00:00:00Z', '--step', '5s', '--config', file])).code, 2, 'a bad step')
  t.match((await run(['backfill', 'm1', '--from', '2023-11-14T00:00:00Z'])).err, /backfill needs a config file with the database/)
  sim.fault = { status: 503 }
  const failed = await run(['backfill', 'm1', '--from', iso(to - 3600), '--to', iso(to), '--step', '1m', '--config', file])
  sim.fault = undefined
  t.equal(failed.code, 1, 'a backfill that could not finish exits 1')
  t.match(failed.out, /"code":"EGAUGE_HTTP_STATUS".*meter answered HTTP 503/, 'logs on stdout, the progress bar on stderr')
  t.equal((await run(['backfill', 'm1', '--from', '2023-11-14T00:00:00Z', '--config', join(tmp, 'missing.yml')])).code, 2)
})

t.test('push --once writes one cycle for every sensor into a real InfluxDB and exits; a failed sensor exits 1', async (t) => {
  const { startInflux } = await import('../helpers/influxdb.js')
  const influx = await startInflux()
  t.teardown(() => influx.stop())
  const sims = [new Simulator({ seed: 1 }), new Simulator({ seed: 2 })] // the wall clock, like the CLI's
  const urls = await Promise.all(sims.map(async (s) => await s.listen()))
  t.teardown(async () => { for (const s of sims) await s.close() })
  const file = join(tmp, 'push-once.yml')
  writeFileSync(file, `sensors:\n  - name: p1\n    url: ${urls[0]}\n    registers: [Grid]\n  - name: p2\n    url: ${urls[1]}\n    registers: [Grid]\ninflux:\n  url: ${influx.url}\n  database: once\n  create_database: true\npush:\n  interval: 1m\n  state_file: ${join(tmp, 'push-once.json')}\n`)
  const r = await run(['push', '--once', '--config', file])
  t.equal(r.code, 0, r.err)
  const done = r.out.trim().split('\n').map((l) => JSON.parse(l) as { msg: string, points?: number, failed?: number }).find((l) => l.msg === 'push cycle done')
  t.match(done, { failed: 0, points: 120 }, 'a minute of 1-second rows for each of two sensors, logged as JSON lines on stdout')
  const [res] = await influx.query('SELECT count("value") FROM egauge GROUP BY sensor', 'once')
  t.same(res!.series!.map((s) => [s.tags!.sensor, s.values[0]![1]]), [['p1', 60], ['p2', 60]])
  const again = await run(['push', '--once', '--config', file])
  t.equal(again.code, 0, 'the next run resumes from the checkpoints')
  await sims[1]!.close()
  // A cycle with no new second has nothing to fetch: let the wall clock pass one.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const failed = await run(['push', '--once', '--config', file])
  t.equal(failed.code, 1, 'a sensor that could not be written exits 1')
  t.match(failed.out, /"sensor":"p2".*"code":"EGAUGE_UNREACHABLE"/)
  t.match((await run(['push', '--once'])).err, /push needs a config file with the database/)
  const shard = await run(['push', '--once', '--shard', '0/3', '--config', file])
  t.equal(shard.code, 2)
  t.match(shard.err, /^egauge-bridge: --shard must be i\/n/)
  // Without --once: the loop, until a stop signal (emitted here, so this process keeps running).
  setTimeout(() => process.emit('SIGTERM', 'SIGTERM'), 500)
  const loop = await run(['push', '--config', file, '--shard', '1/1'])
  t.equal(loop.code, 0)
  t.match(loop.out, /"once":false.*"msg":"push mode on"/)
  t.match(loop.out, /"signal":"SIGTERM","msg":"shutting down"/)
})

t.test('the built binary: Ctrl-C stops a backfill after a chunk; the same command resumes it', async (t) => {
  const { startInflux } = await import('../helpers/influxdb.js')
  const influx = await startInflux()
  t.teardown(() => influx.stop())
  const sim = new Simulator()
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const file = join(tmp, 'sigint.yml')
  writeFileSync(file, `sensors:\n  - name: m1\n    url: ${url}\n    registers: [Grid]\ninflux:\n  url: ${influx.url}\n  database: sigint\npush:\n  state_file: ${join(tmp, 'sigint.json')}\n`)
  const to = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400
  const argv = ['backfill', 'm1', '--from', new Date((to - 20 * 86_400) * 1000).toISOString(), '--to', new Date(to * 1000).toISOString(), '--step', '1m', '--config', file]
  sim.fault = { latencyMs: 150 } // slow enough to interrupt between chunks
  const bin = new URL('../../dist/cli.js', import.meta.url).pathname
  const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  while (!/\d+ points/.test(stderr.split('\n').slice(1).join('\n'))) await new Promise((resolve) => setTimeout(resolve, 20))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGINT')
  t.equal(await exited, 1)
  t.match(stdout, /backfill interrupted: run the same command again to resume/, 'the log line on stdout')
  sim.fault = undefined
  const resumed = await run(argv)
  t.equal(resumed.code, 0)
  t.match(resumed.out, /resuming an interrupted backfill/)
  const [res] = await influx.query('SELECT count("value") FROM egauge', 'sigint')
  t.equal(res!.series![0]!.values[0]![1], 20 * 1440, 'every minute of 20 days, once')
})

t.test('check-config and migrate-config', async (t) => {
  const ok = await run(['check-config', '--config', join(configDir, 'peper-2019.yml')])
  t.equal(ok.code, 0)
  t.equal(ok.out, `${join(configDir, 'peper-2019.yml')}: ok (legacy Peper format, 2 sensors)\n`)
  const migrated = await run(['migrate-config', join(configDir, 'peper-2019.yml')])
  t.equal(migrated.code, 0)
  t.match(migrated.out, /schema: peper/)
  const file = join(tmp, 'migrated.yml')
  writeFileSync(file, migrated.out)
  t.equal((await run(['check-config', '--config', file])).out, `${file}: ok (2 sensors)\n`)
  t.equal((await run(['check-config'])).code, 2, 'no config file to check')
  const warn = join(tmp, 'warn.yml')
  writeFileSync(warn, 'sensors:\n  m1: {}\ndatabase:\n  database: { name: p, ip: h }\nforever: 1\n')
  t.equal((await run(['check-config', '--config', warn])).out, `warning: forever: unknown key in a legacy config, ignored\n${warn}: ok (legacy Peper format, 1 sensor)\n`)
  t.match((await run(['help'])).out, /^usage: egauge-bridge/)
  // The values the 2019 script wrote differently from their text are named, the password never quoted.
  const nice = await run(['check-config', '--config', join(configDir, 'peper-2019-nice.yml')])
  t.match(nice.out, /^warning: sensors\.eGauge700\.CP: 06000 was read by the 2019 script as an octal integer \(YAML 1\.1: a leading 0\) and written as "3072"/m)
  t.match(nice.out, /: ok \(legacy Peper format, 2 sensors\)\n$/)
  // Node takes a new TZ at once (it resets its zone cache when process.env.TZ is set).
  const zone = process.env.TZ
  process.env.TZ = 'Europe/Paris'
  const niceMigrated = await run(['migrate-config', join(configDir, 'peper-2019-nice.yml')])
  if (zone === undefined) delete process.env.TZ
  else process.env.TZ = zone
  t.match(niceMigrated.out, /^ {6}CP: "3072"$/m, 'the script\'s value, quoted')
  t.match(niceMigrated.out, /its points sit 3600 s in winter and 7200 s in summer after true UTC/, 'the host zone\'s offset')
  t.match(niceMigrated.out, /^ {4}influx:\n {6}url: http:\/\/192\.168\.1\.11:8087\n {6}database: peper_nice_2$/m, 'the second sensor\'s own block')
})

t.test('the built binary: simulate serves a meter, once reads it, SIGTERM stops it', async (t) => {
  const bin = new URL('../../dist/cli.js', import.meta.url).pathname
  const sim = spawn(process.execPath, [bin, 'simulate', '--listen', '127.0.0.1:0', '--seed', '4', '--auth', 'owner:pw'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const line = await new Promise<string>((resolve) => sim.stdout.once('data', (d: Buffer) => resolve(d.toString())))
  const url = (JSON.parse(line) as { url: string }).url
  const file = join(tmp, 'sim.yml')
  writeFileSync(file, `sensors:\n  - name: s\n    url: ${url}\n    username: owner\n    password: pw\n`)
  const r = await run(['once', 's', '--config', file, '--format', 'prometheus'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /egauge_power_watts\{sensor="s",register="Grid"\}/)
  const exit = new Promise<number | null>((resolve) => sim.once('exit', resolve))
  sim.kill('SIGTERM')
  t.equal(await exit, 0)
})
