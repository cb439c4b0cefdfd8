/** Duration and size strings of the config file (`10s`, `1h30m`, `32MiB`). Pure. */

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds for `500ms`, `10s`, `5m`, `1h30m`, `2d`; undefined if the text is not a duration. */
export function parseDuration (text: string): number | undefined {
  if (!DURATION.test(text)) return undefined
  let ms = 0
  for (const [, n, unit] of text.matchAll(PART)) ms += Number(n) * UNIT_MS[unit!]!
  return ms
}

/** Formats milliseconds the way the config file writes them (`5m`, `1s`, `1h30m`). */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  let out = ''
  let rest = ms
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size)
      out += `${n}${unit}`
      rest -= n * size
    }
  }
  return out
}

const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB|kB|MB|GB)?$/
const UNIT_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1e3, MB: 1e6, GB: 1e9 }

/** Bytes for `32MiB`, `500kB`, `1024`; undefined if the text is not a size. */
export function parseSize (text: string): number | undefined {
  const m = SIZE.exec(text)
  if (m === null) return undefined
  return Number(m[1]) * UNIT_BYTES[m[2] ?? 'B']!
}
