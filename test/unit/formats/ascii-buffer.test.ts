import t from 'tap'
import fc from 'fast-check'
import { AsciiBuffer, decimalsOf, isSmallInteger, ShortBytes } from '../../../src/formats/ascii-buffer.js'

/** What one write prints, through a fresh buffer. */
function printed (write: (b: AsciiBuffer) => void): string {
  const b = new AsciiBuffer()
  b.reserve(64)
  write(b)
  return b.take()
}

const LIMIT = 1e15 - 1

t.test('writeDecimal prints exactly what String(n / divisor) prints', async (t) => {
  fc.assert(fc.property(
    fc.oneof(fc.integer({ min: -LIMIT, max: LIMIT }), fc.integer({ min: -100_000, max: 100_000 })),
    fc.constantFrom(1, 10, 100, 1000),
    (n, divisor) => printed((b) => { b.writeDecimal(n, divisor, decimalsOf(divisor)) }) === String(n / divisor)
  ), { numRuns: 20000, seed: 7 })
  // Hand-picked: zero, signs, trailing zeros, leading zeros of the fraction, the limits.
  for (const [n, divisor, text] of [
    [0, 1000, '0'], [-0, 1000, '0'], [-1, 1000, '-0.001'], [1005, 1000, '1.005'], [1500, 1000, '1.5'],
    [-119841, 1000, '-119.841'], [120000, 1000, '120'], [7, 10, '0.7'], [LIMIT, 1000, '999999999999.999'],
    [-LIMIT, 10, '-99999999999999.9'], [1954609685610, 1000, '1954609685.61']
  ] as const) {
    t.equal(printed((b) => { b.writeDecimal(n, divisor, decimalsOf(divisor)) }), text, `${n} / ${divisor}`)
  }
  t.equal(String(1954609685610 * 0.001), '1954609685.6100001', 'what multiplying by a quantum gave before')
})

t.test('writeNumber prints exactly what String(x) prints, for any double', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -LIMIT, max: LIMIT })), (x) => {
    return printed((b) => { b.writeNumber(x) }) === String(x)
  }), { numRuns: 20000, seed: 11 })
  for (const x of [0, -0, 1e8 - 1, 1e8, -1e8, LIMIT, -LIMIT, 1e15, 2 ** 53, 1e21, 5e-7, 0.1 + 0.2, Number.MIN_VALUE]) {
    t.equal(printed((b) => { b.writeNumber(x) }), String(x), String(x))
  }
})

t.test('isSmallInteger and decimalsOf', async (t) => {
  t.same([LIMIT, -LIMIT, 0, 1e15, 1.5, Number.NaN].map(isSmallInteger), [true, true, true, false, false, false])
  t.same([1, 10, 100, 1000, 1e9, 2 ** 29].map(decimalsOf), [0, 1, 2, 3, -1, -1])
})

t.test('grows past its first allocation and keeps every byte', async (t) => {
  const b = new AsciiBuffer()
  let expected = ''
  for (let i = 0; i < 50_000; i++) {
    b.reserve(32)
    b.writeInteger(i * 7919)
    b.writeByte(10)
    expected += `${i * 7919}\n`
  }
  t.equal(b.take(), expected)
  t.equal(b.take(), '', 'take() empties it')
})

t.test('non-ASCII bytes make it decode as UTF-8; the next batch is ASCII again', async (t) => {
  const b = new AsciiBuffer()
  b.reserve(64)
  b.writeBytes(Buffer.from('Küche=', 'utf8'), false)
  b.writeNumber(1.5)
  t.equal(b.take(), 'Küche=1.5')
  b.reserve(64)
  b.writeBytes(Buffer.from('\xe9', 'latin1'), true) // claimed ASCII: read as Latin-1, as promised
  t.equal(b.take(), 'é')
})

t.test('two buffers in use at once do not share storage', async (t) => {
  const a = new AsciiBuffer()
  const b = new AsciiBuffer()
  a.reserve(16)
  b.reserve(16)
  a.writeAscii('first')
  b.writeAscii('second')
  t.equal(a.take(), 'first')
  const c = new AsciiBuffer()
  c.reserve(16)
  c.writeAscii('third') // reuses a's storage
  t.equal(b.take(), 'second')
  t.equal(c.take(), 'third')
})

t.test('takeBytes hands the bytes over; the next batch gets storage of its own', async (t) => {
  const b = new AsciiBuffer()
  t.equal(b.takeBytes().length, 0, 'nothing written: an empty buffer')
  b.reserve(16)
  b.writeAscii('first\n')
  const first = b.takeBytes()
  b.reserve(16)
  b.writeAscii('second\n')
  const second = b.takeBytes()
  t.equal(first.toString(), 'first\n', 'not overwritten by the next batch')
  t.equal(second.toString(), 'second\n')
  t.equal(b.take(), '', 'and take() after takeBytes() is empty')
})

t.test('ShortBytes: any length up to its capacity, the bytes written past the end are overwritten', async (t) => {
  const b = new AsciiBuffer()
  let expected = ''
  for (let n = 0; n <= 16; n++) {
    const text = 'abcdefghijklmnop'.slice(0, n)
    b.reserve(n + 8)
    b.writeShort(new ShortBytes(16).set(text))
    b.writeByte(124) // '|' lands right after the text, over whatever the last word wrote past it
    expected += text + '|'
  }
  t.equal(b.take(), expected)
  const reused = new ShortBytes(8).set('longer!')
  t.equal(reused.set('ab').length, 2, 'set() replaces the old text')
  b.reserve(16)
  b.writeShort(reused)
  t.equal(b.take(), 'ab')
  t.throws(() => new ShortBytes(8).set('123456789'), RangeError)
})

t.test('storage is sized from the hint, then from the last batch', async (t) => {
  const b = new AsciiBuffer(300_000)
  const fill = (bytes: number): void => {
    for (let i = 0; i < bytes / 100; i++) {
      b.reserve(100)
      b.writeAscii('x'.repeat(100))
    }
  }
  fill(200_000)
  const first = b.takeBytes()
  t.equal(first.length, 200_000)
  t.equal(first.buffer.byteLength, 300_000, 'one allocation of the hinted size, never grown')
  fill(100_000)
  t.equal(b.takeBytes().buffer.byteLength, 250_000, 'the next: a quarter more than the last batch')
  fill(400_000)
  const grown = b.takeBytes()
  t.equal(grown.length, 400_000, 'a batch larger than expected grows the storage')
  t.equal(grown.toString(), 'x'.repeat(400_000))
})
