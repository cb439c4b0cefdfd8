/** The names of the output choices, shared by the config, the HTTP parameters and the writers. */

/** What a metrics request answers with. */
export type OutputFormat = 'influx' | 'prometheus' | 'openmetrics'

/** Line-protocol timestamp precision. */
export type Precision = 's' | 'ms' | 'us' | 'ns'

/** The line-protocol schema: `egauge` (the bridge's own) or `peper` (the 2019 script's). */
export type Schema = 'egauge' | 'peper'
