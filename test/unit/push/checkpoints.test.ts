import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { CheckpointStore } from '../../../src/push/checkpoints.js'

t.test('checkpoint store: durable, monotonic, survives a corrupt or foreign file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'))
  const file = join(dir, 'state.json')
  const warnings: string[] = []
  const store = CheckpointStore.open(file, (m) => warnings.push(m))
  t.same(warnings, [], 'a missing file is a fresh start, silently')
  store.set('m1', 100)
  store.set('m1', 50)
  t.equal(store.get('m1'), 100, 'never moves backwards')
  store.set('b', 7)
  store.persist()
  t.same(JSON.parse(readFileSync(file, 'utf8')), { version: 1, checkpoints: { b: 7, m1: 100 } })
  t.equal(CheckpointStore.open(file, () => {}).get('m1'), 100)
  for (const [content, why] of [['{"version":1,"checkp', 'truncated'], ['[1,2]', 'not a state file'], ['{"version":2,"checkpoints":{}}', 'unknown version']] as const) {
    writeFileSync(file, content)
    const w: string[] = []
    const s = CheckpointStore.open(file, (m) => w.push(m))
    t.equal(s.get('m1'), undefined, why)
    t.same(w, [`state file ${file} is corrupt: starting without checkpoints`], why)
  }
  writeFileSync(file, '{"version":1,"checkpoints":{"ok":5,"bad":"x","neg":-1}}')
  const ignored: string[] = []
  const partial = CheckpointStore.open(file, (m) => ignored.push(m))
  t.same([partial.get('ok'), partial.get('bad'), partial.get('neg')], [5, undefined, undefined])
  t.same(ignored, [`state file ${file}: checkpoints that are not a positive whole unix time ignored for "bad", "neg": those sensors start again from one interval back`], 'never in silence')
  writeFileSync(file, JSON.stringify({ version: 1, checkpoints: Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`s${i}`, '1700000000'])) }))
  const many: string[] = []
  CheckpointStore.open(file, (m) => many.push(m))
  t.match(many[0], /ignored for "s0", "s1", "s2", "s3", "s4" and 2 more:/)
  const w: string[] = []
  CheckpointStore.open(dir, (m) => w.push(m))
  t.match(w[0], /cannot read state file .* \(EISDIR\): starting without checkpoints/)
})

t.test('checkpoint store: the push path saves at most once per interval, and on flush', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'state.json')
  const saved = (): unknown => JSON.parse(readFileSync(file, 'utf8')).checkpoints
  const store = CheckpointStore.open(file, () => {}, 60_000)
  store.persistDue()
  t.throws(() => readFileSync(file), 'nothing to save: no file written')
  store.set('m1', 100)
  store.persistDue()
  t.same(saved(), { m1: 100 }, 'the first save is due at once')
  store.set('m1', 200)
  store.persistDue()
  t.same(saved(), { m1: 100 }, 'within the interval: kept in memory only')
  store.flush()
  t.same(saved(), { m1: 200 }, 'flush saves it')
  store.set('m1', 150)
  store.delete('gone')
  writeFileSync(file, 'untouched')
  store.flush()
  t.equal(readFileSync(file, 'utf8'), 'untouched', 'nothing changed (no move backwards, nothing deleted): no write')
  store.delete('m1')
  store.flush()
  t.same(saved(), {}, 'a deletion is a change')
  const eager = CheckpointStore.open(file, () => {}, 0)
  eager.set('a', 1)
  eager.persistDue()
  eager.set('a', 2)
  eager.persistDue()
  t.same(saved(), { a: 2 }, 'interval 0: every acknowledged chunk is saved')
})

t.test('two processes on one state file: each save keeps the other\'s checkpoints', async (t) => {
  const { existsSync } = await import('node:fs')
  const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'state.json')
  const push = CheckpointStore.open(file, () => {})
  const backfill = CheckpointStore.open(file, () => {})
  push.set('house', 100)
  push.persist()
  backfill.set('backfill:job', 50)
  backfill.persist()
  t.same(JSON.parse(readFileSync(file, 'utf8')).checkpoints, { 'backfill:job': 50, house: 100 }, 'the second save kept the first one\'s key')
  push.set('house', 200)
  push.persist()
  t.same(JSON.parse(readFileSync(file, 'utf8')).checkpoints, { 'backfill:job': 50, house: 200 })
  backfill.delete('backfill:job')
  backfill.persist()
  push.set('house', 300)
  push.persist()
  t.same(JSON.parse(readFileSync(file, 'utf8')).checkpoints, { house: 300 }, 'a finished job stays deleted')
  t.equal(push.get('backfill:job'), undefined, 'and the other process sees it after its next save')
  t.notOk(existsSync(`${file}.lock`), 'the lock is released')

  // A lock left by a process that is gone, or by an earlier process with this pid: taken over.
  writeFileSync(`${file}.lock`, '2147483646\n')
  push.set('house', 400)
  push.persist()
  writeFileSync(`${file}.lock`, `${process.pid}\n`)
  push.set('house', 500)
  push.persist()
  t.equal(JSON.parse(readFileSync(file, 'utf8')).checkpoints.house, 500)

  // Held by a live process: the save waits, then fails with a clear error, the change kept for the next try.
  const waiting = CheckpointStore.open(file, () => {}, 1000, 50)
  writeFileSync(`${file}.lock`, `${process.ppid}\n`)
  waiting.set('house', 600)
  t.throws(() => waiting.persist(), { code: 'ELOCKED', message: /state\.json\.lock is held by another process for more than 50 ms .*give each its own push\.state_file/ })
  writeFileSync(`${file}.lock`, '')
  t.throws(() => waiting.persist(), { code: 'ELOCKED' }, 'a lock being written is waited for')
  const { rmSync } = await import('node:fs')
  rmSync(`${file}.lock`)
  waiting.flush()
  t.equal(JSON.parse(readFileSync(file, 'utf8')).checkpoints.house, 600, 'saved once the lock is free')
  const misplaced = CheckpointStore.open(join(file, 's.json'), () => {})
  t.throws(() => misplaced.persist(), { code: 'ENOTDIR' }, 'a state file under a file: the lock cannot be made, the error says why')
})
