import t from 'tap'
import { knownRegisterTypes } from '../../../src/egauge/registers.js'
import { rateFamily, toExposition } from '../../../src/formats/prometheus.js'
import { allFamilies } from '../../helpers/exposition.js'

t.test('every Prometheus family has help text; unknown codes, charge and NaN', async (t) => {
  const text = await allFamilies()
  t.notMatch(text, /undefined/)
  t.match(text, /egauge_register_value\{sensor="s",register="x",type="Zz"\} 1\.5/)
  t.match(text, /egauge_charge_coulombs\{sensor="s",register="r\d+"\} 5400/, '1.5 Ah is 5400 C')
  t.notMatch(text, /register="nan"/, 'no NaN sample')
  for (const [, type] of knownRegisterTypes()) t.match(text, new RegExp(`# HELP ${rateFamily(type.quantity).name} \\S`))
})

t.test('egauge_sensor_info: the meter\'s serial number and host name where it says them; a configured tag of the same name wins', async (t) => {
  const info = async (identity: { serialNumber?: string, hostname?: string } | undefined, tags: Record<string, string>): Promise<string> =>
    /^egauge_sensor_info\{.*$/m.exec(await toExposition({ sensor: 's', serial: '0x1', time: 1, readings: [], ...(identity === undefined ? {} : { identity }) }, { openMetrics: true, tags, fetchSeconds: 0 }))![0]
  t.equal(await info(undefined, { site: 'x' }), 'egauge_sensor_info{sensor="s",serial="0x1",site="x"} 1')
  t.equal(await info({ serialNumber: 'G1', hostname: 'eGauge1' }, { site: 'x' }), 'egauge_sensor_info{sensor="s",serial="0x1",serial_number="G1",hostname="eGauge1",site="x"} 1')
  t.equal(await info({ serialNumber: 'G1', hostname: 'eGauge1' }, { hostname: 'garage' }), 'egauge_sensor_info{sensor="s",serial="0x1",serial_number="G1",hostname="garage"} 1')
})
