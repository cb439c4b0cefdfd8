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
