import t from 'tap'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import { openMetricsText } from '../../../src/telemetry/openmetrics.js'

t.test('special values, a family without labels, help escaped, a gauge named like a counter', async (t) => {
  const families = [
    { name: 'g', help: 'a "quoted" \\ help\nline', type: 'gauge', aggregator: 'sum', values: [{ value: Infinity, labels: {} }, { value: -Infinity, labels: { a: 'x' } }, { value: Number.NaN, labels: { a: 'y', b: undefined } }] },
    { name: 'c_total', help: 'c', type: 'counter', aggregator: 'sum', values: [{ value: 2, labels: {} }] },
    { name: 'plain', help: 'p', type: 'counter', aggregator: 'sum', values: [] }
  ] as unknown as Array<MetricObjectWithValues<MetricValue<string>>>
  t.equal(openMetricsText(families), [
    '# HELP g a \\"quoted\\" \\\\ help\\nline',
    '# TYPE g gauge',
    'g +Inf',
    'g{a="x"} -Inf',
    'g{a="y"} NaN',
    '# HELP c c',
    '# TYPE c counter',
    'c_total 2',
    '# HELP plain p',
    '# TYPE plain counter',
    '# EOF',
    ''
  ].join('\n'))
})
