/**
 * The 2019 Peper script's config.yml (README "Migrating from the 2019 Peper script"), accepted unchanged: a `sensors:` mapping of
 * `{name, iplocal, GPS_lat, GPS_long, Ville, CP, Rue, Registre}` and
 * `database: {database: {name, port, ip, identifiant, mdp}}`. Pure: raw legacy object → raw modern
 * object (snake_case), which the normal schema then validates.
 */
import { ConfigError } from '../model/errors.js'
import type { PythonReading } from './python-yaml.js'

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

/**
 * Maps a legacy config to the modern one; throws ConfigError for what cannot be mapped. `raw`
 * is the file as the 2019 script read it (python-yaml.ts: every scalar the string Python
 * printed); `mangled` lists the values it printed differently from their text, which become
 * notes: the tags keep the script's form, so the series continue.
 */
export function migrateLegacy (raw: Record<string, unknown>, mangled: PythonReading['mangled'] = []): Migration {
  const warnings: string[] = []
  for (const key of Object.keys(raw)) {
    if (key !== 'sensors' && key !== 'database') warnings.push(`${key}: unknown key in a legacy config, ignored`)
  }
  const sensorsRaw = raw.sensors
  if (sensorsRaw === null || typeof sensorsRaw !== 'object' || Array.isArray(sensorsRaw)) {
    throw new ConfigError('sensors', 'a legacy config needs a "sensors" mapping')
  }
  const sensors = Object.entries(sensorsRaw as Record<string, unknown>).map(([key, value]) => legacySensor(key, value, warnings))
  const databases = legacyDatabases(raw.database, sensors.length)
  // The script took the i-th database block for the i-th sensor; one block serves them all.
  databases.slice(1).forEach((db, i) => { sensors[i + 1]!.influx = influxTarget(db) })
  for (const m of mangled) {
    const note = mangledNote(m)
    if (note !== undefined) warnings.push(note)
  }
  return {
    config: {
      sensors,
      influx: {
        version: 1,
        ...influxTarget(databases[0]!),
        schema: 'peper',
        measurement: 'measure',
        create_database: true
      },
      push: { interval: '5m', step: '1s' }
    },
    warnings
  }
}

function influxTarget (db: LegacyDatabase): Record<string, string> {
  return {
    url: `http://${db.ip}:${db.port}`,
    database: db.name,
    ...(db.identifiant === undefined ? {} : { username: db.identifiant }),
    ...(db.mdp === undefined ? {} : { password: db.mdp })
  }
}

/** The values of a legacy sensor that become its tags (and `name` its ID and URL). */
const TAG_PATH = /^sensors\.[^.]+(\.(name|iplocal|GPS_lat|GPS_long|Ville|CP|Rue)| \(a key\))$/

/**
 * What the 2019 script made of a value the bridge uses, said without quoting a password;
 * undefined for a value the bridge ignores (an unknown key is a warning of its own).
 */
function mangledNote (m: PythonReading['mangled'][number]): string | undefined {
  if (/^database\.[^.]+\.mdp$/.test(m.path)) return `${m.path}: the 2019 script read this password as ${m.why} and sent Python's str() of it; the bridge sends the same (quote the password in the file to send it as typed)`
  if (/^(database\.|sensors\.[^.]+\.Registre)/.test(m.path)) return `${m.path}: ${m.typed} was read by the 2019 script as ${m.why} and used as "${m.written}"; the bridge uses "${m.written}" too`
  if (!TAG_PATH.test(m.path)) return undefined
  if (m.written === 'None') return `${m.path}: empty (${m.typed === '' ? 'no value' : m.typed}): the 2019 script read None and wrote no such tag; the bridge writes none either`
  return `${m.path}: ${m.typed} was read by the 2019 script as ${m.why} and written as "${m.written}"; the bridge writes "${m.written}" too, so the series continue (quote it, "${m.typed}", to start new series with the value as typed)`
}

