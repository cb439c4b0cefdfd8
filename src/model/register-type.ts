/**
 * What a register's type code means: the quantity it measures, its SI unit, and the divisor from
 * the meter's integer units to SI. Each meter protocol has its own table (egauge/registers.ts);
 * everything above the protocols reads only this shape.
 */

export interface RegisterType {
  /** The `quantity` tag value; also selects the Prometheus family (formats/prometheus.ts). */
  quantity: string
  /** The `unit` tag value (ASCII: `degC`, `m3/s`, `W/m2`); empty for plain numbers. */
  unit: string
  /**
   * Meter units per SI unit: a rate in SI = Δraw / (perUnit × Δt). A divisor rather than a
   * quantum: 1, 10, 1000, 10^9 and 2^29 are exact doubles, so every value is one correctly
   * rounded division (119841 / 1000 is 119.841; 119841 × 0.001 is 119.84100000000001).
   */
  perUnit: number
  /** Discrete registers are stored as-is: never differenced, never averaged. */
  discrete?: boolean
  /**
   * This protocol's units per XML API unit, where they differ (the WebAPI counts humidity 100
   * times finer). The legacy `peper` schema is the 2019 script's arithmetic on XML units.
   */
  xmlUnits?: number
}

/** Meter units per second as the XML API counts them: what the legacy schema's arithmetic takes. */
export function xmlUnitsPerSecond (type: RegisterType, units: number, seconds: number): number {
  return type.xmlUnits === undefined ? units / seconds : units / type.xmlUnits / seconds
}

/**
 * A rate in the register's unit (`%`) → XML API units per second, multiplied by the XML API's own
 * units per unit as the XML parser does with `<i>`, so that both protocols give the same float
 * (50.992 × 10 is 509.91999999999996, 50.992 × 1000 / 100 is 509.92).
 */
export function rateInXmlUnits (type: RegisterType, rate: number): number {
  return rate * (type.xmlUnits === undefined ? type.perUnit : type.perUnit / type.xmlUnits)
}

/** The average rate in SI units of `units` meter units over `seconds`: one correctly rounded division. */
export function siRate (type: RegisterType, units: number, seconds: number): number {
  return units / (type.perUnit * seconds)
}

/** A cumulative value in SI units × seconds (joules for power); NaN stays NaN. */
export function siTotal (type: RegisterType, cumulative: number): number {
  return cumulative / type.perUnit
}
