/**
 * The Fastify app (DESIGN §5), built by a function and never listening by itself, so tests call
 * inject(). Routes, bridge auth, and the one mapping of errors to HTTP answers.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Config, ServerAuth } from '../config/schema.js'
import { EgaugeError } from '../errors.js'
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../formats/prometheus.js'
import { BadRequestError, parseMetricsRequest, type MetricsParams } from '../metrics-request.js'
import { renderAnswer, type OutputFormat } from '../render.js'
import type { MeterHub } from './hub.js'
import type { SelfMetrics } from './self-metrics.js'
import { statusPage } from './status-page.js'

/** What a reload swaps as one unit. */
export interface Live {
  config: Config
  hub: MeterHub
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
}

export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

class NotFoundError extends Error {}

const INFLUX_CONTENT_TYPE = 'text/plain; charset=utf-8'
const contentTypes: Record<OutputFormat, string> = {
  influx: INFLUX_CONTENT_TYPE,
  prometheus: PROMETHEUS_CONTENT_TYPE,
  openmetrics: OPENMETRICS_CONTENT_TYPE
}

/** Builds the app; does not listen. */
export function buildApp (opts: AppOptions): FastifyInstance {
  const now = opts.now ?? Date.now
  const app = Fastify({
    logger: opts.logger ?? false,
    // One line per failed fetch is logged by the hub; a line per scrape would drown it.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true
  })

  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz' || req.url === '/readyz') return
    const auth = opts.live().config.server.auth
    if (!authorized(auth, req.headers.authorization)) {
      reply.header('www-authenticate', auth.kind === 'basic' ? 'Basic realm="egauge-bridge", charset="UTF-8"' : 'Bearer realm="egauge-bridge"')
      throw Object.assign(new Error('missing or wrong credentials'), { statusCode: 401 })
    }
  })

  app.get('/healthz', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'))

  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready?.() ?? true
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', sensors: opts.live().config.sensors.length, push: opts.push, version: VERSION })
  })

  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.registry.metrics()
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(body)
  })

  app.get<{ Params: { sensor: string }, Querystring: MetricsParams }>('/metrics/:sensor', async (req, reply) => {
    return await sensorMetrics(req.params.sensor, req, reply)
  })

  app.get<{ Querystring: MetricsParams & { target?: string } }>('/probe', async (req, reply) => {
    const target = req.query.target
    if (typeof target !== 'string' || target === '') throw new BadRequestError('target is required')
    return await sensorMetrics(target, req, reply)
  })

  app.get('/api/sensors', async () => {
    const { hub } = opts.live()
    return { push: opts.push, sensors: hub.statuses().map((s) => ({ ...s, lastFetch: iso(s.lastFetch), lastError: s.lastError === undefined ? null : { ...s.lastError, at: iso(s.lastError.at) }, push: s.push ?? null })) }
  })

  app.get('/', async (_req, reply) => {
    const page = statusPage({ version: VERSION, sensors: opts.live().hub.statuses(), push: opts.push, now: now() })
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:").send(page)
  })

  async function sensorMetrics (name: string, req: FastifyRequest<{ Querystring: MetricsParams }>, reply: FastifyReply): Promise<FastifyReply> {
    const { config, hub } = opts.live()
    // The name is only ever a key into the config: no URL, host or path from a request reaches a meter.
    const sensor = hub.sensor(name)
    if (sensor === undefined) throw new NotFoundError('unknown sensor')
    const q = req.query
    const request = parseMetricsRequest({ format: str(q.format), precision: str(q.precision), window: str(q.window), step: str(q.step) }, req.headers.accept)
    const deadline = deadlineMs(sensor.timeoutMs, req.headers['x-prometheus-scrape-timeout-seconds'])
    const body = await hub.body(name, request, deadline, async (answer) => await renderAnswer(sensor, config.influx, answer, request))
    return reply.type(contentTypes[request.format]).send(body)
  }

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n'))

  app.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
    const status = statusFor(err)
    if (status >= 500 && !(err instanceof EgaugeError)) req.log.error({ err }, 'internal error')
    // 5xx internals stay in the log; meter errors are ours and safe to show.
    const message = status === 500 ? 'internal error' : err.message.split('\n')[0]
    return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`)
  })

  return app
}

/** The one mapping of errors to HTTP status codes (DESIGN §5). */
export function statusFor (err: Error & { statusCode?: number }): number {
  if (err instanceof NotFoundError) return 404
  if (err instanceof BadRequestError) return 400
  if (err instanceof EgaugeError) return err.code === 'EGAUGE_TIMEOUT' ? 504 : 502
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return err.statusCode
  return 500
}

/** The sensor's timeout, capped by Prometheus's scrape timeout minus 0.5 s of margin. */
export function deadlineMs (timeoutMs: number, scrapeTimeoutHeader: string | string[] | undefined): number {
  const seconds = Number(Array.isArray(scrapeTimeoutHeader) ? scrapeTimeoutHeader[0] : scrapeTimeoutHeader)
  if (!Number.isFinite(seconds) || seconds <= 0) return timeoutMs
  return Math.max(100, Math.min(timeoutMs, seconds * 1000 - 500))
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
function constantTimeEqual (a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

function str (v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new BadRequestError('repeated query parameter')
  return v
}

function iso (ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}
