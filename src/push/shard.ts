/** `--shard i/n`: which sensors one push instance owns. Pure. */

/** A stable hash of a sensor name (FNV-1a, 32 bits) modulo the shard count. */
export function shardOf (name: string, shards: number): number {
  let h = 0x811c9dc5
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % shards
}

/** Parses `i/n` (1-based: `1/3`, `2/3`, `3/3`). Throws RangeError. */
export function parseShard (text: string): { index: number, count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text)
  const index = Number(m?.[1])
  const count = Number(m?.[2])
  if (m === null || count < 1 || index < 1 || index > count) throw new RangeError(`--shard must be i/n with 1 <= i <= n, like 1/3 (got "${text}")`)
  return { index, count }
}
