/**
 * The HTML status page (pure): one card per sensor with its current values, a chart of the last
 * hour of power, its fetch and push state and errors, and the scrape snippets to copy; the
 * bridge's own state above. No script and no external asset (inline CSS and SVG only), so it
 * works behind any proxy and under a strict Content-Security-Policy. It refreshes itself.
 */
import type { Reading } from '../model/readings.js'
import type { CycleSummary, ReceivedPush, SensorStatus } from '../telemetry/status-book.js'
import type { MeterView, PowerSeries } from './status-view.js'

/** Seconds between the page's own refreshes. */
export const REFRESH_SECONDS = 30

/** The bridge as a whole, for the page's header. */
export interface BridgeInfo {
  version: string
  /** Epoch milliseconds. */
  startedAt: number
  /** Undefined in demo mode. */
  configFile: string | undefined
  demo: boolean
  lastReload: { at: number, ok: boolean } | undefined
  push: {
    target: string
    intervalMs: number
    stepSeconds: number
    lastCycle: CycleSummary | undefined
    nextCycleAt: number | undefined
  } | undefined
}

export interface StatusPageInput {
  info: BridgeInfo
  sensors: SensorStatus[]
  /** Timeouts for the snippets, by sensor. */
  timeoutsMs: Map<string, number>
  /** How each pulled meter is read: its protocol and, for the WebAPI, its login's state. */
  protocols: Map<string, string>
  meters: Map<string, MeterView>
  /** How this page was reached (scheme://host), for the snippets. */
  baseUrl: string
  auth: 'none' | 'bearer' | 'basic'
  now: number
}

export function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** "12s ago", "5m ago", "3h ago", "2d ago"; "—" for never. */
export function ago (ms: number | undefined, now: number): string {
  if (ms === undefined) return '—'
  return `${duration((now - ms) / 1000)} ago`
}

/** 45s, 12m, 2.5h, 3d. */
export function duration (seconds: number): string {
  const s = Math.max(0, seconds)
  if (s < 90) return `${Math.round(s)}s`
  if (s < 5400) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${(s / 3600).toFixed(1).replace(/\.0$/, '')}h`
  return `${Math.round(s / 86400)}d`
}

/** A time with its ISO form as a tooltip. */
function when (ms: number | undefined, now: number): string {
  return ms === undefined ? '—' : `<time datetime="${new Date(ms).toISOString()}" title="${new Date(ms).toISOString()}">${ago(ms, now)}</time>`
}

/** A value with its unit, kW above 10 kW, about four significant digits. */
export function formatValue (value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value)
  if (unit === 'W' && Math.abs(value) >= 10_000) return `${trim(value / 1000)} kW`
  return unit === '' ? trim(value) : `${trim(value)} ${unit}`
}

function trim (v: number): string {
  const a = Math.abs(v)
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3
  return v.toFixed(digits)
}

export function kWh (joules: number): string {
  return `${(joules / 3.6e6).toFixed(joules >= 3.6e8 || joules <= -3.6e8 ? 0 : 2)} kWh`
}

const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea']

/** The last hour of power as an inline SVG line chart, gaps left open. Pure. */
export function powerChart (series: PowerSeries[], now: number): string {
  const W = 560
  const H = 130
  const left = 58
  const top = 8
  const bottom = 20
  const values = series.flatMap((s) => s.points.map(([, w]) => w)).filter((w) => !Number.isNaN(w))
  if (values.length === 0) return '<p class="muted">No power history in the last hour.</p>'
  const max = Math.max(0, ...values)
  const min = Math.min(0, ...values)
  const span = max - min || 1
  const end = Math.floor(now / 60_000) * 60
  const start = end - 3600
  const x = (t: number): number => left + (W - left - 4) * Math.min(1, Math.max(0, (t - start) / 3600))
  const y = (w: number): number => top + (H - top - bottom) * (max - w) / span
  const lines = series.map((s, i) => {
    const segments: string[][] = [[]]
    for (const [t, w] of s.points) {
      if (Number.isNaN(w)) segments.push([])
      else segments[segments.length - 1]!.push(`${x(t).toFixed(1)},${y(w).toFixed(1)}`)
    }
    return segments.filter((p) => p.length > 0).map((p) => p.length === 1
      ? `<circle cx="${p[0]!.split(',')[0]}" cy="${p[0]!.split(',')[1]}" r="1.5" fill="${COLORS[i]}"/>`
      : `<polyline fill="none" stroke="${COLORS[i]}" stroke-width="1.5" points="${p.join(' ')}"/>`).join('')
  }).join('')
  const legend = series.map((s, i) => `<span class="key"><i style="background:${COLORS[i]}"></i>${esc(s.register)}</span>`).join('')
  const label = (w: number): string => formatValue(w, 'W')
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="power, last hour">
<line x1="${left}" x2="${W - 4}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#c5cbd6"/>
<text x="${left - 6}" y="${top + 8}" text-anchor="end">${label(max)}</text>
${min < 0 ? `<text x="${left - 6}" y="${H - bottom}" text-anchor="end">${label(min)}</text>` : ''}
<text x="${left - 6}" y="${(y(0) + 4).toFixed(1)}" text-anchor="end">0</text>
<text x="${left}" y="${H - 4}">−60 min</text><text x="${W - 4}" y="${H - 4}" text-anchor="end">now</text>
${lines}
</svg>
<div class="legend">${legend}</div>`
}

