/**
 * Lays SunSpec models out in a RegisterBank ('SunS', then each model's ID, L and points, then 0xFFFF)
 * and reads/writes points by name with their scale factors applied.
 */
import { decodeRegisters, encodeRegisters, type RegisterType } from '../codec/register-codec.ts';
import { applySunSpecScaleFactor, removeSunSpecScaleFactor } from '../codec/scaling.ts';
import { notImplementedRaw, SUNSPEC_END_ID, SUNSPEC_MARKER, SUNSPEC_MODELS, sunSpecRegisterType, type SunSpecModelDef, type SunSpecPointDef } from '../sunspec/sunspec-models.ts';
import type { RegisterBank } from './register-bank.ts';

interface PlacedModel {
  def: SunSpecModelDef;
  /** Address of the first point (after ID and L). */
  start: number;
  points: Map<string, SunSpecPointDef>;
}

function typeOf(p: SunSpecPointDef): RegisterType {
  return sunSpecRegisterType(p.type);
}

export class SunSpecImage {
  readonly bank: RegisterBank;
  readonly baseAddress: number;
  private readonly models = new Map<string, PlacedModel>();

  /** Lays out `modelIds` (known models only) at `baseAddress`; unimplemented points read as their marker. */
  constructor(bank: RegisterBank, modelIds: number[], baseAddress = 40000) {
    this.bank = bank;
    this.baseAddress = baseAddress;
    bank.define('holding', baseAddress, 2);
    bank.setMany('holding', baseAddress, SUNSPEC_MARKER);
    let addr = baseAddress + 2;
    for (const id of modelIds) {
      const def = SUNSPEC_MODELS.get(id);
      if (!def) throw new RangeError(`unknown SunSpec model ${id}`);
      bank.define('holding', addr, 2);
      bank.setMany('holding', addr, [id, def.length]);
      const start = addr + 2;
      const placed: PlacedModel = { def, start, points: new Map(def.points.map((p) => [p.name, p])) };
      for (const p of def.points) {
        bank.define('holding', start + p.offset, p.size, p.writable);
        const marker = notImplementedRaw(p.type);
        if (marker !== undefined && p.type !== 'sunssf') {
          bank.setMany('holding', start + p.offset, encodeRegisters(marker, { type: typeOf(p) }));
        }
      }
      this.models.set(this.models.has(def.name) ? `${def.name}_${id}` : def.name, placed);
      addr = start + def.length;
    }
    bank.define('holding', addr, 2);
    bank.setMany('holding', addr, [SUNSPEC_END_ID, 0]);
  }

  private point(model: string, name: string): { m: PlacedModel; p: SunSpecPointDef } {
    const m = this.models.get(model);
    const p = m?.points.get(name);
    if (!m || !p) throw new RangeError(`no SunSpec point ${model}.${name}`);
    return { m, p };
  }

  address(model: string, name: string): number {
    const { m, p } = this.point(model, name);
    return m.start + p.offset;
  }

  setRaw(model: string, name: string, raw: number | string): void {
    const { m, p } = this.point(model, name);
    const regs = encodeRegisters(raw, { type: typeOf(p), length: p.size });
    this.bank.setMany('holding', m.start + p.offset, regs);
  }

  getRaw(model: string, name: string): number | string {
    const { m, p } = this.point(model, name);
    const data = Buffer.alloc(p.size * 2);
    for (let i = 0; i < p.size; i++) data.writeUInt16BE(this.bank.get('holding', m.start + p.offset + i), 2 * i);
    return decodeRegisters(data, 0, { type: typeOf(p), length: p.size }) as number | string;
  }

  /** Sets an engineering value, scaled by the point's scale factor, rounded and clamped to its type. */
  set(model: string, name: string, value: number): void {
    const { p } = this.point(model, name);
    let raw = p.sf ? removeSunSpecScaleFactor(value, this.getRaw(model, p.sf) as number) : value;
    raw = Math.round(raw);
    const t = typeOf(p);
    const limits: Partial<Record<RegisterType, [number, number]>> = {
      u16: [0, 0xfffe],
      i16: [-0x7fff, 0x7fff],
      u32: [0, 0xfffffffe],
      i32: [-0x7fffffff, 0x7fffffff],
      u64: [0, Number.MAX_SAFE_INTEGER],
    };
    const l = limits[t];
    if (l) raw = Math.max(l[0], Math.min(l[1], raw));
    this.setRaw(model, name, raw);
  }

  /** The engineering value of a point. */
  get(model: string, name: string): number {
    const { p } = this.point(model, name);
    const raw = this.getRaw(model, name) as number;
    return p.sf ? applySunSpecScaleFactor(raw, this.getRaw(model, p.sf) as number) : raw;
  }

  /** Which point (model key, name) holds `address`. */
  pointAt(address: number): { model: string; name: string } | undefined {
    for (const [key, m] of this.models) {
      if (address < m.start || address >= m.start + m.def.length) continue;
      for (const p of m.def.points) if (address >= m.start + p.offset && address < m.start + p.offset + p.size) return { model: key, name: p.name };
    }
    return undefined;
  }
}
