/**
 * Register codec: typed values ⇄ Modbus registers.
 *
 * Wire grammar (Modbus Application Protocol V1.1b3, §4.2 "Data Encoding"): a register is 16 bits sent
 * most significant byte first. Everything wider than one register is a vendor convention, so each field
 * names two orders:
 *
 *   byteOrder  the order of the two bytes inside each register   big = AB (as sent), little = BA
 *   wordOrder  the order of the registers of a multi-register value big = most significant first
 *
 *   u32 0x11223344 as registers   byte big   byte little
 *     word big                    1122 3344   2211 4433      (ABCD / BADC)
 *     word little                 3344 1122   4433 2211      (CDAB / DCBA)
 *
 * Strings hold two characters per register (first character in the high byte for byteOrder big);
 * wordOrder does not apply to them (text is always in register order). A `bit` field is one bit
 * (0 = least significant) of one register after its byteOrder is applied.
 *
 * Pure and synchronous. Policy: the codec throws EnergyMeshError (`FRAME_TRUNCATED` when the data is
 * shorter than the field, `VALUE_OUT_OF_RANGE` when a value cannot be encoded).
 */
import { EnergyMeshError } from '../../../core/errors.ts';

export type RegisterType = 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'string' | 'bit';
export type ByteOrder = 'big' | 'little';
export type WordOrder = 'big' | 'little';

export const REGISTER_TYPES: readonly RegisterType[] = ['u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64', 'string', 'bit'];

/** How one value is laid out in registers. */
export interface RegisterLayout {
  type: RegisterType;
  byteOrder?: ByteOrder;
  wordOrder?: WordOrder;
  /** Registers of a `string` (2 characters each). */
  length?: number;
  /** Bit index 0..15 of a `bit` field. */
  bit?: number;
}

const WIDTH: Record<Exclude<RegisterType, 'string'>, number> = {
  u16: 1,
  i16: 1,
  bit: 1,
  u32: 2,
  i32: 2,
  f32: 2,
  u64: 4,
  i64: 4,
  f64: 4,
};

/** Number of registers a field occupies. */
export function registerCount(layout: RegisterLayout): number {
  if (layout.type === 'string') {
    const n = layout.length ?? 0;
    if (!Number.isInteger(n) || n < 1 || n > 125) {
      throw new EnergyMeshError('CONFIG_INVALID', `a string field needs a length of 1..125 registers, got ${String(layout.length)}`);
    }
    return n;
  }
  const w = WIDTH[layout.type];
  if (w === undefined) throw new EnergyMeshError('CONFIG_INVALID', `unknown register type ${String(layout.type)}`);
  return w;
}

// One scratch buffer: values are assembled in canonical big-endian order, then read with Buffer's readers.
const scratch = Buffer.alloc(8);

/**
 * Copies `n` registers starting at byte `pos` of `data` into `scratch` in canonical (big/big) order.
 */
function gather(data: Buffer, pos: number, n: number, byteOrder: ByteOrder, wordOrder: WordOrder): void {
  for (let i = 0; i < n; i++) {
    const src = pos + 2 * (wordOrder === 'big' ? i : n - 1 - i);
    if (byteOrder === 'big') {
      scratch[2 * i] = data[src]!;
      scratch[2 * i + 1] = data[src + 1]!;
    } else {
      scratch[2 * i] = data[src + 1]!;
      scratch[2 * i + 1] = data[src]!;
    }
  }
}

function truncated(need: number, have: number): EnergyMeshError {
  return new EnergyMeshError('FRAME_TRUNCATED', `register data too short: need ${need} bytes, have ${have}`, {
    details: { need, have },
  });
}

/**
 * Decodes the field that starts `regOffset` registers into `data` (big-endian register bytes as they
 * arrive in a read response). u64/i64 come back as numbers (exact up to 2^53).
 */
