/** `egauge-bridge simulate`: a simulated eGauge meter on its own (for docker compose and demos). */
import { parseListen } from '../config/schema.js'
import { parseDuration } from '../config/duration.js'
import { Pusher } from '../simulator/pusher.js'
import { Simulator } from '../simulator/server.js'
import { pinoLogger } from '../telemetry/logger.js'
import { args, type CommandHelp, UsageError, waitForSignal, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'simulate',
  summary: 'Runs a simulated eGauge meter that speaks the XML API (egauge?inst, egauge-show) and the JSON WebAPI (/api/register, /api/sys/db, /api/sys/sn, JWT login with --auth) and, with --push-to, pushes its data as a real meter does, for demos, tests and docker compose.',
  options: [
    ['--listen H:P', 'where to listen (default: 127.0.0.1:8080)'],
    ['--seed N', 'which meter: the same seed gives the same registers and values (default: 1)'],
    ['--auth USER:PASS', 'require HTTP Digest authentication, as a meter with a password does'],
    ['--name N', 'the name in its log line'],
    ['--control', 'add the test routes /__sim/fault, /__sim/clock and /__sim/requests'],
    ['--push-to URL', 'also push its data to this URL (a bridge\'s /receive/<sensor>), as eGauge "data sharing" does'],
    ['--push-interval D', 'how often to push (default: 60s)'],
    ['--push-user U', 'HTTP Basic user for the pushes (with --push-password)'],
    ['--push-password P', 'HTTP Basic password for the pushes (or EGAUGE_PUSH_PASSWORD)'],
    ['--push-max N', 'rows per push at most, oldest first (default: 900, as the meter\'s max)'],
    ['--gzip', 'gzip-encode the pushes']
  ],
  examples: ['egauge-bridge simulate --listen 0.0.0.0:8080 --seed 2', 'egauge-bridge simulate --auth owner:secret --control', 'egauge-bridge simulate --push-to http://localhost:9430/receive/cabin --push-user pusher --push-password secret --gzip']
}

export async function simulate (argv: string[], out: Out): Promise<number> {
  const { values } = args(argv, {
    listen: { type: 'string' },
    seed: { type: 'string' },
    auth: { type: 'string' },
    name: { type: 'string' },
    control: { type: 'boolean' },
    'push-to': { type: 'string' },
    'push-interval': { type: 'string' },
    'push-user': { type: 'string' },
    'push-password': { type: 'string' },
    'push-max': { type: 'string' },
    gzip: { type: 'boolean' }
  }, 0, HELP)
  const { host, port } = parseListen((values.listen as string | undefined) ?? '127.0.0.1:8080', '--listen')
  const seed = values.seed === undefined ? 1 : Number(values.seed)
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be a whole number', HELP)
  let auth: { username: string, password: string } | undefined
  if (values.auth !== undefined) {
    const text = values.auth as string
    const colon = text.indexOf(':')
    if (colon <= 0) throw new UsageError('--auth must be user:pass', HELP)
    auth = { username: text.slice(0, colon), password: text.slice(colon + 1) }
  }
  const pusher = pusherFor(values as Record<string, unknown>)
  const sim = new Simulator({ seed, ...(auth === undefined ? {} : { auth }), control: values.control === true })
  const url = await sim.listen(port, host)
  const log = pinoLogger(out)
  const name = (values.name as string | undefined) ?? 'egauge-sim'
  log.info({ name, url, seed, auth: auth !== undefined }, 'simulated eGauge meter listening')
  const pushing = pusher === undefined ? undefined : new Pusher(sim.model, { ...pusher.options, clock: () => sim.clock() })
  if (pushing !== undefined) {
    log.info({ name, pushTo: pusher!.target, intervalMs: pusher!.options.intervalMs, gzip: pusher!.options.gzip }, 'pushing its data')
    pushing.start((o) => {
      const ok = o.status !== undefined && o.status >= 200 && o.status < 300
      if (ok) log.info({ name, status: o.status, rows: o.rows, cursor: o.cursor }, 'push acknowledged')
      else if (o.rows > 0) log.warn({ name, status: o.status, rows: o.rows, cursor: o.cursor, error: o.error }, 'push not acknowledged: the same rows go again at the next interval')
    })
  }
  await waitForSignal()
  pushing?.stop()
  await sim.close()
  return 0
}

/** The --push-* options, checked; undefined without --push-to. */
function pusherFor (values: Record<string, unknown>): { options: ConstructorParameters<typeof Pusher>[1], target: string } | undefined {
  const to = values['push-to'] as string | undefined
  if (to === undefined) {
    if (values['push-interval'] !== undefined || values['push-user'] !== undefined || values.gzip !== undefined) throw new UsageError('--push-interval, --push-user and --gzip need --push-to', HELP)
    return undefined
  }
  let target: URL
  try {
    target = new URL(to)
  } catch {
    throw new UsageError('--push-to must be an http:// or https:// URL', HELP)
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UsageError('--push-to must be an http:// or https:// URL', HELP)
  const intervalMs = parseDuration((values['push-interval'] as string | undefined) ?? '60s')
  if (intervalMs === undefined || intervalMs < 1000) throw new UsageError('--push-interval must be a duration of at least 1s (like 60s)', HELP)
  const user = values['push-user'] as string | undefined
  const password = (values['push-password'] as string | undefined) ?? process.env.EGAUGE_PUSH_PASSWORD
  if ((user === undefined) !== (password === undefined)) throw new UsageError('--push-user and --push-password go together', HELP)
  const max = values['push-max'] === undefined ? 900 : Number(values['push-max'])
  if (!Number.isInteger(max) || max < 1 || max > 100_000) throw new UsageError('--push-max must be a whole number from 1 to 100000', HELP)
  return {
    target: `${target.origin}${target.pathname}`,
    options: { url: target.href, intervalMs, gzip: values.gzip === true, max, ...(user === undefined ? {} : { auth: { username: user, password: password! } }) }
  }
}
