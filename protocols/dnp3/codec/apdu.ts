/**
 * Application fragments (APDUs), IEEE 1815-2012 clause 4.2.
 *
 * ```
 * apdu   = request-header | response-header, then block*
 * block  = object-header (prefix? object)*        ; see object-header.ts
 * object = fixed-size encoding | packed bits | size-prefixed octets (0x5B)
 * ```
 * Requests whose function carries no object data (READ, freezes, ENABLE/DISABLE_UNSOLICITED,
 * ASSIGN_CLASS, ...) have headers only; index-prefixed headers then list the indices.
 * Relative-time objects (g2v3, g4v3) get `time = CTO + relative` from the preceding g51 object.
 * Policy: decoding throws a typed EnergyMeshError (FRAME_TRUNCATED, FRAME_MALFORMED) with the failing
 * group/variation in details; `details.reason` is `objectUnknown` when the object is not supported.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import { ByteReader } from './byte-reader.ts';
import { ByteWriter } from './byte-writer.ts';
import type { AppControl, Iin } from './app-header.ts';
import { FunctionCode, decodeAppControl, encodeAppControl, isResponseFunction } from './app-header.ts';
import type { ObjectHeader } from './object-header.ts';
import { qualifierInfo, readObjectHeader, writeObjectHeader } from './object-header.ts';
import type { ObjectType, ObjectValue, PointValue } from './object-library.ts';
import { isOctetStringGroup, objectType } from './object-library.ts';

export interface IndexedObject {
  readonly index: number;
  readonly value: ObjectValue;
}

export interface ObjectBlock {
  readonly header: ObjectHeader;
  /** Decoded objects (empty for data-less request headers). */
  readonly objects: readonly IndexedObject[];
  /** For data-less headers with index prefixes (e.g. READ 0x17/0x28): the indices listed. */
  readonly indices?: readonly number[];
}

export interface Apdu {
  readonly control: AppControl;
  readonly func: number;
  /** Present in responses only. */
  readonly iin?: Iin;
  readonly blocks: readonly ObjectBlock[];
}

/** Whether object headers of requests/responses with this function carry object data. */
export function functionCarriesData(fc: number): boolean {
  switch (fc) {
    case FunctionCode.WRITE:
    case FunctionCode.SELECT:
    case FunctionCode.OPERATE:
    case FunctionCode.DIRECT_OPERATE:
    case FunctionCode.DIRECT_OPERATE_NR:
    case FunctionCode.FREEZE_AT_TIME:
    case FunctionCode.FREEZE_AT_TIME_NR:
    case FunctionCode.RESPONSE:
    case FunctionCode.UNSOLICITED_RESPONSE:
    case FunctionCode.AUTHENTICATE_RESPONSE:
      return true;
    default:
      return false;
  }
}

export interface DecodeOptions {
  /** Upper bound of objects per APDU (defence against absurd counts); default 65 536. */
  maxObjects?: number;
}

/** Decodes the 2- or 4-byte header only. */
export function decodeApduHeader(bytes: Uint8Array): { control: AppControl; func: number; iin?: Iin; headerSize: number } {
  if (bytes.length < 2) throw new EnergyMeshError('FRAME_TRUNCATED', 'DNP3 app: fragment shorter than 2 bytes', { details: { length: bytes.length } });
  const control = decodeAppControl(bytes[0] ?? 0);
  const func = bytes[1] ?? 0;
  if (!isResponseFunction(func)) return { control, func, headerSize: 2 };
  if (bytes.length < 4) throw new EnergyMeshError('FRAME_TRUNCATED', 'DNP3 app: response shorter than 4 bytes', { details: { length: bytes.length } });
  return { control, func, iin: { iin1: bytes[2] ?? 0, iin2: bytes[3] ?? 0 }, headerSize: 4 };
}

/** Decodes a whole APDU. */
export function decodeApdu(bytes: Uint8Array, options: DecodeOptions = {}): Apdu {
  const h = decodeApduHeader(bytes);
  const r = new ByteReader(bytes.subarray(h.headerSize));
  const blocks = decodeObjectBlocks(r, functionCarriesData(h.func), options.maxObjects ?? 65_536);
  return { control: h.control, func: h.func, ...(h.iin ? { iin: h.iin } : {}), blocks };
}

