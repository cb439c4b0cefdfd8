/**
 * Loading the config file: YAML, `${ENV}` substitution, `*_file` secrets, legacy detection, then
 * the schema. File-system I/O only (never the network). Every error is a ConfigError at start-up.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { ConfigError, errorCode } from '../model/errors.js'
import { isLegacy, migrateLegacy, timeNote, type HostZone } from './legacy.js'
import { readAsPython } from './python-yaml.js'
import { validateConfig, type Config } from './schema.js'

export interface LoadedConfig {
  config: Config
  /** Where it came from, for logs. */
  source: string
  legacy: boolean
  warnings: string[]
}

export const DEFAULT_CONFIG_FILE = './egauge-bridge.yml'

/**
 * The config file to use: `--config`, then EGAUGE_BRIDGE_CONFIG, then ./egauge-bridge.yml if it
 * exists; undefined means demo mode.
 */
export function configPath (flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag !== undefined) return flag
  if (env.EGAUGE_BRIDGE_CONFIG !== undefined && env.EGAUGE_BRIDGE_CONFIG !== '') return env.EGAUGE_BRIDGE_CONFIG
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined
}

/**
 * Why the state file could not be saved where `push.state_file` puts it, or undefined when its
 * directory exists and this process may write there. A relative path is resolved against the
 * working directory, as the bridge resolves it (in the Docker image: the state volume).
 */
export function stateFileProblem (stateFile: string): string | undefined {
  const dir = dirname(resolve(stateFile))
  try {
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (err) {
    const code = errorCode(err)
    return `push.state_file: ${dir} ${code === 'ENOENT' ? 'does not exist' : 'is not writable by this user'} (${code}): push mode, backfill and meters that push cannot save their state there`
  }
}

/** Reads, substitutes and validates a config file; throws ConfigError. */
export function loadConfigFile (file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${errorCode(err)}`)
  }
  return { ...loadConfigText(text, env), source: file }
}

/** Parses config text (modern or legacy); throws ConfigError. */
export function loadConfigText (text: string, env: NodeJS.ProcessEnv = process.env): Omit<LoadedConfig, 'source'> {
  const raw = substitute(parseYamlText(text), '', env) ?? {}
  if (isLegacy(raw)) {
    const legacy = readAsPython(text)
    const { config, warnings } = migrateLegacy(substitute(legacy.value, '', env) as Record<string, unknown>, legacy.mangled)
    return { config: validateConfig(config), legacy: true, warnings }
  }
  return { config: validateConfig(raw), legacy: false, warnings: [] }
}

/**
 * The modern YAML equivalent of a legacy file, for `migrate-config`; throws ConfigError. With the
 * host's time zone, a note says how far the script's points sit from true UTC.
 */
export function migrateConfigText (text: string, zone?: HostZone): string {
  if (!isLegacy(parseYamlText(text))) throw new ConfigError('', 'this file is already in the modern format')
  const legacy = readAsPython(text)
  const { config, warnings } = migrateLegacy(legacy.value as Record<string, unknown>, legacy.mangled)
  if (zone !== undefined) warnings.push(timeNote(zone))
  const notes = warnings.map((w) => `# note: ${w}\n`).join('')
  // Strings that YAML 1.2 would read as numbers or booleans (`"3072"`, `"7.0"`, `"True"`) are quoted.
  return `# Migrated from a legacy Peper config by egauge-bridge migrate-config.\n${notes}${stringifyYaml(config)}`
}

function parseYamlText (text: string): unknown {
  try {
    // No custom tags, no merge keys: the config is data, never code.
    return parseYaml(text, { schema: 'core', merge: false, maxAliasCount: 100 })
  } catch (err) {
    throw new ConfigError('', `invalid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
}

/** `${…}` in a string, or `$${…}` (Compose's escape for a literal `${…}`). */
const ENV_REF = /\$(\$?)\{([^}]*)\}/g
/** Inside the braces: a name, then optionally the shell's `:-default`, `-default`, `:?message` or `?message`. */
const ENV_FORM = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$/s
const FILE_KEYS = new Set(['password_file', 'token_file', 'bearer_token_file', 'mdp_file'])

/**
 * One `${…}` reference, as a POSIX shell and Docker Compose read it: `${VAR}` (an unset variable
 * is an error naming the key), `${VAR:-default}` (unset or empty → default), `${VAR-default}`
 * (unset → default), `${VAR:?message}` and `${VAR?message}` (an error with the message). Any
 * other form is refused rather than left as literal text.
 */
function expand (inner: string, path: string, env: NodeJS.ProcessEnv): string {
  const form = ENV_FORM.exec(inner)
  if (form === null) throw new ConfigError(path, `\${${inner}} is not a supported reference: use \${VAR}, \${VAR:-default} or \${VAR:?message} (and $\${…} for a literal \${…})`)
  const [, name, operator, word = ''] = form as unknown as [string, string, string | undefined, string | undefined]
  const value = env[name]
  const missing = operator?.startsWith(':') === true ? value === undefined || value === '' : value === undefined
  if (!missing) return value!
  if (operator === undefined) throw new ConfigError(path, `environment variable ${name} is not set`)
  if (operator.endsWith('-')) return word
  throw new ConfigError(path, `environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}${word === '' ? '' : `: ${word}`}`)
}

/**
 * Replaces the `${…}` references of every string (expand()) and turns `x_file: path` into
 * `x: <file content>` (trailing newline trimmed).
 */
function substitute (value: unknown, path: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, escaped: string, inner: string) => escaped === '$' ? `\${${inner}}` : expand(inner, path, env))
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, `${path}[${i}]`, env))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(value)) {
      const keyPath = path === '' ? key : `${path}.${key}`
      const resolved = substitute(v, keyPath, env)
      if (FILE_KEYS.has(key)) {
        const target = key.slice(0, -'_file'.length)
        if (key in out || target in (value as object)) throw new ConfigError(keyPath, `set ${target} or ${key}, not both`)
        out[target] = readSecret(resolved, keyPath)
      } else {
        out[key] = resolved
      }
    }
    return out
  }
  return value
}

function readSecret (file: unknown, path: string): string {
  if (typeof file !== 'string' || file === '') throw new ConfigError(path, 'must be a file path')
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch (err) {
    // The path is not a secret; the content would be.
    throw new ConfigError(path, `cannot read ${file}: ${errorCode(err)}`)
  }
}
