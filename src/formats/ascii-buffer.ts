/**
 * A growable byte buffer that prints numbers itself: the line-protocol writer's hot path. Printing
 * integers four digits per division, copying fixed prefixes as bytes and short constants as words
 * measured 4× faster than building the same text by string concatenation (bench/conversion.ts,
 * instruction counts under callgrind); every number it prints is byte for byte what `String(x)`
 * gives. Every write makes its own room: reserve() is only a hint that saves growing mid-line, so
 * a caller that reserves too little costs a copy, never a byte.
 */

/**
 * "0000" … "9999" as four ASCII bytes in one little-endian 32-bit word, and "00" … "99" in a
 * 16-bit one: four or two digits per division and one store (DataView writes unaligned words).
 */
const DIGIT_QUADS = new Uint32Array(10000)
const DIGIT_PAIRS = new Uint16Array(100)
for (let i = 0; i < 10000; i++) {
  const d = [Math.floor(i / 1000), Math.floor(i / 100) % 10, Math.floor(i / 10) % 10, i % 10].map((x) => 48 + x)
  DIGIT_QUADS[i] = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0
  if (i < 100) DIGIT_PAIRS[i] = d[2]! | (d[3]! << 8)
}

/** Integers below this in magnitude are printed digit by digit; see writeDecimal for why 10^15. */
const SMALL = 1e15

/** True for an integer of at most 15 digits: exact as a double, and printable without String(). */
export function isSmallInteger (x: number): boolean {
  return Number.isInteger(x) && x < SMALL && x > -SMALL
}

/** The number of decimals of a divisor writeDecimal accepts (1, 10, 100, 1000), else -1. */
export function decimalsOf (divisor: number): number {
  return divisor === 1 ? 0 : divisor === 10 ? 1 : divisor === 100 ? 2 : divisor === 1000 ? 3 : -1
}

/**
 * Storage no AsciiBuffer is using. A buffer borrows it on its first write and gives it back in
 * take(), so conversions one after the other reuse one allocation instead of growing a new one
 * each time (measured: allocating 16 MB per conversion made GC a third of its time). A buffer
 * that finds it borrowed simply allocates its own.
 */
let spare: Buffer | undefined
/** Larger storage is not kept for reuse. */
const MAX_SPARE = 32 * 1024 * 1024
const INITIAL_SIZE = 64 * 1024

export class AsciiBuffer {
  private bytes: Buffer | undefined
  /** The same storage, for writing digits a word at a time. */
  private view: DataView | undefined
  private length = 0
  /** False once a non-ASCII byte was copied in: then the text must be decoded as UTF-8. */
  private ascii = true
  /** Size of the next storage: the caller's estimate, then a little more than the last batch. */
  private nextSize: number

  /**
   * `sizeHint`: the bytes the caller expects before its first take. A good guess saves growing
   * (and copying) the storage several times over, and handing over oversized storage with the
   * first batch.
   */
  constructor (sizeHint = INITIAL_SIZE) {
    this.nextSize = Math.max(1024, sizeHint)
  }

  /** Makes room for `n` more bytes at once (the writes below also make their own). */
  reserve (n: number): void {
    if (this.bytes === undefined) {
      const wanted = Math.max(this.nextSize, n)
      if (spare !== undefined && spare.length >= wanted) {
        this.use(spare)
        spare = undefined
      } else {
        this.use(Buffer.allocUnsafe(wanted))
      }
    }
    const bytes = this.bytes!
    if (this.length + n <= bytes.length) return
    const grown = Buffer.allocUnsafe(Math.max(2 * bytes.length, this.length + n))
    bytes.copy(grown, 0, 0, this.length)
    this.use(grown)
  }

  private use (bytes: Buffer): void {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  }

  /** Room for `n` more bytes: one comparison when there is. */
  private room (n: number): void {
    if (this.bytes === undefined || this.length + n > this.bytes.length) this.reserve(n)
  }

  /** Copies bytes; `ascii` says whether they are all below 128. */
  writeBytes (bytes: Uint8Array, ascii: boolean): void {
    this.room(bytes.length)
    this.bytes!.set(bytes, this.length)
    this.length += bytes.length
    if (!ascii) this.ascii = false
  }

  /**
   * Copies a few ASCII bytes (ShortBytes) a 32-bit word at a time: a set() call costs about 200
   * instructions, more than a short copy. Writes up to 3 bytes past the text's end (overwritten
   * next), within the room it makes.
   */
  writeShort (short: ShortBytes): void {
    const words = short.words
    this.room(4 * words.length)
    const view = this.view!
    const at = this.length
    for (let i = 0; i < words.length; i++) view.setUint32(at + 4 * i, words[i]!, true)
    this.length = at + short.length
  }

  writeByte (code: number): void {
    this.room(1)
    this.bytes![this.length++] = code
  }

