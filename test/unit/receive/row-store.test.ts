import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { RowStore } from '../../../src/receive/row-store.js'

const row = { time: 200, columns: ['Grid', 'Solar'], values: ['-12345678901234567890', '7'] }

t.test('one small file per sensor beside the state file, exact, never older', async (t) => {
  const state = join(mkdtempSync(join(tmpdir(), 'rows-')), 'state.json')
  const warnings: string[] = []
  const store = new RowStore(state, (m) => warnings.push(m))
  t.equal(store.dir, `${state}.receive`)
  t.equal(store.get('cabin'), undefined, 'a first push')
  store.save('cabin', row)
  t.same(JSON.parse(readFileSync(join(store.dir, 'cabin.json'), 'utf8')), row)
  t.equal(statSync(store.dir).mode & 0o777, 0o700)
  store.save('cabin', { time: 100, columns: ['Grid'], values: ['1'] })
  store.save('cabin', { ...row, values: ['0', '0'] })
  t.same(store.get('cabin'), row, 'an older or equally old row does not replace it')
  store.save('..', { time: 5, columns: [], values: [] })
  t.same(readdirSync(store.dir).sort(), ['...json', 'cabin.json'], 'every sensor name is a plain file name')
  t.same(new RowStore(state, () => {}).get('cabin'), row, 'read back by a restarted bridge')
  t.same(warnings, [])
})

t.test('a corrupt or unreadable file is reported and read as none', async (t) => {
  const state = join(mkdtempSync(join(tmpdir(), 'rows-')), 'state.json')
  mkdirSync(`${state}.receive`)
  const bad: unknown[] = ['{"time":', 'null', '5', JSON.stringify({ time: 0, columns: [], values: [] }), JSON.stringify({ time: 1.5, columns: [], values: [] }),
    JSON.stringify({ time: 9, columns: ['a'], values: [] }), JSON.stringify({ time: 9, columns: [1], values: ['1'] }),
    JSON.stringify({ time: 9, columns: ['a'], values: ['1.5'] }), JSON.stringify({ time: 9, columns: ['a'], values: [1] }), JSON.stringify({ time: 9, columns: 'a', values: ['1'] })]
  bad.forEach((text, i) => writeFileSync(join(`${state}.receive`, `bad${i}.json`), String(text)))
  mkdirSync(join(`${state}.receive`, 'dir.json'))
  const warnings: string[] = []
  const store = new RowStore(state, (m) => warnings.push(m))
  t.same(bad.map((_b, i) => store.get(`bad${i}`)), bad.map(() => undefined))
  t.equal(warnings.length, bad.length)
  t.equal(warnings[0], `${state}.receive/bad0.json is corrupt: the next push of bad0 starts without its previous row (its oldest row has no rate)`)
  t.equal(store.get('dir'), undefined)
  t.match(warnings[bad.length], /^cannot read .*dir\.json \(EISDIR\): the next push of dir starts without its previous row/)
  store.get('bad0')
  t.equal(warnings.length, bad.length + 1, 'each file is read once')
  store.save('bad0', row)
  t.same(new RowStore(state, () => {}).get('bad0'), row, 'a good save replaces a corrupt file')
})

t.test('a state file in a missing directory: the save throws, nothing is kept', async (t) => {
  const store = new RowStore(join(mkdtempSync(join(tmpdir(), 'rows-')), 'missing', 'state.json'), () => {})
  t.throws(() => store.save('cabin', row), { code: 'ENOENT' })
  t.equal(store.get('cabin'), undefined)
})
