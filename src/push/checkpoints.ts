/**
 * Checkpoints: per key (a sensor, or a backfill job), the newest time the database acknowledged.
 * Persisted atomically (temp file, fsync, rename, directory fsync) so a crash leaves either the
 * old file or the new one, never a torn one. The push path saves at most once a second
 * (persistDue) and at the end of every cycle (flush): a crash then repeats at most a second's
 * writes, which overwrite the same points, and 200 meters cost a few fsyncs, not 200 (measured: a
 * sixth of the bridge's CPU in the 200-meter cycle went to fsync).
 *
 * Several processes may share one state file (a bridge pushing and a backfill run beside it, each
 * with its own keys): a save takes `<file>.lock`, reads what is on disk, applies only the keys this
 * process changed since its last save, and writes the result, so no process overwrites another's
 * checkpoints. A lock left by a process that died is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
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
  private checkpoints = new Map<string, number>()
  /** Keys changed since the last save, with their new value (undefined: deleted). */
  private readonly changes = new Map<string, number | undefined>()
  /** Whether memory holds checkpoints the file does not. */
  private dirty = false
  private lastPersist = Number.NEGATIVE_INFINITY
  private readonly minIntervalMs: number

  private readonly lockWaitMs: number

  private constructor (file: string, minIntervalMs: number, lockWaitMs: number) {
    this.file = file
    this.minIntervalMs = minIntervalMs
    this.lockWaitMs = lockWaitMs
  }

  /**
   * Opens the state file. A missing file is a fresh start; an unreadable or corrupt one is
   * reported through `warn` and treated as a fresh start (the meter still holds the data).
   */
  static open (file: string, warn: (message: string) => void, minIntervalMs = 1000, lockWaitMs = 5000): CheckpointStore {
    const store = new CheckpointStore(file, minIntervalMs, lockWaitMs)
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
      this.changes.set(key, time)
      this.dirty = true
    }
  }

  /** Replaces a checkpoint that cannot be right (one in the future), backwards if need be. */
  reset (key: string, time: number): void {
    this.checkpoints.set(key, time)
    this.changes.set(key, time)
    this.dirty = true
  }

  delete (key: string): void {
    if (this.checkpoints.delete(key)) {
      this.changes.set(key, undefined)
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
    withLock(`${this.file}.lock`, this.lockWaitMs, () => {
      // What other processes saved since, with this process's own changes on top.
      const merged = onDisk(this.file) ?? new Map(this.checkpoints)
      for (const [key, time] of this.changes) {
        if (time === undefined) merged.delete(key)
        else merged.set(key, time)
      }
      const state: StateFile = { version: 1, checkpoints: Object.fromEntries([...merged].sort()) }
      writeFileDurably(this.file, JSON.stringify(state, null, 2) + '\n')
      this.checkpoints = merged
    })
    this.changes.clear()
    this.dirty = false
    this.lastPersist = performance.now()
  }
}

/** The checkpoints on disk now, or undefined when the file is missing or unreadable (then memory is the truth). */
function onDisk (file: string): Map<string, number> | undefined {
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as StateFile
    if (state.version !== 1 || typeof state.checkpoints !== 'object' || state.checkpoints === null) return undefined
    return new Map(Object.entries(state.checkpoints).filter((e): e is [string, number] => Number.isInteger(e[1]) && e[1] > 0))
  } catch {
    return undefined
  }
}

/** A lock older than this is a process's that died while saving (a save takes milliseconds). */
const STALE_LOCK_MS = 30_000

/**
 * Runs `fn` holding `lock` (a file created exclusively, holding the pid). Waits up to `waitMs` for
 * another process's save; takes over a lock whose process is gone or that is stale. Throws an
 * error with code ELOCKED when the lock stays held.
 */
function withLock (lock: string, waitMs: number, fn: () => void): void {
  const until = performance.now() + waitMs
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600)
      try {
        writeSync(fd, `${process.pid}\n`)
      } finally {
        closeSync(fd)
      }
      break
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err
      if (abandoned(lock)) {
        rmSync(lock, { force: true })
        continue
      }
      if (performance.now() > until) {
        throw Object.assign(new Error(`${lock} is held by another process for more than ${waitMs} ms (two bridges pushing the same sensors into one state file? give each its own push.state_file)`), { code: 'ELOCKED' })
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
    }
  }
  try {
    fn()
  } finally {
    rmSync(lock, { force: true })
  }
}

function abandoned (lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim())
    if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) return true
    if (!Number.isInteger(pid) || pid <= 0) return false // being written: wait
    // Saves are synchronous, so this process holds no lock now: one with its pid is left from an
    // earlier process that had the same pid (pid 1 in every container).
    if (pid === process.pid) return true
    process.kill(pid, 0)
    return false
  } catch (err) {
    // ESRCH: no such process. ENOENT: released meanwhile (the next try creates it).
    return errorCode(err) === 'ESRCH'
  }
}
