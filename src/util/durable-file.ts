/**
 * Writing a small file so that a crash leaves either the old content or the new, never a torn
 * file: a temp file, fsync, rename over the old one, then fsync of the directory (the rename is
 * only durable once the directory entry is). Synchronous: the callers write a few kilobytes and
 * must know it is on disk before they answer.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/** Replaces `file` with `text` durably. Throws on I/O errors, leaving no temp file behind. */
export function writeFileDurably (file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
  } catch (err) {
    // A full or read-only disk: the next save retries.
    rmSync(tmp, { force: true })
    throw err
  }
  const dir = openSync(dirname(file), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}
