/** `GET /healthz`, `GET /readyz` and the bridge's own `GET /metrics`. */
import type { FastifyInstance } from 'fastify'
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../../formats/prometheus.js'
import { openMetricsText } from '../../telemetry/openmetrics.js'
import type { AppOptions } from '../app.js'
import { negotiate } from '../params.js'
import { VERSION } from '../../util/version.js'

export function healthRoutes (app: FastifyInstance, opts: AppOptions): void {
  app.get('/healthz', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'))

  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready?.() ?? true
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', sensors: opts.live().config.sensors.length, push: opts.push, version: VERSION })
  })

  // OpenMetrics when asked for (Prometheus asks for it first), else the Prometheus text format.
  app.get('/metrics', async (req, reply) => {
    const { registry } = opts.metrics
    if (negotiate(req.headers.accept, 'prometheus') === 'openmetrics') {
      return reply.type(OPENMETRICS_CONTENT_TYPE).send(openMetricsText(await registry.getMetricsAsJSON()))
    }
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(await registry.metrics())
  })
}
