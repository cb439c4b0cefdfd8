/**
 * Checkpoints: per key (a sensor, or a backfill job), the newest time the database acknowledged.
 * Persisted atomically (temp file, fsync, rename, directory fsync) so a crash leaves either the
 * old file or the new one, never a torn one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { errorCode } from '../errors.js'

interface StateFile {
  version: 1
  checkpoints: Record<string, number>
}

export class CheckpointStore {
  readonly file: string
  private readonly checkpoints = new Map<string, number>()

  private constructor (file: string) {
    this.file = file
  }

  /**
   * Opens the state file. A missing file is a fresh start; an unreadable or corrupt one is
   * reported through `warn` and treated as a fresh start (the meter still holds the data).
   */
  static open (file: string, warn: (message: string) => void): CheckpointStore {
    const store = new CheckpointStore(file)
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
      for (const [key, time] of Object.entries(state.checkpoints)) {
        if (Number.isInteger(time) && time > 0) store.checkpoints.set(key, time)
      }
    } catch {
      warn(`state file ${file} is corrupt: starting without checkpoints`)
    }
    return store
  }

  get (key: string): number | undefined {
    return this.checkpoints.get(key)
  }

  /** Records a checkpoint in memory; call persist() to make it durable. Never moves backwards. */
  set (key: string, time: number): void {
    const current = this.checkpoints.get(key)
    if (current === undefined || time > current) this.checkpoints.set(key, time)
  }

  delete (key: string): void {
    this.checkpoints.delete(key)
  }

  /** Writes the state durably. Throws on I/O errors. */
  persist (): void {
    const state: StateFile = { version: 1, checkpoints: Object.fromEntries([...this.checkpoints].sort()) }
    const tmp = `${this.file}.${process.pid}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, JSON.stringify(state, null, 2) + '\n')
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.file)
    // The rename is only durable once the directory entry is.
    const dir = openSync(dirname(this.file), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  }
}
