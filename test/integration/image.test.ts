/**
 * The Docker image's runtime conditions, reproduced without Docker (it cannot run here): the built
 * CLI as a non-root user (`nobody`), in the image's working directory (the state volume) with the
 * image's environment read from the Dockerfile, saving its checkpoints; a working directory it
 * cannot write, reported by check-config; its HEALTHCHECK command finding the server's address;
 * and the image without a config, which must say so instead of running the demo in silence.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli.js'
import { healthcheck, healthUrl, listenOfConfig, runningServeArgs } from '../../src/commands/healthcheck.js'
import { Simulator } from '../../src/simulator/server.js'
import { startInflux } from '../helpers/influxdb.js'
import { freePort } from '../helpers/ports.js'

const root = new URL('../../', import.meta.url).pathname
const bin = join(root, 'dist', 'cli.js')
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
const NOBODY = 65534

/**
 * Runs the built CLI as `nobody`, asynchronously (the simulated meter is served by this very
 * process). Without tap's NODE_OPTIONS: its coverage hook would write into the root-owned .tap/.
 */
async function asNobody (argv: string[], cwd: string, config: string): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, bin, ...argv], { cwd, uid: NOBODY, gid: NOBODY, env: { PATH: process.env.PATH, EGAUGE_BRIDGE_CONFIG: config } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { status, stdout, stderr }
}

/** The last WORKDIR, the VOLUME, the USER and the ENV of the image's final stage. */
const image = {
  workdir: [...runtime.matchAll(/^WORKDIR (\S+)$/gm)].pop()![1]!,
  volume: /^VOLUME (\S+)$/m.exec(runtime)![1]!,
  user: /^USER (\S+)$/m.exec(runtime)![1]!,
  configEnv: /EGAUGE_BRIDGE_CONFIG=(\S+)/.exec(runtime)![1]!
}

t.test('the Dockerfile: state in a volume that is the working directory, non-root, a config path, a health check that finds the server', async (t) => {
  t.equal(image.workdir, image.volume, 'relative state files land in the volume')
  t.equal(image.volume, '/var/lib/egauge-bridge')
  t.equal(image.user, 'node')
  t.equal(image.configEnv, '/etc/egauge-bridge/egauge-bridge.yml')
  t.match(runtime, /^ {4}MALLOC_MMAP_THRESHOLD_=131072 \\$/m, 'glibc returns freed push batches to the system (README "Performance")')
  t.match(runtime, /^ {4}NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=1024"$/m, 'V8 keeps its heap near what is live (README "Performance")')
  t.match(runtime, /^HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "\/app\/dist\/cli\.js", "healthcheck"\]$/m)
  t.match(runtime, /chown node:node \/var\/lib\/egauge-bridge/)
  t.match(runtime, /org\.opencontainers\.image\.licenses="MIT"/)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string, license: string, dependencies: Record<string, string> }
  t.match(runtime, new RegExp(`^ARG VERSION=${pkg.version.replace(/\./g, '\\.')}$`, 'm'), 'the label version is the package version')
  t.equal(pkg.license, 'MIT')
  t.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /^MIT License/)
  t.notOk('fast-xml-parser' in pkg.dependencies, 'fast-xml-parser is for tests and benchmarks only')
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n')
  for (const path of ['node_modules', 'dist', '.git', '.tap']) t.ok(ignored.includes(path), `.dockerignore: ${path}`)
})

