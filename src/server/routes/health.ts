/** `GET /healthz`, `GET /readyz` and the bridge's own `GET /metrics`. */
import type { FastifyInstance } from 'fastify'
import { PROMETHEUS_CONTENT_TYPE } from '../../formats/prometheus.js'
import type { AppOptions } from '../app.js'
import { VERSION } from '../../util/version.js'

export function healthRoutes (app: FastifyInstance, opts: AppOptions): void {
  app.get('/healthz', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'))

  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready?.() ?? true
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', sensors: opts.live().config.sensors.length, push: opts.push, version: VERSION })
  })

  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.registry.metrics()
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(body)
  })
}
