/** Making URLs safe to show. */

/** Origin and path of a URL without credentials or query: safe for logs. Pure. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    return u.origin + u.pathname.replace(/\/+$/, '')
  } catch {
    return '(invalid url)'
  }
}

/** Secrets shorter than this are not searched for: "pw" would blank every "pw" in a message. */
const MIN_SECRET_LENGTH = 4

/**
 * The forms in which a username and password (or a token) can come back in an answer: each as
 * typed, and HTTP Basic's base64 of `user:password`. Pure.
 */
export function secretForms (username: string | undefined, password: string | undefined, token?: string): string[] {
  const forms = [password, token].filter((s): s is string => s !== undefined && s.length >= MIN_SECRET_LENGTH)
  if (password !== undefined) forms.push(Buffer.from(`${username ?? ''}:${password}`).toString('base64'))
  if (token !== undefined) forms.push(Buffer.from(token).toString('base64'))
  return forms
}

/** Longest quoted snippet of a peer's answer in a message. */
export const MAX_QUOTE = 200

/**
 * A text quoted from a meter's or a database's answer made safe to show: every secret replaced
 * by `[redacted]`, control characters by spaces, at most MAX_QUOTE characters. Pure.
 */
export function redactQuote (text: string, secrets: readonly string[], max = MAX_QUOTE): string {
  let out = text
  // Longest first, so that a secret containing another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('[redacted]')
  // eslint-disable-next-line no-control-regex
  out = out.replace(/[\u0000-\u001f\u007f]/g, ' ')
  return out.length > max ? out.slice(0, max) + '…' : out
}
