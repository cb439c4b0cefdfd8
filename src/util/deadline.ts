/** A request's time limit joined with its caller's way out. */

export interface Deadline {
  /** Aborts when the caller's signal does, or when the time is up. */
  readonly signal: AbortSignal
  /** True once the time ran out (not when the caller aborted). */
  timedOut: () => boolean
  /** Stops the timer and lets go of the caller's signal; call it when the request is over. */
  release: () => void
}

/**
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`, without its leak: on Node 20 every call
 * leaves a WeakRef in the parent's set of dependants that is never pruned (nodejs/node#55351,
 * fixed in Node 22). The push loop's signal lives as long as the process, so each meter request
 * and database write grew it for good (measured: 4 entries, about 380 bytes, per meter per
 * cycle; 100 MB a day at 1000 meters). Here the parent holds one listener per request in flight,
 * removed by release().
 */
export function deadline (ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController()
  let expired = false
  const onAbort = (): void => { controller.abort(parent!.reason) }
  const timer = setTimeout(() => {
    expired = true
    parent?.removeEventListener('abort', onAbort)
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  // As AbortSignal.timeout's: a time limit alone does not keep the process running.
  timer.unref()
  if (parent?.aborted === true) controller.abort(parent.reason)
  else parent?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => expired,
    release: () => {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onAbort)
    }
  }
}
