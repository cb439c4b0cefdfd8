/**
 * The eGauge JSON WebAPI (firmware ≥ 4.2) as a MeterSource: `/api/register` for current values
 * (`rate`, `time=now`) and history (`time=oldest:step:newest`), always with `raw` (cumulative
 * values as the XML API's `<v>`, not from the epoch) and `virtual=value` (the meter's totals);
 * `/api/sys/db` for how long the meter really keeps each resolution. JWT login is auth.ts's,
 * HTTP the shared transport's, parsing register.ts's.
 */
import { registerFilter, type PulledSensor } from '../../config/schema.js'
import { EgaugeError, parsedAnswer } from '../../model/errors.js'
import { physicalOnly, type History, type HistoryQuery, type RegisterFilter, type Retention } from '../../model/history.js'
import type { MeterIdentity, Snapshot } from '../../model/readings.js'
import type { Fetched, MeterSource, SourceCounters } from '../../model/source.js'
import { EG4XXX_RETENTION } from '../retention.js'
import { MeterTransport, type ExchangeAnswer } from '../transport.js'
import { WebApiAuth, type TokenState } from './auth.js'
import { parseDbLevels, parseIdentityValue, parseRegisterJson, parseRegisterRates } from './register.js'

/** The register query for current values. */
export function currentPath (totals: boolean): string {
  return `/api/register?rate&raw${totals ? '&virtual=value' : ''}&time=now`
}

/**
 * Where a range of the step ends when no newest row is asked: the start of the current minute,
 * quarter hour or hour (the WebAPI's time-point names), as the XML API's `m`, `h` rows fall on
 * them; otherwise now. A day's start depends on the meter's time zone: days end at now.
 */
const ALIGNED_END: Record<number, string> = { 60: 'soM', 900: 'soQ', 3600: 'soh' }

/**
 * The register query for a history request: `rows` rows `step` apart ending at `newest` (see
 * ALIGNED_END by default), at most `max-rows` of them. Pure; throws RangeError for a bad step.
 */
export function historyPath (q: HistoryQuery, totals: boolean): string {
  if (!Number.isInteger(q.step) || q.step < 1) throw new RangeError(`unsupported history step ${q.step}s`)
  const span = (q.rows - 1) * q.step
  const end = Object.hasOwn(ALIGNED_END, q.step) ? ALIGNED_END[q.step]! : 'now'
  const newest = q.newest === undefined ? end : String(q.newest)
  const oldest = q.oldest !== undefined ? String(q.oldest) : q.newest === undefined ? `${end}-${span}` : String(q.newest - span)
  return `/api/register?raw${totals ? '&virtual=value' : ''}&time=${oldest}:${q.step}:${newest}&max-rows=${q.rows}`
}

/** How long a meter that could not be reached for its levels and identity is not asked again. */
export const RELEARN_MS = 10 * 60_000

export class WebApiClient implements MeterSource {
  private readonly sensor: PulledSensor
  private readonly transport: MeterTransport
  private readonly filter: RegisterFilter
  readonly auth: WebApiAuth
  private levels: Retention | undefined
  private meterIdentity: MeterIdentity = {}
  /**
   * When to ask the meter what it keeps and who it is (unix ms): at once at first, RELEARN_MS
   * after it could not be reached, never again once it answered (or refused).
   */
  private learnAt = 0
  private readonly now: () => number

  constructor (sensor: PulledSensor, counters: SourceCounters = {}, now: () => number = Date.now) {
    this.sensor = sensor
    this.transport = new MeterTransport(sensor, counters)
    this.filter = registerFilter(sensor)
    this.auth = new WebApiAuth(this.transport, sensor, now)
    this.now = now
  }

  tokenState (): TokenState {
    return this.auth.state
  }

  async current (signal?: AbortSignal): Promise<Fetched<Snapshot>> {
    const answer = await this.get(currentPath(this.sensor.totals), signal)
    await this.learnMeter(signal)
    const snapshot = parsedAnswer(this.sensor.name, () => parseRegisterRates(answer.text, this.sensor.name, this.filter, this.sensor))
    snapshot.identity = this.meterIdentity
    // The WebAPI lists the totals first, the XML API's current values last: the XML order, so
    // that both protocols give the same output.
    snapshot.readings = [...snapshot.readings.filter((r) => !r.virtual), ...snapshot.readings.filter((r) => r.virtual)]
    return { data: snapshot, fetchSeconds: answer.fetchSeconds }
  }

