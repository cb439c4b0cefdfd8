/** `egauge-bridge once <sensor>`: prints what `GET /metrics/<sensor>` would return, like `telegraf --test`. */
import { createBridge } from '../bridge/bridge.js'
import { startDemo } from '../bridge/demo.js'
import { configPath, loadConfigFile } from '../config/load.js'
import { renderAnswer } from '../formats/render.js'
import { ConfigError } from '../model/errors.js'
import { meterRequestFor, parseMetricsRequest } from '../server/params.js'
import { args, UsageError, type Out } from './args.js'

export async function once (argv: string[], out: Out): Promise<number> {
  const { values, positionals } = args(argv, {
    config: { type: 'string' },
    format: { type: 'string' },
    window: { type: 'string' },
    step: { type: 'string' },
    precision: { type: 'string' }
  }, 1)
  const name = positionals[0]
  if (name === undefined) throw new UsageError('once needs a sensor name')
  const request = parseMetricsRequest({
    format: (values.format as string | undefined) ?? 'influx',
    precision: values.precision as string | undefined,
    window: values.window as string | undefined,
    step: values.step as string | undefined
  }, undefined)
  const file = configPath(values.config as string | undefined, process.env)
  const demo = file === undefined ? await startDemo() : undefined
  try {
    const config = file === undefined ? demo!.config : loadConfigFile(file).config
    const sensor = config.sensors.find((s) => s.name === name)
    if (sensor === undefined) throw new ConfigError('', `unknown sensor "${name}" (configured: ${config.sensors.map((s) => s.name).join(', ') || 'none'})`)
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
