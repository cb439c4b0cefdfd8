/**
 * The configuration schema (README "Configuration"): strict validation of the raw YAML object, every default in
 * one place, and the only snake_case → camelCase mapping in the code base. Pure: secrets have
 * already been substituted by the loader. Throws ConfigError naming the key's path.
 */
import { ConfigError } from '../model/errors.js'
import type { RegisterFilter } from '../model/history.js'
import type { Schema } from '../model/output.js'
import { formatDuration, parseDuration, parseSize } from './duration.js'

/** The meter protocols a sensor can speak (meters/factory.ts maps each to a source). */
export const METER_APIS = ['xml', 'webapi'] as const
export type MeterApi = typeof METER_APIS[number]

export interface SensorConfig {
  name: string
  /** Where the bridge reads the meter; undefined for a meter that only pushes (`receive` without `url`). */
  url: string | undefined
  /** The protocol the bridge reads the meter with. */
  api: MeterApi
  username: string | undefined
  password: string | undefined
  tlsInsecure: boolean
  /** EG30xx meters speak only TLS 1.0, which OpenSSL 3 refuses by default. */
  tlsLegacy: boolean
  timeoutMs: number
  maxResponseBytes: number
  /** What one answer may hold (README "Reliability"): registers, and characters in a name. */
  maxRegisters: number
  maxRegisterName: number
  tags: Record<string, string>
  registers: string[] | undefined
  /**
   * Read the meter's own totals and virtual registers (*Total Usage*, *Total Generation*) on every
   * route: `tot` on current values, `a` on history. Off by default for the legacy `peper` schema,
   * whose 2019 script never asked for them (README "Data model").
   */
  totals: boolean
  /** Legacy Peper schema only: register → unit from `Registre`. */
  registerUnits: Record<string, string> | undefined
  /** The meter pushes its own data to `POST /receive/<name>` (README "Meters that push"). */
  receive: ReceiveConfig | undefined
  /**
   * Where this sensor's points go when not to the top-level `influx` (its database, url and
   * credentials; the rest inherited), as a 2019 file with one database block per meter has it.
   */
  influx: InfluxConfig | undefined
}

export interface ReceiveConfig {
  /** The HTTP Basic credentials the meter sends (its push `user` and `password`). */
  username: string
  password: string
  /** The push interval set on the meter: a sensor is "late" after two without a push. */
  intervalMs: number
}

/** A sensor the bridge reads itself: it has a url (a meter that only pushes has none). */
export type PulledSensor = SensorConfig & { url: string }

/** Whether the bridge reads this sensor itself, as opposed to one that only pushes. */
export function isPulled (sensor: SensorConfig): sensor is PulledSensor {
  return sensor.url !== undefined
}

export type ServerAuth =
  | { kind: 'none' }
  | { kind: 'bearer', token: string }
  | { kind: 'basic', username: string, password: string }

export interface ServerConfig {
  host: string
  port: number
  cacheTtlMs: number
  auth: ServerAuth
}

export interface InfluxConfig {
  version: 1 | 2
  url: string
  database: string
  retentionPolicy: string
  username: string | undefined
  password: string | undefined
  org: string
  bucket: string
  token: string | undefined
  measurement: string
  schema: Schema
  createDatabase: boolean
  timeoutMs: number
  batchSize: number
}

export interface PushConfig {
  intervalMs: number
  stepSeconds: number
  concurrency: number
  stateFile: string
}

export interface Config {
  server: ServerConfig
  sensors: SensorConfig[]
  influx: InfluxConfig
  push: PushConfig
}

/** The sensor's `registers` allow-list as a set; undefined keeps every register. Pure. */
export function registerFilter (sensor: SensorConfig): RegisterFilter {
  return sensor.registers === undefined ? undefined : new Set(sensor.registers)
}

/** Every default, in one place. The README's configuration table is written from this. */
export const DEFAULTS = {
  server: { listen: '0.0.0.0:9430', cache_ttl: '1s' },
  sensor: { api: 'xml', timeout: '10s', tls_insecure: false, tls_legacy: false, max_response_size: '32MiB', max_registers: 512, max_register_name: 256 },
  receive: { interval: '60s' },
  influx: {
    version: 1,
    url: 'http://localhost:8086',
    database: 'egauge',
    retention_policy: '',
    org: '',
    bucket: '',
    measurement: 'egauge',
    schema: 'egauge',
    create_database: true,
    timeout: '30s',
    batch_size: 5000
  },
  push: { interval: '5m', step: '1s', concurrency: 8, state_file: './egauge-bridge-state.json' }
} as const

