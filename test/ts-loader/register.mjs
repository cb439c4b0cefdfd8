/**
 * Runs the tests' TypeScript on Node 20 without ts-node: `node --import ./test/ts-loader/register.mjs`.
 * tap's TypeScript plugin starts ts-node and the TypeScript compiler in every test process and
 * transpiles every imported file again each time (about 0.5–3 s of CPU per test file here); these
 * hooks transpile each file once, with the same `ts.transpileModule` ts-node uses, and keep the
 * result in node_modules/.cache until the file changes (CONTRIBUTING.md, "Tests").
 */
import { register } from 'node:module'

register('./hooks.mjs', import.meta.url)