function decodeObjectBlocks(r: ByteReader, withData: boolean, maxObjects: number): ObjectBlock[] {
  const blocks: ObjectBlock[] = [];
  let cto: number | undefined;
  let total = 0;
  while (r.remaining > 0) {
    const header = readObjectHeader(r);
    try {
      const block = decodeBlock(r, header, withData, cto);
      total += block.objects.length + (block.indices?.length ?? 0);
      if (total > maxObjects) {
        throw new EnergyMeshError('FRAME_TOO_LONG', `DNP3 app: more than ${maxObjects} objects`, { details: { maxObjects } });
      }
      for (const o of block.objects) if (o.value.kind === 'time' && header.group === 51) cto = o.value.time;
      blocks.push(block);
    } catch (e) {
      if (isEnergyMeshError(e) && e.details['group'] === undefined) {
        throw new EnergyMeshError(e.code, e.message, {
          details: { ...e.details, group: header.group, variation: header.variation, qualifier: header.qualifier },
          cause: e,
        });
      }
      throw e;
    }
  }
  return blocks;
}

function unknownObject(h: ObjectHeader): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', `DNP3 app: unsupported object g${h.group}v${h.variation}`, {
    details: { reason: 'objectUnknown', group: h.group, variation: h.variation, qualifier: h.qualifier },
  });
}

function octetType(h: ObjectHeader): ObjectType {
  const size = h.variation;
  return {
    group: h.group, variation: h.variation, name: 'octet string', role: 'octets', size,
    decode: (r) => ({ kind: 'octets', bytes: r.bytesView(size).slice() }),
    encode: (w, v) => {
      if (v.kind !== 'octets' || v.bytes.length !== size) throw new EnergyMeshError('INVALID_ARGUMENT', `DNP3: g${h.group}v${size} needs ${size} octets`);
      w.bytes(v.bytes);
    },
  };
}

function typeFor(h: ObjectHeader): ObjectType | undefined {
  const t = objectType(h.group, h.variation);
  if (t) return t;
  if (isOctetStringGroup(h.group) && h.variation > 0) return octetType(h);
  return undefined;
}

function decodeBlock(r: ByteReader, header: ObjectHeader, withData: boolean, cto: number | undefined): ObjectBlock {
  const qi = qualifierInfo(header.qualifier);
  const type = typeFor(header);
  const count = header.range.type === 'count' ? header.range.count : header.range.type === 'startStop' ? header.range.stop - header.range.start + 1 : 0;

  // free-format (size-prefixed) objects: always self-describing
  if (qi.prefix === 'size') {
    r.require(count * qi.prefixSize, 'size prefixes');
    const objects: IndexedObject[] = [];
    for (let i = 0; i < count; i++) {
      const size = r.uint(qi.prefixSize as 1 | 2 | 4);
      objects.push({ index: i, value: { kind: 'octets', bytes: r.bytesView(size).slice() } });
    }
    return { header, objects };
  }

  if (!withData || type?.noData) {
    if (qi.prefix === 'index') {
      r.require(count * qi.prefixSize, 'index prefixes');
      const indices: number[] = [];
      for (let i = 0; i < count; i++) indices.push(r.uint(qi.prefixSize as 1 | 2 | 4));
      return { header, objects: [], indices };
    }
    return { header, objects: [] };
  }
  if (!type) throw unknownObject(header);
  if (header.range.type === 'all') {
    throw new EnergyMeshError('FRAME_MALFORMED', `DNP3 app: g${header.group}v${header.variation} with data cannot use qualifier 0x06`);
  }
  const start = header.range.type === 'startStop' ? header.range.start : 0;

  if (type.bits) {
    if (qi.prefix !== 'none') throw new EnergyMeshError('FRAME_MALFORMED', `DNP3 app: packed g${header.group}v${header.variation} with index prefix`);
    const bytes = r.bytesView(Math.ceil((count * type.bits) / 8));
    const objects: IndexedObject[] = new Array<IndexedObject>(count);
    for (let i = 0; i < count; i++) {
      const bit = i * type.bits;
      const raw = ((bytes[bit >> 3] ?? 0) >> (bit & 7)) & (type.bits === 1 ? 1 : 3);
      const value: PointValue = { kind: 'point', value: type.bits === 1 ? raw === 1 : raw };
      objects[i] = { index: start + i, value };
    }
    return { header, objects };
  }

  r.require(count * (type.size + qi.prefixSize), `g${header.group}v${header.variation} objects`);
  const objects: IndexedObject[] = new Array<IndexedObject>(count);
  for (let i = 0; i < count; i++) {
    const index = qi.prefix === 'index' ? r.uint(qi.prefixSize as 1 | 2 | 4) : start + i;
    let value = type.decode(r);
    if (value.kind === 'point' && value.relativeMs !== undefined && cto !== undefined) value = { ...value, time: cto + value.relativeMs };
    objects[i] = { index, value };
  }
  return { header, objects };
}

