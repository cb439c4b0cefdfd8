/**
 * HTTP Digest authentication (RFC 7616, and RFC 2617 which eGauge meters implement: realm
 * "eGauge Administration", qop "auth", MD5). Pure: challenge text in, header text out.
 */
import { createHash, randomBytes } from 'node:crypto'

export interface DigestChallenge {
  realm: string
  nonce: string
  qop: string | undefined
  opaque: string | undefined
  algorithm: string
  stale: boolean
}

/** Parses a `WWW-Authenticate: Digest …` value; undefined if it is not a usable Digest challenge. */
export function parseDigestChallenge (header: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(header)
  if (m === null) return undefined
  const params: Record<string, string> = {}
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g
  for (const [, key, quoted, token] of m[1]!.matchAll(re)) {
    params[key!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : token!
  }
  if (params.realm === undefined || params.nonce === undefined) return undefined
  const algorithm = (params.algorithm ?? 'MD5').toUpperCase()
  if (!['MD5', 'MD5-SESS', 'SHA-256', 'SHA-256-SESS'].includes(algorithm)) return undefined
  // A server may offer several qop values; eGauge always offers "auth". auth-int is not needed.
  const qops = params.qop?.split(',').map((q) => q.trim().toLowerCase())
  if (qops !== undefined && !qops.includes('auth')) return undefined
  return {
    realm: params.realm,
    nonce: params.nonce,
    qop: qops === undefined ? undefined : 'auth',
    opaque: params.opaque,
    algorithm,
    stale: params.stale?.toLowerCase() === 'true'
  }
}

export interface DigestInput {
  challenge: DigestChallenge
  username: string
  password: string
  method: string
  /** The request target exactly as sent: path and query. */
  uri: string
  /** Nonce count: how many times this nonce has been used, starting at 1. */
  nc: number
  /** Client nonce; random when omitted. */
  cnonce?: string
}

/** Returns the `Authorization` header value answering a Digest challenge. */
export function digestAuthorization (input: DigestInput): string {
  const { challenge: c, username, password, method, uri } = input
  const hash = (s: string): string => createHash(c.algorithm.startsWith('SHA-256') ? 'sha256' : 'md5').update(s).digest('hex')
  const cnonce = input.cnonce ?? randomBytes(8).toString('hex')
  const nc = input.nc.toString(16).padStart(8, '0')
  let ha1 = hash(`${username}:${c.realm}:${password}`)
  if (c.algorithm.endsWith('-SESS')) ha1 = hash(`${ha1}:${c.nonce}:${cnonce}`)
  const ha2 = hash(`${method}:${uri}`)
  const response = c.qop === undefined
    ? hash(`${ha1}:${c.nonce}:${ha2}`)
    : hash(`${ha1}:${c.nonce}:${nc}:${cnonce}:${c.qop}:${ha2}`)
  const parts = [
    `username="${quote(username)}"`,
    `realm="${quote(c.realm)}"`,
    `nonce="${quote(c.nonce)}"`,
    `uri="${quote(uri)}"`,
    `algorithm=${c.algorithm}`,
    `response="${response}"`
  ]
  if (c.qop !== undefined) parts.push(`qop=${c.qop}`, `nc=${nc}`, `cnonce="${cnonce}"`)
  if (c.opaque !== undefined) parts.push(`opaque="${quote(c.opaque)}"`)
  return 'Digest ' + parts.join(', ')
}

function quote (s: string): string {
  return s.replace(/["\\]/g, '\\$&')
}
