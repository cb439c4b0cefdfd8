import { getEventListeners } from 'node:events'
import t from 'tap'
import { sleep } from '../../../src/util/sleep.js'

t.test('sleep rejects when aborted', async (t) => {
  const c = new AbortController()
  const p = sleep(10_000, c.signal)
  c.abort(new Error('stop'))
  await t.rejects(p, /stop/)
  await sleep(1)
})

t.test('an already-aborted signal rejects at once, without waiting', async (t) => {
  const c = new AbortController()
  c.abort(new Error('gone'))
  const started = performance.now()
  await t.rejects(sleep(10_000, c.signal), /gone/)
  t.ok(performance.now() - started < 100)
})

t.test('a sleep that ends leaves no listener on the signal (500 sleeps, one signal)', async (t) => {
  const c = new AbortController()
  // each sleep(0) is a 1 ms timer: 500 of them show a leak as surely as 10 000, in 1/20 of the time
  for (let i = 0; i < 500; i++) await sleep(0, c.signal)
  t.equal(getEventListeners(c.signal, 'abort').length, 0)
})
