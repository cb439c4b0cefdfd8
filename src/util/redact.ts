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

/** The longest error message a peer (a meter, a database) can cause, quoted parts included. */
export const MAX_ERROR_MESSAGE = 400

/**
 * Runs `call`; an error of class `kind` it throws leaves with its message made safe to show
 * (redactQuote with `secrets`, at most MAX_ERROR_MESSAGE characters). The one wrapper of the
 * meter sources and the database writers.
 */
export async function redactingErrors<T> (call: () => Promise<T>, kind: abstract new (...args: never[]) => Error, secrets: readonly string[]): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof kind) err.message = redactQuote(err.message, secrets, MAX_ERROR_MESSAGE)
    throw err
  }
}
