/**
 * A legacy config read as the 2019 script read it: PyYAML's YAML 1.1 implicit types, then
 * Python's `str()`, which is how influxdb-python printed every tag value. `CP: 06000` was the
 * octal integer 3072 and became the tag `3072`; `GPS_long: 7.0` stayed `7.0`; `yes` became
 * `True`. Pure. Returns plain data in which every scalar is the string Python would print (null
 * for None), and a note for every value that the old script wrote differently from its text.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml'
import { ConfigError } from '../model/errors.js'

/** As many aliases as the modern loader allows (an alias bomb is refused, not expanded). */
const MAX_ALIASES = 100

export interface PythonReading {
  value: unknown
  /** Every plain scalar whose Python form differs from what was typed: `CP: 06000 → 3072 (octal)`. */
  mangled: Array<{ path: string, typed: string, written: string, why: string }>
}

/** Reads YAML text as PyYAML's default loader and Python's `str()` do; throws ConfigError on invalid YAML. */
export function readAsPython (text: string): PythonReading {
  const doc = parseDocument(text, { schema: 'failsafe', merge: false })
  if (doc.errors.length > 0) throw new ConfigError('', `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`)
  const mangled: PythonReading['mangled'] = []
  let aliases = 0
  const walk = (node: unknown, path: string): unknown => {
    if (isAlias(node)) {
      if (++aliases > MAX_ALIASES) throw new ConfigError('', `invalid YAML: more than ${MAX_ALIASES} aliases`)
      return walk(node.resolve(doc), path)
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {}
      for (const pair of node.items) {
        const key = walk(pair.key, `${path === '' ? '' : `${path}.`}${isScalar(pair.key) ? String(pair.key.value) : '?'} (a key)`)
        const name = key === null ? 'None' : String(key)
        out[name] = walk(pair.value, path === '' ? name : `${path}.${name}`)
      }
      return out
    }
    if (isSeq(node)) return node.items.map((item, i) => walk(item, `${path}[${i}]`))
    if (isScalar(node)) {
      const typed = String(node.value)
      if (node.type !== Scalar.PLAIN) return typed
      const resolved = pythonScalar(typed)
      if (resolved.why !== undefined && resolved.written !== typed) mangled.push({ path, typed, written: resolved.written ?? 'None', why: resolved.why })
      return resolved.written
    }
    // An empty value (`key:`) is None, as PyYAML reads it.
    return null
  }
  return { value: walk(doc.contents, ''), mangled }
}

/** PyYAML's implicit resolvers (resolver.py) for a plain scalar, in the order it tries them. */
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/
const FLOAT = /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/
const NULL = /^(?:~|null|Null|NULL|)$/

/**
 * What Python printed for a plain scalar: `written` (null for None) and, when it is not a string,
 * why (`octal integer`, `float`, …). Strings come back as typed.
 */
export function pythonScalar (typed: string): { written: string | null, why?: string } {
  if (BOOL.test(typed)) return { written: /^(?:yes|true|on)$/i.test(typed) ? 'True' : 'False', why: 'a YAML 1.1 boolean' }
  if (FLOAT.test(typed)) return { written: pythonFloat(floatValue(typed)), why: 'a float' }
  if (INT.test(typed)) return intValue(typed)
  if (NULL.test(typed)) return { written: null, why: 'None (the tag was left out)' }
  return { written: typed }
}

function sexagesimal (text: string, parse: (part: string) => number): number {
  return text.split(':').reduce((sum, part) => sum * 60 + parse(part), 0)
}

function floatValue (typed: string): number {
  let text = typed.replace(/_/g, '').toLowerCase()
  const sign = text.startsWith('-') ? -1 : 1
  if (text.startsWith('-') || text.startsWith('+')) text = text.slice(1)
  if (text === '.inf') return sign * Infinity
  if (text === '.nan') return Number.NaN
  return sign * (text.includes(':') ? sexagesimal(text, Number) : Number(text))
}

function intValue (typed: string): { written: string, why: string } {
  let text = typed.replace(/_/g, '')
  const negative = text.startsWith('-')
  if (text.startsWith('-') || text.startsWith('+')) text = text.slice(1)
  let value: bigint
  let why = 'an integer'
  if (text === '0') value = 0n
  else if (text.startsWith('0b')) { value = BigInt(text); why = 'a binary integer' } else if (text.startsWith('0x')) { value = BigInt(text); why = 'a hexadecimal integer' } else if (text.startsWith('0')) { value = BigInt('0o' + text.slice(1)); why = 'an octal integer (YAML 1.1: a leading 0)' } else if (text.includes(':')) { value = text.split(':').reduce((sum, part) => sum * 60n + BigInt(part), 0n); why = 'a base-60 integer (YAML 1.1)' } else value = BigInt(text)
  return { written: String(negative ? -value : value), why }
}

/** Python's `repr()` of a float (what `str()` prints since Python 3.2): shortest digits, `e` past 1e16. */
export function pythonFloat (x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e') as [string, string]
  const digits = mantissa.replace('.', '')
  const exp = Number(exponent)
  const sign = x < 0 ? '-' : ''
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0')
  const fraction = digits.slice(exp + 1)
  return `${sign}${whole}.${fraction === '' ? '0' : fraction}`
}