function valuesTable (readings: Reading[], today: Map<string, number> | undefined): string {
  const shown = readings.slice(0, 12)
  const rows = shown.map((r) => {
    const energy = today?.get(r.register)
    return `<tr><td>${esc(r.register)}${r.virtual ? ' <span class="tag">total</span>' : ''}</td><td class="num">${esc(formatValue(r.rate, r.unit))}</td><td class="num">${energy === undefined ? '' : kWh(energy)}</td></tr>`
  }).join('')
  const more = readings.length > shown.length ? `<p class="muted">${readings.length - shown.length} more registers on <code>/metrics</code>.</p>` : ''
  return `<table class="values"><thead><tr><th>Register</th><th class="num">Now</th><th class="num">Today</th></tr></thead><tbody>${rows}</tbody></table>${more}`
}

function pushPanel (s: SensorStatus, info: BridgeInfo, now: number): string {
  const push = s.push
  if (info.push === undefined) return ''
  if (push === undefined) return '<div class="box"><h3>Push</h3><p class="muted">No cycle has reached this sensor yet.</p></div>'
  const backlog = push.lagSeconds === undefined ? undefined : Math.max(0, Math.floor((push.lagSeconds - info.push.intervalMs / 1000) / info.push.stepSeconds))
  return `<div class="box"><h3>Push</h3><dl>
<dt>Lag</dt><dd>${push.lagSeconds === undefined ? '—' : duration(push.lagSeconds)}</dd>
<dt>Backlog</dt><dd>${backlog === undefined ? '—' : backlog === 0 ? 'none' : `${backlog} rows beyond one interval`}</dd>
<dt>Written up to</dt><dd>${when(push.checkpoint === undefined ? undefined : push.checkpoint * 1000, now)}</dd>
<dt>Last success</dt><dd>${when(push.lastSuccess === undefined ? undefined : push.lastSuccess * 1000, now)}</dd>
<dt>Last cycle</dt><dd>${push.lastPoints === undefined ? '—' : `${push.lastPoints} points`}</dd>
<dt>Meter clock</dt><dd>${meterClock(push.clockOffsetSeconds, push.clockSkewed === true)}</dd>
</dl></div>`
}

/** The meter's clock against the bridge's, as the last push cycle measured it. */
function meterClock (offset: number | undefined, skewed: boolean): string {
  if (offset === undefined) return '—'
  const off = `${duration(Math.abs(offset))} ${offset < 0 ? 'behind' : 'ahead'}`
  if (!skewed) return offset === 0 ? 'in step' : `in step (${off})`
  return `<span class="bad">${off}: push follows the meter's time</span>`
}

function errorsPanel (s: SensorStatus, now: number): string {
  const counts = Object.entries(s.errorCounts).sort((a, b) => b[1] - a[1])
  if (counts.length === 0) return '<div class="box"><h3>Errors</h3><p class="muted">None since start-up.</p></div>'
  return `<div class="box errors"><h3>Errors</h3>
<p>${counts.map(([code, n]) => `<span class="code">${esc(code)}</span> ×${n}`).join(' · ')}</p>
<ul>${s.recentErrors.map((e) => `<li>${when(e.at, now)} <span class="src">${e.source}</span> <span class="code">${esc(e.code)}</span> ${esc(e.message)}</li>`).join('')}</ul></div>`
}

