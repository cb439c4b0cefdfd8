/**
 * The fake eGauge meter over HTTP: `/cgi-bin/egauge` and `/cgi-bin/egauge-show` with the real
 * parameters, optional Digest auth (realm "eGauge Administration", qop auth, MD5), an injectable
 * clock, a log of what it was asked, and fault knobs for tests (latency, status, hang, truncated
 * or garbage bodies). Imports nothing from server/ or push/.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { meterModel, type MeterModel } from './data.js'
import { instXml, showXml, type ShowRequest } from './xml.js'
import { dbLevelsJson, identityOf, registerJson, TokenSigner } from './webapi.js'

export interface Fault {
  /** Delay before answering. */
  latencyMs?: number
  /** Answer with this HTTP status and a short body. */
  status?: number
  /** Never answer (the socket stays open until the client gives up). */
  hang?: boolean
  /** Send only the first half of the real body, then close. */
  truncate?: boolean
  /** Send this body instead of XML. */
  body?: string
  /** Declare and send a body of this many bytes. */
  hugeBytes?: number
}

export interface SeenRequest {
  path: string
  query: string
  authorization: string | undefined
}

export interface SimulatorOptions {
  seed?: number
  /** Milliseconds since the unix epoch; the meter's notion of now. */
  clock?: () => number
  auth?: { username: string, password: string }
  /** Serve the `/__sim/*` control routes (tests and demos only). */
  control?: boolean
}

const REALM = 'eGauge Administration'
/** Requests kept for `requests` and `/__sim/requests`; older ones are dropped. */
export const MAX_REQUEST_LOG = 10_000
/** Digest nonces remembered; older ones are refused (a new challenge follows). */
export const MAX_NONCES = 1000
const UNITS: Record<string, number> = { S: 1, m: 60, h: 3600, d: 86400 }
/** Rows one egauge-show answer holds at most (a day of seconds): the simulator's own bound. */
export const MAX_SHOW_ROWS = 86_400

export class Simulator {
  readonly model: MeterModel
  clock: () => number
  fault: Fault | undefined
  /** Every request, in order: tests assert on what the bridge asked. */
  readonly requests: SeenRequest[] = []
  private readonly auth: { username: string, password: string } | undefined
  private readonly control: boolean
  private readonly nonces = new Set<string>()
  private server: Server | undefined
  private readonly hung = new Set<ServerResponse>()
  private readonly tokens = new TokenSigner(randomBytes(32))

  constructor (opts: SimulatorOptions = {}) {
    this.model = meterModel(opts.seed ?? 1)
    this.clock = opts.clock ?? Date.now
    this.auth = opts.auth
    this.control = opts.control ?? false
  }

  /** The meter's current unix second. */
  now (): number {
    return Math.floor(this.clock() / 1000)
  }

