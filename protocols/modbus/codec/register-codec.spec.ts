import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../../core/errors.ts';
import {
  bufferToRegisters,
  decodeBigInt,
  decodeRegisterValues,
  decodeRegisters,
  encodeBit,
  encodeRegisters,
  registerCount,
  registersToBuffer,
  type ByteOrder,
  type RegisterLayout,
  type RegisterType,
  type WordOrder,
} from './register-codec.ts';

const ORDERS: [ByteOrder, WordOrder][] = [
  ['big', 'big'],
  ['little', 'big'],
  ['big', 'little'],
  ['little', 'little'],
];

// Known register images, hand-derived from the definition of the orders (ABCD, BADC, CDAB, DCBA).
interface Fixture {
  type: RegisterType;
  value: number | string;
  length?: number;
  regs: Record<`${ByteOrder}/${WordOrder}`, number[]>;
}

const FIXTURES: Fixture[] = [
  { type: 'u16', value: 0x1234, regs: { 'big/big': [0x1234], 'little/big': [0x3412], 'big/little': [0x1234], 'little/little': [0x3412] } },
  { type: 'i16', value: -2, regs: { 'big/big': [0xfffe], 'little/big': [0xfeff], 'big/little': [0xfffe], 'little/little': [0xfeff] } },
  { type: 'i16', value: -32768, regs: { 'big/big': [0x8000], 'little/big': [0x0080], 'big/little': [0x8000], 'little/little': [0x0080] } },
  {
    type: 'u32',
    value: 0x11223344,
    regs: { 'big/big': [0x1122, 0x3344], 'little/big': [0x2211, 0x4433], 'big/little': [0x3344, 0x1122], 'little/little': [0x4433, 0x2211] },
  },
  {
    type: 'i32',
    value: -2,
    regs: { 'big/big': [0xffff, 0xfffe], 'little/big': [0xffff, 0xfeff], 'big/little': [0xfffe, 0xffff], 'little/little': [0xfeff, 0xffff] },
  },
  {
    type: 'i32',
    value: -0x7fedcba0,
    // 0x80123460
    regs: { 'big/big': [0x8012, 0x3460], 'little/big': [0x1280, 0x6034], 'big/little': [0x3460, 0x8012], 'little/little': [0x6034, 0x1280] },
  },
  {
    type: 'f32',
    value: 1.5, // 0x3FC00000
    regs: { 'big/big': [0x3fc0, 0x0000], 'little/big': [0xc03f, 0x0000], 'big/little': [0x0000, 0x3fc0], 'little/little': [0x0000, 0xc03f] },
  },
  {
    type: 'f32',
    value: -123.25, // 0xC2F68000
    regs: { 'big/big': [0xc2f6, 0x8000], 'little/big': [0xf6c2, 0x0080], 'big/little': [0x8000, 0xc2f6], 'little/little': [0x0080, 0xf6c2] },
  },
  {
    type: 'u64',
    value: 0x0001020304050607,
    regs: {
      'big/big': [0x0001, 0x0203, 0x0405, 0x0607],
      'little/big': [0x0100, 0x0302, 0x0504, 0x0706],
      'big/little': [0x0607, 0x0405, 0x0203, 0x0001],
      'little/little': [0x0706, 0x0504, 0x0302, 0x0100],
    },
  },
  {
    type: 'i64',
    value: -2,
    regs: {
      'big/big': [0xffff, 0xffff, 0xffff, 0xfffe],
      'little/big': [0xffff, 0xffff, 0xffff, 0xfeff],
      'big/little': [0xfffe, 0xffff, 0xffff, 0xffff],
      'little/little': [0xfeff, 0xffff, 0xffff, 0xffff],
    },
  },
  {
    type: 'f64',
    value: 1.5, // 0x3FF8000000000000
    regs: {
      'big/big': [0x3ff8, 0, 0, 0],
      'little/big': [0xf83f, 0, 0, 0],
      'big/little': [0, 0, 0, 0x3ff8],
      'little/little': [0, 0, 0, 0xf83f],
    },
  },
  {
    type: 'f64',
    value: -0.1, // 0xBFB999999999999A
    regs: {
      'big/big': [0xbfb9, 0x9999, 0x9999, 0x999a],
      'little/big': [0xb9bf, 0x9999, 0x9999, 0x9a99],
      'big/little': [0x999a, 0x9999, 0x9999, 0xbfb9],
      'little/little': [0x9a99, 0x9999, 0x9999, 0xb9bf],
    },
  },
  {
    type: 'string',
    value: 'ABC',
    length: 3,
    // wordOrder does not apply to strings
    regs: { 'big/big': [0x4142, 0x4300, 0], 'little/big': [0x4241, 0x0043, 0], 'big/little': [0x4142, 0x4300, 0], 'little/little': [0x4241, 0x0043, 0] },
  },
];