  /** Writes a string of ASCII characters (digits, signs, `.`, `e`: what String(number) gives). */
  writeAscii (s: string): void {
    this.room(s.length)
    const bytes = this.bytes!
    const at = this.length
    for (let i = 0; i < s.length; i++) bytes[at + i] = s.charCodeAt(i)
    this.length = at + s.length
  }

  /** Writes a number exactly as String(x) does (at most 25 bytes). */
  writeNumber (x: number): void {
    if (isSmallInteger(x)) this.writeInteger(x)
    else this.writeAscii(String(x))
  }

  /** Writes an integer of at most 15 digits, as String(n) does (−0 as `0`). */
  writeInteger (n: number): void {
    if (n < 0) {
      this.writeByte(45) // '-'
      n = -n
    }
    if (n < 1e8) {
      this.writeDigits(n, digitCount(n))
    } else {
      const high = Math.floor(n / 1e8)
      this.writeDigits(high, digitCount(high))
      this.writeDigits(n - high * 1e8, 8)
    }
  }

  /**
   * Writes n / divisor for an integer n of at most 15 digits and a divisor of 10^decimals
   * (decimals ≤ 3), by placing the decimal point. This is byte for byte String(n / divisor): the
   * division is correctly rounded, and a double holds any decimal of 15 significant digits
   * unambiguously, so its shortest form is that decimal (a property test holds it to String()).
   */
  writeDecimal (n: number, divisor: number, decimals: number): void {
    if (decimals === 0) {
      this.writeInteger(n)
      return
    }
    if (n < 0) {
      this.writeByte(45)
      n = -n
    }
    // Math.floor of the rounded quotient is exact here: 1/divisor is far above half an ulp of any
    // quotient below 10^15 / divisor. (`%` on doubles this large is a slow library call.)
    const whole = Math.floor(n / divisor)
    let fraction = n - whole * divisor
    this.writeInteger(whole)
    if (fraction === 0) return
    this.writeByte(46) // '.'
    let digits = decimals
    while (fraction % 10 === 0) {
      fraction /= 10
      digits--
    }
    this.writeDigits(fraction, digits)
  }

  /** The text written since the last take(), and starts again from empty. */
  take (): string {
    const bytes = this.bytes
    if (bytes === undefined) return ''
    const text = bytes.toString(this.ascii ? 'latin1' : 'utf8', 0, this.length)
    this.release(bytes)
    return text
  }

  /**
   * take() as bytes (UTF-8). They are handed over, not copied: the storage goes with them, and the
   * next write allocates new storage a little larger than this batch (batches are alike in size).
   */
  takeBytes (): Buffer {
    const bytes = this.bytes
    if (bytes === undefined) return Buffer.alloc(0)
    const taken = bytes.subarray(0, this.length)
    this.nextSize = Math.max(INITIAL_SIZE, Math.ceil(this.length * 1.25))
    this.bytes = undefined
    this.view = undefined
    this.length = 0
    this.ascii = true
    return taken
  }

  /** Starts again from empty and offers the storage for reuse. */
  private release (bytes: Buffer): void {
    this.bytes = undefined
    this.view = undefined
    this.length = 0
    this.ascii = true
    if (bytes.length <= MAX_SPARE && (spare === undefined || spare.length < bytes.length)) spare = bytes
  }

  /** Writes 0 ≤ n < 10^8 as exactly `width` digits (zero-padded), right to left. */
  private writeDigits (n: number, width: number): void {
    this.room(width)
    const view = this.view!
    let at = this.length + width
    this.length = at
    let left = width
    while (left >= 4) {
      const rest = (n / 10000) | 0 // n < 10^8: 32-bit integer arithmetic
      at -= 4
      view.setUint32(at, DIGIT_QUADS[n - rest * 10000]!, true)
      n = rest
      left -= 4
    }
    if (left >= 2) {
      const rest = (n / 100) | 0
      at -= 2
      view.setUint16(at, DIGIT_PAIRS[n - rest * 100]!, true)
      n = rest
      left -= 2
    }
    if (left === 1) this.bytes![at - 1] = 48 + n
  }
}

/** A few ASCII characters as little-endian 32-bit words, for AsciiBuffer.writeShort(). */
export class ShortBytes {
  readonly words: Uint32Array
  length = 0

  constructor (capacity: number) {
    this.words = new Uint32Array(Math.ceil(capacity / 4))
  }

  /** Holds `text` (ASCII, at most the capacity) from now on. */
  set (text: string): this {
    if (text.length > 4 * this.words.length) throw new RangeError(`"${text}" is longer than ${4 * this.words.length} bytes`)
    this.words.fill(0)
    for (let i = 0; i < text.length; i++) this.words[i >> 2]! |= text.charCodeAt(i) << (8 * (i & 3))
    this.length = text.length
    return this
  }
}

function digitCount (n: number): number {
  if (n < 1e4) return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : 4
  return n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : 8
}
