/**
 * The golden cases (test/cases/README.md), read once for both suites: the unit suite compares the
 * output byte for byte, the integration suite hands it to promtool and InfluxDB.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigText } from '../../src/config/load.js'
import { registerFilter, type Config, type SensorConfig } from '../../src/config/schema.js'
import { parseRegisterJson } from '../../src/egauge/webapi/register.js'
import { parseInst, parseShow } from '../../src/egauge/xml/parse.js'
import { renderAnswer } from '../../src/formats/render.js'
import type { MeterAnswer } from '../../src/model/source.js'

export const casesDir = new URL('../cases/', import.meta.url).pathname

export interface GoldenCase {
  name: string
  dir: string
  config: Config
  sensor: SensorConfig
  answer: MeterAnswer
  /** Line protocol and Prometheus text, as GET /metrics/:sensor renders them. */
  lp: string
  prom: string
}

/** Every case folder's name, sorted. */
export function caseNames (): string[] {
  return readdirSync(casesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
}

/** A meter answer from its XML, parsed as the XML client does (`<group>` is egauge-show). */
export function answerFromXml (sensor: SensorConfig, xml: string, fetchSeconds = 0.25): MeterAnswer {
  return /<group[\s>]/.test(xml)
    ? { kind: 'history', history: parseShow(xml), fetchSeconds }
    : { kind: 'current', snapshot: parseInst(xml, sensor.name, registerFilter(sensor)), fetchSeconds }
}

/** Runs a case through the real pipeline. */
export async function runCase (name: string): Promise<GoldenCase> {
  const dir = join(casesDir, name)
  const { config } = loadConfigText(readFileSync(join(dir, 'config.yml'), 'utf8'), {})
  const sensor = config.sensors[0]!
  // A WebAPI register document (`meter.json`) is history, as the WebAPI client reads it.
  const json = join(dir, 'meter.json')
  const answer: MeterAnswer = existsSync(json)
    ? { kind: 'history', history: parseRegisterJson(readFileSync(json, 'utf8'), sensor), fetchSeconds: 0.25 }
    : answerFromXml(sensor, readFileSync(join(dir, 'meter.xml'), 'utf8'))
  const lp = await renderAnswer(sensor, config.influx, answer, { format: 'influx', precision: 'ns' })
  const prom = await renderAnswer(sensor, config.influx, answer, { format: 'prometheus', precision: 'ns' })
  return { name, dir, config, sensor, answer, lp, prom }
}
