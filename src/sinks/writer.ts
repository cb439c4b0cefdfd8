/**
 * Where push and the receiver deliver line protocol: one Writer per database, chosen by
 * `influx.version`. A new output is one more writer here.
 */
import type { InfluxConfig, SensorConfig } from '../config/schema.js'
import { InfluxV1Writer } from './influx-v1.js'
import { InfluxV2Writer } from './influx-v2.js'
import { redactingErrors, secretForms } from '../util/redact.js'
import { WriteError } from './write-error.js'

export interface Writer {
  /** Where it writes, without credentials: for logs and the status page. */
  readonly target: string
  /** Creates the database when configured to (v1). Throws WriteError. */
  prepare: (signal?: AbortSignal) => Promise<void>
  /** Writes line protocol (text, or its UTF-8 bytes) at second precision. Throws WriteError. */
  write: (lines: string | Buffer, signal?: AbortSignal) => Promise<void>
  /**
   * The time (unix s) of the newest point of a series at or after `since`, or undefined when the
   * database holds none: where push resumes a sensor that has no checkpoint. Throws WriteError.
   */
  newest?: (series: SeriesKey, since: number, signal?: AbortSignal) => Promise<number | undefined>
  close: () => Promise<void>
}

/** A sensor's points in the database: their measurement and the tags that are the sensor's. */
export interface SeriesKey {
  measurement: string
  tags: Record<string, string>
}

/** The writer for the configured database. Opens no connection until the first write. */
export function createWriter (config: InfluxConfig): Writer {
  const writer = config.version === 1 ? new InfluxV1Writer(config) : new InfluxV2Writer(config)
  return redactingWriter(writer, secretForms(config.username, config.password, config.token))
}

/**
 * Write errors made safe to show: a database may echo the request's credentials into its error
 * body, which the message quotes. Its password, token and Basic credentials are replaced,
 * control characters blanked, the message capped.
 */
export function redactingWriter (writer: Writer, secrets: readonly string[]): Writer {
  return {
    target: writer.target,
    prepare: async (signal) => { await redactingErrors(async () => { await writer.prepare(signal) }, WriteError, secrets) },
    write: async (lines, signal) => { await redactingErrors(async () => { await writer.write(lines, signal) }, WriteError, secrets) },
    ...(writer.newest === undefined ? {} : { newest: async (series: SeriesKey, since: number, signal?: AbortSignal) => await redactingErrors(async () => await writer.newest!(series, since, signal), WriteError, secrets) }),
    close: async () => { await writer.close() }
  }
}

/**
 * The writers of a config: the top-level `influx` block's, and one per distinct database that a
 * sensor names for itself (`sensors[].influx`, as a 2019 file with a block per meter maps). Each
 * is made on first use and shared by every sensor that writes there.
 */
export class WriterSet {
  private readonly writers = new Map<string, Writer>()
  private readonly base: InfluxConfig
  private readonly create: (config: InfluxConfig) => Writer

  constructor (base: InfluxConfig, create: (config: InfluxConfig) => Writer = createWriter) {
    this.base = base
    this.create = create
  }

  /** The top-level database's writer: the bridge's health, and every sensor without its own. */
  get main (): Writer {
    return this.of(undefined)
  }

  /** The writer for a sensor's points. */
  of (sensor: Pick<SensorConfig, 'influx'> | undefined): Writer {
    const config = sensor?.influx ?? this.base
    const { version, url, database, retentionPolicy, username, password, org, bucket, token } = config
    const key = JSON.stringify([version, url, database, retentionPolicy, username, password, org, bucket, token])
    let writer = this.writers.get(key)
    if (writer === undefined) this.writers.set(key, writer = this.create(config))
    return writer
  }

  async close (): Promise<void> {
    await Promise.all([...this.writers.values()].map(async (w) => { await w.close() }))
  }
}
