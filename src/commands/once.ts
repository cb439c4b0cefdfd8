/** `egauge-bridge once <sensor>`: prints what `GET /metrics/<sensor>` would return, like `telegraf --test`. */
import { setFlagsFromString } from 'node:v8'
import { createBridge } from '../bridge/bridge.js'
import { startDemo } from '../bridge/demo.js'
import { configPath, loadConfigFile } from '../config/load.js'
import { renderAnswer } from '../formats/render.js'
import { ConfigError } from '../model/errors.js'
import { meterRequestFor, parseMetricsRequest } from '../server/params.js'
import { args, type CommandHelp, UsageError, type Out } from './args.js'

export const HELP: CommandHelp = {
  usage: 'once <sensor>',
  summary: 'Prints what GET /metrics/<sensor> would answer, once, and exits (like telegraf --test). Without a config file, the built-in demo meter is sensor "demo".',
  options: [
    ['--config FILE', 'the config file (default: $EGAUGE_BRIDGE_CONFIG, ./egauge-bridge.yml)'],
    ['--format F', 'influx (default), prometheus or openmetrics'],
    ['--window D', 'history over a duration (5m, 1h…) instead of current values'],
    ['--step S', 'with --window: 1s (default), 1m, 15m, 1h or 1d'],
    ['--precision P', 'line-protocol timestamps: ns (default), us, ms or s']
  ],
  examples: ['egauge-bridge once demo', 'egauge-bridge once eGauge123 --config bridge.yml --format prometheus', 'egauge-bridge once eGauge123 --window 5m --step 1s --precision s']
}

export async function once (argv: string[], out: Out): Promise<number> {
  const { values, positionals } = args(argv, {
    config: { type: 'string' },
    format: { type: 'string' },
    window: { type: 'string' },
    step: { type: 'string' },
    precision: { type: 'string' }
  }, 1, HELP)
  const name = positionals[0]
  if (name === undefined) throw new UsageError('once needs a sensor name', HELP)
  const request = parseMetricsRequest({
    format: (values.format as string | undefined) ?? 'influx',
    precision: values.precision as string | undefined,
    window: values.window as string | undefined,
    step: values.step as string | undefined
  }, undefined)
  // One request, then exit: undici's HTTP parser (WebAssembly) needs no optimizing compile, and
  // on Node 20 the process waited about 80 ms at exit for V8's background tier-up of it (once
  // 0.33 → 0.27 s wall). Node 24 does not wait. Set before undici is first loaded.
  if (Number(process.versions.node.split('.')[0]) < 24) setFlagsFromString('--liftoff-only')
  const file = configPath(values.config as string | undefined, process.env)
  const demo = file === undefined ? await startDemo() : undefined
  try {
    const config = file === undefined ? demo!.config : loadConfigFile(file).config
    const sensor = config.sensors.find((s) => s.name === name)
    if (sensor === undefined) throw new ConfigError('', `unknown sensor "${name}" (configured: ${config.sensors.map((s) => s.name).join(', ') || 'none'})`)
    if (sensor.url === undefined) throw new ConfigError('', `sensor "${name}" has no url: it pushes its data to the bridge, there is nothing to read`)
    // Errors go to the caller, who prints them: the bridge itself logs nothing here.
    const bridge = createBridge({ config, processMetrics: false })
    try {
      const answer = await bridge.live().pool.answer(name, meterRequestFor(request), sensor.timeoutMs)
      out(await renderAnswer(sensor, config.influx, answer, request))
      return 0
    } finally {
      await bridge.close()
    }
  } finally {
    await demo?.simulator.close()
  }
}
