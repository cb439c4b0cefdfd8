/**
 * One MeterSource per sensor, chosen by its protocol (`sensors[].api`): a map from the config
 * string to a constructor, as blackbox_exporter maps a module's prober. A new protocol is one
 * entry here and one client in egauge/.
 */
import type { MeterApi, PulledSensor } from '../config/schema.js'
import { WebApiClient } from '../egauge/webapi/client.js'
import { XmlClient } from '../egauge/xml/client.js'
import { EgaugeError } from '../model/errors.js'
import type { History, HistoryQuery, Retention } from '../model/history.js'
import type { MeterIdentity, Snapshot } from '../model/readings.js'
import type { Fetched, MeterSource, SourceCounters } from '../model/source.js'
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
  return new RedactingSource(source, secrets)
}

/**
 * A class, not an object of closures: one per configured meter, and seven closures with their
 * context cost 450 bytes each (measured at 5000 meters). tokenState and identity exist only where
 * the protocol's client has them, as the status page tests for them.
 */
class RedactingSource implements MeterSource {
  tokenState?: () => 'none' | 'valid' | 'refused'
  identity?: () => MeterIdentity

  constructor (private readonly source: MeterSource, private readonly secrets: readonly string[]) {
    if (source.tokenState !== undefined) this.tokenState = () => source.tokenState!()
    if (source.identity !== undefined) this.identity = () => source.identity!()
  }

  async current (signal?: AbortSignal): Promise<Fetched<Snapshot>> {
    return await redactingErrors(async () => await this.source.current(signal), EgaugeError, this.secrets)
  }

  async history (query: HistoryQuery, signal?: AbortSignal): Promise<Fetched<History>> {
    return await redactingErrors(async () => await this.source.history(query, signal), EgaugeError, this.secrets)
  }

  retention (): Retention {
    return this.source.retention()
  }

  release (): void {
    this.source.release?.()
  }

  async close (): Promise<void> {
    await this.source.close()
  }
}
