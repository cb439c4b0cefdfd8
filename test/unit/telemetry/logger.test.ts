import { hostname } from 'node:os'
import t from 'tap'
import { pinoLogger, silentLogger } from '../../../src/telemetry/logger.js'

t.test('pinoLogger writes one pino JSON line per event', async (t) => {
  const lines: string[] = []
  const log = pinoLogger((text) => lines.push(text), () => 1_700_000_000_000)
  log.info({ sensor: 's' }, 'started')
  log.warn({}, 'careful')
  log.error({ code: 'X' }, 'failed')
  const base = { time: 1_700_000_000_000, pid: process.pid, hostname: hostname() }
  t.same(lines.map((l) => JSON.parse(l)), [
    { level: 30, ...base, sensor: 's', msg: 'started' },
    { level: 40, ...base, msg: 'careful' },
    { level: 50, ...base, code: 'X', msg: 'failed' }
  ], 'the same fields as serve\'s lines (Fastify\'s pino)')
  t.ok(lines.every((l) => l.endsWith('}\n')), 'one line each')
})

t.test('silentLogger accepts every level and writes nothing', async (t) => {
  t.equal(silentLogger.info({}, 'a'), undefined)
  t.equal(silentLogger.warn({}, 'b'), undefined)
  t.equal(silentLogger.error({}, 'c'), undefined)
})
