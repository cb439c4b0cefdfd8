/**
 * A CommonJS package loaded on its first use, synchronously. Loading Fastify, undici or the
 * InfluxDB client costs 0.1–0.2 s of CPU each on a small machine; `once`, `check-config` and a
 * bridge that has not fetched or written yet need none of them (#17, README "Performance").
 * Types come from `import type`, which costs nothing at run time.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export function lazyRequire<T> (id: string): () => T {
  let loaded: T | undefined
  return () => (loaded ??= require(id) as T)
}
