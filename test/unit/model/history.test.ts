import t from 'tap'
import { registerType } from '../../../src/egauge/registers.js'
import { physicalOnly, type History } from '../../../src/model/history.js'

const column = (name: string, virtual: boolean): History['columns'][number] => ({ name, type: 'P', kind: registerType('P'), virtual })

t.test('physicalOnly drops the virtual columns and their values, exact ones too', async (t) => {
  const h: History = {
    serial: '0x1',
    columns: [column('Total Usage', true), column('Grid', false), column('Net', true), column('Solar', false)],
    rows: [
      { time: 2, values: [1, 2, 3, 4] },
      { time: 1, values: [1e16, 2, 3, 4], exact: [10000000000000001n, 2n, 3n, 4n] }
    ]
  }
  const p = physicalOnly(h)
  t.same(p.columns.map((c) => c.name), ['Grid', 'Solar'])
  t.same(p.rows, [{ time: 2, values: [2, 4] }, { time: 1, values: [2, 4], exact: [2n, 4n] }])
  t.equal(p.serial, '0x1')
  const physical = physicalOnly(p)
  t.equal(physical, p, 'nothing to drop: the same history')
})
