/**
 * `npm run bench [-- --quick]`: every benchmark, each against a baseline measured in the same run,
 * printed as one table and written to bench/results/latest.json with the machine it ran on.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { conversionBench } from './conversion.js'
import { table, type Figure } from './lib.js'
import { pushBench } from './push-cycle.js'
import { serverBench } from './servers.js'

const quick = process.argv.includes('--quick')
const started = performance.now()
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString(),
  quick
}
console.log(`egauge-bridge benchmarks${quick ? ' (quick)' : ''}: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}\n`)

const figures: Figure[] = []
const conversion = conversionBench(quick)
figures.push(...conversion.figures)
figures.push(...await serverBench(quick))
const push = await pushBench(quick)
figures.push(...push.figures)

console.log(table(figures))
console.log('\nScale: conversion time and memory by rows (24 registers)\n')
console.log('| rows | values | ms | ns/value | heap MB |\n| ---: | ---: | ---: | ---: | ---: |')
for (const r of conversion.sweep) console.log(`| ${r.rows} | ${r.values} | ${r.ms.toFixed(1)} | ${r.nsPerValue.toFixed(0)} | ${r.heapMB.toFixed(1)} |`)
console.log('\nScale: one push cycle by meters (300 rows × 24 registers each), each in a fresh bridge process unless marked\n')
console.log('| meters | points | wall s | bridge CPU s | influxd CPU s | bridge/influxd | bridge RSS MB | µs CPU/point |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of push.sweep) {
  console.log(`| ${r.meters}${r.warm ? ' (running bridge)' : ''} | ${r.points} | ${r.wallS.toFixed(2)} | ${r.bridgeCpuS.toFixed(2)} | ${r.influxCpuS.toFixed(2)} | ${(r.bridgeCpuS / r.influxCpuS).toFixed(2)} | ${r.maxRssMB.toFixed(0)} | ${(r.bridgeCpuS * 1e6 / r.points).toFixed(1)} |`)
}
// npm runs scripts from the package root; this file runs compiled, from .bench-build/.
const results = join(process.cwd(), 'bench', 'results')
mkdirSync(results, { recursive: true })
writeFileSync(join(results, 'latest.json'), JSON.stringify({ machine, figures, conversionSweep: conversion.sweep, pushSweep: push.sweep }, null, 2) + '\n')
console.log(`\nwritten to bench/results/latest.json in ${((performance.now() - started) / 1000).toFixed(0)} s`)