export function decodeRegisters(data: Buffer, regOffset: number, layout: RegisterLayout): number | string | boolean {
  const byteOrder = layout.byteOrder ?? 'big';
  const wordOrder = layout.wordOrder ?? 'big';
  const pos = regOffset * 2;
  const type = layout.type;
  if (type === 'u16' || type === 'i16' || type === 'bit') {
    if (pos + 2 > data.length || pos < 0) throw truncated(pos + 2, data.length);
    const v = byteOrder === 'big' ? (data[pos]! << 8) | data[pos + 1]! : (data[pos + 1]! << 8) | data[pos]!;
    if (type === 'u16') return v;
    if (type === 'i16') return v > 0x7fff ? v - 0x10000 : v;
    return ((v >> (layout.bit ?? 0)) & 1) === 1;
  }
  if (type === 'string') {
    const n = registerCount(layout);
    if (pos + 2 * n > data.length || pos < 0) throw truncated(pos + 2 * n, data.length);
    let end = 0;
    const chars = Buffer.allocUnsafe(2 * n);
    for (let i = 0; i < n; i++) {
      const hi = data[pos + 2 * i]!;
      const lo = data[pos + 2 * i + 1]!;
      chars[2 * i] = byteOrder === 'big' ? hi : lo;
      chars[2 * i + 1] = byteOrder === 'big' ? lo : hi;
    }
    // Text ends at the first NUL; trailing blanks are padding.
    end = chars.indexOf(0);
    if (end < 0) end = chars.length;
    while (end > 0 && chars[end - 1] === 0x20) end--;
    return chars.toString('latin1', 0, end);
  }
  const n = WIDTH[type];
  if (pos + 2 * n > data.length || pos < 0) throw truncated(pos + 2 * n, data.length);
  gather(data, pos, n, byteOrder, wordOrder);
  switch (type) {
    case 'u32':
      return scratch.readUInt32BE(0);
    case 'i32':
      return scratch.readInt32BE(0);
    case 'f32':
      return scratch.readFloatBE(0);
    case 'u64':
      return scratch.readUInt32BE(0) * 4294967296 + scratch.readUInt32BE(4);
    case 'i64':
      return scratch.readInt32BE(0) * 4294967296 + scratch.readUInt32BE(4);
    case 'f64':
      return scratch.readDoubleBE(0);
  }
  throw new EnergyMeshError('CONFIG_INVALID', `unknown register type ${String(type)}`);
}

/** Like decodeRegisters, for u64/i64 exact as a bigint. */
export function decodeBigInt(data: Buffer, regOffset: number, layout: RegisterLayout): bigint {
  if (layout.type !== 'u64' && layout.type !== 'i64') {
    const v = decodeRegisters(data, regOffset, layout);
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `a ${layout.type} field has no integer value`);
    }
    return BigInt(v);
  }
  const pos = regOffset * 2;
  if (pos + 8 > data.length || pos < 0) throw truncated(pos + 8, data.length);
  gather(data, pos, 4, layout.byteOrder ?? 'big', layout.wordOrder ?? 'big');
  return layout.type === 'u64' ? scratch.readBigUInt64BE(0) : scratch.readBigInt64BE(0);
}

/** Decodes a field from register values (0..65535 each), as a client library may return them. */
export function decodeRegisterValues(registers: ArrayLike<number>, regOffset: number, layout: RegisterLayout): number | string | boolean {
  return decodeRegisters(registersToBuffer(registers), regOffset, layout);
}

/** Register values → big-endian bytes. */
export function registersToBuffer(registers: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(registers.length * 2);
  for (let i = 0; i < registers.length; i++) out.writeUInt16BE(registers[i]! & 0xffff, 2 * i);
  return out;
}

