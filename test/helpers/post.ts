/** A meter's push as a meter sends it: a POST over real HTTP, chunked (no Content-Length), optionally gzip-encoded. */
import { request } from 'node:http'
import { gzipSync } from 'node:zlib'

export interface PostOptions {
  headers?: Record<string, string>
  /** Basic credentials. */
  auth?: { username: string, password: string }
  gzip?: boolean
  /** Bytes per chunk (the meter sends its document in pieces). */
  chunkSize?: number
}

export interface PostAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export async function postChunked (url: string, body: string | Buffer, opts: PostOptions = {}): Promise<PostAnswer> {
  const payload = opts.gzip === true ? gzipSync(body) : Buffer.from(body)
  const headers: Record<string, string> = {
    'content-type': 'text/xml',
    'user-agent': 'egauge/pusher',
    'cache-control': 'no-cache',
    connection: 'close',
    ...(opts.gzip === true ? { 'content-encoding': 'gzip' } : {}),
    ...(opts.auth === undefined ? {} : { authorization: `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}` }),
    ...opts.headers
  }
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    const size = opts.chunkSize ?? 512
    for (let i = 0; i < payload.length; i += size) req.write(payload.subarray(i, i + size))
    req.end()
  })
}
