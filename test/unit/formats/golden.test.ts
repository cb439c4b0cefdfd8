/**
 * Golden cases (test/cases/README.md): meter XML through the real pipeline, compared byte for
 * byte with the expected files. A missing expected file fails; `UPDATE_GOLDEN=1` (re)writes them
 * for review. The consumers' checks (promtool, InfluxDB) are test/integration/golden.test.ts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { toLineProtocol } from '../../../src/formats/influx.js'
import { historySnapshot, lineProtocolOptions } from '../../../src/formats/render.js'
import { caseNames, runCase } from '../../helpers/golden.js'

const update = process.env.UPDATE_GOLDEN === '1'
const cases = caseNames()

t.ok(cases.length >= 14, 'all case folders are found')

for (const name of cases) {
  t.test(name, async (t) => {
    const { dir, config, sensor, answer, lp, prom } = await runCase(name)
    for (const [file, actual] of [['expected.lp', lp], ['expected.prom', prom]] as const) {
      const path = join(dir, file)
      if (update) writeFileSync(path, actual)
      if (!existsSync(path)) {
        t.fail(`${name}/${file} is missing: run UPDATE_GOLDEN=1 npm run test:unit and review the new file`)
        continue
      }
      t.equal(actual, readFileSync(path, 'utf8'), `${file} matches`)
    }

    if (answer.kind === 'history') {
      // The direct path (meter integers → bytes) prints what the readings print through add().
      const options = lineProtocolOptions(sensor, config.influx, 'ns')
      t.equal(lp, toLineProtocol(historySnapshot(answer.history, sensor, 'series').readings, options), 'addRate() and add() print the same text')
    }
  })
}
