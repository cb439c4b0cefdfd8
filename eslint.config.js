import neostandard from 'neostandard'

/**
 * The dependency rule of ARCHITECTURE.md, enforced: each folder of src/ lists the folders it may
 * not import. Imports run one way, from commands/ down to model/; a test
 * (test/unit/architecture.test.ts) holds this file to it.
 */
const folders = ['model', 'util', 'config', 'telemetry', 'egauge', 'formats', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands']
const forbidden = {
  model: ['util', 'config', 'telemetry', 'egauge', 'formats', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  util: ['model', 'config', 'telemetry', 'egauge', 'formats', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  config: ['telemetry', 'egauge', 'formats', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  telemetry: ['egauge', 'formats', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  // The vendor's protocols know the model, not what becomes of it.
  egauge: ['formats', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  // Output formats know only the shared vocabulary (and the config's types).
  formats: ['telemetry', 'egauge', 'meters', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  meters: ['formats', 'sinks', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  sinks: ['egauge', 'meters', 'push', 'receive', 'server', 'simulator', 'bridge', 'commands'],
  push: ['receive', 'server', 'simulator', 'bridge', 'commands'],
  // The receiver shares push's checkpoints and delivery; push knows nothing of it.
  receive: ['server', 'simulator', 'bridge', 'commands'],
  server: ['egauge', 'push', 'receive', 'simulator', 'bridge', 'commands'],
  // The fake meter is built from the model and the eGauge type table only.
  simulator: ['util', 'config', 'telemetry', 'formats', 'meters', 'sinks', 'push', 'receive', 'server', 'bridge', 'commands'],
  bridge: ['commands'],
  commands: []
}

function restrictions (folder) {
  const patterns = forbidden[folder].map((target) => ({
    group: [`**/${target}/**`],
    message: `src/${folder}/ may not import src/${target}/ (ARCHITECTURE.md, "Dependency rule").`
  }))
  if (folder === 'simulator') {
    patterns.push({
      group: ['**/egauge/**', '!**/egauge/registers.js'],
      message: 'src/simulator/ may import only the eGauge type table from src/egauge/ (ARCHITECTURE.md, "Dependency rule").'
    })
  }
  return { files: [`src/${folder}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } }
}

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', '.bench-build/**']
  }),
  ...folders.map(restrictions)
]
