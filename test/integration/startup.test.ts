/**
 * What start-up loads (#17): the built modules in a fresh Node process, without the test runner's
 * own imports, so that a static import of Fastify, undici or the InfluxDB client in the wrong
 * place fails here. Each library is loaded on first use instead (src/util/lazy.ts).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { Simulator } from '../../src/simulator/server.js'

const dist = new URL('../../dist/', import.meta.url).href

// Prints, after each step, which of the heavy packages are in the CommonJS module cache (where
// both require() and an ESM import of a CommonJS package register it).
const script = (meterUrl: string, influx: object): string => `
import { createRequire } from 'node:module'
import { createBridge } from '${dist}bridge/bridge.js'
import { validateConfig } from '${dist}config/schema.js'
const cache = createRequire(import.meta.url).cache
const loaded = () => ['fastify', 'undici', '@influxdata/influxdb-client', '@fastify/ajv-compiler'].filter((p) => Object.keys(cache).some((f) => f.includes('/node_modules/' + p + '/')))
const steps = {}
const bridge = createBridge({ config: validateConfig({ sensors: [{ name: 'm', url: '${meterUrl}' }], influx: ${JSON.stringify(influx)} }), processMetrics: false })
steps.created = loaded()
await bridge.live().pool.answer('m', { kind: 'current' }, 5000)
steps.fetched = loaded()
await bridge.writer().write('m v=1 1').catch(() => {})
steps.written = loaded()
await bridge.app.ready()
steps.app = loaded()
await bridge.close()
console.log(JSON.stringify(steps))
`

t.test('a new bridge loads neither Fastify nor undici nor the InfluxDB client until it needs them', async (t) => {
  const sim = new Simulator({ seed: 1 })
  const meterUrl = await sim.listen()
  t.teardown(() => sim.close())
  const run = async (influx: object): Promise<unknown> => JSON.parse((await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script(meterUrl, influx)])).stdout)
  t.same(await run({ url: 'http://127.0.0.1:9', database: 'x', timeout: '200ms' }), {
    created: [],
    fetched: ['undici'],
    written: ['undici'],
    app: ['fastify', 'undici']
  }, 'InfluxDB 1.x writes with undici; the app needs no schema compiler')
  t.same(await run({ version: 2, url: 'http://127.0.0.1:9', org: 'o', bucket: 'b', token: 't', timeout: '200ms' }), {
    created: [],
    fetched: ['undici'],
    written: ['undici', '@influxdata/influxdb-client'],
    app: ['fastify', 'undici', '@influxdata/influxdb-client']
  }, 'InfluxDB 2.x writes with its client')
})

t.test('serve loads no copy of Node\'s own undici: no module on its path imports node:http as ESM', async (t) => {
  const internalUndici = async (body: string): Promise<string[]> => JSON.parse((await promisify(execFile)(process.execPath, ['--input-type=module', '-e',
    `${body}\nconsole.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('deps/undici'))))`])).stdout) as string[]
  t.same(await internalUndici(`
import '${dist}commands/serve.js'
import { createBridge } from '${dist}bridge/bridge.js'
import { validateConfig } from '${dist}config/schema.js'
const bridge = createBridge({ config: validateConfig({ sensors: [{ name: 'm', url: 'http://127.0.0.1:9' }] }) })
await bridge.app.ready()
await bridge.close()`), [])
  // The check can see what it guards against: on Node 24 (22 from one of its minors, not 20) an
  // ESM import of node:http builds its facade, whose lazy WebSocket export loads undici (10 ms of
  // CPU at start-up, measured with --cpu-prof).
  if (Number(process.versions.node.split('.')[0]) >= 24) t.not((await internalUndici('import \'node:http\'')).length, 0)
})
