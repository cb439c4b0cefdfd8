/** Waiting, with a way out. */

/**
 * setTimeout as a promise that rejects when the signal aborts, at once if it already has. The
 * abort listener is removed when the time is up, so that a long-lived signal (the push loop's,
 * over thousands of retries) does not collect one listener per sleep.
 */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(t); reject(signal!.reason) }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
