import t from 'tap'
import { jsonLineLogger, silentLogger } from '../../../src/telemetry/logger.js'

t.test('jsonLineLogger writes one pino-shaped JSON line per event', async (t) => {
  const lines: string[] = []
  const log = jsonLineLogger((text) => lines.push(text), () => 1_700_000_000_000)
  log.info({ sensor: 's' }, 'started')
  log.warn({}, 'careful')
  log.error({ code: 'X' }, 'failed')
  t.same(lines.map((l) => JSON.parse(l)), [
    { level: 30, time: 1_700_000_000_000, sensor: 's', msg: 'started' },
    { level: 40, time: 1_700_000_000_000, msg: 'careful' },
    { level: 50, time: 1_700_000_000_000, code: 'X', msg: 'failed' }
  ])
  t.ok(lines.every((l) => l.endsWith('}\n')), 'one line each')
})

t.test('silentLogger accepts every level and writes nothing', async (t) => {
  t.equal(silentLogger.info({}, 'a'), undefined)
  t.equal(silentLogger.warn({}, 'b'), undefined)
  t.equal(silentLogger.error({}, 'c'), undefined)
})