t.test('as the image runs it: non-root, in the state volume, with the image\'s config path; checkpoints saved there', async (t) => {
  const sim = new Simulator({ seed: 5 })
  const meter = await sim.listen()
  const influx = await startInflux()
  t.teardown(async () => { await sim.close(); await influx.stop() })
  const base = mkdtempSync(join(tmpdir(), 'image-'))
  chmodSync(base, 0o755)
  const volume = join(base, 'var-lib-egauge-bridge')
  mkdirSync(volume)
  chownSync(volume, NOBODY, NOBODY)
  const config = join(base, 'egauge-bridge.yml')
  // The push.state_file default (./egauge-bridge-state.json), as a user's config leaves it.
  writeFileSync(config, `sensors:\n  - name: house\n    url: ${meter}\ninflux:\n  url: ${influx.url}\n  database: image\n`)
  chmodSync(config, 0o644)
  const probe = await asNobody(['--version'], volume, config)
  t.equal(probe.status, 0, `nobody can run ${process.execPath} (every directory above it must be world-executable): ${probe.stderr}`)
  const run = await asNobody(['push', '--once'], volume, config)
  t.equal(run.status, 0, run.stdout + run.stderr)
  t.notMatch(run.stdout, /"level":(40|50)/, 'no warning, no error')
  const state = JSON.parse(readFileSync(join(volume, 'egauge-bridge-state.json'), 'utf8')) as { checkpoints: Record<string, number> }
  t.ok(state.checkpoints.house! > 1_700_000_000, 'the checkpoint is in the volume')
  const [count] = await influx.query('SELECT count("value") FROM egauge WHERE register = \'Grid\'', 'image')
  t.ok((count!.series![0]!.values[0]![1] as number) >= 300, 'the cycle was written')

  // The same config from a directory the user cannot write (the image before this change: /app).
  const check = await asNobody(['check-config'], base, config)
  t.equal(check.status, 0, 'still a valid config')
  t.match(check.stdout, new RegExp(`^warning: push\\.state_file: ${base} is not writable by this user \\(EACCES\\): push mode, backfill and meters that push cannot save their state there$`, 'm'))
  const push = await asNobody(['push', '--once'], base, config)
  t.match(push.stdout, /"level":40,.*"msg":"push\.state_file: .* is not writable by this user \(EACCES\)/, 'push warns at start-up')
  t.notOk(existsSync(join(base, 'egauge-bridge-state.json')))
})

t.test('without its config the image says what to do; serve --demo runs the demo on purpose', async (t) => {
  const saved = process.env.EGAUGE_BRIDGE_CONFIG
  process.env.EGAUGE_BRIDGE_CONFIG = '/etc/egauge-bridge/nonexistent.yml'
  t.teardown(() => { if (saved === undefined) delete process.env.EGAUGE_BRIDGE_CONFIG; else process.env.EGAUGE_BRIDGE_CONFIG = saved })
  let err = ''
  t.equal(await main(['--push'], () => {}, (s) => { err += s }), 2)
  t.equal(err, 'egauge-bridge: cannot read config file /etc/egauge-bridge/nonexistent.yml: ENOENT (EGAUGE_BRIDGE_CONFIG names it): mount your config file there, or run "serve --demo" for the built-in demo meter\n')
  err = ''
  t.equal(await main(['serve', '--demo', '--push'], () => {}, (s) => { err += s }), 2)
  t.match(err, /--demo runs the demo meter alone: not with --config or --push/)
  err = ''
  t.equal(await main(['serve', '--config', '/nonexistent.yml'], () => {}, (s) => { err += s }), 2)
  t.equal(err, 'egauge-bridge: cannot read config file /nonexistent.yml: ENOENT\n', 'a --config the user typed needs no hint')

  const port = await freePort()
  const demo = spawn(process.execPath, [bin, 'serve', '--demo', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EGAUGE_BRIDGE_CONFIG: '/etc/egauge-bridge/nonexistent.yml' } })
  const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve))
  await new Promise<void>((resolve) => demo.stdout.on('data', (d: Buffer) => { if (d.toString().includes('egauge-bridge listening')) resolve() }))
  const sensors = await (await fetch(`http://127.0.0.1:${port}/api/sensors`)).json() as { sensors: Array<{ name: string }> }
  t.same(sensors.sensors.map((s) => s.name), ['demo'])

  // The HEALTHCHECK command, as Docker runs it: a process of its own that finds the server.
  const health = spawnSync(process.execPath, [bin, 'healthcheck', '--url', `http://127.0.0.1:${port}/healthz`], { encoding: 'utf8' })
  t.equal(health.status, 0)
  t.equal(health.stdout, `http://127.0.0.1:${port}/healthz: 200\n`)
  // No --url: the server's --listen (here found by the test, not in /proc, where other tests' bridges run).
  let said = ''
  t.equal(await healthcheck([], (s) => { said += s }, () => ['--demo', '--listen', `0.0.0.0:${port}`]), 0)
  t.equal(said, `http://127.0.0.1:${port}/healthz: 200\n`)
  // Or its config's server.listen.
  const file = join(mkdtempSync(join(tmpdir(), 'image-')), 'bridge.yml')
  writeFileSync(file, `server:\n  listen: 127.0.0.1:${port}\n`)
  t.same(listenOfConfig(file), { host: '127.0.0.1', port })
  said = ''
  t.equal(await healthcheck([], (s) => { said += s }, () => ['--config', file]), 0)
  t.equal(said, `http://127.0.0.1:${port}/healthz: 200\n`)
  t.equal(listenOfConfig('/nonexistent.yml'), undefined, 'an unreadable config: none')
  delete process.env.EGAUGE_BRIDGE_CONFIG
  t.equal(listenOfConfig(undefined), undefined, 'no config at all: none')
  t.equal(await main(['healthcheck', '--timeout', '5ms'], () => {}, () => {}), 2, 'a usage error')
  demo.kill('SIGTERM')
  t.equal(await exited, 0)
  const dead = spawnSync(process.execPath, [bin, 'healthcheck', '--url', `http://127.0.0.1:${port}/healthz`, '--timeout', '1s'], { encoding: 'utf8' })
  t.equal(dead.status, 1)
  t.equal(dead.stdout, `http://127.0.0.1:${port}/healthz: no answer (ECONNREFUSED)\n`)
})

