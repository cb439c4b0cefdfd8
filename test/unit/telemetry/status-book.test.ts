import t from 'tap'
import { StatusBook } from '../../../src/telemetry/status-book.js'

const T0 = 1_700_000_000_000
const push = (at: number, rows = 61): { at: number, rows: number, points: number, durationMs: number } => ({ at, rows, points: rows * 2, durationMs: 12 })

t.test('a meter that only pushes: waiting, up, late after two intervals, failing while refused', async (t) => {
  let now = T0
  const book = new StatusBook([{ name: 'cabin', url: undefined, receive: { intervalMs: 60_000 } }, { name: 'house', url: 'http://u:secret@10.0.0.1' }], () => now)
  const read = () => book.statuses().find((s) => s.name === 'cabin')!
  t.equal(read().receive!.state, 'waiting')
  t.equal(read().state, 'unknown', 'a push-only meter is unknown until it pushes')
  t.equal(read().url, undefined)
  t.equal(book.statuses()[1]!.url, 'http://10.0.0.1', 'credentials never reach the page')
  t.equal(book.statuses()[1]!.receive, undefined)

  now = T0 + 121_000
  t.equal(read().receive!.state, 'late', 'no push for two intervals since start-up')
  t.equal(read().state, 'late')

  book.received('cabin', push(now), Math.floor(now / 1000) - 1)
  now += 30_000
  let s = read()
  t.equal(s.receive!.state, 'up')
  t.equal(s.state, 'up')
  t.equal(s.receive!.lagSeconds, 31, 'the lag grows with the clock, from the newest acknowledged row')
  t.same(s.receive!.lastSuccess, push(T0 + 121_000))

  book.received('cabin', push(now), Math.floor(now / 1000) - 600)
  t.equal(read().receive!.newest, Math.floor((T0 + 121_000) / 1000) - 1, 'an older re-sent push does not move the newest row back')

  book.received('cabin', push(now + 1000, 3), undefined, { code: 'INFLUX_UNREACHABLE', message: 'connect ECONNREFUSED' })
  s = read()
  t.equal(s.receive!.state, 'failing')
  t.equal(s.state, 'down')
  t.equal(s.receive!.lastAttempt!.rows, 3)
  t.same(s.receive!.lastError, { code: 'INFLUX_UNREACHABLE', message: 'connect ECONNREFUSED', at: now + 1000 })
  t.same(s.recentErrors[0], { code: 'INFLUX_UNREACHABLE', message: 'connect ECONNREFUSED', at: now + 1000, source: 'receive' })
  t.same(s.errorCounts, { INFLUX_UNREACHABLE: 1 })

  now += 10 * 60_000
  t.equal(read().receive!.state, 'failing', 'refused outranks late')
  book.received('cabin', push(now), undefined)
  t.equal(read().receive!.state, 'up', 'accepted again, even without rows (newest unchanged)')
  t.equal(read().receive!.lastError, undefined)
  book.received('nobody', push(now), 5)
  t.equal(book.status('nobody'), undefined, 'unknown names are ignored')
  book.received('house', push(now), 5)
  t.equal(book.status('house')!.receive, undefined, 'as are sensors without a receive block')
})

t.test('a meter that is pulled and pushes keeps the state of its fetches', async (t) => {
  let now = T0
  const book = new StatusBook([{ name: 'shed', url: 'http://10.0.0.9', receive: { intervalMs: 60_000 } }], () => now)
  book.fetchSucceeded('shed', 20)
  now += 10 * 60_000
  const [s] = book.statuses()
  t.equal(s!.state, 'up', 'its fetches say up')
  t.equal(s!.receive!.state, 'late', 'its pushes say late')
})
