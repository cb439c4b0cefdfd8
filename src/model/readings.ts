/** The one internal representation shared by the pull and push paths (ARCHITECTURE.md, "The model"). */

/** One value of one register at one time. */
export interface Reading {
  sensor: string
  register: string
  /** The meter's type code (`P`, `V`, …), kept for labels of unknown codes. */
  type: string
  quantity: string
  unit: string
  /** True for the meter's total and virtual registers (`rt="total"`). */
  virtual: boolean
  /** Unix seconds; a rate is stamped at the end of its interval. */
  time: number
  /** Average rate in SI units over the interval ending at `time` (instantaneous for `inst`). */
  rate: number
  /** Cumulative value in SI·s (joules for power); NaN where it has no meaning (discrete). */
  total: number
  /**
   * The same rate before the quantum: meter units per second. The legacy Peper schema needs the
   * 2019 script's exact arithmetic (Δraw / Δt / 1000), which a round trip through `rate` would blur.
   */
  rawRate: number
}

/** What the meter says about itself alongside its readings. */
export interface Snapshot {
  sensor: string
  /** The meter's configuration serial (hex). It changes with the configuration, not per device. */
  serial: string
  /** Meter time of the newest values, unix seconds. */
  time: number
  readings: Reading[]
  /** Who the meter is, where its protocol says (the WebAPI, with the right to read it). */
  identity?: MeterIdentity
}

/** A meter's own identity: its device serial number (stable, unlike `serial`) and host name. */
export interface MeterIdentity {
  serialNumber?: string
  hostname?: string
}
