/**
 * A meter's clock against the bridge's (pure). A meter whose clock is hours off stamps its rows in
 * its own time; push planned in the bridge's time would then ask for rows the meter does not have
 * yet (clock behind: every cycle writes nothing) or write rows stamped in the future (clock ahead),
 * in silence. The push loop reads the meter's time each cycle, reports an offset beyond
 * CLOCK_SKEW_SECONDS, and plans that sensor in the meter's time (README "Reliability").
 */

/** An offset within this is network delay, rounding and a meter's drift between time syncs. */
export const CLOCK_SKEW_SECONDS = 120

/**
 * The meter's clock minus the bridge's, in whole seconds: the meter's time of its answer against
 * the middle of the request (sent and received in the bridge's epoch milliseconds).
 */
export function clockOffset (meterTime: number, sentMs: number, receivedMs: number): number {
  return Math.round(meterTime - (sentMs + receivedMs) / 2000)
}

/** Whether an offset is a wrong clock rather than delay and rounding. */
export function isSkewed (offset: number): boolean {
  return Math.abs(offset) > CLOCK_SKEW_SECONDS
}

/** The offset push applies to the sensor's plan: the measured one when it is a skew, else none. */
export function planOffset (offset: number | undefined): number {
  return offset !== undefined && isSkewed(offset) ? offset : 0
}

/**
 * What to log when an offset is measured, given the last one logged: a warning when a skew
 * appears or moves by more than the threshold, a note when the clock is back in step, else
 * nothing (a skewed meter is not logged every cycle). Pure.
 */
export function clockChange (offset: number, reported: number | undefined): 'skewed' | 'recovered' | undefined {
  const wasSkewed = reported !== undefined && isSkewed(reported)
  if (isSkewed(offset)) return !wasSkewed || Math.abs(offset - reported) > CLOCK_SKEW_SECONDS ? 'skewed' : undefined
  return wasSkewed ? 'recovered' : undefined
}

/** "3 h 0 min behind", "95 s ahead": an offset for people. Pure. */
export function describeOffset (offset: number): string {
  const size = Math.abs(offset)
  const amount = size < 3600 ? `${size} s` : `${Math.floor(size / 3600)} h ${Math.floor((size % 3600) / 60)} min`
  return `${amount} ${offset < 0 ? 'behind' : 'ahead'}`
}
