/**
 * Golden cases (test/cases/README.md) checked by their real consumers: every expected .prom by
 * promtool, every .lp written to a real InfluxDB 1.6 and the values read back equal to the
 * readings. The byte-for-byte comparison is the unit suite's (test/unit/formats/golden.test.ts).
 */
import t from 'tap'
import { historySnapshot } from '../../src/formats/render.js'
import { caseNames, runCase } from '../helpers/golden.js'
import { startInflux } from '../helpers/influxdb.js'
import { promtoolCheck } from '../helpers/promtool.js'

const cases = caseNames()

const influx = await startInflux()
t.teardown(() => influx.stop())

t.ok(cases.length >= 14, 'all case folders are found')

for (const name of cases) {
  t.test(name, async (t) => {
    const { config, sensor, answer, lp, prom } = await runCase(name)

    const lint = promtoolCheck(prom)
    t.equal(lint.status, 0, `promtool check metrics accepts expected.prom ${lint.stderr}`)

    const db = `golden_${name.replace(/\W/g, '_')}`
    await influx.query(`CREATE DATABASE ${db}`)
    const written = await influx.write(db, lp, 'ns')
    t.equal(written.status, 204, `InfluxDB accepts expected.lp ${written.body}`)

    const readings = answer.kind === 'history' ? historySnapshot(answer.history, sensor, 'series').readings : answer.snapshot.readings
    const [result] = await influx.query(`SELECT * FROM "${config.influx.measurement}"`, db)
    const series = result?.series?.[0]
    t.ok(series, 'points read back')
    const cols = series!.columns
    const rows = series!.values.map((v) => Object.fromEntries(cols.map((c, i) => [c, v[i]])))
    if (config.influx.schema === 'peper') {
      // One field per register; tags ID IP GPS_lat GPS_long Ville CP Rue Unit.
      const units = sensor.registerUnits ?? {}
      for (const r of readings) {
        const row = rows.find((x) => x.time === r.time && x.Unit === (units[r.register] ?? r.unit) && r.register in x && x[r.register] !== null)
        const expected = units[r.register] === 'W' ? r.rawRate / 1000 * 1000 : r.rawRate / 1000
        t.equal(row?.[r.register], expected, `${r.register} at ${r.time}`)
        t.equal(row?.ID, sensor.name)
      }
      return
    }
    const expectedPoints = readings.filter((r) => Number.isFinite(r.rate) || Number.isFinite(r.total))
    t.equal(rows.length, expectedPoints.length, 'one point per reading')
    for (const r of expectedPoints) {
      // A backslash that ends a name cannot be written in line protocol (src/formats/influx.ts).
      const stored = r.register.replace(/\\(?=[, =]|$)/g, '/')
      const row = rows.find((x) => x.register === stored && x.time === r.time)
      t.ok(row, `point for register ${JSON.stringify(r.register)} at ${r.time}`)
      t.equal(row?.value ?? null, Number.isFinite(r.rate) ? r.rate : null, `value of ${r.register}`)
      t.equal(row?.total ?? null, Number.isFinite(r.total) ? r.total : null, `total of ${r.register}`)
      t.equal(row?.quantity, r.quantity)
      t.equal(row?.sensor, sensor.name)
      t.equal(row?.unit ?? null, r.unit === '' ? null : r.unit)
      t.equal(row?.virtual ?? null, r.virtual ? 'true' : null)
      for (const [k, v] of Object.entries(sensor.tags)) t.equal(row?.[k], v, `tag ${k}`)
    }
  })
}