t.test('healthcheck finds the address as the server chose it', async (t) => {
  const none = (): undefined => undefined
  t.equal(healthUrl(undefined, none), 'http://127.0.0.1:9430/healthz', 'no server found: the default')
  t.equal(healthUrl(['--push', '--listen', '0.0.0.0:9500'], none), 'http://127.0.0.1:9500/healthz', '--listen, wildcard asked on the loopback')
  t.equal(healthUrl(['--listen=10.0.0.5:9431'], none), 'http://10.0.0.5:9431/healthz')
  t.equal(healthUrl(['--listen', '[::]:9430'], none), 'http://[::1]:9430/healthz')
  t.equal(healthUrl(['--listen', '[fd00::5]:9430'], none), 'http://[fd00::5]:9430/healthz')
  t.equal(healthUrl(['--listen', 'bogus'], none), 'http://127.0.0.1:9430/healthz', 'an unreadable --listen: the default')
  const configs: Array<string | undefined> = []
  const fromConfig = (flag: string | undefined): { host: string, port: number } => {
    configs.push(flag)
    return { host: '127.0.0.2', port: 9600 }
  }
  t.equal(healthUrl(['--config', '/etc/b.yml', '--push'], fromConfig), 'http://127.0.0.2:9600/healthz', 'server.listen of its config')
  t.equal(healthUrl(undefined, fromConfig), 'http://127.0.0.2:9600/healthz', 'no server found: the config the environment names')
  t.same(configs, ['/etc/b.yml', undefined])

  // /proc as Linux lays it out: a simulator, a healthcheck, then the server.
  const proc = mkdtempSync(join(tmpdir(), 'proc-'))
  const process_ = (pid: number, argv: string[]): void => {
    mkdirSync(join(proc, String(pid)))
    writeFileSync(join(proc, String(pid), 'cmdline'), argv.join('\0') + '\0')
  }
  process_(1, ['node', '/app/dist/cli.js', 'simulate', '--listen', '0.0.0.0:8080'])
  process_(7, ['node', '/app/dist/cli.js', 'healthcheck'])
  mkdirSync(join(proc, '8')) // a process that ended meanwhile
  mkdirSync(join(proc, 'self'))
  t.equal(runningServeArgs(proc), undefined, 'no server among them')
  process_(9, ['node', '/app/dist/cli.js', '--push', '--config', '/etc/egauge-bridge/egauge-bridge.yml'])
  t.same(runningServeArgs(proc), ['--push', '--config', '/etc/egauge-bridge/egauge-bridge.yml'])
  process_(3, ['/usr/local/bin/egauge-bridge', 'serve', '--listen', '127.0.0.1:9431'])
  t.same(runningServeArgs(proc), ['--listen', '127.0.0.1:9431'], 'the installed binary, serve named')
  t.equal(runningServeArgs(join(proc, 'missing')), undefined, 'no /proc')
})
