/**
 * One MeterSource per sensor, chosen by its protocol (`sensors[].api`): a map from the config
 * string to a constructor, as blackbox_exporter maps a module's prober. A new protocol is one
 * entry here and one client in egauge/.
 */
import type { MeterApi, SensorConfig } from '../config/schema.js'
import { XmlClient } from '../egauge/xml/client.js'
import type { MeterSource, SourceCounters } from '../model/source.js'

export type SourceFactory = (sensor: SensorConfig, counters: SourceCounters) => MeterSource

const protocols: Record<MeterApi, SourceFactory> = {
  xml: (sensor, counters) => new XmlClient(sensor, counters)
}

/** The source for a sensor's protocol. Opens no connection until the first request. */
export function createMeterSource (sensor: SensorConfig, counters: SourceCounters = {}): MeterSource {
  return protocols[sensor.api](sensor, counters)
}
