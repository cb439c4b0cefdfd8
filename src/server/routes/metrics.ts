/**
 * `GET /metrics/:sensor` and `GET /probe?target=`: a sensor's data. The flow (ARCHITECTURE.md, "How a
 * request flows"): config lookup → parameters → deadline → pooled fetch → parse → render → reply.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../../formats/prometheus.js'
import { renderAnswer } from '../../formats/render.js'
import { BadRequestError } from '../../model/errors.js'
import type { OutputFormat } from '../../model/output.js'
import type { AppOptions } from '../app.js'
import { NotFoundError } from '../errors.js'
import { deadlineMs, meterRequestFor, parseMetricsRequest, renderKey, type MetricsParams } from '../params.js'

const INFLUX_CONTENT_TYPE = 'text/plain; charset=utf-8'
const contentTypes: Record<OutputFormat, string> = {
  influx: INFLUX_CONTENT_TYPE,
  prometheus: PROMETHEUS_CONTENT_TYPE,
  openmetrics: OPENMETRICS_CONTENT_TYPE
}

export function metricsRoutes (app: FastifyInstance, opts: AppOptions): void {
  app.get<{ Params: { sensor: string }, Querystring: MetricsParams }>('/metrics/:sensor', async (req, reply) => {
    return await sensorMetrics(req.params.sensor, req, reply, 'influx')
  })

  app.get<{ Querystring: MetricsParams & { target?: string } }>('/probe', async (req, reply) => {
    const target = req.query.target
    if (typeof target !== 'string' || target === '') throw new BadRequestError('target is required')
    return await sensorMetrics(target, req, reply, 'prometheus')
  })

  /** `fallback`: the format when the request names none (README "HTTP API"). */
  async function sensorMetrics (name: string, req: FastifyRequest<{ Querystring: MetricsParams }>, reply: FastifyReply, fallback: OutputFormat): Promise<FastifyReply> {
    const { config, pool } = opts.live()
    // The name is only ever a key into the config: no URL, host or path from a request reaches a meter.
    const sensor = pool.sensor(name)
    if (sensor === undefined) {
      const pushing = config.sensors.some((s) => s.name === name)
      throw new NotFoundError(pushing ? `sensor ${name} has no url: it pushes its data to the bridge, which writes them to the database` : 'unknown sensor')
    }
    const q = req.query
    const request = parseMetricsRequest({ format: str(q.format), precision: str(q.precision), window: str(q.window), step: str(q.step) }, req.headers.accept, fallback)
    const deadline = deadlineMs(sensor.timeoutMs, req.headers['x-prometheus-scrape-timeout-seconds'])
    const body = await pool.body(name, meterRequestFor(request), renderKey(request), deadline, async (answer) => await renderAnswer(sensor, config.influx, answer, request))
    return reply.type(contentTypes[request.format]).send(body)
  }
}

function str (v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new BadRequestError('repeated query parameter')
  return v
}
