/**
 * Module hooks for register.mjs. resolve(): a relative `./x.js` that does not exist is `./x.ts`
 * (the tsconfig's NodeNext convention). load(): a `.ts` file is transpiled (isolated modules, as
 * tsconfig.json sets them; no type check, as tap's plugin by default), with an inline source map
 * so stack traces and coverage point at the TypeScript. Transpiled text is cached by the hash of
 * the file, its path, the TypeScript version and these hooks.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const cacheDir = join(root, 'node_modules', '.cache', 'egauge-bridge-ts')
const typescriptVersion = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('typescript/package.json'), 'utf8')).version
const salt = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).update(typescriptVersion).digest('hex')

/** The compiler, loaded only when a file is not in the cache. */
let ts

export async function resolve (specifier, context, next) {
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.startsWith('file:') === true) {
    const url = new URL(specifier, context.parentURL)
    if (!existsSync(url)) {
      const typescript = new URL(url.href.slice(0, -'.js'.length) + '.ts')
      if (existsSync(typescript)) return { url: typescript.href, format: 'module', shortCircuit: true }
    }
  }
  return await next(specifier, context)
}

export async function load (url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return await next(url, context)
  return { format: 'module', source: await transpiled(fileURLToPath(url)), shortCircuit: true }
}

/** A TypeScript file as JavaScript, from the cache or transpiled into it. */
export async function transpiled (path) {
  const text = readFileSync(path, 'utf8')
  const cached = join(cacheDir, createHash('sha256').update(salt).update(path).update('\0').update(text).digest('hex') + '.js')
  try {
    return readFileSync(cached, 'utf8')
  } catch {
    const source = await transpile(path, text)
    // Written aside and renamed: parallel test processes never read half a file.
    mkdirSync(dirname(cached), { recursive: true })
    const partial = `${cached}.${process.pid}`
    writeFileSync(partial, source)
    renameSync(partial, cached)
    return source
  }
}

async function transpile (path, text) {
  ts ??= (await import('typescript')).default
  const { outputText } = ts.transpileModule(text, {
    fileName: path,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: true,
      esModuleInterop: true,
      inlineSourceMap: true,
      inlineSources: true
    }
  })
  return outputText
}
