/**
 * The WebAPI's login (egauge-webapi-and-push.md §1.2): realm and nonce from
 * `/api/auth/unauthorized`, `hash = MD5(MD5(usr:rlm:pwd):nnc:cnnc)` posted to `/api/auth/login`,
 * a JWT sent as `Authorization: Bearer`. One token per meter, one login in flight at most,
 * refreshed a minute before it ends (its `ltm` claim, not `exp`) and once after a 401. The
 * password never goes on the wire; the token and the hash are never logged or shown.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { PulledSensor } from '../../config/schema.js'
import { EgaugeError } from '../../model/errors.js'
import type { MeterTransport } from '../transport.js'

/** Refresh this long before the token's end, so a request never carries a token about to lapse. */
export const REFRESH_MARGIN_MS = 60_000
/** A token without a usable `ltm` is kept this long (eGauge: "typically about 10 minutes"). */
export const FALLBACK_LIFETIME_MS = 9 * 60_000

/** What the status page may say of a meter's token (never the token). */
export type TokenState = 'none' | 'valid' | 'refused'

interface Token { jwt: string, expiresAt: number }

export class WebApiAuth {
  private readonly transport: MeterTransport
  private readonly sensor: PulledSensor
  private readonly now: () => number
  private token: Token | undefined
  private login: Promise<Token> | undefined
  private refused = false
  /** Logins done, for tests and the status page. */
  logins = 0

  constructor (transport: MeterTransport, sensor: PulledSensor, now: () => number = Date.now) {
    this.transport = transport
    this.sensor = sensor
    this.now = now
  }

  get state (): TokenState {
    if (this.refused) return 'refused'
    return this.token !== undefined && this.now() < this.token.expiresAt ? 'valid' : 'none'
  }

  /** A token valid for at least REFRESH_MARGIN_MS: the current one, or one shared new login. Throws EgaugeError. */
  async bearer (signal?: AbortSignal): Promise<string> {
    const token = this.token
    if (token !== undefined && this.now() < token.expiresAt - REFRESH_MARGIN_MS) return token.jwt
    this.login ??= this.logIn(signal).finally(() => { this.login = undefined })
    return (await this.login).jwt
  }

  /** After a 401 with this token: it is dropped, so the next bearer() logs in again. */
  invalidate (jwt: string): void {
    if (this.token?.jwt === jwt) this.token = undefined
  }

  private async logIn (signal?: AbortSignal): Promise<Token> {
    const { username, password, name } = this.sensor
    const challenge = await this.transport.exchange({ method: 'GET', path: '/api/auth/unauthorized' }, signal)
    const { rlm, nnc } = jsonObject(challenge.text, name, 'the login challenge')
    if (challenge.status !== 401 || typeof rlm !== 'string' || typeof nnc !== 'string') {
      throw new EgaugeError('EGAUGE_AUTH', name, `meter gave no login challenge (HTTP ${challenge.status} from /api/auth/unauthorized): is this a WebAPI meter (firmware 4.2 or later)?`, challenge.status)
    }
    const cnnc = randomBytes(16).toString('hex')
    const hash = md5(`${md5(`${username!}:${rlm}:${password!}`)}:${nnc}:${cnnc}`)
    const answer = await this.transport.exchange({ method: 'POST', path: '/api/auth/login', body: JSON.stringify({ rlm, usr: username, nnc, cnnc, hash }) }, signal)
    const body = answer.status === 200 ? jsonObject(answer.text, name, 'the login answer') : {}
    this.logins++
    // Bad credentials come back as 200 with an `error` member, or as 400/401.
    if (answer.status !== 200 || typeof body.jwt !== 'string' || body.jwt === '') {
      this.refused = true
      this.token = undefined
      throw new EgaugeError('EGAUGE_AUTH', name, `meter refused the login (${answer.status === 200 ? 'HTTP 200 with an error' : `HTTP ${answer.status}`}): check username and password`, answer.status === 200 ? 401 : answer.status)
    }
    this.refused = false
    const token = { jwt: body.jwt, expiresAt: expiry(body.jwt, this.now()) }
    this.token = token
    return token
  }
}

/**
 * Where a token ends, on the bridge's clock: its lifetime `ltm` from now (it was issued at `beg`
 * on the meter's clock, which may be off by hours: README "Reliability"), or FALLBACK_LIFETIME_MS
 * without one.
 */
export function expiry (jwt: string, now: number): number {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { ltm?: unknown }
    if (typeof claims.ltm === 'number' && claims.ltm > 0 && claims.ltm < 86_400) return now + claims.ltm * 1000
  } catch {}
  return now + FALLBACK_LIFETIME_MS
}

function md5 (text: string): string {
  return createHash('md5').update(text).digest('hex')
}

function jsonObject (text: string, sensor: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new EgaugeError('EGAUGE_PARSE', sensor, `${what} is not JSON`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EgaugeError('EGAUGE_PARSE', sensor, `${what} is not a JSON object`)
  return value as Record<string, unknown>
}
