import t from 'tap'
import { createSelfMetrics } from '../../../src/telemetry/self-metrics.js'

t.test('the lag and receive gauges read their sources at each scrape, and stay empty without one', async (t) => {
  const metrics = createSelfMetrics(false)
  const alone = await metrics.registry.metrics()
  t.notMatch(alone, /egauge_bridge_(push_lag_seconds|receive_up|receive_lag_seconds)\{/, 'no source yet: no sample, no error')
  metrics.lagSource.current = () => [{ sensor: 'a', lagSeconds: 12 }]
  metrics.receiveSource.current = () => [{ sensor: 'r', up: true, lagSeconds: undefined }, { sensor: 's', up: false, lagSeconds: 90 }]
  const text = await metrics.registry.metrics()
  t.match(text, /egauge_bridge_push_lag_seconds\{sensor="a"\} 12/)
  t.match(text, /egauge_bridge_receive_up\{sensor="r"\} 1/)
  t.match(text, /egauge_bridge_receive_up\{sensor="s"\} 0/)
  t.match(text, /egauge_bridge_receive_lag_seconds\{sensor="s"\} 90/)
  t.notMatch(text, /egauge_bridge_receive_lag_seconds\{sensor="r"\}/, 'a meter that has not pushed yet has no lag')
})
