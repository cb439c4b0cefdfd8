/**
 * Checkpoints: per key (a sensor, or a backfill job), the newest time the database acknowledged.
 * Persisted atomically (temp file, fsync, rename, directory fsync) so a crash leaves either the
 * old file or the new one, never a torn one. The push path saves at most once a second
 * (persistDue) and at the end of every cycle (flush): a crash then repeats at most a second's
 * writes, which overwrite the same points, and 200 meters cost a few fsyncs, not 200 (measured: a
 * sixth of the bridge's CPU in the 200-meter cycle went to fsync).
 */
import { readFileSync } from 'node:fs'
import { errorCode } from '../model/errors.js'
import { writeFileDurably } from '../util/durable-file.js'

interface StateFile {
  version: 1
  checkpoints: Record<string, number>
}

function keyList (keys: string[]): string {
  return `${keys.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 100))).join(', ')}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`
}

export class CheckpointStore {
  readonly file: string
  private readonly checkpoints = new Map<string, number>()
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
      if (ignored.length > 0) warn(`state file ${file}: checkpoints that are not a positive whole unix time ignored for ${keyList(ignored)}: those sensors start again from one interval back`)
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
    writeFileDurably(this.file, JSON.stringify(state, null, 2) + '\n')
    this.dirty = false
    this.lastPersist = performance.now()
  }
}
