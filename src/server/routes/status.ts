/** `GET /api/sensors` (JSON) and `GET /` (the HTML status page drawn from the same data). */
import type { FastifyInstance } from 'fastify'
import type { AppOptions } from '../app.js'
import { statusPage } from '../status-page.js'
import { VERSION } from '../../util/version.js'

export function statusRoutes (app: FastifyInstance, opts: AppOptions): void {
  const now = opts.now ?? Date.now

  app.get('/api/sensors', async () => {
    const { book } = opts.live()
    return { push: opts.push, sensors: book.statuses().map((s) => ({ ...s, lastFetch: iso(s.lastFetch), lastError: s.lastError === undefined ? null : { ...s.lastError, at: iso(s.lastError.at) }, push: s.push ?? null })) }
  })

  app.get('/', async (_req, reply) => {
    const page = statusPage({ version: VERSION, sensors: opts.live().book.statuses(), push: opts.push, now: now() })
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:").send(page)
  })
}

function iso (ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}
