import { Writable } from 'node:stream'
import t from 'tap'
import { runServer } from '../../../src/commands/serve.js'

t.test('runServer with no config: demo mode, serves the demo meter, SIGHUP is a no-op, stops cleanly', async (t) => {
  let logs = ''
  const logStream = new Writable({ write (chunk: Buffer, _e, done) { logs += chunk.toString(); done() } })
  let stop: (s: string) => void = () => {}
  let base = ''
  let listening: () => void = () => {}
  const up = new Promise<void>((resolve) => { listening = resolve })
  const exited = runServer({
    configFlag: undefined,
    listen: '127.0.0.1:0',
    logLevel: 'info',
    push: false,
    logStream,
    waitForSignal: async () => await new Promise<string>((resolve) => { stop = resolve }),
    onListening: (address) => { base = address; listening() }
  })
  await up
  const r = await fetch(`${base}/metrics/demo?format=prometheus`)
  t.equal(r.status, 200)
  t.match(await r.text(), /egauge_power_watts\{sensor="demo",register="Grid"\}/)
  process.emit('SIGHUP')
  await new Promise((resolve) => setTimeout(resolve, 20))
  stop('SIGTERM')
  const exit = await exited
  t.equal(exit, 0)
  t.match(logs, /demo mode, a built-in simulated meter serves as sensor \\"demo\\"/)
  t.match(logs, /SIGHUP in demo mode: nothing to reload/)
  t.match(logs, /"signal":"SIGTERM","msg":"shutting down"/)
  t.equal(logs.match(/listening/g)?.length, 1, 'one listening line: the bridge\'s, not Fastify\'s "Server listening at" too')
  t.match(logs, /"address":"http:\/\/127\.0\.0\.1:\d+","push":false,"msg":"egauge-bridge listening"/)
})

t.test('runServer with a legacy config logs its warnings and listens where the config says', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'run-'))
  const legacy = join(dir, 'legacy.yml')
  writeFileSync(legacy, 'sensors:\n  m1: { name: m1 }\ndatabase:\n  database: { name: p, ip: 127.0.0.1 }\nforever: true\n')
  const modern = join(dir, 'modern.yml')
  writeFileSync(modern, 'server:\n  listen: 127.0.0.1:0\nsensors: []\n')
  for (const [file, listen] of [[legacy, '127.0.0.1:0'], [modern, undefined]] as const) {
    let logs = ''
    const logStream = new Writable({ write (chunk: Buffer, _e, done) { logs += chunk.toString(); done() } })
    const code = await runServer({ configFlag: file, listen, logLevel: 'info', push: false, logStream, waitForSignal: async () => 'SIGINT' })
    t.equal(code, 0)
    t.match(logs, /"msg":"config loaded"/)
    if (file === legacy) t.match(logs, /"level":40,.*"msg":"forever: unknown key in a legacy config, ignored"/)
    t.match(logs, /"address":"http:\/\/127\.0\.0\.1:\d+"/)
  }
})

t.test('a state file that cannot be saved is said at start-up when something would save it', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'run-'))
  const file = join(dir, 'receive.yml')
  writeFileSync(file, `server:\n  listen: 127.0.0.1:0\nsensors:\n  - name: cabin\n    receive: { username: m, password: receive-secret }\ninflux: { url: "http://127.0.0.1:1" }\npush:\n  state_file: ${join(dir, 'gone', 'state.json')}\n`)
  let logs = ''
  const logStream = new Writable({ write (chunk: Buffer, _e, done) { logs += chunk.toString(); done() } })
  t.equal(await runServer({ configFlag: file, listen: undefined, logLevel: 'info', push: false, logStream, waitForSignal: async () => 'SIGINT' }), 0)
  t.match(logs, /"level":40,.*"msg":"push\.state_file: .*gone does not exist \(ENOENT\): push mode, backfill and meters that push cannot save their state there"/)
})
