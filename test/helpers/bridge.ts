/** Builds the real bridge (createBridge, as the commands do) around a config, with logs captured for assertions. */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { createBridge, type Bridge, type BridgeOptions } from '../../src/bridge/bridge.js'
import { validateConfig, type Config } from '../../src/config/schema.js'
import type { Live } from '../../src/meters/pool.js'
import type { SelfMetrics } from '../../src/telemetry/self-metrics.js'

export interface TestBridge {
  bridge: Bridge
  app: FastifyInstance
  config: Config
  metrics: SelfMetrics
  /** The bridge's current config, pool and status book. */
  readonly live: Live
  /** Every log line written so far, as text. */
  logs: () => string
  close: () => Promise<void>
}

export type TestBridgeOptions = Omit<BridgeOptions, 'config' | 'logger'>

export function testBridge (raw: unknown, opts: TestBridgeOptions = {}): TestBridge {
  const config = validateConfig(raw)
  let captured = ''
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      captured += chunk.toString()
      done()
    }
  })
  const bridge = createBridge({ config, processMetrics: false, ready: () => true, ...opts, logger: { level: 'info', stream } })
  return {
    bridge,
    app: bridge.app,
    config,
    metrics: bridge.metrics,
    get live () { return bridge.live() },
    logs: () => captured,
    close: async () => { await bridge.close() }
  }
}