function legacySensor (key: string, value: unknown, warnings: string[]): Record<string, unknown> & { influx?: Record<string, string> } {
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
  } else if (typeof value === 'object') {
    entries = Object.entries(value).map(([k, v]) => [k, scalar(v, `${path}.${k}`)])
  } else {
    // Read as the script read it (python-yaml.ts), every scalar is a string.
    entries = String(value).split(',').filter((p) => p.trim() !== '').map((p) => splitEntry(p, path))
  }
  return Object.fromEntries(entries)
}

function splitEntry (text: string, path: string): [string, string] {
  const at = text.lastIndexOf('=')
  if (at <= 0) throw new ConfigError(path, `"${text}" is not "Register=Unit"`)
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()]
}

interface LegacyDatabase { name: string, port: string, ip: string, identifiant?: string, mdp?: string }

/**
 * The `database:` blocks, in file order: one (`database: {database: {…}}`) for every sensor, or
 * one per sensor under any keys, as multi-meter files of the 2019 script have them (its lookup
 * by position failed otherwise). Any other count cannot be mapped and is refused.
 */
function legacyDatabases (value: unknown, sensors: number): LegacyDatabase[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('database', 'a legacy config needs database: {database: {name, port, ip, identifiant, mdp}}')
  const blocks = Object.entries(value as Record<string, unknown>)
  if (blocks.length === 0) throw new ConfigError('database', 'a legacy config needs database: {database: {name, port, ip, identifiant, mdp}}')
  if (blocks.length > 1 && blocks.length !== sensors) {
    throw new ConfigError('database', `${blocks.length} database blocks for ${sensors} sensor${sensors === 1 ? '' : 's'}: the 2019 script wrote the i-th sensor into the i-th block, so give one block per sensor in the order of the sensors, or one block for all of them`)
  }
  return blocks.map(([key, inner]) => legacyDatabase(inner, `database.${key}`))
}

function legacyDatabase (inner: unknown, path: string): LegacyDatabase {
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new ConfigError(path, 'must be a mapping of name, port, ip, identifiant, mdp')
  const d = inner as Record<string, unknown>
  for (const k of Object.keys(d)) {
    if (!DATABASE_KEYS.includes(k)) throw new ConfigError(`${path}.${k}`, `unknown key (allowed: ${DATABASE_KEYS.join(', ')})`)
  }
  return {
    name: scalar(d.name, `${path}.name`),
    port: scalar(d.port ?? 8086, `${path}.port`),
    ip: scalar(d.ip, `${path}.ip`),
    ...(d.identifiant === undefined || d.identifiant === null ? {} : { identifiant: scalar(d.identifiant, `${path}.identifiant`) }),
    ...(d.mdp === undefined || d.mdp === null ? {} : { mdp: scalar(d.mdp, `${path}.mdp`) })
  }
}

function scalar (value: unknown, path: string): string {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw new ConfigError(path, 'must be a non-empty value')
}

/** A host's time zone: its name and its UTC offsets (seconds) in January and in July. */
export interface HostZone { name: string, january: number, july: number }

/**
 * The 2019 script stamped points with the host's naive local time, which InfluxDB took as UTC:
 * on a host east of UTC its points sit the zone's offset after true UTC (measured with
 * TZ=Europe/Paris: 3 600 s). The bridge writes true UTC. Pure.
 */
export function timeNote (zone: HostZone): string {
  if (zone.january === 0 && zone.july === 0) return `time: on this host (${zone.name}) the 2019 script's points were true UTC, as the bridge's are: the series join without a shift`
  const offsets = zone.january === zone.july ? `${zone.january} s` : `${zone.january} s in winter and ${zone.july} s in summer`
  return `time: the 2019 script stamped points with the host's local time as if it were UTC; run on this host (${zone.name}), its points sit ${offsets} after true UTC, and the bridge writes true UTC. Where the two overlap, or to move the script's last days onto true UTC, re-fill from the meter: egauge-bridge backfill --from <when the script started writing, or as far back as the meter keeps> --to <the switch-over> (README "Migrating from the 2019 Peper script")`
}