describe('modbus register codec', () => {
  describe('known register images', () => {
    for (const f of FIXTURES) {
      for (const [byteOrder, wordOrder] of ORDERS) {
        const layout: RegisterLayout = { type: f.type, byteOrder, wordOrder, length: f.length };
        const regs = f.regs[`${byteOrder}/${wordOrder}`];
        it(`${f.type} ${String(f.value)} ${byteOrder}/${wordOrder} decodes and encodes`, () => {
          assert.equal(decodeRegisterValues(regs, 0, layout), f.value);
          assert.deepEqual(encodeRegisters(f.value, layout), regs);
        });
      }
    }
  });

  describe('round trips', () => {
    const values: Record<Exclude<RegisterType, 'string' | 'bit'>, number[]> = {
      u16: [0, 1, 0x7fff, 0x8000, 0xffff],
      i16: [-32768, -1, 0, 1, 32767],
      u32: [0, 1, 0xffff, 0x10000, 0xffffffff],
      i32: [-2147483648, -65536, -1, 0, 2147483647],
      u64: [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER],
      i64: [Number.MIN_SAFE_INTEGER, -(2 ** 32), -1, 0, Number.MAX_SAFE_INTEGER],
      f32: [0, -0.5, 3.4028234663852886e38, 1.401298464324817e-45, Math.fround(Math.PI)],
      f64: [0, Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE, 1e-300],
    };
    for (const [type, list] of Object.entries(values) as [RegisterType, number[]][]) {
      for (const [byteOrder, wordOrder] of ORDERS) {
        it(`${type} ${byteOrder}/${wordOrder}`, () => {
          for (const v of list) {
            const layout = { type, byteOrder, wordOrder };
            const regs = encodeRegisters(v, layout);
            assert.equal(regs.length, registerCount(layout));
            for (const r of regs) assert.ok(Number.isInteger(r) && r >= 0 && r <= 0xffff);
            assert.equal(decodeRegisterValues(regs, 0, layout), v);
          }
        });
      }
    }
    it('strings in both byte orders, padded and trimmed', () => {
      for (const byteOrder of ['big', 'little'] as const) {
        const layout: RegisterLayout = { type: 'string', length: 8, byteOrder };
        for (const s of ['', 'A', 'EnergyMesh', 'sixteen chars!!!']) {
          assert.equal(decodeRegisterValues(encodeRegisters(s, layout), 0, layout), s);
        }
      }
      assert.equal(decodeRegisterValues([0x4142, 0x2020], 0, { type: 'string', length: 2 }), 'AB');
    });
    it('u64 and i64 exact as bigint', () => {
      const regs = encodeRegisters(0xfedcba9876543210n, { type: 'u64', wordOrder: 'little' });
      assert.equal(decodeBigInt(registersToBuffer(regs), 0, { type: 'u64', wordOrder: 'little' }), 0xfedcba9876543210n);
      const neg = encodeRegisters(-(2n ** 63n), { type: 'i64', byteOrder: 'little' });
      assert.equal(decodeBigInt(registersToBuffer(neg), 0, { type: 'i64', byteOrder: 'little' }), -(2n ** 63n));
    });
  });

  describe('bits', () => {
    it('reads a bit of a register in both byte orders', () => {
      const data = registersToBuffer([0x0100]);
      assert.equal(decodeRegisters(data, 0, { type: 'bit', bit: 8 }), true);
      assert.equal(decodeRegisters(data, 0, { type: 'bit', bit: 0 }), false);
      assert.equal(decodeRegisters(data, 0, { type: 'bit', bit: 0, byteOrder: 'little' }), true);
    });
    it('sets and clears a bit, keeping the others', () => {
      assert.equal(encodeBit(0x00f0, true, { type: 'bit', bit: 0 }), 0x00f1);
      assert.equal(encodeBit(0x00f0, false, { type: 'bit', bit: 4 }), 0x00e0);
      assert.equal(encodeBit(0x0000, true, { type: 'bit', bit: 15 }), 0x8000);
      // little: bit 0 of the swapped value is the low bit of the high wire byte
      assert.equal(encodeBit(0x0000, true, { type: 'bit', bit: 0, byteOrder: 'little' }), 0x0100);
      assert.throws(() => encodeBit(0, true, { type: 'bit', bit: 16 }), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'));
    });
  });

  describe('offsets and bounds', () => {
    it('decodes at a register offset inside a block', () => {
      const data = registersToBuffer([0xaaaa, 0x1122, 0x3344, 0xbbbb]);
      assert.equal(decodeRegisters(data, 1, { type: 'u32' }), 0x11223344);
      assert.deepEqual(bufferToRegisters(data), [0xaaaa, 0x1122, 0x3344, 0xbbbb]);
    });
    it('refuses to read past the end', () => {
      const data = registersToBuffer([1, 2, 3]);
      assert.throws(() => decodeRegisters(data, 2, { type: 'u32' }), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
      assert.throws(() => decodeRegisters(data, 0, { type: 'u64' }), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
      assert.throws(() => decodeRegisters(data, 3, { type: 'u16' }), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
      assert.throws(() => decodeRegisters(data, 0, { type: 'string', length: 4 }), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
    });
    it('refuses values a type cannot hold', () => {
      const bad: [number | string | bigint, RegisterLayout][] = [
        [65536, { type: 'u16' }],
        [-1, { type: 'u16' }],
        [32768, { type: 'i16' }],
        [1.5, { type: 'u32' }],
        [2 ** 32, { type: 'u32' }],
        [-(2 ** 31) - 1, { type: 'i32' }],
        [2 ** 53, { type: 'u64' }],
        [-1, { type: 'u64' }],
        [2n ** 64n, { type: 'u64' }],
        [Number.NaN, { type: 'f32' }],
        [1e39, { type: 'f32' }],
        [Number.POSITIVE_INFINITY, { type: 'f64' }],
        ['too long', { type: 'string', length: 2 }],
        ['€uro', { type: 'string', length: 4 }],
        [5, { type: 'string', length: 2 }],
      ];
      for (const [v, layout] of bad) {
        assert.throws(() => encodeRegisters(v, layout), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'), `${String(v)} as ${layout.type}`);
      }
    });
    it('refuses string lengths outside 1..125', () => {
      assert.throws(() => registerCount({ type: 'string', length: 0 }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
      assert.throws(() => registerCount({ type: 'string', length: 126 }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    });
  });
});
