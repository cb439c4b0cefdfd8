/** Builds the real app around a config, with logs captured for assertions. */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { validateConfig, type Config } from '../../src/config/schema.js'
import { buildApp, type Live } from '../../src/server/app.js'
import { MeterHub } from '../../src/server/hub.js'
import { createSelfMetrics, type SelfMetrics } from '../../src/server/self-metrics.js'

export interface TestBridge {
  app: FastifyInstance
  config: Config
  metrics: SelfMetrics
  live: Live
  /** Every log line written so far, as text. */
  logs: () => string
  close: () => Promise<void>
}

export function testBridge (raw: unknown, opts: { push?: boolean, processMetrics?: boolean, now?: () => number } = {}): TestBridge {
  const config = validateConfig(raw)
  const metrics = createSelfMetrics(opts.processMetrics ?? false)
  let captured = ''
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      captured += chunk.toString()
      done()
    }
  })
  const state: { live?: Live } = {}
  const app = buildApp({ live: () => state.live!, metrics, push: opts.push ?? false, logger: { level: 'info', stream } })
  const live = { config, hub: new MeterHub(config.sensors, { cacheTtlMs: config.server.cacheTtlMs, metrics, log: app.log, ...(opts.now === undefined ? {} : { now: opts.now }) }) }
  state.live = live
  return {
    app,
    config,
    metrics,
    live,
    logs: () => captured,
    close: async () => {
      await app.close()
      await live.hub.close()
    }
  }
}
