/** The bridge's own metrics on `GET /metrics` (README "The bridge's own metrics"), in one registry per process. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { FETCH_ERROR_REASONS } from '../model/errors.js'
import { VERSION } from '../util/version.js'

export interface SelfMetrics {
  registry: Registry
  fetchDuration: Histogram<'sensor' | 'endpoint'>
  fetchErrors: Counter<'sensor' | 'reason'>
  sensorUp: Gauge<'sensor'>
  upstreamRequests: Counter<'sensor'>
  coalesced: Counter
  configReloadOk: Gauge
  configReloadTime: Gauge
  pushPoints: Counter<'sensor'>
  pushErrors: Counter<'sensor' | 'reason'>
  pushLag: Gauge<'sensor'>
  /**
   * Where push_lag_seconds is read from at each scrape (the push loop sets it): now minus the
   * newest acknowledged point, so the lag grows while a cycle is stuck instead of waiting for it.
   */
  lagSource: { current: (() => Array<{ sensor: string, lagSeconds: number }>) | undefined }
  pushLastSuccess: Gauge<'sensor'>
  meterClockOffset: Gauge<'sensor'>
  pushSkippedTicks: Counter
  receivePoints: Counter<'sensor'>
  receiveRows: Counter<'sensor'>
  receiveErrors: Counter<'sensor' | 'reason'>
  receiveDuration: Histogram
  receiveLastSuccess: Gauge<'sensor'>
  receiveLag: Gauge<'sensor'>
  receiveUp: Gauge<'sensor'>
  /**
   * Where the receive lag and up gauges are read from at each scrape (the bridge sets it from the
   * status book): a meter that stops pushing shows as late without waiting for an event.
   */
  receiveSource: { current: (() => Array<{ sensor: string, lagSeconds: number | undefined, up: boolean }>) | undefined }
}

/** How often the event-loop delay is sampled (ARCHITECTURE.md "Timers"). */
export const EVENT_LOOP_SAMPLE_MS = 1000

