/**
 * One MeterSource per sensor, chosen by its protocol (`sensors[].api`): a map from the config
 * string to a constructor, as blackbox_exporter maps a module's prober. A new protocol is one
 * entry here and one client in egauge/.
 */
import type { MeterApi, PulledSensor } from '../config/schema.js'
import { WebApiClient } from '../egauge/webapi/client.js'
import { XmlClient } from '../egauge/xml/client.js'
import { EgaugeError } from '../model/errors.js'
import type { MeterSource, SourceCounters } from '../model/source.js'
import { redactingErrors, secretForms } from '../util/redact.js'

export type SourceFactory = (sensor: PulledSensor, counters: SourceCounters) => MeterSource

const protocols: Record<MeterApi, SourceFactory> = {
  xml: (sensor, counters) => new XmlClient(sensor, counters),
  webapi: (sensor, counters) => new WebApiClient(sensor, counters)
}

/** The protocol's own client for a sensor, as configured by `api`. */
export function protocolSource (sensor: PulledSensor, counters: SourceCounters = {}): MeterSource {
  return protocols[sensor.api](sensor, counters)
}

/** The source for a sensor: its protocol's client, its errors redacted. Opens no connection until the first request. */
export function createMeterSource (sensor: PulledSensor, counters: SourceCounters = {}): MeterSource {
  return redacting(protocolSource(sensor, counters), secretForms(sensor.username, sensor.password))
}

/**
 * Every error of a source made safe to show before anything logs, counts or answers it: a meter
 * may echo the request's Authorization header into its answer, and parse errors quote the
 * answer. The sensor's password and Basic credentials are replaced, control characters
 * blanked, the message capped (README "Security").
 */
export function redacting (source: MeterSource, secrets: readonly string[]): MeterSource {
  return {
    current: async (signal) => await redactingErrors(async () => await source.current(signal), EgaugeError, secrets),
    history: async (query, signal) => await redactingErrors(async () => await source.history(query, signal), EgaugeError, secrets),
    retention: () => source.retention(),
    close: async () => { await source.close() },
    ...(source.release === undefined ? {} : { release: () => { source.release!() } }),
    ...(source.tokenState === undefined ? {} : { tokenState: () => source.tokenState!() }),
    ...(source.identity === undefined ? {} : { identity: () => source.identity!() })
  }
}
