import t from 'tap'
import { knownRegisterTypes } from '../../../src/egauge/registers.js'
import { rateFamily } from '../../../src/formats/prometheus.js'
import { allFamilies } from '../../helpers/exposition.js'

t.test('every Prometheus family has help text; unknown codes, charge and NaN', async (t) => {
  const text = await allFamilies()
  t.notMatch(text, /undefined/)
  t.match(text, /egauge_register_value\{sensor="s",register="x",type="Zz"\} 1\.5/)
  t.match(text, /egauge_charge_coulombs\{sensor="s",register="r\d+"\} 5400/, '1.5 Ah is 5400 C')
  t.notMatch(text, /register="nan"/, 'no NaN sample')
  for (const [, type] of knownRegisterTypes()) t.match(text, new RegExp(`# HELP ${rateFamily(type.quantity).name} \\S`))
})
