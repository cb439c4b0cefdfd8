#!/usr/bin/env node
/**
 * argv → command. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. Errors are
 * one clear line on stderr. Dispatch only: each command lives in commands/, with its own tests.
 */
import { realpathSync } from 'node:fs'
import nodeModule from 'node:module'
import { fileURLToPath } from 'node:url'
import { BadRequestError, ConfigError, EgaugeError } from './model/errors.js'
import { HelpRequested, USAGE, usageLine, UsageError, type Out } from './commands/args.js'
import { VERSION } from './util/version.js'

/** Runs a command line; resolves to the exit code (serve and simulate resolve on shutdown). */
export async function main (argv: string[], out: Out, err: Out): Promise<number> {
  try {
    const first = argv[0]
    if (first === '--version' || first === '-V') {
      out(`egauge-bridge ${VERSION} (Node.js ${process.version})\n`)
      return 0
    }
    if (first === '--help' || first === '-h') {
      out(USAGE + '\n')
      return 0
    }
    const [command = 'serve', ...rest] = first?.startsWith('-') === true ? ['serve', ...argv] : argv
    // Each command is loaded on demand: check-config need not load Fastify, nor once the simulator.
    switch (command) {
      case 'serve': return await (await import('./commands/serve.js')).serve(rest)
      case 'push': return await (await import('./commands/push.js')).push(rest, out)
      case 'once': return await (await import('./commands/once.js')).once(rest, out)
      case 'backfill': return await (await import('./commands/backfill.js')).backfill(rest, out, err)
      case 'check-config': return (await import('./commands/check-config.js')).checkConfig(rest, out)
      case 'migrate-config': return (await import('./commands/migrate-config.js')).migrateConfig(rest, out)
      case 'simulate': return await (await import('./commands/simulate.js')).simulate(rest, out)
      case 'healthcheck': return await (await import('./commands/healthcheck.js')).healthcheck(rest, out)
      case 'help':
        // `help <command>` is `<command> --help`.
        if (rest[0] !== undefined && rest[0] !== 'help') return await main([rest[0], '--help'], out, err)
        out(USAGE + '\n')
        return 0
      default: throw new UsageError(`unknown command "${command}"`)
    }
  } catch (e) {
    if (e instanceof HelpRequested) {
      out(e.text)
      return 0
    }
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof BadRequestError) {
      err(`egauge-bridge: ${e.message}\n`)
      if (e instanceof UsageError) err((e.help === undefined ? USAGE : usageLine(e.help)) + '\n')
      return 2
    }
    if (e instanceof EgaugeError) {
      err(`egauge-bridge: ${e.message} [${e.code}]\n`)
      return 1
    }
    err(`egauge-bridge: ${(e as Error).message}\n`)
    return 1
  }
}

/* c8 ignore start -- process entry: runs only as the binary, which tests spawn from dist/ */
/**
 * Node ≥ 22.1 keeps the compiled code of every module it loads in a cache directory (the
 * system's temporary one unless NODE_COMPILE_CACHE says otherwise; NODE_DISABLE_COMPILE_CACHE=1
 * turns it off), which cuts the start-up CPU by about a third. The commands are imported after
 * this call, so nearly everything benefits. Node 20 has no such cache.
 */
function enableCompileCache (): void {
  (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()
}

function isEntryPoint (): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  enableCompileCache()
  main(process.argv.slice(2), (t) => process.stdout.write(t), (t) => process.stderr.write(t)).then((code) => { process.exitCode = code }, () => { process.exitCode = 1 })
}
/* c8 ignore stop */
