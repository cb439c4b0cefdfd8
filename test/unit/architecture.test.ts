/**
 * The dependency rule (ARCHITECTURE.md) is enforced by eslint.config.js; these cases hold the
 * configuration to it: an import that breaks the rule fails lint, one that follows it passes.
 */
import { ESLint } from 'eslint'
import t from 'tap'

const eslint = new ESLint({ cwd: new URL('../../', import.meta.url).pathname })

/** The restricted-import messages lint gives `code` as if it were the file at `path`. */
async function violations (path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path })
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

const cases: Array<[string, string, string, RegExp | undefined]> = [
  ['formats may not import the server', 'src/formats/x.ts', "import { buildApp } from '../server/app.js'", /src\/formats\/ may not import src\/server\//],
  ['formats may not import a protocol', 'src/formats/x.ts', "import { parseShow } from '../egauge/xml/parse.js'", /src\/formats\/ may not import src\/egauge\//],
  ['egauge may not import formats', 'src/egauge/xml/x.ts', "import { renderAnswer } from '../../formats/render.js'", /src\/egauge\/ may not import src\/formats\//],
  ['egauge may not import push', 'src/egauge/x.ts', "import { planChunks } from '../push/planner.js'", /src\/egauge\/ may not import src\/push\//],
  ['model imports nothing above it', 'src/model/x.ts', "import { registerType } from '../egauge/registers.js'", /src\/model\/ may not import src\/egauge\//],
  ['push may not import the server', 'src/push/x.ts', "import { statusFor } from '../server/app.js'", /src\/push\/ may not import src\/server\//],
  ['the simulator may not import the server', 'src/simulator/x.ts', "import { buildApp } from '../server/app.js'", /src\/simulator\/ may not import src\/server\//],
  ['the simulator may import only the type table of egauge', 'src/simulator/x.ts', "import { parseShow } from '../egauge/xml/parse.js'", /only the eGauge type table/],
  ['the simulator may import the type table', 'src/simulator/x.ts', "import { registerType } from '../egauge/registers.js'", undefined],
  ['push may use sinks and meters', 'src/push/x.ts', "import { deliver } from '../sinks/delivery.js'\nimport { MAX_ROWS } from '../meters/query.js'", undefined],
  ['the bridge assembles everything below it', 'src/bridge/x.ts', "import { buildApp } from '../server/app.js'\nimport { PushLoop } from '../push/loop.js'", undefined]
]

for (const [name, path, code, expected] of cases) {
  t.test(name, async (t) => {
    const messages = await violations(path, `${code}\nexport const used = 1\n`)
    if (expected === undefined) t.same(messages, [], 'no restricted import')
    else t.match(messages.join('\n'), expected)
  })
}
