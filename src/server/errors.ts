/** Errors only the HTTP layer raises. */

/** The request names something that is not configured: 404. */
export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND'
}
