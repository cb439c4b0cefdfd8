/** How long eGauge meters keep their data, where the meter cannot be asked (the XML API). */
import type { Retention } from '../model/history.js'

/**
 * An EG4xxx: 1 s rows for an hour, 1 min rows for a year, then 15 min rows (eGauge XML API v1.51
 * §3; the EG30xx keeps less, which the planner cannot know and the rows' own times reveal).
 */
export const EG4XXX_RETENTION: Retention = {
  levels: [
    { step: 1, maxAge: 3600 },
    { step: 60, maxAge: 366 * 86400 },
    { step: 900, maxAge: Number.POSITIVE_INFINITY }
  ]
}
