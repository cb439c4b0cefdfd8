/**
 * The HTML status page (pure): one row per sensor from the same data as /api/sensors. No script,
 * no external assets, so it works behind any proxy and in any browser.
 */
import type { SensorStatus } from '../telemetry/status-book.js'

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

function ago (ms: number | undefined, now: number): string {
  if (ms === undefined) return '—'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 90) return `${s}s ago`
  if (s < 5400) return `${Math.round(s / 60)}m ago`
  return `${Math.round(s / 3600)}h ago`
}

function lag (seconds: number | undefined): string {
  if (seconds === undefined) return '—'
  if (seconds < 120) return `${Math.round(seconds)}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  return `${(seconds / 3600).toFixed(1)}h`
}

export interface StatusPageInput {
  version: string
  sensors: SensorStatus[]
  push: boolean
  now: number
}

/** Returns the whole page. */
export function statusPage (input: StatusPageInput): string {
  const rows = input.sensors.map((s) => {
    const path = `metrics/${encodeURIComponent(s.name)}`
    const error = s.lastError === undefined ? '' : `<span class="code">${esc(s.lastError.code)}</span> ${esc(s.lastError.message)}`
    const pushError = s.push?.lastError === undefined ? '' : `<div class="err"><span class="code">${esc(s.push.lastError.code)}</span> ${esc(s.push.lastError.message)}</div>`
    const pushCells = input.push
      ? `<td>${lag(s.push?.lagSeconds)}${pushError}</td><td>${ago(s.push?.lastSuccess === undefined ? undefined : s.push.lastSuccess * 1000, input.now)}</td>`
      : ''
    return `<tr class="${s.state}">
<td><strong>${esc(s.name)}</strong><div class="url">${esc(s.url)}</div></td>
<td><span class="state">${s.state}</span></td>
<td>${ago(s.lastSuccess, input.now)}</td>
<td>${ago(s.lastFetch, input.now)}</td>
<td>${s.lastLatencyMs === undefined ? '—' : `${s.lastLatencyMs} ms`}</td>
<td class="err">${error}</td>${pushCells}
<td class="links"><a href="${path}?format=influx">line protocol</a> <a href="${path}?format=prometheus">prometheus</a> <a href="${path}?format=openmetrics">openmetrics</a></td>
</tr>`
  }).join('\n')
  const up = input.sensors.filter((s) => s.state === 'up').length
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>egauge-bridge</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d2430; background: #f7f8fa; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
p.sub { margin: 0 0 1.2rem; color: #5b6575; }
table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px #0001; }
th, td { text-align: left; padding: .55rem .7rem; border-bottom: 1px solid #e6e9ef; vertical-align: top; }
th { font-weight: 600; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: #5b6575; }
.url { color: #7a8494; font-size: .8rem; }
.state { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; background: #e6e9ef; }
tr.up .state { background: #d8f3e0; color: #17692f; }
tr.down .state { background: #fbdcdc; color: #9b1c1c; }
.err { color: #9b1c1c; font-size: .85rem; }
.code { font-family: ui-monospace, monospace; font-size: .8rem; }
.links a { margin-right: .6rem; white-space: nowrap; }
footer { margin-top: 1rem; color: #7a8494; font-size: .8rem; }
footer a { margin-right: .8rem; }
</style>
</head>
<body>
<h1>egauge-bridge</h1>
<p class="sub">${input.sensors.length} sensor${input.sensors.length === 1 ? '' : 's'}, ${up} up${input.push ? ', push mode on' : ''}</p>
<table>
<thead><tr><th>Sensor</th><th>State</th><th>Last success</th><th>Last attempt</th><th>Latency</th><th>Last error</th>${input.push ? '<th>Push lag</th><th>Last push</th>' : ''}<th>Metrics</th></tr></thead>
<tbody>
${rows || `<tr><td colspan="${input.push ? 9 : 7}">No sensors configured.</td></tr>`}
</tbody>
</table>
<footer><a href="api/sensors">api/sensors</a><a href="metrics">bridge metrics</a><a href="readyz">readyz</a> egauge-bridge ${esc(input.version)}</footer>
</body>
</html>
`
}
