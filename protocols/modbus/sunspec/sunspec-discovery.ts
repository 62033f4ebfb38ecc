/**
 * SunSpec discovery: finds the 'SunS' marker (holding registers 40000, 0 or 50000), walks the model
 * chain (ID, L) until ID 0xFFFF, and turns the models we know into point definitions, with each point's
 * scale-factor (_SF) point named so the poller applies it (value = raw × 10^SF).
 *
 * Policy: exceptions at a candidate base address mean "not here" and the next one is tried; any other
 * failure (timeout, connection) propagates so the caller retries later. A chain that runs past the
 * address space or loops is refused with FRAME_MALFORMED.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import { decodeRegisters } from '../codec/register-codec.ts';
import type { ModbusPointConfig } from '../driver/modbus-config.ts';
import {
  notImplementedRaw,
  SUNSPEC_BASE_ADDRESSES,
  SUNSPEC_END_ID,
  SUNSPEC_MARKER,
  SUNSPEC_MODELS,
  sunSpecRegisterType,
  type SunSpecModelDef,
  type SunSpecType,
} from './sunspec-models.ts';

/** Reads `count` (≤ 125) holding registers as big-endian bytes. */
export type HoldingReader = (address: number, count: number) => Promise<Buffer>;

export interface SunSpecModelInstance {
  id: number;
  /** Address of the model's ID register. */
  address: number;
  /** L as read. */
  length: number;
  /** Our definition, when we know the model. */
  def?: SunSpecModelDef;
  /** Point id prefix: the model's name, with _2, _3 for repeated models. */
  prefix?: string;
}

export interface SunSpecMap {
  baseAddress: number;
  models: SunSpecModelInstance[];
}

const MAX_MODELS = 200;

/** Finds the marker and walks the model chain. */
export async function discoverSunSpec(read: HoldingReader, baseAddresses: readonly number[] = SUNSPEC_BASE_ADDRESSES): Promise<SunSpecMap> {
  let base: number | undefined;
  for (const candidate of baseAddresses) {
    let regs: Buffer;
    try {
      regs = await read(candidate, 2);
    } catch (e) {
      if (isEnergyMeshError(e, 'DEVICE_EXCEPTION')) continue;
      throw e;
    }
    if (regs.length >= 4 && regs.readUInt16BE(0) === SUNSPEC_MARKER[0] && regs.readUInt16BE(2) === SUNSPEC_MARKER[1]) {
      base = candidate;
      break;
    }
  }
  if (base === undefined) {
    throw new EnergyMeshError('UNEXPECTED_RESPONSE', `no SunSpec marker 'SunS' at ${baseAddresses.join(', ')}`, {
      details: { baseAddresses: [...baseAddresses] },
    });
  }
  const models: SunSpecModelInstance[] = [];
  const seen = new Map<string, number>();
  let address = base + 2;
  for (;;) {
    if (models.length >= MAX_MODELS) {
      throw new EnergyMeshError('FRAME_MALFORMED', `SunSpec chain has more than ${MAX_MODELS} models`, { details: { base } });
    }
    if (address + 1 > 0xffff) {
      throw new EnergyMeshError('FRAME_MALFORMED', `SunSpec chain runs past the address space at ${address}`, { details: { base, address } });
    }
    const header = await read(address, 2);
    const id = header.readUInt16BE(0);
    if (id === SUNSPEC_END_ID) break;
    if (header.length < 4) throw new EnergyMeshError('FRAME_MALFORMED', 'SunSpec model header cut short', { details: { address } });
    const length = header.readUInt16BE(2);
    if (id === 0 && length === 0) break; // some devices end the chain with zeros
    if (address + 2 + length > 0x10000) {
      throw new EnergyMeshError('FRAME_MALFORMED', `SunSpec model ${id} at ${address} (L=${length}) runs past the address space`, {
        details: { base, address, id, length },
      });
    }
    const def = SUNSPEC_MODELS.get(id);
    const instance: SunSpecModelInstance = { id, address, length };
    if (def) {
      const n = (seen.get(def.name) ?? 0) + 1;
      seen.set(def.name, n);
      instance.def = def;
      instance.prefix = n === 1 ? def.name : `${def.name}_${n}`;
    }
    models.push(instance);
    address += 2 + length;
  }
  return { baseAddress: base, models };
}

/** Reads a model's registers after its header (in reads of ≤ 125). */
export async function readModelData(read: HoldingReader, model: SunSpecModelInstance): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let done = 0; done < model.length; ) {
    const n = Math.min(125, model.length - done);
    parts.push(await read(model.address + 2 + done, n));
    done += n;
  }
  return Buffer.concat(parts);
}

function pointKind(t: SunSpecType): ModbusPointConfig['kind'] {
  if (t === 'enum16' || t === 'bitfield16' || t === 'bitfield32') return 'enum';
  if (t === 'acc32' || t === 'acc64') return 'counter';
  if (t === 'string') return 'string';
  return 'analog';
}

export interface SunSpecPointOptions {
  pollGroup?: string;
  /** Drop points whose value reads as the type's "not implemented" marker (needs `data`). */
  data?: ReadonlyMap<SunSpecModelInstance, Buffer>;
}

/**
 * Point definitions for the known models of a map. Scale-factor points are included (not emitted) and
 * referenced by `scaleFactorPoint`.
 */
export function sunspecPoints(map: SunSpecMap, options: SunSpecPointOptions = {}): ModbusPointConfig[] {
  const out: ModbusPointConfig[] = [];
  for (const m of map.models) {
    const def = m.def;
    if (!def || !m.prefix) continue;
    const data = options.data?.get(m);
    const referencedSf = new Set(def.points.filter((p) => p.sf).map((p) => p.sf!));
    for (const p of def.points) {
      if (p.type === 'pad') continue;
      if (p.offset + p.size > m.length) continue; // a shorter model than the specification's
      const type = sunSpecRegisterType(p.type);
      const sentinel = notImplementedRaw(p.type);
      if (data && sentinel !== undefined && (p.type !== 'sunssf' || !referencedSf.has(p.name))) {
        const raw = decodeRegisters(data, p.offset, { type });
        if (raw === sentinel) continue;
      }
      if (data && p.type === 'string') {
        const raw = decodeRegisters(data, p.offset, { type, length: p.size });
        if (raw === '' && !p.writable) continue;
      }
      const point: ModbusPointConfig = {
        id: `${m.prefix}.${p.name}`,
        table: 'holding',
        address: m.address + 2 + p.offset,
        type,
        writable: p.writable,
        kind: pointKind(p.type),
        description: `SunSpec model ${m.id} ${def.label}: ${p.name}`,
      };
      if (type === 'string') point.length = p.size;
      if (p.units) point.unit = p.units;
      if (p.sf) point.scaleFactorPoint = `${m.prefix}.${p.sf}`;
      if (sentinel !== undefined) point.notImplementedValue = sentinel;
      if (p.type === 'sunssf') point.emit = false;
      if (options.pollGroup) point.pollGroup = options.pollGroup;
      out.push(point);
    }
  }
  // A value whose scale factor was dropped keeps its reference: the poller marks it invalid.
  return out;
}

/** One line per model, for device descriptions. */
export function describeSunSpecMap(map: SunSpecMap): string {
  return `SunSpec at ${map.baseAddress}: ` + map.models.map((m) => `${m.id}${m.def ? '' : '?'}@${m.address}(L=${m.length})`).join(' ');
}