/** Encodes an APDU (header, IIN for responses, blocks). */
export function encodeApdu(apdu: Apdu): Uint8Array {
  let estimate = 8;
  for (const b of apdu.blocks) estimate += 12 + b.objects.length * 14;
  const w = new ByteWriter(estimate);
  w.u8(encodeAppControl(apdu.control)).u8(apdu.func);
  if (isResponseFunction(apdu.func)) {
    const iin = apdu.iin ?? { iin1: 0, iin2: 0 };
    w.u8(iin.iin1).u8(iin.iin2);
  }
  const withData = functionCarriesData(apdu.func);
  for (const b of apdu.blocks) encodeBlock(w, b, withData);
  return w.toBytes();
}

/** Encodes one block (header + objects) into `w`. */
export function encodeBlock(w: ByteWriter, b: ObjectBlock, withData: boolean): void {
  writeObjectHeader(w, b.header);
  const qi = qualifierInfo(b.header.qualifier);
  const type = typeFor(b.header);
  const count = b.header.range.type === 'count' ? b.header.range.count : b.header.range.type === 'startStop' ? b.header.range.stop - b.header.range.start + 1 : 0;
  if (qi.prefix === 'size') {
    if (b.objects.length !== count) throw mismatch(b, count);
    for (const o of b.objects) {
      if (o.value.kind !== 'octets') throw new EnergyMeshError('INVALID_ARGUMENT', 'DNP3: free-format objects need octets');
      w.uint(qi.prefixSize as 1 | 2 | 4, o.value.bytes.length).bytes(o.value.bytes);
    }
    return;
  }
  if (!withData || type?.noData) {
    if (qi.prefix === 'index') {
      const indices = b.indices ?? b.objects.map((o) => o.index);
      if (indices.length !== count) throw mismatch(b, count);
      for (const i of indices) w.uint(qi.prefixSize as 1 | 2 | 4, i);
    }
    return;
  }
  if (!type) throw unknownObject(b.header);
  if (b.objects.length !== count) throw mismatch(b, count);
  if (type.bits) {
    const bytes = new Uint8Array(Math.ceil((count * type.bits) / 8));
    b.objects.forEach((o, i) => {
      if (o.value.kind !== 'point') throw new EnergyMeshError('INVALID_ARGUMENT', 'DNP3: packed objects need point values');
      const v = typeof o.value.value === 'boolean' ? (o.value.value ? 1 : 0) : o.value.value & (type.bits === 1 ? 1 : 3);
      const bit = i * (type.bits ?? 1);
      bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (v << (bit & 7));
    });
    w.bytes(bytes);
    return;
  }
  for (const o of b.objects) {
    if (qi.prefix === 'index') w.uint(qi.prefixSize as 1 | 2 | 4, o.index);
    type.encode(w, o.value);
  }
}

function mismatch(b: ObjectBlock, count: number): EnergyMeshError {
  return new EnergyMeshError('INVALID_ARGUMENT', `DNP3: g${b.header.group}v${b.header.variation} header announces ${count} objects, ${b.objects.length || (b.indices?.length ?? 0)} given`);
}

/** Encoded size of one block (used to fill fragments). */
export function blockSize(b: ObjectBlock, withData: boolean): number {
  const w = new ByteWriter(64);
  encodeBlock(w, b, withData);
  return w.length;
}
