/**
 * Growable little-endian byte writer. Values are range-checked: writing a value that does not fit its
 * field throws `VALUE_OUT_OF_RANGE` instead of silently truncating.
 */
import { EnergyMeshError } from '../../../core/errors.ts';

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(Math.max(16, initialSize));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private check(v: number, min: number, max: number, what: string): void {
    // fast path first: in range and integral (NaN fails the comparisons)
    if (v >= min && v <= max && Math.floor(v) === v) return;
    throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `DNP3: ${what} value ${v} outside [${min}, ${max}]`, {
      details: { value: v, min, max },
    });
  }

  u8(v: number): this {
    this.check(v, 0, 0xff, 'u8');
    this.ensure(1);
    this.view.setUint8(this.pos++, v);
    return this;
  }

  u16(v: number): this {
    this.check(v, 0, 0xffff, 'u16');
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }

  i16(v: number): this {
    this.check(v, -0x8000, 0x7fff, 'i16');
    this.ensure(2);
    this.view.setInt16(this.pos, v, true);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.check(v, 0, 0xffff_ffff, 'u32');
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  i32(v: number): this {
    this.check(v, -0x8000_0000, 0x7fff_ffff, 'i32');
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  f32(v: number): this {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  f64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  u48(v: number): this {
    this.check(v, 0, 0xffff_ffff_ffff, 'u48');
    this.ensure(6);
    this.view.setUint32(this.pos, v % 0x1_0000_0000, true);
    this.view.setUint16(this.pos + 4, Math.floor(v / 0x1_0000_0000), true);
    this.pos += 6;
    return this;
  }

  uint(size: 1 | 2 | 4, v: number): this {
    return size === 1 ? this.u8(v) : size === 2 ? this.u16(v) : this.u32(v);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** A copy of what has been written. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
