import t from 'tap'
import { eachLimited } from '../../../src/util/limit.js'

t.test('eachLimited never runs more than the limit at once', async (t) => {
  let running = 0
  let peak = 0
  const out = await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    running++
    peak = Math.max(peak, running)
    await new Promise((resolve) => setTimeout(resolve, 5))
    running--
    return x * 2
  })
  t.same(out, [2, 4, 6, 8, 10, 12, 14])
  t.equal(peak, 3)
  t.same(await eachLimited([], 3, async () => 1), [])
})