/** The Prometheus and Telegraf config that scrapes this sensor through this bridge. Pure. */
export function snippets (sensor: string, baseUrl: string, auth: StatusPageInput['auth'], timeoutMs: number): { prometheus: string, telegraf: string } {
  const url = new URL(baseUrl)
  const path = `/metrics/${encodeURIComponent(sensor)}`
  // Prometheus and Telegraf give up a little after the sensor's own timeout, so that the bridge's
  // answer (an error naming the meter) arrives first.
  const timeout = `${Math.ceil(timeoutMs / 1000) + 2}s`
  const promAuth = auth === 'bearer' ? '\n    authorization:\n      credentials_file: /etc/prometheus/egauge-bridge.token' : auth === 'basic' ? '\n    basic_auth:\n      username: USER\n      password_file: /etc/prometheus/egauge-bridge.password' : ''
  const telegrafAuth = auth === 'bearer' ? '\n  bearer_token = "/etc/telegraf/egauge-bridge.token"' : auth === 'basic' ? '\n  username = "USER"\n  password = "$' + '{EGAUGE_BRIDGE_PASSWORD}"' : ''
  return {
    prometheus: `scrape_configs:
  - job_name: egauge-${sensor.replace(/[^A-Za-z0-9_-]/g, '_')}
    scheme: ${url.protocol.replace(':', '')}
    metrics_path: ${path}
    scrape_timeout: ${timeout}${promAuth}
    static_configs:
      - targets: ['${url.host}']`,
    telegraf: `[[inputs.http]]
  urls = ["${url.origin}${path}"]
  data_format = "influx"
  timeout = "${timeout}"${telegrafAuth}`
  }
}

/** What a meter that pushes to the bridge last sent, and how to set the meter up. Pure. */
function receivePanel (s: SensorStatus, input: StatusPageInput): string {
  const r = s.receive
  if (r === undefined) return ''
  const { now } = input
  const push = (p: ReceivedPush | undefined): string => p === undefined ? '—' : `${when(p.at, now)}: ${p.rows} rows, ${p.points} points, ${Math.round(p.durationMs)} ms`
  const uri = new URL(`receive/${encodeURIComponent(s.name)}`, input.baseUrl.endsWith('/') ? input.baseUrl : `${input.baseUrl}/`).href
  return `<div class="box"><h3>Receive <span class="rstate ${r.state}">${r.state}</span></h3><dl>
<dt>Last push</dt><dd>${push(r.lastAttempt)}</dd>
<dt>Last accepted</dt><dd>${push(r.lastSuccess)}</dd>
<dt>Lag</dt><dd>${r.lagSeconds === undefined ? '—' : duration(r.lagSeconds)}</dd>
<dt>Expected every</dt><dd>${duration(r.intervalMs / 1000)} (late after ${duration((2 * r.intervalMs) / 1000)})</dd>
</dl>
<details><summary>Meter settings</summary><pre>${esc(`Data sharing: custom\nURI:      ${uri}\nInterval: ${Math.round(r.intervalMs / 1000)} s\nOptions:  sec,old_first,max=9000,gzip\nUser:     (receive.username)\nPassword: (receive.password)`)}</pre></details></div>`
}

