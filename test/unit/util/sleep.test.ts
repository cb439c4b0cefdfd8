import t from 'tap'
import { sleep } from '../../../src/util/sleep.js'

t.test('sleep rejects when aborted', async (t) => {
  const c = new AbortController()
  const p = sleep(10_000, c.signal)
  c.abort(new Error('stop'))
  await t.rejects(p, /stop/)
  await sleep(1)
})
