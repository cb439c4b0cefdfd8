/** `egauge-bridge simulate`: a simulated eGauge meter on its own (for docker compose and demos). */
import { parseListen } from '../config/schema.js'
import { Simulator } from '../simulator/server.js'
import { pinoLogger } from '../telemetry/logger.js'
import { args, type CommandHelp, UsageError, waitForSignal, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'simulate',
  summary: 'Runs a simulated eGauge meter that speaks the XML API (egauge?inst, egauge-show), for demos, tests and docker compose.',
  options: [
    ['--listen H:P', 'where to listen (default: 127.0.0.1:8080)'],
    ['--seed N', 'which meter: the same seed gives the same registers and values (default: 1)'],
    ['--auth USER:PASS', 'require HTTP Digest authentication, as a meter with a password does'],
    ['--name N', 'the name in its log line'],
    ['--control', 'add the test routes /__sim/fault, /__sim/clock and /__sim/requests']
  ],
  examples: ['egauge-bridge simulate --listen 0.0.0.0:8080 --seed 2', 'egauge-bridge simulate --auth owner:secret --control']
}

export async function simulate (argv: string[], out: Out): Promise<number> {
  const { values } = args(argv, {
    listen: { type: 'string' },
    seed: { type: 'string' },
    auth: { type: 'string' },
    name: { type: 'string' },
    control: { type: 'boolean' }
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
  const sim = new Simulator({ seed, ...(auth === undefined ? {} : { auth }), control: values.control === true })
  const url = await sim.listen(port, host)
  pinoLogger(out).info({ name: values.name ?? 'egauge-sim', url, seed, auth: auth !== undefined }, 'simulated eGauge meter listening')
  await waitForSignal()
  await sim.close()
  return 0
}
