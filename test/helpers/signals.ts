/**
 * The set in which Node's AbortSignal.any() keeps a WeakRef to every signal made from this one
 * (undefined when none was ever made): on Node 20 it is never pruned (nodejs/node#55351), so a
 * long-lived signal must never have one.
 */
export function dependants (signal: AbortSignal): Set<unknown> | undefined {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals')
  return key === undefined ? undefined : (signal as unknown as Record<symbol, Set<unknown>>)[key]
}