/** Creates the registry; `processMetrics` adds prom-client's default process metrics. */
export function createSelfMetrics (processMetrics = true): SelfMetrics {
  const registry = new Registry()
  if (processMetrics) {
    // The event-loop delay monitor is prom-client's only timer. Its default 10 ms resolution wakes
    // an idle process 100 times a second (about 5 ms of CPU per second, most of what an idle bridge
    // cost); sampled once a second, a stall still shows in the max and percentiles between scrapes.
    collectDefaultMetrics({ register: registry, prefix: 'egauge_bridge_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
    // These three are gauges named like counters, which promtool rejects; the same counts stay
    // available per type in egauge_bridge_nodejs_active_{handles,requests,resources}.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
      registry.removeSingleMetric(`egauge_bridge_nodejs_${name}`)
    }
  }
  const registers = [registry]
  // The info-metric pattern (prometheus/docs "writing exporters"): join it on `instance` to see
  // which version a series came from.
  new Gauge({ name: 'egauge_bridge_build_info', help: 'Always 1: the bridge version and the Node.js version running it.', labelNames: ['version', 'node'], registers })
    .set({ version: VERSION, node: process.version }, 1)
  const lagSource: SelfMetrics['lagSource'] = { current: undefined }
  const receiveSource: SelfMetrics['receiveSource'] = { current: undefined }
  return {
    registry,
    lagSource,
    receiveSource,
    fetchDuration: new Histogram({
      name: 'egauge_bridge_fetch_duration_seconds',
      help: 'Time to fetch a meter answer, by endpoint (inst or show).',
      labelNames: ['sensor', 'endpoint'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    fetchErrors: new Counter({ name: 'egauge_bridge_fetch_errors_total', help: 'Failed meter fetches, by reason (error code).', labelNames: ['sensor', 'reason'], registers }),
    sensorUp: new Gauge({ name: 'egauge_bridge_sensor_up', help: '1 if the last fetch from the meter succeeded, else 0.', labelNames: ['sensor'], registers }),
    upstreamRequests: new Counter({ name: 'egauge_bridge_upstream_requests_total', help: 'HTTP requests sent to the meter (auth round trips included).', labelNames: ['sensor'], registers }),
    coalesced: new Counter({ name: 'egauge_bridge_coalesced_requests_total', help: 'Requests answered from a shared in-flight fetch or the cache instead of a new meter request.', registers }),
    configReloadOk: new Gauge({ name: 'egauge_bridge_config_last_reload_successful', help: '1 if the last configuration load or reload succeeded, else 0.', registers }),
    configReloadTime: new Gauge({ name: 'egauge_bridge_config_last_reload_success_timestamp_seconds', help: 'Time of the last successful configuration load.', registers }),
    pushPoints: new Counter({ name: 'egauge_bridge_push_points_total', help: 'Points acknowledged by the database.', labelNames: ['sensor'], registers }),
    pushErrors: new Counter({ name: 'egauge_bridge_push_errors_total', help: 'Push failures, by reason.', labelNames: ['sensor', 'reason'], registers }),
    pushLag: new Gauge({
      name: 'egauge_bridge_push_lag_seconds',
      help: 'Seconds between now and the newest point the database acknowledged.',
      labelNames: ['sensor'],
      registers,
      collect () {
        for (const { sensor, lagSeconds } of lagSource.current?.() ?? []) this.set({ sensor }, lagSeconds)
      }
    }),
    pushLastSuccess: new Gauge({ name: 'egauge_bridge_push_last_success_timestamp_seconds', help: 'When the last push cycle for the sensor succeeded.', labelNames: ['sensor'], registers }),
    meterClockOffset: new Gauge({ name: 'egauge_bridge_meter_clock_offset_seconds', help: 'The meter\'s clock minus the bridge\'s, measured at each push cycle; beyond 120 s push follows the meter\'s time.', labelNames: ['sensor'], registers }),
    pushSkippedTicks: new Counter({ name: 'egauge_bridge_push_skipped_ticks_total', help: 'Push ticks skipped because the previous cycle was still running.', registers }),
    receivePoints: new Counter({ name: 'egauge_bridge_receive_points_total', help: 'Points from meter pushes acknowledged by the database.', labelNames: ['sensor'], registers }),
    receiveRows: new Counter({ name: 'egauge_bridge_receive_rows_total', help: 'Rows in meter pushes the bridge acknowledged.', labelNames: ['sensor'], registers }),
    receiveErrors: new Counter({ name: 'egauge_bridge_receive_errors_total', help: 'Meter pushes not acknowledged, by reason.', labelNames: ['sensor', 'reason'], registers }),
    receiveDuration: new Histogram({
      name: 'egauge_bridge_receive_duration_seconds',
      help: 'Time from a meter push arriving to its answer, database write included.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    receiveLastSuccess: new Gauge({ name: 'egauge_bridge_receive_last_success_timestamp_seconds', help: 'When the database last acknowledged a push from the meter (0: never).', labelNames: ['sensor'], registers }),
    receiveLag: new Gauge({
      name: 'egauge_bridge_receive_lag_seconds',
      help: 'Seconds between now and the newest row a meter pushed that the database acknowledged.',
      labelNames: ['sensor'],
      registers,
      collect () {
        for (const { sensor, lagSeconds } of receiveSource.current?.() ?? []) if (lagSeconds !== undefined) this.set({ sensor }, lagSeconds)
      }
    }),
    receiveUp: new Gauge({
      name: 'egauge_bridge_receive_up',
      help: '1 while the meter\'s pushes arrive in time (within two receive intervals) and are acknowledged, else 0.',
      labelNames: ['sensor'],
      registers,
      collect () {
        for (const { sensor, up } of receiveSource.current?.() ?? []) this.set({ sensor }, up ? 1 : 0)
      }
    })
  }
}

const exported = new WeakMap<SelfMetrics, { fetch: Set<string>, push: Set<string>, receive: Set<string> }>()

function seen (metrics: SelfMetrics, side: 'fetch' | 'push' | 'receive', name: string): boolean {
  let sets = exported.get(metrics)
  if (sets === undefined) exported.set(metrics, sets = { fetch: new Set(), push: new Set(), receive: new Set() })
  if (sets[side].has(name)) return true
  sets[side].add(name)
  return false
}

/**
 * Gives a configured sensor its series the first time the process sees it (start-up, or a reload
 * that adds it): `sensor_up` 0 until a fetch succeeds, and a fetch-error counter at 0 for every
 * reason. "No data" then never hides a meter that never answered, and rate() over the counters
 * works from the first error. Later calls (another reload) change nothing.
 */
export function exportSensor (metrics: SelfMetrics, name: string): void {
  if (seen(metrics, 'fetch', name)) return
  metrics.sensorUp.set({ sensor: name }, 0)
  for (const reason of FETCH_ERROR_REASONS) metrics.fetchErrors.inc({ sensor: name, reason }, 0)
}

/**
 * The same for push mode: the last success at 0 (the epoch: a staleness alert fires for a sensor
 * that never succeeded) and a push-error counter at 0 for every `reasons`.
 */
export function exportPushSensor (metrics: SelfMetrics, name: string, reasons: readonly string[]): void {
  if (seen(metrics, 'push', name)) return
  metrics.pushLastSuccess.set({ sensor: name }, 0)
  for (const reason of reasons) metrics.pushErrors.inc({ sensor: name, reason }, 0)
}

/** The same for a sensor that receives pushes: last success 0, counters at 0 for every reason. */
export function exportReceiveSensor (metrics: SelfMetrics, name: string, reasons: readonly string[]): void {
  if (seen(metrics, 'receive', name)) return
  metrics.receiveLastSuccess.set({ sensor: name }, 0)
  metrics.receivePoints.inc({ sensor: name }, 0)
  metrics.receiveRows.inc({ sensor: name }, 0)
  for (const reason of reasons) metrics.receiveErrors.inc({ sensor: name, reason }, 0)
}
