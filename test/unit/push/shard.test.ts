import t from 'tap'
import { parseShard, shardOf } from '../../../src/push/shard.js'

t.test('shards: stable, 1-based, every sensor in exactly one', async (t) => {
  t.equal(shardOf('eGauge123', 4), shardOf('eGauge123', 4))
  const names = Array.from({ length: 300 }, (_, i) => `egauge${i}`)
  const counts = [0, 0, 0]
  for (const n of names) counts[shardOf(n, 3)]!++
  t.ok(counts.every((c) => c > 70), `spread ${counts.join('/')}`)
  t.same(parseShard('2/3'), { index: 2, count: 3 })
  for (const bad of ['0/3', '4/3', '1/0', 'a/b', '1']) t.throws(() => parseShard(bad), /--shard must be i\/n/)
})
