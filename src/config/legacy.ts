/**
 * The 2019 Peper script's config.yml (README "Migrating from the 2019 Peper script"), accepted unchanged: a `sensors:` mapping of
 * `{name, iplocal, GPS_lat, GPS_long, Ville, CP, Rue, Registre}` and
 * `database: {database: {name, port, ip, identifiant, mdp}}`. Pure: raw legacy object → raw modern
 * object (snake_case), which the normal schema then validates.
 */
import { ConfigError } from '../model/errors.js'

const SENSOR_KEYS = ['name', 'iplocal', 'GPS_lat', 'GPS_long', 'Ville', 'CP', 'Rue', 'Registre']
const DATABASE_KEYS = ['name', 'port', 'ip', 'identifiant', 'mdp']

/** True when a raw YAML object is in the legacy format (sensors as a mapping, or `database:`). */
export function isLegacy (raw: unknown): boolean {
  if (raw === null || typeof raw !== 'object') return false
  const r = raw as Record<string, unknown>
  return 'database' in r || (r.sensors !== null && typeof r.sensors === 'object' && !Array.isArray(r.sensors))
}

export interface Migration {
  /** The equivalent modern config, ready for validateConfig() or for printing as YAML. */
  config: Record<string, unknown>
  /** Keys the bridge does not know and ignored (the old script's file is not ours to reject). */
  warnings: string[]
}

/** Maps a legacy config to the modern one; throws ConfigError for what cannot be mapped. */
export function migrateLegacy (raw: Record<string, unknown>): Migration {
  const warnings: string[] = []
  for (const key of Object.keys(raw)) {
    if (key !== 'sensors' && key !== 'database') warnings.push(`${key}: unknown key in a legacy config, ignored`)
  }
  const sensorsRaw = raw.sensors
  if (sensorsRaw === null || typeof sensorsRaw !== 'object' || Array.isArray(sensorsRaw)) {
    throw new ConfigError('sensors', 'a legacy config needs a "sensors" mapping')
  }
  const sensors = Object.entries(sensorsRaw as Record<string, unknown>).map(([key, value]) => legacySensor(key, value, warnings))
  const db = legacyDatabase(raw.database)
  return {
    config: {
      sensors,
      influx: {
        version: 1,
        url: `http://${db.ip}:${db.port}`,
        database: db.name,
        ...(db.identifiant === undefined ? {} : { username: db.identifiant }),
        ...(db.mdp === undefined ? {} : { password: db.mdp }),
        schema: 'peper',
        measurement: 'measure',
        create_database: true
      },
      push: { interval: '5m', step: '1s' }
    },
    warnings
  }
}

function legacySensor (key: string, value: unknown, warnings: string[]): Record<string, unknown> {
  const path = `sensors.${key}`
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(path, 'must be a mapping')
  const s = value as Record<string, unknown>
  for (const k of Object.keys(s)) {
    if (!SENSOR_KEYS.includes(k)) warnings.push(`${path}.${k}: unknown key in a legacy sensor, ignored`)
  }
  const name = scalar(s.name ?? key, `${path}.name`)
  const tags: Record<string, string> = { ID: name }
  for (const [tag, field] of [['IP', 'iplocal'], ['GPS_lat', 'GPS_lat'], ['GPS_long', 'GPS_long'], ['Ville', 'Ville'], ['CP', 'CP'], ['Rue', 'Rue']] as const) {
    if (s[field] !== undefined && s[field] !== null) tags[tag] = scalar(s[field], `${path}.${field}`)
  }
  const units = registerUnits(s.Registre, `${path}.Registre`)
  return {
    name,
    // The script went through the eGauge proxy over plain HTTP (egaug.es is an alias of d.egauge.net).
    url: `http://${name}.egaug.es`,
    tags,
    ...(Object.keys(units).length === 0 ? {} : { register_units: units })
  }
}

/**
 * `Registre` lists registers with their unit as `Name=Unit`: a YAML list, one comma-separated
 * string, or a mapping of name to unit are all accepted.
 */
function registerUnits (value: unknown, path: string): Record<string, string> {
  if (value === undefined || value === null) return {}
  let entries: Array<[string, string]>
  if (Array.isArray(value)) {
    entries = value.map((v, i) => splitEntry(scalar(v, `${path}[${i}]`), `${path}[${i}]`))
  } else if (typeof value === 'string') {
    entries = value.split(',').filter((p) => p.trim() !== '').map((p) => splitEntry(p, path))
  } else if (typeof value === 'object') {
    entries = Object.entries(value).map(([k, v]) => [k, scalar(v, `${path}.${k}`)])
  } else {
    throw new ConfigError(path, 'must be a list of "Register=Unit" entries')
  }
  return Object.fromEntries(entries)
}

function splitEntry (text: string, path: string): [string, string] {
  const at = text.lastIndexOf('=')
  if (at <= 0) throw new ConfigError(path, `"${text}" is not "Register=Unit"`)
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()]
}

function legacyDatabase (value: unknown): { name: string, port: string, ip: string, identifiant?: string, mdp?: string } {
  if (value === null || typeof value !== 'object') throw new ConfigError('database', 'a legacy config needs database: {database: {name, port, ip, identifiant, mdp}}')
  const inner = (value as Record<string, unknown>).database
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new ConfigError('database.database', 'must be a mapping of name, port, ip, identifiant, mdp')
  const d = inner as Record<string, unknown>
  for (const k of Object.keys(d)) {
    if (!DATABASE_KEYS.includes(k)) throw new ConfigError(`database.database.${k}`, `unknown key (allowed: ${DATABASE_KEYS.join(', ')})`)
  }
  return {
    name: scalar(d.name, 'database.database.name'),
    port: scalar(d.port ?? 8086, 'database.database.port'),
    ip: scalar(d.ip, 'database.database.ip'),
    ...(d.identifiant === undefined || d.identifiant === null ? {} : { identifiant: scalar(d.identifiant, 'database.database.identifiant') }),
    ...(d.mdp === undefined || d.mdp === null ? {} : { mdp: scalar(d.mdp, 'database.database.mdp') })
  }
}

function scalar (value: unknown, path: string): string {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw new ConfigError(path, 'must be a non-empty value')
}
