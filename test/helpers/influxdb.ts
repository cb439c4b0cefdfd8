/**
 * A real InfluxDB 1.x (Debian `influxdb`) on free loopback ports, in a temp dir, stopped by PID.
 * Run from the Debian package, with its own config and data directory on free loopback ports.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBinary } from './debian.js'
import { freePort } from './ports.js'

export interface InfluxServer {
  url: string
  pid: number
  /** Runs InfluxQL; returns the parsed JSON `results`. Credentials are used when auth is on. */
  query: (q: string, db?: string) => Promise<Array<{ series?: Array<{ name: string, columns: string[], values: unknown[][], tags?: Record<string, string> }>, error?: string }>>
  /** POSTs line protocol; resolves to the HTTP status and body. */
  write: (db: string, body: string, precision?: string) => Promise<{ status: number, body: string }>
  stop: () => Promise<void>
  /** Stops the server, keeping its data, until resume(). */
  pause: () => Promise<void>
  resume: () => Promise<void>
}

export interface InfluxOptions {
  auth?: { username: string, password: string }
}

export async function startInflux (opts: InfluxOptions = {}): Promise<InfluxServer> {
  const influxd = ensureBinary('/usr/bin/influxd', 'influxdb')
  const dir = mkdtempSync(join(tmpdir(), 'influx-'))
  const port = await freePort()
  const rpc = await freePort()
  writeFileSync(join(dir, 'influxdb.conf'), `reporting-enabled = false
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = ${opts.auth !== undefined}
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
`)
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess
  const authHeader: Record<string, string> = opts.auth === undefined
    ? {}
    : { authorization: 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64') }

  const launch = async (): Promise<void> => {
    child = spawn(influxd, ['-config', join(dir, 'influxdb.conf')], { stdio: 'ignore' })
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`influxd exited with ${child.exitCode}`)
      try {
        const r = await fetch(`${url}/ping`)
        if (r.status === 204) return
      } catch {}
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error('influxd did not become ready in 10 s')
  }
  const halt = async (): Promise<void> => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  await launch()
  if (opts.auth !== undefined) {
    // The first admin may be created without credentials while no user exists.
    const q = `CREATE USER "${opts.auth.username}" WITH PASSWORD '${opts.auth.password}' WITH ALL PRIVILEGES`
    await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q }) })
  }
  return {
    url,
    get pid () { return child.pid! },
    async query (q, db) {
      const params = new URLSearchParams({ q, epoch: 's' })
      if (db !== undefined) params.set('db', db)
      const r = await fetch(`${url}/query`, { method: 'POST', body: params, headers: authHeader })
      const json = await r.json() as { results?: unknown[], error?: string }
      if (json.results === undefined) throw new Error(`query failed: ${json.error ?? r.status}`)
      return json.results as Awaited<ReturnType<InfluxServer['query']>>
    },
    async write (db, body, precision = 'ns') {
      const r = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=${precision}`, { method: 'POST', body, headers: authHeader })
      return { status: r.status, body: await r.text() }
    },
    async stop () {
      await halt()
      rmSync(dir, { recursive: true, force: true })
    },
    pause: halt,
    resume: launch
  }
}
