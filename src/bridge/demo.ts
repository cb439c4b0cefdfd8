/** Demo mode: no config file, so an in-process simulated meter serves as sensor `demo`. */
import { validateConfig, type Config } from '../config/schema.js'
import { Simulator } from '../simulator/server.js'

export interface Demo {
  config: Config
  simulator: Simulator
}

/** Starts the simulator on a free loopback port and returns a config pointing at it. */
export async function startDemo (): Promise<Demo> {
  const simulator = new Simulator({ seed: 1 })
  const url = await simulator.listen(0, '127.0.0.1')
  const config = validateConfig({ sensors: [{ name: 'demo', url, tags: { site: 'demo' } }] })
  return { config, simulator }
}