/** Tag keys the bridge sets itself; configured tags may not replace them. */
const RESERVED_TAGS = new Set(['quantity', 'register', 'sensor', 'unit', 'virtual', 'serial', 'type'])
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const SENSOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** The history steps the bridge fetches at: push.step, `?step=` and `backfill --step`. */
export const HISTORY_STEPS: Record<string, number> = { '1s': 1, '1m': 60, '15m': 900, '1h': 3600, '1d': 86400 }

/** The seconds of a history step name, or undefined; only the table's own keys count. Pure. */
export function historyStep (name: string): number | undefined {
  return Object.hasOwn(HISTORY_STEPS, name) ? HISTORY_STEPS[name] : undefined
}

type Raw = Record<string, unknown>

/** Validates a raw (modern) config object and returns the typed config; throws ConfigError. */
export function validateConfig (raw: unknown): Config {
  const root = object(raw, '', ['server', 'defaults', 'sensors', 'influx', 'push'])
  const defaults = object(root.defaults ?? {}, 'defaults', SENSOR_KEYS.filter((k) => k !== 'name' && k !== 'url' && k !== 'receive' && k !== 'influx'))
  // Checked on their own first, so an error names `defaults.x`, not the first sensor that inherits it.
  sensor({ ...defaults, name: 'defaults' }, 'defaults', true)
  const sensorList = root.sensors ?? []
  if (!Array.isArray(sensorList)) throw new ConfigError('sensors', 'must be a list of sensors')
  const influxRaw = object(root.influx ?? {}, 'influx', INFLUX_KEYS)
  const influxConfig = influx(influxRaw, 'influx')
  const totalsByDefault = influxConfig.schema !== 'peper'
  const sensors = sensorList.map((s, i) => {
    const path = `sensors[${i}]`
    const raw = { ...defaults, ...object(s, path, SENSOR_KEYS) }
    const parsed = sensor(raw, path, totalsByDefault)
    if (raw.influx !== undefined) parsed.influx = influx({ ...influxRaw, ...object(raw.influx, `${path}.influx`, SENSOR_INFLUX_KEYS) }, `${path}.influx`)
    return parsed
  })
  const seen = new Set<string>()
  sensors.forEach((s, i) => {
    if (seen.has(s.name)) throw new ConfigError(`sensors[${i}].name`, `duplicate sensor name "${s.name}"`)
    seen.add(s.name)
  })
  const receiving = sensors.findIndex((s) => s.receive !== undefined)
  if (receiving >= 0 && root.influx === undefined) {
    throw new ConfigError('influx', `sensors[${receiving}] receives pushes, which are written to a database: an influx block is required`)
  }
  return {
    server: server(object(root.server ?? {}, 'server', ['listen', 'cache_ttl', 'auth'])),
    sensors,
    influx: influxConfig,
    push: push(object(root.push ?? {}, 'push', ['interval', 'step', 'concurrency', 'state_file']))
  }
}

const SENSOR_KEYS = ['name', 'url', 'api', 'username', 'password', 'tls_insecure', 'tls_legacy', 'timeout', 'max_response_size', 'max_registers', 'max_register_name', 'totals', 'tags', 'registers', 'register_units', 'receive', 'influx']
/** What a sensor may set of its own database: the target; schema, measurement, limits stay shared. */
const SENSOR_INFLUX_KEYS = ['url', 'database', 'retention_policy', 'username', 'password', 'org', 'bucket', 'token']
const INFLUX_KEYS = ['version', 'url', 'database', 'retention_policy', 'username', 'password', 'org', 'bucket', 'token', 'measurement', 'schema', 'create_database', 'timeout', 'batch_size']