function sensorCard (s: SensorStatus, input: StatusPageInput): string {
  const { now, info } = input
  if (s.url === undefined) return receiveOnlyCard(s, input)
  const view = input.meters.get(s.name)
  const path = `metrics/${encodeURIComponent(s.name)}`
  const snip = snippets(s.name, input.baseUrl, input.auth, input.timeoutsMs.get(s.name) ?? 10_000)
  const power = view?.readings?.find((r) => r.quantity === 'power')
  const values = view?.readings === undefined
    ? `<p class="muted">${esc(view?.note ?? (view === undefined ? 'Values are shown for the first sensors only.' : 'No values.'))}</p>`
    : valuesTable(view.readings, view.today)
  return `<section class="sensor ${s.state}" id="sensor-${esc(s.name)}">
<header><h2>${esc(s.name)}</h2><span class="state">${s.state}</span>${power === undefined ? '' : `<span class="now">${esc(power.register)}: <strong>${esc(formatValue(power.rate, power.unit))}</strong></span>`}<span class="url">${esc(s.url)}${input.protocols.has(s.name) ? ` · ${esc(input.protocols.get(s.name)!)}` : ''}</span></header>
<div class="grid">
<div class="box wide"><h3>Power, last hour</h3>${view?.hour === undefined ? `<p class="muted">${view === undefined ? 'Not fetched.' : view.note === undefined ? 'No history yet.' : 'No history: the meter did not answer.'}</p>` : powerChart(view.hour, now)}</div>
<div class="box values-box"><h3>Current values</h3>${values}${view?.since === undefined ? '' : `<p class="muted">Today: since ${new Date(view.since * 1000).toISOString().replace('.000Z', 'Z')} (the bridge's local midnight).</p>`}</div>
<div class="box"><h3>Fetch</h3><dl>
<dt>Last success</dt><dd>${when(s.lastSuccess, now)}</dd>
<dt>Last attempt</dt><dd>${when(s.lastFetch, now)}</dd>
<dt>Latency</dt><dd>${s.lastLatencyMs === undefined ? '—' : `${s.lastLatencyMs} ms`}</dd>
</dl>
<p class="links"><a href="${path}?format=influx">line protocol</a> <a href="${path}?format=prometheus">prometheus</a> <a href="${path}?format=openmetrics">openmetrics</a></p></div>
${pushPanel(s, info, now)}
${receivePanel(s, input)}
${errorsPanel(s, now)}
</div>
<details><summary>Scrape this sensor</summary>
<h4>Prometheus</h4><pre>${esc(snip.prometheus)}</pre>
<h4>Telegraf</h4><pre>${esc(snip.telegraf)}</pre>
</details>
</section>`
}

/** A meter that only pushes: the bridge never reads it, so there is nothing to fetch or chart. */
function receiveOnlyCard (s: SensorStatus, input: StatusPageInput): string {
  return `<section class="sensor ${s.state}" id="sensor-${esc(s.name)}">
<header><h2>${esc(s.name)}</h2><span class="state">${s.state}</span><span class="url">pushes to the bridge</span></header>
<div class="grid">
${receivePanel(s, input)}
${errorsPanel(s, input.now)}
</div>
</section>`
}

function header (input: StatusPageInput): string {
  const { info, now, sensors } = input
  const up = sensors.filter((s) => s.state === 'up').length
  const reload = info.lastReload === undefined ? '—' : `${info.lastReload.ok ? 'ok' : '<span class="bad">failed, previous config kept</span>'} ${when(info.lastReload.at, now)}`
  const cycle = info.push?.lastCycle
  const push = info.push === undefined
    ? ''
    : `<div class="box"><h3>Push</h3><dl>
<dt>Writes to</dt><dd>${esc(info.push.target)}</dd>
<dt>Every</dt><dd>${duration(info.push.intervalMs / 1000)}, ${info.push.stepSeconds}s rows</dd>
<dt>Last cycle</dt><dd>${cycle === undefined ? '—' : `${when(cycle.at, now)}: ${cycle.points} points, ${cycle.sensors - cycle.failed}/${cycle.sensors} sensors, ${(cycle.durationMs / 1000).toFixed(1)} s`}</dd>
<dt>Next cycle</dt><dd>${info.push.nextCycleAt === undefined ? '—' : `in ${duration((info.push.nextCycleAt - now) / 1000)}`}</dd>
</dl></div>`
  return `${info.demo ? '<div class="demo">Demo mode: no config file was found, so a built-in simulated meter serves as sensor "demo". Its values are not real. <code>egauge-bridge --help</code> says how to configure real meters.</div>' : ''}
<h1>egauge-bridge</h1>
<p class="sub">${sensors.length} sensor${sensors.length === 1 ? '' : 's'}, ${up} up${info.push === undefined ? '' : ', push mode on'} · refreshes every ${REFRESH_SECONDS} s</p>
<div class="grid top">
<div class="box"><h3>Bridge</h3><dl>
<dt>Version</dt><dd>${esc(info.version)}</dd>
<dt>Up for</dt><dd>${duration((now - info.startedAt) / 1000)}</dd>
<dt>Config</dt><dd>${info.configFile !== undefined ? `<code>${esc(info.configFile)}</code>` : info.demo ? 'none (demo)' : '—'}</dd>
<dt>Last reload</dt><dd>${reload}</dd>
</dl></div>
${push}
</div>`
}

/** Returns the whole page. */
export function statusPage (input: StatusPageInput): string {
  const cards = input.sensors.map((s) => sensorCard(s, input)).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<link rel="icon" href="data:,">
<title>egauge-bridge${input.info.demo ? ' (demo)' : ''}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem 2rem; color: #1d2430; background: #f4f6f9; }
h1 { font-size: 1.3rem; margin: 0 0 .1rem; }
h2 { font-size: 1.1rem; margin: 0; }
h3 { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: #5b6575; margin: 0 0 .4rem; }
h4 { margin: .6rem 0 .2rem; font-size: .8rem; }
p.sub { margin: 0 0 1rem; color: #5b6575; }
.demo { background: #fff4d6; border: 1px solid #e8c35a; padding: .6rem .9rem; border-radius: 6px; margin-bottom: 1rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: .8rem; }
.grid.top { margin-bottom: 1.2rem; }
.box { background: #fff; border-radius: 6px; padding: .7rem .9rem; box-shadow: 0 1px 2px #0001; }
.box.wide { grid-column: 1 / -1; }
.values-box { grid-column: span 2; }
.sensor { margin-bottom: 1.6rem; }
.sensor > header { display: flex; gap: .8rem; align-items: baseline; flex-wrap: wrap; margin-bottom: .5rem; }
.state { padding: .05rem .55rem; border-radius: 1rem; font-size: .8rem; background: #e6e9ef; }
.up .state { background: #d8f3e0; color: #17692f; }
.down .state { background: #fbdcdc; color: #9b1c1c; }
.late .state, .rstate.late, .rstate.failing { background: #fdebc8; color: #8a4b00; }
.rstate { padding: 0 .45rem; border-radius: 1rem; font-size: .75rem; background: #e6e9ef; font-weight: normal; }
.rstate.up { background: #d8f3e0; color: #17692f; }
.now { font-size: .95rem; }
.url, .muted { color: #7a8494; font-size: .8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; margin: 0; }
dt { color: #5b6575; }
dd { margin: 0; }
table.values { border-collapse: collapse; width: 100%; }
.values td, .values th { padding: .15rem .3rem; border-bottom: 1px solid #eef0f4; text-align: left; }
.values th { font-weight: 600; font-size: .75rem; color: #5b6575; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tag { font-size: .7rem; background: #e7eefc; color: #2554b8; border-radius: 3px; padding: 0 .3rem; }
.code { font-family: ui-monospace, monospace; font-size: .8rem; }
.errors li { color: #9b1c1c; font-size: .85rem; }
.errors ul { margin: .3rem 0 0; padding-left: 1.1rem; }
.src { color: #7a8494; font-size: .75rem; }
.bad { color: #9b1c1c; }
.chart { width: 100%; max-width: 720px; height: auto; display: block; }
.chart text { font-size: 10px; fill: #5b6575; }
.legend { font-size: .8rem; color: #5b6575; }
.key { margin-right: .9rem; } .key i { display: inline-block; width: .8rem; height: .2rem; margin-right: .3rem; vertical-align: middle; }
.links a { margin-right: .6rem; white-space: nowrap; }
details { margin-top: .5rem; } pre { background: #fff; padding: .5rem .7rem; border-radius: 4px; overflow-x: auto; font-size: .8rem; }
footer { margin-top: 1rem; color: #7a8494; font-size: .8rem; }
footer a { margin-right: .8rem; }
</style>
</head>
<body>
${header(input)}
${cards || '<p>No sensors configured.</p>'}
<footer><a href="api/sensors">api/sensors</a><a href="metrics">bridge metrics</a><a href="readyz">readyz</a> egauge-bridge ${esc(input.info.version)}</footer>
</body>
</html>
`
}
