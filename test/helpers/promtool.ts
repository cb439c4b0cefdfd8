import { spawnSync } from 'node:child_process'
import { ensureBinary } from './debian.js'

/** Runs `promtool check metrics` on a text; returns its exit status and findings. */
export function promtoolCheck (text: string): { status: number, stderr: string } {
  const promtool = ensureBinary('/usr/bin/promtool', 'prometheus')
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: r.status ?? -1, stderr: r.stderr }
}
