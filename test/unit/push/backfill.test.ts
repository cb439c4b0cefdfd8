import t from 'tap'
import { progressLine } from '../../../src/push/backfill.js'

t.test('progress line', async (t) => {
  t.equal(progressLine('m1', 5, 10, 42, 10), 'm1 [#####-----]  50% 42 points')
  t.equal(progressLine('m1', 0, 0, 0, 4), 'm1 [####] 100% 0 points')
})
