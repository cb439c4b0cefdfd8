import t from 'tap'
import { CLOCK_SKEW_SECONDS, clockChange, clockOffset, describeOffset, planOffset } from '../../../src/push/clock.js'

t.test('the offset is the meter\'s time against the middle of the request, in whole seconds', async (t) => {
  t.equal(clockOffset(1_700_010_800, 1_700_000_000_000, 1_700_000_000_400), 10_800)
  t.equal(clockOffset(1_699_989_200, 1_700_000_000_000, 1_700_000_002_000), -10_801)
  t.equal(clockOffset(1_700_000_000, 1_699_999_999_900, 1_700_000_000_100), 0)
})

t.test('only a skew changes the plan', async (t) => {
  t.equal(planOffset(undefined), 0, 'not measured: the bridge\'s time')
  t.equal(planOffset(CLOCK_SKEW_SECONDS), 0, 'at the threshold: in step')
  t.equal(planOffset(-CLOCK_SKEW_SECONDS - 1), -CLOCK_SKEW_SECONDS - 1)
})

t.test('a skew is logged when it appears or moves, and once more when it is gone', async (t) => {
  t.equal(clockChange(5, undefined), undefined, 'first measurement, in step: nothing')
  t.equal(clockChange(10_800, undefined), 'skewed', 'first measurement, skewed')
  t.equal(clockChange(10_800, 5), 'skewed', 'a skew that appears')
  t.equal(clockChange(10_830, 10_800), undefined, 'the same skew, a little noise: not again')
  t.equal(clockChange(14_400, 10_800), 'skewed', 'a skew that moved by an hour')
  t.equal(clockChange(2, 10_800), 'recovered')
  t.equal(clockChange(2, 5), undefined)
})

t.test('offsets for people', async (t) => {
  t.equal(describeOffset(95), '95 s ahead')
  t.equal(describeOffset(-10_800), '3 h 0 min behind')
  t.equal(describeOffset(5_430), '1 h 30 min ahead')
})
