import t from 'tap'
import { parseRetryAfter, statusError } from '../../../src/sinks/write-error.js'

t.test('failure classification (README "Push mode") and Retry-After', async (t) => {
  const cases: Array<[number, string, string]> = [
    [400, 'INFLUX_REJECTED', 'rejected'], [413, 'INFLUX_REJECTED', 'rejected'], [422, 'INFLUX_REJECTED', 'rejected'],
    [401, 'INFLUX_AUTH', 'config'], [403, 'INFLUX_AUTH', 'config'], [404, 'INFLUX_NOT_FOUND', 'config'],
    [429, 'INFLUX_UNAVAILABLE', 'retry'], [500, 'INFLUX_UNAVAILABLE', 'retry'], [503, 'INFLUX_UNAVAILABLE', 'retry']
  ]
  for (const [status, code, kind] of cases) {
    const e = statusError(status, 'msg', undefined)
    t.same([e.code, e.kind, e.status, e.message], [code, kind, status, `InfluxDB answered HTTP ${status}: msg`], String(status))
  }
  t.equal(statusError(429, '', '7').retryAfterMs, 7000)
  t.equal(statusError(502, '', undefined).message, 'InfluxDB answered HTTP 502')
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000)
  t.equal(parseRetryAfter('soon'), undefined)
  t.equal(parseRetryAfter(' '), undefined)
})
