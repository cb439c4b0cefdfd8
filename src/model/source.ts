/**
 * A meter as the rest of the bridge sees it, whatever protocol it speaks: current values and
 * stored history, already parsed into the model. One implementation per protocol lives in
 * egauge/ (the XML API today); meters/factory.ts picks one by the sensor's `api`.
 */
import type { History, HistoryQuery, Retention } from './history.js'
import type { MeterIdentity, Snapshot } from './readings.js'

/** A parsed answer and how long the meter took to give it. */
export interface Fetched<T> {
  data: T
  fetchSeconds: number
}

export interface MeterSource {
  /** Current values, the sensor's register allow-list applied. Throws EgaugeError. */
  current: (signal?: AbortSignal) => Promise<Fetched<Snapshot>>
  /** Stored history, all columns. Throws EgaugeError. */
  history: (query: HistoryQuery, signal?: AbortSignal) => Promise<Fetched<History>>
  /** What resolutions the meter keeps, for the push planner. */
  retention: () => Retention
  /** Releases connections; the source is not used afterwards. */
  close: () => Promise<void>
  /** Lets idle connections go; the source stays usable (push, done with the meter until the next interval). */
  release?: () => void
  /** For a protocol that logs in (the WebAPI): its token's state, never the token. */
  tokenState?: () => 'none' | 'valid' | 'refused'
  /** For a protocol that says who the meter is (the WebAPI): what it has said so far. */
  identity?: () => MeterIdentity
}

/** A parsed answer as the pull path caches and renders it. */
export type MeterAnswer =
  | { kind: 'current', snapshot: Snapshot, fetchSeconds: number }
  | { kind: 'history', history: History, fetchSeconds: number }

/** Hooks a source reports to (self-metrics). */
export interface SourceCounters {
  /** Called once per HTTP request sent to the meter (auth round trips included). */
  onUpstreamRequest?: () => void
}
