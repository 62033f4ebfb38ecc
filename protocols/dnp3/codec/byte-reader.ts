/**
 * Bounds-checked little-endian byte reader. Every read checks the remaining length first and throws
 * `FRAME_TRUNCATED` instead of reading past the end, so decoders never see `undefined` bytes.
 */
import { EnergyMeshError } from '../../../core/errors.ts';

export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Throws FRAME_TRUNCATED unless `n` more bytes are available. */
  require(n: number, what = 'field'): void {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new EnergyMeshError('FRAME_TRUNCATED', `DNP3: ${what} needs ${n} bytes, ${this.remaining} left`, {
        details: { offset: this.pos, needed: n, remaining: this.remaining },
      });
    }
  }

  u8(): number {
    this.require(1, 'u8');
    return this.view.getUint8(this.pos++);
  }

  u16(): number {
    this.require(2, 'u16');
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  i16(): number {
    this.require(2, 'i16');
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.require(4, 'u32');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.require(4, 'i32');
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f32(): number {
    this.require(4, 'f32');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.require(8, 'f64');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** 48-bit unsigned little-endian (DNP3 DNP3TIME, milliseconds since 1970-01-01 UTC). */
  u48(): number {
    this.require(6, 'u48');
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint16(this.pos + 4, true);
    this.pos += 6;
    return hi * 0x1_0000_0000 + lo;
  }

  /** Unsigned integer of 1, 2 or 4 bytes. */
  uint(size: 1 | 2 | 4): number {
    return size === 1 ? this.u8() : size === 2 ? this.u16() : this.u32();
  }

  /** A view (no copy) of the next `n` bytes. */
  bytesView(n: number): Uint8Array {
    this.require(n, 'bytes');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Uint8Array {
    return this.bytesView(this.remaining);
  }
}
