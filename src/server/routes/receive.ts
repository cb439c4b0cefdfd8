/**
 * `POST /receive/:sensor`: a meter's own push (README "Meters that push"). HTTP only: the sensor's
 * Basic credentials (compared in constant time), the body read with a cap on its size before and
 * after gzip or deflate, the format from the content type. The rows go to the receiver the bridge
 * wires in (receive/receiver.ts), which answers only once the database has them.
 *
 * A caller without the right credentials learns nothing about the configuration beyond what the
 * bridge's read routes already tell it: with `server.auth` off (the sensor names are on
 * /api/sensors for anyone), an unknown sensor is a 404; with it on, every failure is the same 401.
 */
import { promisify } from 'node:util'
import { gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import type { SensorConfig } from '../../config/schema.js'
import { ReceiveError } from '../../model/errors.js'
import { constantTimeEqual, type AppOptions } from '../app.js'
import { NotFoundError } from '../errors.js'

/** What the route hands a push to (receive/receiver.ts). */
export interface ReceiveHandler {
  /** Resolves once the push is acknowledged; throws ReceiveError otherwise. */
  receive: (sensor: SensorConfig, body: string, format: 'xml' | 'json') => Promise<{ rows: number, points: number }>
  /** Records a push refused here (credentials, size, encoding). */
  refused: (sensor: SensorConfig, err: ReceiveError, startedAt: number) => void
}

type Inflate = (buf: InputType, options: ZlibOptions) => Promise<Buffer>
const decoders: Record<string, Inflate> = {
  gzip: promisify(gunzip) as Inflate,
  'x-gzip': promisify(gunzip) as Inflate,
  deflate: promisify(inflate) as Inflate
}
const inflateRawAsync = promisify(inflateRaw) as Inflate

/**
 * Content types a push may carry. eGauge documents `text/xml` for XML pushes and nothing for its
 * `json` option, so the document itself says which it is (its first character), and the
 * generic types senders fall back to are taken too; a form or a web page is not a push.
 */
const PUSH_TYPES = new Set(['text/xml', 'application/xml', 'application/json', 'text/json', 'text/plain', 'application/octet-stream', ''])

/** Register JSON starts with `{`, an egauge-show document with `<` (either after blanks or a BOM). */
function formatOf (body: string): 'xml' | 'json' {
  return /^[\s\uFEFF]*\{/.test(body) ? 'json' : 'xml'
}

export function receiveRoutes (app: FastifyInstance, opts: AppOptions): void {
  const now = opts.now ?? Date.now
  // The body is read here, as a stream: a size cap before and after decompression needs the raw
  // bytes, and Fastify would neither inflate them nor count the inflated size.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, payload, done) => { done(null, payload) })

    scope.post<{ Params: { sensor: string } }>('/receive/:sensor', async (req, reply) => {
      const startedAt = now()
      const { config } = opts.live()
      const handler = opts.receiver?.()
      const sensor = config.sensors.find((s) => s.name === req.params.sensor && s.receive !== undefined)
      const secretNames = config.server.auth.kind !== 'none'
      if (sensor === undefined || handler === undefined) {
        if (!secretNames) throw new NotFoundError('no sensor of that name receives pushes')
        return await challenge(reply)
      }
      const receive = sensor.receive!
      if (!constantTimeEqual(credentials(req.headers.authorization), `${receive.username}:${receive.password}`)) {
        handler.refused(sensor, new ReceiveError('RECEIVE_AUTH', sensor.name, 401, 'push with missing or wrong credentials refused'), startedAt)
        return await challenge(reply)
      }
      const refuse = (status: number, code: 'RECEIVE_BAD_BODY' | 'RECEIVE_TOO_LARGE', message: string): ReceiveError => {
        const err = new ReceiveError(code, sensor.name, status, message)
        handler.refused(sensor, err, startedAt)
        return err
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      if (!PUSH_TYPES.has(type)) throw refuse(415, 'RECEIVE_BAD_BODY', `push with content type ${JSON.stringify(type.slice(0, 60))} refused: expected text/xml or application/json`)
      const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
      if (encoding !== 'identity' && decoders[encoding] === undefined) throw refuse(415, 'RECEIVE_BAD_BODY', `push with content encoding ${JSON.stringify(encoding.slice(0, 30))} refused: expected gzip or deflate`)
      const limit = sensor.maxResponseBytes
      const raw = await readAll(req.body as AsyncIterable<Buffer>, limit)
      if (raw === undefined) throw refuse(413, 'RECEIVE_TOO_LARGE', `push body larger than ${limit} bytes (max_response_size) refused`)
      let body: Buffer
      try {
        body = encoding === 'identity' ? raw : await decode(encoding, raw, limit)
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw refuse(413, 'RECEIVE_TOO_LARGE', `push body inflates beyond ${limit} bytes (max_response_size): refused`)
        throw refuse(400, 'RECEIVE_BAD_BODY', `push body is not valid ${encoding} (${(err as { code?: string }).code ?? 'error'})`)
      }
      const text = body.toString('utf8')
      const { rows, points } = await handler.receive(sensor, text, formatOf(text))
      return await reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(`ok: ${rows} rows, ${points} points written\n`)
    })
  })

  async function challenge (reply: import('fastify').FastifyReply): Promise<import('fastify').FastifyReply> {
    return await reply.code(401).header('www-authenticate', 'Basic realm="egauge-bridge receive", charset="UTF-8"').type('text/plain; charset=utf-8').send('missing or wrong credentials\n')
  }
}

/** `user:password` of a Basic Authorization header, or '' for any other header. */
function credentials (header: string | undefined): string {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  return m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8')
}

/** The whole body, or undefined once it passes `limit` bytes (the rest is not read into memory). */
async function readAll (stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += chunk.length
    if (size > limit) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

/**
 * Inflates off the event loop (zlib's thread pool), stopping at `limit` output bytes: a bomb
 * never grows past it. HTTP's "deflate" is zlib-wrapped, but some senders use raw deflate: both
 * are taken.
 */
async function decode (encoding: string, raw: Buffer, limit: number): Promise<Buffer> {
  try {
    return await decoders[encoding]!(raw, { maxOutputLength: limit })
  } catch (err) {
    if (encoding !== 'deflate' || (err as { code?: string }).code !== 'Z_DATA_ERROR') throw err
    return await inflateRawAsync(raw, { maxOutputLength: limit })
  }
}
