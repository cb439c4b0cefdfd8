/**
 * Golden cases (test/cases/README.md): meter XML through the real pipeline, compared byte for
 * byte; every .prom checked by the real promtool; every .lp written to a real InfluxDB 1.6 and the
 * values read back equal to the readings.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfigText } from '../src/config/load.js'
import { toLineProtocol } from '../src/formats/influx.js'
import { answerSnapshot, lineProtocolOptions, renderAnswer, type MeterAnswer } from '../src/render.js'
import { startInflux } from './helpers/influxdb.js'
import { promtoolCheck } from './helpers/promtool.js'

const casesDir = new URL('./cases/', import.meta.url).pathname
const update = process.env.UPDATE_GOLDEN === '1'
const cases = readdirSync(casesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()

const influx = await startInflux()
t.teardown(() => influx.stop())

t.ok(cases.length >= 14, 'all case folders are found')

for (const name of cases) {
  t.test(name, async (t) => {
    const dir = join(casesDir, name)
    const { config } = loadConfigText(readFileSync(join(dir, 'config.yml'), 'utf8'), {})
    const sensor = config.sensors[0]!
    const xml = readFileSync(join(dir, 'meter.xml'), 'utf8')
    const answer: MeterAnswer = { endpoint: /<group[\s>]/.test(xml) ? 'show' : 'inst', xml, fetchSeconds: 0.25 }
    const lp = await renderAnswer(sensor, config.influx, answer, { format: 'influx', precision: 'ns' })
    const prom = await renderAnswer(sensor, config.influx, answer, { format: 'prometheus', precision: 'ns' })

    for (const [file, actual] of [['expected.lp', lp], ['expected.prom', prom]] as const) {
      const path = join(dir, file)
      if (update || !existsSync(path)) writeFileSync(path, actual)
      t.equal(actual, readFileSync(path, 'utf8'), `${file} matches`)
    }

    if (answer.endpoint === 'show') {
      // The direct path (meter integers → bytes) prints what the readings print through add().
      const options = lineProtocolOptions(sensor, config.influx, 'ns')
      t.equal(lp, toLineProtocol(answerSnapshot(sensor, answer, 'series').readings, options), 'addRate() and add() print the same text')
    }

    const lint = promtoolCheck(prom)
    t.equal(lint.status, 0, `promtool check metrics accepts expected.prom ${lint.stderr}`)

    const db = `golden_${name.replace(/\W/g, '_')}`
    await influx.query(`CREATE DATABASE ${db}`)
    const written = await influx.write(db, lp, 'ns')
    t.equal(written.status, 204, `InfluxDB accepts expected.lp ${written.body}`)

    const readings = answerSnapshot(sensor, answer, 'series').readings
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