function sensor (raw: Raw, path: string, totalsByDefault: boolean): SensorConfig {
  const name = string(raw.name, `${path}.name`)
  if (!SENSOR_NAME.test(name)) {
    throw new ConfigError(`${path}.name`, 'must be 1-64 letters, digits, "-", "_" or "." (it is a URL path segment and a tag value)')
  }
  const receive = raw.receive === undefined ? undefined : receiveBlock(raw.receive, `${path}.receive`)
  // A meter that pushes and has no url is never read; any other gets eGauge's proxy by default.
  const url = raw.url !== undefined ? httpUrl(raw.url, `${path}.url`) : receive === undefined ? `https://${name}.d.egauge.net` : undefined
  const username = optionalString(raw.username, `${path}.username`)
  const password = optionalString(raw.password, `${path}.password`)
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError(`${path}.${username === undefined ? 'username' : 'password'}`, 'username and password go together')
  }
  const tags = stringMap(raw.tags ?? {}, `${path}.tags`)
  for (const key of Object.keys(tags)) {
    if (!LABEL_NAME.test(key)) throw new ConfigError(`${path}.tags.${key}`, 'tag names must match [a-zA-Z_][a-zA-Z0-9_]* (they are Prometheus labels too)')
    if (RESERVED_TAGS.has(key)) throw new ConfigError(`${path}.tags.${key}`, `"${key}" is set by the bridge and cannot be configured`)
  }
  let registers: string[] | undefined
  if (raw.registers !== undefined) {
    if (!Array.isArray(raw.registers) || raw.registers.length === 0) throw new ConfigError(`${path}.registers`, 'must be a non-empty list of register names')
    registers = raw.registers.map((r, i) => string(r, `${path}.registers[${i}]`))
  }
  return {
    name,
    url,
    api: meterApi(raw.api ?? DEFAULTS.sensor.api, `${path}.api`),
    username,
    password,
    tlsInsecure: boolean(raw.tls_insecure ?? DEFAULTS.sensor.tls_insecure, `${path}.tls_insecure`),
    tlsLegacy: boolean(raw.tls_legacy ?? DEFAULTS.sensor.tls_legacy, `${path}.tls_legacy`),
    timeoutMs: duration(raw.timeout ?? DEFAULTS.sensor.timeout, `${path}.timeout`, 100),
    maxResponseBytes: size(raw.max_response_size ?? DEFAULTS.sensor.max_response_size, `${path}.max_response_size`),
    maxRegisters: integer(raw.max_registers ?? DEFAULTS.sensor.max_registers, `${path}.max_registers`, 1, 100_000),
    maxRegisterName: integer(raw.max_register_name ?? DEFAULTS.sensor.max_register_name, `${path}.max_register_name`, 1, 65_536),
    totals: boolean(raw.totals ?? totalsByDefault, `${path}.totals`),
    tags,
    registers,
    registerUnits: raw.register_units === undefined ? undefined : stringMap(raw.register_units, `${path}.register_units`),
    receive,
    influx: undefined
  }
}

function receiveBlock (value: unknown, path: string): ReceiveConfig {
  const raw = object(value, path, ['username', 'password', 'interval'])
  // A meter sends HTTP Basic only: without credentials anyone could write into the database.
  if (raw.username === undefined || raw.password === undefined) {
    throw new ConfigError(`${path}.${raw.username === undefined ? 'username' : 'password'}`, 'a receive block needs username and password (or password_file): the meter sends them as HTTP Basic credentials')
  }
  return {
    username: string(raw.username, `${path}.username`),
    password: string(raw.password, `${path}.password`),
    intervalMs: duration(raw.interval ?? DEFAULTS.receive.interval, `${path}.interval`, 1000)
  }
}

function meterApi (value: unknown, path: string): MeterApi {
  const api = METER_APIS.find((a) => a === value)
  if (api === undefined) throw new ConfigError(path, `${shown(value)} is not a meter protocol (allowed: ${METER_APIS.join(', ')})`)
  return api
}

function server (raw: Raw): ServerConfig {
  const listen = string(raw.listen ?? DEFAULTS.server.listen, 'server.listen')
  return {
    ...parseListen(listen, 'server.listen'),
    cacheTtlMs: duration(raw.cache_ttl ?? DEFAULTS.server.cache_ttl, 'server.cache_ttl', 0),
    auth: serverAuth(raw.auth)
  }
}

/** `host:port`, `:port` or `[v6]:port` → parts; throws ConfigError. */
export function parseListen (text: string, path: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text)
  const port = m === null ? Number.NaN : Number(m[3])
  if (m === null || port > 65535) throw new ConfigError(path, `"${text}" is not host:port`)
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port }
}

function serverAuth (value: unknown): ServerAuth {
  if (value === undefined || value === null) return { kind: 'none' }
  const raw = object(value, 'server.auth', ['bearer_token', 'basic'])
  if (raw.bearer_token !== undefined && raw.basic !== undefined) throw new ConfigError('server.auth', 'set bearer_token or basic, not both')
  if (raw.bearer_token !== undefined) {
    const token = string(raw.bearer_token, 'server.auth.bearer_token')
    if (token.length < 16) throw new ConfigError('server.auth.bearer_token', 'must be at least 16 characters')
    return { kind: 'bearer', token }
  }
  if (raw.basic !== undefined) {
    const basic = object(raw.basic, 'server.auth.basic', ['username', 'password'])
    return { kind: 'basic', username: string(basic.username, 'server.auth.basic.username'), password: string(basic.password, 'server.auth.basic.password') }
  }
  return { kind: 'none' }
}

