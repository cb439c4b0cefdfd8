/**
 * Conversion: egauge-show XML (3600 rows × 24 registers, from the simulator) → line protocol,
 * against a bare fast-xml-parser parse of the same document in the same run; the same hour as a
 * WebAPI register document, against the XML path and a bare JSON.parse; and how time and memory
 * grow with the number of rows.
 */
import { XMLParser } from 'fast-xml-parser'
import { validateConfig } from '../src/config/schema.js'
import { parseRegisterJson } from '../src/egauge/webapi/register.js'
import { parseShow } from '../src/egauge/xml/parse.js'
import { historyText, lineProtocolOptions } from '../src/formats/render.js'
import { Simulator } from '../src/simulator/server.js'
import { timeIt, type Figure } from './lib.js'

const NOW = 1_700_000_000

function document (rows: number): string {
  // Rows older than an hour come at minute resolution from the meter; ask the simulator for
  // minute rows so every size has exactly `rows` rows.
  const sim = new Simulator({ seed: 1, clock: () => NOW * 1000 })
  return sim.answer('/cgi-bin/egauge-show', rows <= 3600 ? `S&n=${rows}` : `m&n=${rows}`).body
}

const config = validateConfig({ sensors: [{ name: 'bench', tags: { site: 'bench' } }] })
const sensor = config.sensors[0]!

/** What the pull path and the push loop do with a history: parse, then straight to line protocol. */
function convert (xml: string): string {
  return historyText(parseShow(xml), sensor, lineProtocolOptions(sensor, config.influx, 's'))
}

export interface SweepRow { rows: number, values: number, ms: number, nsPerValue: number, heapMB: number }

export function conversionBench (quick: boolean): { figures: Figure[], sweep: SweepRow[] } {
  const xml = document(3600)
  const values = 3599 * 24
  const oracle = new XMLParser({ ignoreAttributes: false, parseTagValue: false, isArray: (n) => ['data', 'r', 'c', 'cname'].includes(n) })
  const budget = quick ? 600 : 2000
  const ours = timeIt(() => convert(xml), budget)
  const bare = timeIt(() => oracle.parse(xml), budget)
  const rate = values / (ours / 1000)
  // The same meter's hour over the JSON WebAPI: the register document the WebAPI client reads.
  const json = new Simulator({ seed: 1, clock: () => NOW * 1000 }).answer('/api/register', 'raw&time=now-3599:1:now&max-rows=3600').body
  const webapi = timeIt(() => historyText(parseRegisterJson(json), sensor, lineProtocolOptions(sensor, config.influx, 's')), budget)
  const bareJson = timeIt(() => JSON.parse(json), budget)
  const figures: Figure[] = [
    { name: 'egauge-show → line protocol, 3600 rows × 24 registers', value: rate, unit: 'values/s', target: '≥ 3 M values/s', met: rate >= 3e6 },
    { name: 'same, time vs a bare fast-xml-parser parse', value: ours, unit: 'ms', baseline: bare, baselineName: 'fast-xml-parser parse only', ratio: ours / bare, target: '≤ 2×', met: ours / bare <= 2 },
    { name: 'WebAPI /api/register → line protocol, 3600 rows × 24 registers', value: values / (webapi / 1000), unit: 'values/s', baseline: rate, baselineName: 'the XML path', ratio: (values / (webapi / 1000)) / rate },
    { name: 'same, time vs a bare JSON.parse', value: webapi, unit: 'ms', baseline: bareJson, baselineName: 'JSON.parse only', ratio: webapi / bareJson }
  ]
  const sweep: SweepRow[] = []
  for (const rows of quick ? [300, 3600, 21600] : [300, 3600, 21600, 86400]) {
    const doc = document(rows)
    global.gc?.()
    const before = process.memoryUsage().heapUsed
    let peak = before
    const ms = timeIt(() => {
      const out = convert(doc)
      peak = Math.max(peak, process.memoryUsage().heapUsed)
      return out
    }, quick ? 400 : 1000, 1)
    const n = (rows - 1) * 24
    sweep.push({ rows, values: n, ms, nsPerValue: (ms * 1e6) / n, heapMB: (peak - before) / 2 ** 20 })
  }
  return { figures, sweep }
}