  /** Starts listening; resolves to the base URL (`http://127.0.0.1:PORT`). */
  async listen (port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => { this.handle(req, res) })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    const addr = server.address() as AddressInfo
    return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  }

  async close (): Promise<void> {
    for (const res of this.hung) res.destroy()
    this.hung.clear()
    const server = this.server
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** The body the meter would send for a path and query, without HTTP. */
  answer (path: string, query: string): { status: number, body: string } {
    const flags = new Set<string>()
    const params = new Map<string, string>()
    for (const part of query.split('&')) {
      if (part === '') continue
      const eq = part.indexOf('=')
      if (eq < 0) flags.add(part)
      else params.set(decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1)))
    }
    const now = this.now()
    if (path === '/cgi-bin/egauge') {
      return { status: 200, body: instXml(this.model, now, { inst: flags.has('inst'), tot: flags.has('tot') }) }
    }
    if (path === '/cgi-bin/egauge-show') {
      const unit = ['S', 'm', 'h', 'd'].find((u) => flags.has(u)) ?? 'm'
      const skip = num(params.get('s')) ?? 0
      const req: ShowRequest = {
        step: UNITS[unit]! * (skip + 1),
        // `n` is a maximum: without it, every row back to `t` (or to the epoch), as a meter answers
        // the 2019 script's `S&s=0&t=<last>`. MAX_SHOW_ROWS bounds what one answer costs here.
        rows: Math.min(num(params.get('n')) ?? MAX_SHOW_ROWS, MAX_SHOW_ROWS),
        extra: flags.has('e'),
        virtuals: flags.has('a'),
        delta: flags.has('C'),
        relative: flags.has('E')
      }
      const f = num(params.get('f'))
      const t = num(params.get('t'))
      const w = num(params.get('w'))
      if (f !== undefined) req.first = f
      if (t !== undefined) req.last = t
      if (w !== undefined) req.newerThan = w
      const times = params.get('T')
      if (times !== undefined) req.times = times.split(',').map((x) => x === 'now' ? now : Number(x)).filter(Number.isFinite)
      return { status: 200, body: showXml(this.model, now, req) }
    }
    if (path === '/api/register') return registerJson(this.model, now, new URLSearchParams(query))
    if (path === '/api/sys/db') return { status: 200, body: dbLevelsJson(now) }
    if (path === '/api/sys/sn') return { status: 200, body: JSON.stringify({ result: identityOf(this.model).serialNumber }) }
    if (path === '/api/config/net/hostname') return { status: 200, body: JSON.stringify({ result: identityOf(this.model).hostname }) }
    return { status: 404, body: 'Not Found\n' }
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    const url = req.url! // always set on a server's request
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    const query = q < 0 ? '' : url.slice(q + 1)
    if (this.control && path.startsWith('/__sim/')) {
      this.handleControl(req, res, path, query)
      return
    }
    this.requests.push({ path, query, authorization: req.headers.authorization })
    // A long-lived simulator (docker compose runs one) keeps only the latest requests and nonces.
    if (this.requests.length > MAX_REQUEST_LOG + 1000) this.requests.splice(0, this.requests.length - MAX_REQUEST_LOG)
    if (path.startsWith('/api/')) {
      this.handleWebApi(req, res, path, query)
      return
    }
    if (this.auth !== undefined && !this.authorized(req, url)) {
      const nonce = this.newNonce()
      res.writeHead(401, {
        'www-authenticate': `Digest realm="${REALM}", nonce="${nonce}", qop="auth", algorithm=MD5`,
        'content-type': 'text/html'
      })
      res.end('<html><body>401 Unauthorized</body></html>\n')
      return
    }
    const fault = this.fault
    const send = (): void => this.send(res, path, query, fault)
    if (fault?.latencyMs !== undefined && fault.latencyMs > 0) setTimeout(send, fault.latencyMs)
    else send()
  }

  private send (res: ServerResponse, path: string, query: string, fault: Fault | undefined): void {
    if (fault?.hang === true) {
      this.hung.add(res)
      res.on('close', () => this.hung.delete(res))
      return
    }
    if (fault?.status !== undefined) {
      res.writeHead(fault.status, { 'content-type': 'text/plain' })
      res.end(`error ${fault.status}\n`)
      return
    }
    if (fault?.hugeBytes !== undefined) {
      res.writeHead(200, { 'content-type': 'text/xml' })
      const chunk = Buffer.alloc(1 << 16, 'x')
      let left = fault.hugeBytes
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length)
          left -= n
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      res.on('close', () => { left = 0 })
      pump()
      return
    }
    const { status, body } = fault?.body !== undefined ? { status: 200, body: fault.body } : this.answer(path, query)
    // Real meters are lighttpd and answer text/xml (XML API §2.2 captures); the WebAPI, JSON.
    res.writeHead(status, { 'content-type': path.startsWith('/api/') ? 'application/json' : 'text/xml', 'cache-control': 'no-cache' })
    if (fault?.truncate === true) {
      res.write(body.slice(0, Math.floor(body.length / 2)))
      res.destroy()
      return
    }
    res.end(body)
  }

  /** Revokes every WebAPI token issued so far, as a meter's reboot does. */
  revokeTokens (): void {
    this.tokens.generation++
  }

  private newNonce (): string {
    const nonce = randomBytes(16).toString('hex')
    this.nonces.add(nonce)
    // The oldest first: a Set iterates in insertion order. A real meter forgets nonces too.
    if (this.nonces.size > MAX_NONCES) this.nonces.delete(this.nonces.values().next().value!)
    return nonce
  }

  /**
   * The JSON WebAPI (egauge-webapi-and-push.md §1.2): a 401 with realm and nonce, a login that
   * checks `MD5(MD5(usr:rlm:pwd):nnc:cnnc)` and answers bad credentials with 200 and an `error`,
   * and Bearer tokens on everything else. The fault knobs apply as on the XML API.
   */
  private handleWebApi (req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const json = (status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
    const challenge = (): void => json(401, { rlm: REALM, nnc: this.newNonce(), error: 'Authentication required.' })
    if (path === '/api/auth/unauthorized') {
      challenge()
      return
    }
    if (path === '/api/auth/login') {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => { if (body.length < 4096) body += chunk })
      req.on('end', () => {
        const login = parseObject(body)
        const auth = this.auth
        const md5 = (s: string): string => createHash('md5').update(s).digest('hex')
        const nonce = typeof login.nnc === 'string' && this.nonces.delete(login.nnc)
        const expected = auth === undefined ? '' : md5(`${md5(`${auth.username}:${REALM}:${auth.password}`)}:${String(login.nnc)}:${String(login.cnnc)}`)
        if (req.method !== 'POST' || auth === undefined || !nonce || login.usr !== auth.username || login.rlm !== REALM || login.hash !== expected) {
          json(200, { error: 'Invalid credentials.' })
          return
        }
        json(200, { jwt: this.tokens.issue(auth.username, REALM, this.now()) })
      })
      return
    }
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (this.auth !== undefined && (bearer === undefined || !this.tokens.valid(bearer, this.now()))) {
      challenge()
      return
    }
    const fault = this.fault
    const send = (): void => this.send(res, path, query, fault)
    if (fault?.latencyMs !== undefined && fault.latencyMs > 0) setTimeout(send, fault.latencyMs)
    else send()
  }

  private authorized (req: IncomingMessage, uri: string): boolean {
    const header = req.headers.authorization
    if (header === undefined || !header.startsWith('Digest ')) return false
    const p: Record<string, string> = {}
    for (const [, k, quoted, token] of header.slice(7).matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
      p[k!] = quoted ?? token!
    }
    const { username, password } = this.auth!
    if (p.username !== username || p.realm !== REALM || p.uri !== uri || p.nonce === undefined || !this.nonces.has(p.nonce)) return false
    const md5 = (s: string): string => createHash('md5').update(s).digest('hex')
    const ha1 = md5(`${username}:${REALM}:${password}`)
    const ha2 = md5(`GET:${uri}`)
    const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`)
    const given = p.response ?? ''
    return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
  }

  private handleControl (req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const params = new URLSearchParams(query)
    if (path === '/__sim/fault') {
      const fault: Fault = {}
      if (params.has('latency_ms')) fault.latencyMs = Number(params.get('latency_ms'))
      if (params.has('status')) fault.status = Number(params.get('status'))
      if (params.has('hang')) fault.hang = true
      if (params.has('truncate')) fault.truncate = true
      if (params.has('body')) fault.body = params.get('body')!
      this.fault = Object.keys(fault).length === 0 ? undefined : fault
    } else if (path === '/__sim/clock' && params.has('now')) {
      const now = Number(params.get('now')) * 1000
      this.clock = () => now
    } else if (path !== '/__sim/requests') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ now: this.now(), fault: this.fault ?? null, requests: this.requests.length }) + '\n')
  }
}

function parseObject (text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' ? value as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

function num (s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined
  return Number(s)
}
