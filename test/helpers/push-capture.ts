/**
 * The real pushes of test/fixtures/egauge-push/ (a receiver's log): each POST's headers and its
 * body, the HTTP/1.1 chunked framing undone, so a test can send them again exactly.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface CapturedPush {
  headers: Record<string, string>
  body: string
}

export const CAPTURE = join(import.meta.dirname, '../fixtures/egauge-push/seadsystem-Backend_egauge_sample_log-pushes-1-5.txt')

export function capturedPushes (file = CAPTURE): CapturedPush[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const pushes: CapturedPush[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/ POST \/ HTTP\/1\.1$/.test(lines[i]!)) continue
    const headers: Record<string, string> = {}
    for (i++; lines[i] !== ''; i++) {
      const colon = lines[i]!.indexOf(':')
      headers[lines[i]!.slice(0, colon).toLowerCase()] = lines[i]!.slice(colon + 1).trim()
    }
    // Chunks: a hex size line, then that many bytes; a size of 0 ends the body.
    let rest = lines.slice(i + 1).join('\n')
    let body = ''
    for (;;) {
      const eol = rest.indexOf('\n')
      const size = Number.parseInt(rest.slice(0, eol), 16)
      if (size === 0) break
      body += rest.slice(eol + 1, eol + 1 + size)
      rest = rest.slice(eol + 1 + size).replace(/^\r?\n/, '')
    }
    pushes.push({ headers, body })
  }
  return pushes
}