  async history (query: HistoryQuery, signal?: AbortSignal): Promise<Fetched<History>> {
    const answer = await this.get(historyPath(query, this.sensor.totals), signal)
    const history = parsedAnswer(this.sensor.name, () => parseRegisterJson(answer.text, this.sensor))
    return { data: this.sensor.totals ? history : physicalOnly(history), fetchSeconds: answer.fetchSeconds }
  }

  /** The meter's own levels once read (`/api/sys/db`), an EG4xxx's until then or without the right to read them. */
  retention (): Retention {
    return this.levels ?? EG4XXX_RETENTION
  }

  async close (): Promise<void> {
    await this.transport.close()
  }

  release (): void {
    this.transport.release()
  }

  /** The meter's serial number and host name, once read (empty before, or without the right to read them). */
  identity (): MeterIdentity {
    return this.meterIdentity
  }

  /**
   * Reads `/api/sys/db`, `/api/sys/sn` and `/api/config/net/hostname` once, beside the first
   * current values. All need the `view_settings` right: a meter that refuses the first keeps the
   * EG4xxx assumption and is not asked the others. A meter that cannot be reached there is asked
   * again RELEARN_MS later, so that a hanging endpoint does not hold up every reading; none of
   * this fails the reading it accompanies.
   */
  private async learnMeter (signal?: AbortSignal): Promise<void> {
    if (this.now() < this.learnAt) return
    try {
      this.levels = parseDbLevels((await this.get('/api/sys/db', signal)).text)
      const serialNumber = parseIdentityValue((await this.get('/api/sys/sn', signal)).text)
      const hostname = parseIdentityValue((await this.get('/api/config/net/hostname', signal)).text)
      this.meterIdentity = { ...(serialNumber === undefined ? {} : { serialNumber }), ...(hostname === undefined ? {} : { hostname }) }
      this.learnAt = Number.POSITIVE_INFINITY
    } catch (err) {
      // An answer, even a refusal or a malformed one, is the meter's word; a network error is not.
      const answered = !(err instanceof EgaugeError) || err.status !== undefined
      this.learnAt = answered ? Number.POSITIVE_INFINITY : this.now() + RELEARN_MS
    }
  }

  /** A GET with the meter's token: logs in when needed, once more after a 401. Throws EgaugeError. */
  private async get (path: string, signal?: AbortSignal): Promise<{ text: string, fetchSeconds: number }> {
    const first = await this.send(path, signal)
    if (first.answer.status !== 401 || first.jwt === undefined) return this.accepted(first.answer, first.jwt !== undefined)
    // Revoked early (a reboot) or expired: one new login, one retry.
    this.auth.invalidate(first.jwt)
    return this.accepted((await this.send(path, signal)).answer, true)
  }

  private async send (path: string, signal?: AbortSignal): Promise<{ answer: ExchangeAnswer, jwt: string | undefined }> {
    const jwt = this.sensor.username === undefined ? undefined : await this.auth.bearer(signal)
    const answer = await this.transport.exchange({ method: 'GET', path, ...(jwt === undefined ? {} : { authorization: `Bearer ${jwt}` }) }, signal)
    return { answer, jwt }
  }

  private accepted (answer: ExchangeAnswer, withToken: boolean): ExchangeAnswer {
    const name = this.sensor.name
    if (answer.status === 401) {
      throw new EgaugeError('EGAUGE_AUTH', name, withToken ? 'meter refused the token after a new login (HTTP 401): the user may lack the right to read this' : 'meter requires credentials (set username and password)', 401)
    }
    if (answer.status < 200 || answer.status >= 300) throw new EgaugeError(answer.status === 403 ? 'EGAUGE_AUTH' : 'EGAUGE_HTTP_STATUS', name, `meter answered HTTP ${answer.status}`, answer.status)
    return answer
  }
}
