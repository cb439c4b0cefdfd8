/**
 * Checkpoints: per key (a sensor, or a backfill job), the newest time the database acknowledged.
 * Persisted atomically (temp file, fsync, rename, directory fsync) so a crash leaves either the
 * old file or the new one, never a torn one. The push path saves at most once a second
 * (persistDue) and at the end of every cycle (flush): a crash then repeats at most a second's
 * writes, which overwrite the same points, and 200 meters cost a few fsyncs, not 200 (measured: a
 * sixth of the bridge's CPU in the 200-meter cycle went to fsync).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { errorCode } from '../model/errors.js'

interface StateFile {
  version: 1
  checkpoints: Record<string, number>
  /** Receiver only: per key, the newest row of the last acknowledged push (absent before 0.x files). */
  rows?: Record<string, StoredRow>
}

/**
 * A meter row kept across pushes, so that the next push's first row is differenced against it
 * (README "Meters that push"). Values are the meter's exact cumulative integers, as decimal
 * text; columns are matched by name, since a meter's column order may change with its config.
 */
export interface StoredRow {
  time: number
  columns: string[]
  values: string[]
}

const INTEGER_TEXT = /^-?\d{1,20}$/

function isStoredRow (row: unknown): row is StoredRow {
  const r = row as StoredRow
  return typeof r === 'object' && r !== null && Number.isInteger(r.time) && r.time > 0 &&
    Array.isArray(r.columns) && Array.isArray(r.values) && r.columns.length === r.values.length &&
    r.columns.every((c) => typeof c === 'string') && r.values.every((v) => typeof v === 'string' && INTEGER_TEXT.test(v))
}

function keyList (keys: string[]): string {
  return `${keys.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 100))).join(', ')}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`
}

export class CheckpointStore {
  readonly file: string
  private readonly checkpoints = new Map<string, number>()
  private readonly rows = new Map<string, StoredRow>()
  /** Whether memory holds checkpoints the file does not. */
  private dirty = false
  private lastPersist = Number.NEGATIVE_INFINITY
  private readonly minIntervalMs: number

  private constructor (file: string, minIntervalMs: number) {
    this.file = file
    this.minIntervalMs = minIntervalMs
  }

  /**
   * Opens the state file. A missing file is a fresh start; an unreadable or corrupt one is
   * reported through `warn` and treated as a fresh start (the meter still holds the data).
   */
  static open (file: string, warn: (message: string) => void, minIntervalMs = 1000): CheckpointStore {
    const store = new CheckpointStore(file, minIntervalMs)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') warn(`cannot read state file ${file} (${errorCode(err)}): starting without checkpoints`)
      return store
    }
    try {
      const state = JSON.parse(text) as StateFile
      if (state.version !== 1 || typeof state.checkpoints !== 'object' || state.checkpoints === null) throw new Error('unknown format')
      const ignored: string[] = []
      for (const [key, time] of Object.entries(state.checkpoints)) {
        if (Number.isInteger(time) && time > 0) store.checkpoints.set(key, time)
        else ignored.push(key)
      }
      const ignoredRows: string[] = []
      for (const [key, row] of Object.entries(state.rows ?? {})) {
        if (isStoredRow(row)) store.rows.set(key, row)
        else ignoredRows.push(key)
      }
      if (ignored.length > 0) warn(`state file ${file}: checkpoints that are not a positive whole unix time ignored for ${keyList(ignored)}: those sensors start again from one interval back`)
      if (ignoredRows.length > 0) warn(`state file ${file}: malformed pushed rows ignored for ${keyList(ignoredRows)}: the next push of those meters starts without its previous row (its oldest row has no rate)`)
    } catch {
      warn(`state file ${file} is corrupt: starting without checkpoints`)
    }
    return store
  }

  get (key: string): number | undefined {
    return this.checkpoints.get(key)
  }

  /** Records a checkpoint in memory; persist(), persistDue() or flush() make it durable. Never moves backwards. */
  set (key: string, time: number): void {
    const current = this.checkpoints.get(key)
    if (current === undefined || time > current) {
      this.checkpoints.set(key, time)
      this.dirty = true
    }
  }

  /** Replaces a checkpoint that cannot be right (one in the future), backwards if need be. */
  reset (key: string, time: number): void {
    this.checkpoints.set(key, time)
    this.dirty = true
  }

  delete (key: string): void {
    if (this.checkpoints.delete(key)) this.dirty = true
    if (this.rows.delete(key)) this.dirty = true
  }

  /** The newest row kept for a key (the receiver's last acknowledged push). */
  lastRow (key: string): StoredRow | undefined {
    return this.rows.get(key)
  }

  /** Keeps a row for a key in memory, never an older one than it holds; persist() makes it durable. */
  setLastRow (key: string, row: StoredRow): void {
    const current = this.rows.get(key)
    if (current === undefined || row.time > current.time) {
      this.rows.set(key, row)
      this.dirty = true
    }
  }

  /** Persists unsaved checkpoints if the last write is at least minIntervalMs old. Throws on I/O errors. */
  persistDue (): void {
    if (this.dirty && performance.now() - this.lastPersist >= this.minIntervalMs) this.persist()
  }

  /** Persists unsaved checkpoints now. Throws on I/O errors (they stay unsaved, for the next try). */
  flush (): void {
    if (this.dirty) this.persist()
  }

  /** Writes the state durably. Throws on I/O errors. */
  persist (): void {
    const state: StateFile = { version: 1, checkpoints: Object.fromEntries([...this.checkpoints].sort()) }
    if (this.rows.size > 0) state.rows = Object.fromEntries([...this.rows].sort((a, b) => a[0] < b[0] ? -1 : 1))
    const tmp = `${this.file}.${process.pid}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      try {
        writeSync(fd, JSON.stringify(state, null, 2) + '\n')
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, this.file)
    } catch (err) {
      // A full or read-only disk: leave no half-written temp file behind (the next save retries).
      rmSync(tmp, { force: true })
      throw err
    }
    // The rename is only durable once the directory entry is.
    const dir = openSync(dirname(this.file), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
    this.dirty = false
    this.lastPersist = performance.now()
  }
}
