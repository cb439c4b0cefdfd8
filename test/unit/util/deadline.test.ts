import { getEventListeners } from 'node:events'
import t from 'tap'
import { deadline } from '../../../src/util/deadline.js'
import { sleep } from '../../../src/util/sleep.js'
import { dependants } from '../../helpers/signals.js'

t.test('the time runs out: the signal aborts with a TimeoutError and says it timed out', async (t) => {
  const parent = new AbortController()
  const limit = deadline(5, parent.signal)
  t.notOk(limit.timedOut())
  await sleep(30)
  t.ok(limit.signal.aborted)
  t.equal((limit.signal.reason as DOMException).name, 'TimeoutError')
  t.ok(limit.timedOut())
  t.equal(getEventListeners(parent.signal, 'abort').length, 0, 'the parent is let go when the time is up')
  limit.release()
})

t.test('the caller aborts: the signal aborts with its reason, and it is not a timeout', async (t) => {
  const parent = new AbortController()
  const limit = deadline(10_000, parent.signal)
  parent.abort(new Error('shutting down'))
  t.ok(limit.signal.aborted)
  t.match(limit.signal.reason, /shutting down/)
  t.notOk(limit.timedOut())
  limit.release()
})

t.test('a caller that has already aborted: aborted at once', async (t) => {
  const parent = new AbortController()
  parent.abort(new Error('gone'))
  const limit = deadline(10_000, parent.signal)
  t.ok(limit.signal.aborted)
  t.match(limit.signal.reason, /gone/)
  limit.release()
})

t.test('without a caller\'s signal, only the time limit', async (t) => {
  const limit = deadline(1, undefined)
  await sleep(20)
  t.ok(limit.timedOut())
  const early = deadline(10_000)
  early.release()
  await sleep(1)
  t.notOk(early.signal.aborted, 'released: the timer is stopped')
})

t.test('10 000 requests under one long-lived signal leave nothing on it (AbortSignal.any leaks here on Node 20)', async (t) => {
  const parent = new AbortController()
  for (let i = 0; i < 10_000; i++) deadline(30_000, parent.signal).release()
  t.equal(getEventListeners(parent.signal, 'abort').length, 0)
  t.equal(dependants(parent.signal)?.size ?? 0, 0)
  // The helper above can see the leak it guards against: one AbortSignal.any() leaves its mark.
  AbortSignal.any([parent.signal])
  t.equal(dependants(parent.signal)?.size, 1)
})