function influx (raw: Raw, path: string): InfluxConfig {
  const d = DEFAULTS.influx
  const version = raw.version ?? d.version
  if (version !== 1 && version !== 2) throw new ConfigError(`${path}.version`, 'must be 1 or 2')
  const schema = raw.schema ?? d.schema
  if (schema !== 'egauge' && schema !== 'peper') throw new ConfigError(`${path}.schema`, 'must be "egauge" or "peper"')
  const batchSize = integer(raw.batch_size ?? d.batch_size, `${path}.batch_size`, 1, 1_000_000)
  return {
    version,
    url: httpUrl(raw.url ?? d.url, `${path}.url`),
    database: string(raw.database ?? d.database, `${path}.database`),
    retentionPolicy: stringAllowEmpty(raw.retention_policy ?? d.retention_policy, `${path}.retention_policy`),
    username: optionalString(raw.username, `${path}.username`),
    password: optionalString(raw.password, `${path}.password`),
    org: stringAllowEmpty(raw.org ?? d.org, `${path}.org`),
    bucket: stringAllowEmpty(raw.bucket ?? d.bucket, `${path}.bucket`),
    token: optionalString(raw.token, `${path}.token`),
    measurement: string(raw.measurement ?? (schema === 'peper' ? 'measure' : d.measurement), `${path}.measurement`),
    schema,
    createDatabase: boolean(raw.create_database ?? d.create_database, `${path}.create_database`),
    timeoutMs: duration(raw.timeout ?? d.timeout, `${path}.timeout`, 100),
    batchSize
  }
}

function push (raw: Raw): PushConfig {
  const d = DEFAULTS.push
  const step = string(raw.step ?? d.step, 'push.step')
  const stepSeconds = historyStep(step)
  if (stepSeconds === undefined) throw new ConfigError('push.step', `must be one of ${Object.keys(HISTORY_STEPS).join(', ')}`)
  const intervalMs = duration(raw.interval ?? d.interval, 'push.interval', 1000)
  if (intervalMs % 1000 !== 0) throw new ConfigError('push.interval', 'must be a whole number of seconds')
  return {
    intervalMs,
    stepSeconds,
    concurrency: integer(raw.concurrency ?? d.concurrency, 'push.concurrency', 1, 1000),
    stateFile: string(raw.state_file ?? d.state_file, 'push.state_file')
  }
}

// --- primitive validators: each names the path in its error ---

function object (value: unknown, path: string, allowed: readonly string[]): Raw {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(path, 'must be a mapping')
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(path === '' ? key : `${path}.${key}`, `unknown key (allowed: ${allowed.join(', ')})`)
    }
  }
  return value as Raw
}

function string (value: unknown, path: string): string {
  if (typeof value === 'number') return String(value)
  if (typeof value !== 'string' || value === '') throw new ConfigError(path, 'must be a non-empty string')
  return value
}

function stringAllowEmpty (value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ConfigError(path, 'must be a string')
  return value
}

function optionalString (value: unknown, path: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, path)
}

function boolean (value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(path, 'must be true or false')
  return value
}

function integer (value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(path, `must be a whole number from ${min} to ${max}`)
  }
  return value
}

function duration (value: unknown, path: string, minMs: number): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined
  if (ms === undefined) throw new ConfigError(path, `${shown(value)} is not a duration (like 500ms, 10s, 5m, 1h)`)
  if (ms < minMs) throw new ConfigError(path, `must be at least ${formatDuration(minMs)}`)
  return ms
}

function size (value: unknown, path: string): number {
  const bytes = typeof value === 'number' ? value : typeof value === 'string' ? parseSize(value) : undefined
  if (bytes === undefined || !Number.isInteger(bytes) || bytes < 1024) throw new ConfigError(path, `${shown(value)} is not a size of at least 1KiB (like 32MiB)`)
  return bytes
}

/**
 * A wrong value as an error message may repeat it: a number, a boolean, or a text that starts
 * with a digit (`10 seconds`, `32 MB`). Anything else may be a password typed into the wrong
 * key, and is not repeated (check-config prints these messages).
 */
function shown (value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && /^\d[\w .]{0,15}$/.test(value))) return `"${String(value)}"`
  return 'the value (not repeated: it may be a secret)'
}

function httpUrl (value: unknown, path: string): string {
  const text = string(value, path)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Userinfo is a password: never repeated back.
    throw new ConfigError(path, `"${text.replace(/\/\/[^/@]*@/, '//[redacted]@')}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(path, 'must be an http:// or https:// URL')
  if (url.username !== '' || url.password !== '') throw new ConfigError(path, 'must not contain credentials (use username and password)')
  return text.replace(/\/+$/, '')
}

function stringMap (value: unknown, path: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(path, 'must be a mapping of names to strings')
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) out[k] = string(v, `${path}.${k}`)
  return out
}
