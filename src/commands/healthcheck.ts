/**
 * `egauge-bridge healthcheck`: asks the bridge running on this machine for /healthz, for the
 * Docker image's HEALTHCHECK. A health check runs as its own process, without the server's
 * arguments, so it finds the address as the server chose it: the running `serve`'s --listen,
 * else server.listen of the config file it runs with, else the default.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { configPath, loadConfigFile } from '../config/load.js'
import { parseDuration } from '../config/duration.js'
import { DEFAULTS, parseListen } from '../config/schema.js'
import { args, type CommandHelp, UsageError, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'healthcheck',
  summary: 'Asks the bridge running on this machine for /healthz; exits 0 when it answers 200, 1 otherwise (the Docker image\'s HEALTHCHECK). The address is the running serve\'s --listen, else server.listen of its config file, else 0.0.0.0:9430.',
  options: [
    ['--url URL', 'ask this URL instead (like http://127.0.0.1:9430/healthz)'],
    ['--timeout D', 'how long to wait for the answer (default: 3s)']
  ],
  examples: ['egauge-bridge healthcheck', 'egauge-bridge healthcheck --url http://127.0.0.1:9500/healthz']
}

/** `findServer`: the running server's arguments (tests give their own; the default reads /proc). */
export async function healthcheck (argv: string[], out: Out, findServer: () => string[] | undefined = runningServeArgs): Promise<number> {
  const { values } = args(argv, { url: { type: 'string' }, timeout: { type: 'string' } }, 0, HELP)
  const timeoutMs = parseDuration((values.timeout as string | undefined) ?? '3s')
  if (timeoutMs === undefined || timeoutMs < 100) throw new UsageError('--timeout must be a duration of at least 100ms (like 3s)', HELP)
  const url = (values.url as string | undefined) ?? healthUrl(findServer(), listenOfConfig)
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await res.arrayBuffer()
    out(`${url}: ${res.status}\n`)
    return res.status === 200 ? 0 : 1
  } catch (err) {
    out(`${url}: no answer (${(err as Error).name === 'TimeoutError' ? `none within ${timeoutMs} ms` : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message)})\n`)
    return 1
  }
}

/**
 * The /healthz URL of a server started with `serveArgs` (its arguments after the program; undefined
 * when no server was found): its --listen, else its config's server.listen, else the default.
 * A wildcard address is asked on the loopback. Pure but for `listenOf`.
 */
export function healthUrl (serveArgs: string[] | undefined, listenOf: (configFlag: string | undefined) => { host: string, port: number } | undefined): string {
  let listen: string | undefined
  let config: string | undefined
  if (serveArgs !== undefined) {
    const { values } = parseArgs({ args: serveArgs, options: { listen: { type: 'string' }, config: { type: 'string' } }, strict: false, allowPositionals: true })
    listen = typeof values.listen === 'string' ? values.listen : undefined
    config = typeof values.config === 'string' ? values.config : undefined
  }
  let address: { host: string, port: number }
  try {
    address = listen !== undefined ? parseListen(listen, '--listen') : listenOf(config) ?? parseListen(DEFAULTS.server.listen, 'server.listen')
  } catch {
    address = parseListen(DEFAULTS.server.listen, 'server.listen')
  }
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '[::1]' : address.host.includes(':') ? `[${address.host}]` : address.host
  return `http://${host}:${address.port}/healthz`
}

/** server.listen of the config file the server runs with (its --config, else the usual search). */
export function listenOfConfig (flag: string | undefined): { host: string, port: number } | undefined {
  const file = configPath(flag, process.env)
  if (file === undefined) return undefined
  try {
    const { host, port } = loadConfigFile(file).config.server
    return { host, port }
  } catch {
    return undefined
  }
}

/** The arguments of a running `egauge-bridge serve` on this machine (Linux /proc), if one runs. */
export function runningServeArgs (proc = '/proc'): string[] | undefined {
  let pids: string[]
  try {
    pids = readdirSync(proc).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
  } catch {
    return undefined
  }
  for (const pid of pids) {
    let argv: string[]
    try {
      argv = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
    } catch {
      continue // gone meanwhile, or not ours to read
    }
    const program = argv.findIndex((a) => basename(a) === 'cli.js' || basename(a) === 'egauge-bridge')
    if (program < 0) continue
    const rest = argv.slice(program + 1)
    const command = rest[0] === undefined || rest[0].startsWith('-') ? 'serve' : rest[0]
    if (command === 'serve') return rest[0] === 'serve' ? rest.slice(1) : rest
  }
  return undefined
}
