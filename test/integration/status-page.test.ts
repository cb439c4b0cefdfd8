/**
 * The status page in a real headless Chromium (Debian `chromium`): it loads with no console error,
 * shows every sensor with its state, and a screenshot is kept in .tap/artifacts/ for review.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Simulator } from '../../src/simulator/server.js'
import { testBridge } from '../helpers/bridge.js'
import { ensureBinary } from '../helpers/debian.js'
import { freePort } from '../helpers/ports.js'

const chromium = ensureBinary('/usr/bin/chromium', 'chromium')
const sim = new Simulator({ clock: () => 1_700_000_000_000 })
const url = await sim.listen()
const bridge = testBridge({ sensors: [{ name: 'house', url }, { name: 'barn.shed', url: `http://127.0.0.1:${await freePort()}` }, { name: 'not-yet', url }] })
const address = await bridge.app.listen({ host: '127.0.0.1', port: 0 })
t.teardown(async () => { await bridge.close(); await sim.close() })
await bridge.app.inject({ method: 'GET', url: '/metrics/house' })
await bridge.app.inject({ method: 'GET', url: '/metrics/barn.shed' })

/** Runs Chromium asynchronously: the page is served by this very process. */
async function browse (args: string[]): Promise<{ stdout: string, stderr: string, status: number | null }> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-'))
  return await new Promise((resolve) => {
    execFile(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0', ...args, `${address}/`],
    { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => resolve({ stdout, stderr, status: err === null ? 0 : (err.code as number | null) ?? 1 }))
  })
}

t.test('the page renders every sensor, with no console message', async (t) => {
  const r = await browse(['--virtual-time-budget=1000', '--dump-dom'])
  t.equal(r.status, 0)
  t.match(r.stdout, /<strong>house<\/strong>/)
  t.match(r.stdout, /<strong>barn\.shed<\/strong>/)
  t.match(r.stdout, /<tr class="up">[\s\S]*house/)
  t.match(r.stdout, /<tr class="down">[\s\S]*EGAUGE_UNREACHABLE/)
  t.match(r.stdout, /<tr class="unknown">[\s\S]*not-yet/)
  t.match(r.stdout, /3 sensors, 1 up/)
  t.notMatch(r.stderr, /CONSOLE|Refused to|Failed to load/, 'no console errors, CSP violations or failed loads')
})

t.test('a screenshot is saved as a test artifact', async (t) => {
  const dir = new URL('../../.tap/artifacts/', import.meta.url).pathname
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'status-page.png')
  const r = await browse(['--window-size=1100,420', `--screenshot=${file}`])
  t.equal(r.status, 0)
  t.ok(statSync(file).size > 5000, `${file} written`)
})
