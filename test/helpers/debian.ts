/**
 * Real servers for tests come from Debian packages. When a binary is missing, install its package
 * as root with apt, or stop with one line saying what to run.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

let updated = false

/** Ensures `binary` exists, installing `pkg` with apt when running as root. Throws otherwise. */
export function ensureBinary (binary: string, pkg: string): string {
  if (existsSync(binary)) return binary
  if (process.getuid?.() !== 0) {
    throw new Error(`${binary} is missing: run "sudo apt-get install -y ${pkg}" and rerun the tests`)
  }
  if (!updated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' })
    updated = true
  }
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  })
  if (!existsSync(binary)) throw new Error(`installing ${pkg} did not provide ${binary}`)
  return binary
}
