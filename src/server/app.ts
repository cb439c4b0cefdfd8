/**
 * The Fastify app, built by a function and never listening by itself, so tests call inject():
 * bridge auth, the routes (one file per group in routes/), and the one mapping of errors to HTTP
 * answers. The process around it is wired by bridge/ and commands/serve.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify'
import type { ServerAuth } from '../config/schema.js'
import type { Live } from '../meters/pool.js'
import { BadRequestError, EgaugeError, ReceiveError } from '../model/errors.js'
import type { SelfMetrics } from '../telemetry/self-metrics.js'
import { lazyRequire } from '../util/lazy.js'
import { NotFoundError, plainClientError } from './errors.js'
import type { BridgeInfo } from './status-page.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes } from './routes/metrics.js'
import { receiveRoutes, type ReceiveHandler } from './routes/receive.js'
import { statusRoutes } from './routes/status.js'

// Loaded when the first app is built: once, push --once and backfill run no server.
const fastify = lazyRequire<typeof import('fastify')>('fastify')

/**
 * Fastify loads Ajv and fast-json-stringify when it builds its schema controller, at start-up,
 * although the bridge's routes declare no schema: 0.05–0.1 s of CPU for nothing. These factories
 * load Fastify's own compilers (resolved from Fastify's directory) only if a schema ever needs one.
 */
type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
function compilersFactory (): CompilersFactory {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
  return {
    buildValidator: (...args) => (fromFastify('@fastify/ajv-compiler') as () => NonNullable<CompilersFactory['buildValidator']>)()(...args),
    buildSerializer: (...args) => (fromFastify('@fastify/fast-json-stringify-compiler') as () => NonNullable<CompilersFactory['buildSerializer']>)()(...args)
  }
}

export interface AppOptions {
  /** Read on every request, so a SIGHUP reload takes effect atomically. */
  live: () => Live
  metrics: SelfMetrics
  /** Whether push mode runs (shown on the status page). */
  push: boolean
  /** Fastify logger options (level, stream); false for none. */
  logger?: FastifyServerOptions['logger']
  /** Becomes true once the listener is up. */
  ready?: () => boolean
  now?: () => number
  /** The bridge as a whole, for the status page (version, uptime, config, push cycle). */
  info?: () => BridgeInfo
  /** `POST /-/reload`: reloads the config file (as SIGHUP); absent when there is none (demo). */
  reload?: () => Promise<boolean>
  /** `POST /receive/:sensor`: where meters' pushes go; absent when no sensor receives. */
  receiver?: () => ReceiveHandler | undefined
}

/** Builds the app; does not listen. */
export function buildApp (opts: AppOptions): FastifyInstance {
  const { default: Fastify, LogController } = fastify()
  const app = Fastify({
    logger: opts.logger ?? false,
    // One line per failed fetch is logged by the meter pool; a line per scrape would drown it.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    schemaController: { compilersFactory: compilersFactory() },
    clientErrorHandler: plainClientError,
    // Errors the router raises before any handler (a URL that does not decode): one plain line
    // too, without echoing the URL back.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).type('text/plain; charset=utf-8').send(err.code === 'FST_ERR_BAD_URL' ? 'malformed URL\n' : 'bad request\n')
    }
  })

  app.addHook('onRequest', async (req, reply) => {
    // A meter pushing sends its own credentials, checked by the receive route (it cannot send the bridge's).
    if (req.url === '/healthz' || req.url === '/readyz' || req.url.startsWith('/receive/')) return
    const auth = opts.live().config.server.auth
    if (!authorized(auth, req.headers.authorization)) {
      reply.header('www-authenticate', auth.kind === 'basic' ? 'Basic realm="egauge-bridge", charset="UTF-8"' : 'Bearer realm="egauge-bridge"')
      throw Object.assign(new Error('missing or wrong credentials'), { statusCode: 401 })
    }
  })

  healthRoutes(app, opts)
  metricsRoutes(app, opts)
  statusRoutes(app, opts)
  receiveRoutes(app, opts)

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n'))

  app.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
    const status = statusFor(err)
    if (status >= 500 && !(err instanceof EgaugeError)) req.log.error({ err }, 'internal error')
    // 5xx internals stay in the log; meter errors are ours and safe to show.
    const message = status === 500 ? 'internal error' : err.message.split('\n')[0]
    if (err instanceof ReceiveError && err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds))
    return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`)
  })

  return app
}

/** The one mapping of errors to HTTP status codes (README "HTTP API"). */
export function statusFor (err: Error & { statusCode?: number }): number {
  if (err instanceof NotFoundError) return 404
  if (err instanceof ReceiveError) return err.status
  if (err instanceof BadRequestError) return 400
  if (err instanceof EgaugeError) return err.code === 'EGAUGE_TIMEOUT' ? 504 : 502
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return err.statusCode
  return 500
}

function authorized (auth: ServerAuth, header: string | undefined): boolean {
  if (auth.kind === 'none') return true
  if (header === undefined) return false
  const expected = auth.kind === 'bearer'
    ? `Bearer ${auth.token}`
    : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
  return constantTimeEqual(header, expected)
}

/** Compares secrets in constant time: hashing first makes the lengths equal too. */
export function constantTimeEqual (a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}
