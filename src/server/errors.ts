/** Errors only the HTTP layer raises, and how the HTTP parser's refusals are answered. */
import type { Duplex } from 'node:stream'

/** The request names something that is not configured: 404. */
export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND'
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (headers or URL too large,
 * a malformed request line, a client that sends its request too slowly) with one plain line, like
 * every other error of the bridge, instead of Fastify's JSON. The socket is closed after it.
 */
export function plainClientError (err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  // The reason phrases are written out: an ESM import of node:http for its STATUS_CODES makes
  // Node 22+ build the module's facade, which loads Node's own copy of undici for its lazy
  // WebSocket export (10 ms of every start-up on Node 24, measured with --cpu-prof).
  const [status, reason, message] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'Request Header Fields Too Large', 'request headers (or URL) too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request not received in time']
      : [400, 'Bad Request', 'malformed HTTP request']
  const body = message + '\n'
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