/** Big-endian bytes → register values. */
export function bufferToRegisters(data: Buffer): number[] {
  const out: number[] = new Array<number>(data.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = data.readUInt16BE(2 * i);
  return out;
}

function outOfRange(layout: RegisterLayout, value: unknown, why: string): EnergyMeshError {
  return new EnergyMeshError('VALUE_OUT_OF_RANGE', `${String(value)} cannot be written as ${layout.type}: ${why}`, {
    details: { type: layout.type, value: typeof value === 'bigint' ? value.toString() : value },
  });
}

const INT_RANGE: Record<'u16' | 'i16' | 'u32' | 'i32', [number, number]> = {
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

/** The raw range of an integer type (u64/i64 limited to what a number holds exactly). */
export function rawRange(type: RegisterType): [number, number] | undefined {
  switch (type) {
    case 'u16':
    case 'i16':
    case 'u32':
    case 'i32':
      return INT_RANGE[type];
    case 'u64':
      return [0, Number.MAX_SAFE_INTEGER];
    case 'i64':
      return [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    default:
      return undefined;
  }
}

/**
 * Encodes a raw value into registers in wire order (what FC16 sends). `bit` fields need the current
 * register: use encodeBit. Integers must be whole and in range; floats finite and in range.
 */
export function encodeRegisters(value: number | bigint | string | boolean, layout: RegisterLayout): number[] {
  const byteOrder = layout.byteOrder ?? 'big';
  const wordOrder = layout.wordOrder ?? 'big';
  const type = layout.type;
  if (type === 'bit') throw new EnergyMeshError('INVALID_ARGUMENT', 'a bit field is written with encodeBit (read-modify-write)');
  if (type === 'string') {
    if (typeof value !== 'string') throw outOfRange(layout, value, 'not a string');
    const n = registerCount(layout);
    const bytes = Buffer.from(value, 'latin1');
    if (bytes.length > 2 * n) throw outOfRange(layout, value, `longer than ${2 * n} characters`);
    if (Buffer.from(bytes.toString('latin1'), 'latin1').toString('latin1') !== value) {
      throw outOfRange(layout, value, 'not Latin-1 text');
    }
    const regs = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const a = bytes[2 * i] ?? 0;
      const b = bytes[2 * i + 1] ?? 0;
      regs[i] = byteOrder === 'big' ? (a << 8) | b : (b << 8) | a;
    }
    return regs;
  }
  const n = WIDTH[type];
  const buf = Buffer.alloc(8);
  if (type === 'u64' || type === 'i64') {
    let big: bigint;
    if (typeof value === 'bigint') big = value;
    else if (typeof value === 'number' && Number.isInteger(value)) {
      if (!Number.isSafeInteger(value)) throw outOfRange(layout, value, 'beyond 2^53: pass a bigint');
      big = BigInt(value);
    } else throw outOfRange(layout, value, 'not an integer');
    const min = type === 'u64' ? 0n : -(1n << 63n);
    const max = type === 'u64' ? (1n << 64n) - 1n : (1n << 63n) - 1n;
    if (big < min || big > max) throw outOfRange(layout, value, `outside ${min}..${max}`);
    if (type === 'u64') buf.writeBigUInt64BE(big, 0);
    else buf.writeBigInt64BE(big, 0);
  } else {
    const v = typeof value === 'bigint' ? Number(value) : value;
    if (typeof v !== 'number') throw outOfRange(layout, value, 'not a number');
    if (type === 'f32' || type === 'f64') {
      if (!Number.isFinite(v)) throw outOfRange(layout, value, 'not finite');
      if (type === 'f32') {
        if (Math.abs(v) > 3.4028234663852886e38) throw outOfRange(layout, value, 'beyond the float32 range');
        buf.writeFloatBE(v, 0);
      } else buf.writeDoubleBE(v, 0);
    } else {
      const [min, max] = INT_RANGE[type];
      if (!Number.isInteger(v)) throw outOfRange(layout, value, 'not an integer');
      if (v < min || v > max) throw outOfRange(layout, value, `outside ${min}..${max}`);
      if (type === 'u16') buf.writeUInt16BE(v, 0);
      else if (type === 'i16') buf.writeInt16BE(v, 0);
      else if (type === 'u32') buf.writeUInt32BE(v, 0);
      else buf.writeInt32BE(v, 0);
    }
  }
  const regs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const hi = buf[2 * i]!;
    const lo = buf[2 * i + 1]!;
    const dst = wordOrder === 'big' ? i : n - 1 - i;
    regs[dst] = byteOrder === 'big' ? (hi << 8) | lo : (lo << 8) | hi;
  }
  return regs;
}

/**
 * Sets or clears bit `layout.bit` of `current` (a register as read from the wire) and returns the new
 * register as it must be written, honouring the field's byteOrder.
 */
export function encodeBit(current: number, value: boolean, layout: RegisterLayout): number {
  const bit = layout.bit ?? 0;
  if (!Number.isInteger(bit) || bit < 0 || bit > 15) throw outOfRange(layout, bit, 'bit index outside 0..15');
  const swap = (layout.byteOrder ?? 'big') === 'little';
  let v = swap ? ((current & 0xff) << 8) | (current >> 8) : current;
  v = value ? v | (1 << bit) : v & ~(1 << bit) & 0xffff;
  return swap ? ((v & 0xff) << 8) | (v >> 8) : v;
}
