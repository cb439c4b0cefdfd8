/**
 * Fills the transpile cache of hooks.mjs for every TypeScript file of src/ and test/ in one
 * process, before the test processes start: otherwise each of them transpiles the same modules
 * at once on a fresh clone (33 s instead of 18 s for `npm run test:unit` here).
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transpiled } from './hooks.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
for (const folder of ['src', 'test']) {
  for (const entry of readdirSync(join(root, folder), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) await transpiled(join(entry.parentPath ?? entry.path, entry.name))
  }
}
