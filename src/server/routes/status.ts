/** `GET /api/sensors` (JSON) and `GET /` (the HTML status page drawn from the same data). */
import type { FastifyInstance } from 'fastify'
import { isPulled } from '../../config/schema.js'
import type { MeterIdentity } from '../../model/readings.js'
import type { ErrorStatus, ReceivedPush } from '../../telemetry/status-book.js'
import type { AppOptions } from '../app.js'
import { statusPage, type BridgeInfo } from '../status-page.js'
import { gather } from '../status-view.js'
import { VERSION } from '../../util/version.js'

export function statusRoutes (app: FastifyInstance, opts: AppOptions): void {
  const now = opts.now ?? Date.now
  const started = now()
  const info = opts.info ?? ((): BridgeInfo => ({ version: VERSION, startedAt: started, configFile: undefined, demo: false, lastReload: undefined, push: undefined }))

  // Every time is an ISO 8601 UTC string or null; durations carry their unit in their name.
  app.get('/api/sensors', async () => {
    const { book, config, pool } = opts.live()
    return {
      push: opts.push,
      sensors: book.statuses().map((s) => ({
        ...s,
        // How the bridge reads it (null for a meter that only pushes), and its login's state.
        api: config.sensors.find((c) => c.name === s.name && c.url !== undefined)?.api ?? null,
        token: pool.source(s.name)?.tokenState?.() ?? null,
        // Who the meter says it is (the WebAPI, with the view_settings right); null where unknown.
        ...identityJson(pool.source(s.name)?.identity?.()),
        lastFetch: iso(s.lastFetch),
        lastSuccess: iso(s.lastSuccess),
        lastError: errorJson(s.lastError),
        recentErrors: s.recentErrors.map((e) => ({ ...e, at: iso(e.at) })),
        push: s.push === undefined
          ? null
          : { ...s.push, checkpoint: iso(unixSecondsToMs(s.push.checkpoint)), lastSuccess: iso(unixSecondsToMs(s.push.lastSuccess)), lagSeconds: s.push.lagSeconds ?? null, clockOffsetSeconds: s.push.clockOffsetSeconds ?? null, clockSkewed: s.push.clockSkewed ?? false, lastError: errorJson(s.push.lastError) },
        url: s.url ?? null,
        receive: s.receive === undefined
          ? null
          : {
              state: s.receive.state,
              intervalSeconds: s.receive.intervalMs / 1000,
              lastAttempt: pushJson(s.receive.lastAttempt),
              lastSuccess: pushJson(s.receive.lastSuccess),
              newest: iso(unixSecondsToMs(s.receive.newest)),
              lagSeconds: s.receive.lagSeconds ?? null,
              lastError: errorJson(s.receive.lastError)
            }
      }))
    }
  })

  app.post('/-/reload', async (_req, reply) => {
    // As blackbox_exporter's: the same reload as SIGHUP, behind the bridge's auth when set.
    if (opts.reload === undefined) return await reply.code(400).type('text/plain; charset=utf-8').send('nothing to reload: no config file (demo mode)\n')
    const ok = await opts.reload()
    return await reply.code(ok ? 200 : 500).type('text/plain; charset=utf-8').send(ok ? 'config reloaded\n' : 'config reload failed: the running config stays (the log says why)\n')
  })

  app.get('/', async (req, reply) => {
    const { config, pool, book } = opts.live()
    const statuses = book.statuses()
    const meters = await gather(pool, config.sensors.filter(isPulled), statuses, now())
    const page = statusPage({
      info: info(),
      // Read after the fetches, so the page shows their outcome.
      sensors: book.statuses(),
      timeoutsMs: new Map(config.sensors.map((s) => [s.name, s.timeoutMs])),
      protocols: new Map(config.sensors.filter(isPulled).map((s) => [s.name, protocolLabel(s.api, pool.source(s.name)?.tokenState?.(), pool.source(s.name)?.identity?.().serialNumber)])),
      meters,
      baseUrl: `${req.protocol}://${req.host}`,
      auth: config.server.auth.kind,
      now: now()
    })
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:").send(page)
  })
}

/** What the status page says of how a meter is read: never the token itself. */
function protocolLabel (api: string, token: string | undefined, serialNumber: string | undefined): string {
  if (api === 'xml') return 'XML API'
  return `JSON WebAPI, ${token === 'valid' ? 'logged in' : token === 'refused' ? 'login refused' : 'not logged in'}${serialNumber === undefined ? '' : `, serial number ${serialNumber}`}`
}

function identityJson (identity: MeterIdentity | undefined): { serialNumber: string | null, hostname: string | null } {
  return { serialNumber: identity?.serialNumber ?? null, hostname: identity?.hostname ?? null }
}

function iso (ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}

function unixSecondsToMs (unix: number | undefined): number | undefined {
  return unix === undefined ? undefined : unix * 1000
}

function errorJson (e: ErrorStatus | undefined): { code: string, message: string, at: string | null } | null {
  return e === undefined ? null : { ...e, at: iso(e.at) }
}

function pushJson (p: ReceivedPush | undefined): { at: string | null, rows: number, points: number, durationMs: number } | null {
  return p === undefined ? null : { at: iso(p.at), rows: p.rows, points: p.points, durationMs: Math.round(p.durationMs) }
}
