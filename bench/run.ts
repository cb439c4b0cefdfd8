/**
 * `npm run bench [-- --quick]`: every benchmark, each against a baseline measured in the same run,
 * printed as one table and written to bench/results/latest.json with the machine it ran on.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { conversionBench } from './conversion.js'
import { idleBench } from './idle.js'
import { table, type Figure } from './lib.js'
import { pushBench } from './push-cycle.js'
import { receiveBench } from './receive.js'
import { serverBench } from './servers.js'

const quick = process.argv.includes('--quick')
// `--only=idle` (or another group) runs one group: conversion, server, push, receive, idle.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length)
const runs = (group: string): boolean => only === undefined || only === group
// `--meters=1000,5000` runs the push sweep at those sizes only (with `--only=push`, to chase memory).
const meters = process.argv.find((a) => a.startsWith('--meters='))?.slice('--meters='.length).split(',').map(Number)
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
const conversion = runs('conversion') ? conversionBench(quick) : { figures: [], sweep: [] }
figures.push(...conversion.figures)
if (runs('server')) figures.push(...await serverBench(quick))
const push = runs('push') ? await pushBench(quick, meters) : { figures: [], sweep: [] }
figures.push(...push.figures)
const receive = runs('receive') ? await receiveBench(quick) : { figures: [], sweep: [] }
figures.push(...receive.figures)
const idle = runs('idle') ? await idleBench(quick) : undefined
if (idle !== undefined) figures.push(...idle.figures)

console.log(table(figures))
console.log('\nScale: conversion time and memory by rows (24 registers)\n')
console.log('| rows | values | ms | ns/value | heap MB |\n| ---: | ---: | ---: | ---: | ---: |')
for (const r of conversion.sweep) console.log(`| ${r.rows} | ${r.values} | ${r.ms.toFixed(1)} | ${r.nsPerValue.toFixed(0)} | ${r.heapMB.toFixed(1)} |`)
console.log('\nScale: one push cycle by meters (300 rows × 24 registers each), each in a fresh bridge process unless marked\n')
console.log('| meters | points | wall s | bridge CPU s | influxd CPU s | bridge/influxd | bridge RSS MB | µs CPU/point |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of push.sweep) {
  console.log(`| ${r.meters}${r.warm ? ' (running bridge)' : ''}${r.defaults === true ? ' (Node\'s and glibc\'s defaults)' : ''} | ${r.points} | ${r.wallS.toFixed(2)} | ${r.bridgeCpuS.toFixed(2)} | ${r.influxCpuS.toFixed(2)} | ${(r.bridgeCpuS / r.influxCpuS).toFixed(2)} | ${r.maxRssMB.toFixed(0)} | ${(r.bridgeCpuS * 1e6 / r.points).toFixed(1)} |`)
}
if (receive.sweep.length > 0) {
  console.log('\nScale: meters pushing one minute of 1-second rows (60 × 24 registers) to one bridge process; all at once, or spread over the interval\n')
  console.log('| meters | load | points | wall s | bridge CPU s | influxd CPU s | bridge/influxd | ms CPU/push | p50 ms | p99 ms | bridge RSS MB |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  receive.sweep.forEach((r, i) => {
    const spread = i === receive.sweep.length - 1
    console.log(`| ${r.meters} | ${spread ? 'spread' : 'at once'} | ${r.points} | ${r.wallS.toFixed(2)} | ${r.bridgeCpuS.toFixed(2)} | ${r.influxCpuS.toFixed(2)} | ${(r.bridgeCpuS / r.influxCpuS).toFixed(2)} | ${(r.bridgeCpuS * 1000 / r.pushes).toFixed(2)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.maxRssMB.toFixed(0)} |`)
  })
}
if (idle !== undefined) {
  console.log('\nIdle: CPU and memory of processes measured side by side, scraped every 15 s where they serve\n')
  console.log('| process | CPU ms/s | RSS MB |\n| --- | ---: | ---: |')
  for (const r of idle.idle) console.log(`| ${r.name} | ${r.msPerS.toFixed(3)} | ${r.rssMB.toFixed(0)} |`)
  console.log('\nPer 5-minute interval of 1-second data: one warm push cycle + 300 s idle between cycles\n')
  console.log('| meters | points | cycle CPU s | influxd CPU s | idle CPU s | total CPU s |\n| ---: | ---: | ---: | ---: | ---: | ---: |')
  const idleS = idle.idle[3]!.msPerS * 300 / 1000
  for (const c of idle.cycles) console.log(`| ${c.meters} | ${c.points} | ${c.bridgeCpuS.toFixed(3)} | ${c.influxCpuS.toFixed(3)} | ${idleS.toFixed(3)} | ${(c.bridgeCpuS + idleS).toFixed(3)} |`)
}
// npm runs scripts from the package root; this file runs compiled, from .bench-build/.
const results = join(process.cwd(), 'bench', 'results')
mkdirSync(results, { recursive: true })
// A run of one group does not overwrite the full run's record.
const resultFile = only === undefined ? 'latest.json' : `latest-${only}.json`
writeFileSync(join(results, resultFile), JSON.stringify({ machine, figures, conversionSweep: conversion.sweep, pushSweep: push.sweep, receiveSweep: receive.sweep, idle }, null, 2) + '\n')
console.log(`\nwritten to bench/results/${resultFile} in ${((performance.now() - started) / 1000).toFixed(0)} s`)
