/**
 * Object headers, IEEE 1815-2012 clause 4.2.2.7 / 4.2.2.8.
 *
 * ```
 * object-header = GROUP(1) VARIATION(1) QUALIFIER(1) range
 * QUALIFIER     = reserved(1 bit) prefix-code(3 bits) range-specifier(4 bits)
 * range         = start stop        ; specifier 0 (u8), 1 (u16), 2 (u32)
 *               | (nothing)         ; specifier 6: all objects
 *               | count             ; specifier 7 (u8), 8 (u16), 9 (u32), 0xB (u8, free-format)
 * prefix-code   = 0 none | 1,2,3 index of 1,2,4 bytes | 4,5,6 object size of 1,2,4 bytes
 * ```
 * Supported qualifiers: 0x00 0x01 0x02 0x06 0x07 0x08 0x09 0x17 0x18 0x19 0x27 0x28 0x29 0x39 0x5B.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import type { ByteReader } from './byte-reader.ts';
import type { ByteWriter } from './byte-writer.ts';

export enum QualifierCode {
  UINT8_START_STOP = 0x00,
  UINT16_START_STOP = 0x01,
  UINT32_START_STOP = 0x02,
  ALL_OBJECTS = 0x06,
  UINT8_COUNT = 0x07,
  UINT16_COUNT = 0x08,
  UINT32_COUNT = 0x09,
  UINT8_COUNT_UINT8_INDEX = 0x17,
  UINT16_COUNT_UINT8_INDEX = 0x18,
  UINT32_COUNT_UINT8_INDEX = 0x19,
  UINT8_COUNT_UINT16_INDEX = 0x27,
  UINT16_COUNT_UINT16_INDEX = 0x28,
  UINT32_COUNT_UINT16_INDEX = 0x29,
  UINT32_COUNT_UINT32_INDEX = 0x39,
  FREE_FORMAT_UINT16_SIZE = 0x5b,
}

export type Range =
  | { readonly type: 'startStop'; readonly start: number; readonly stop: number }
  | { readonly type: 'count'; readonly count: number }
  | { readonly type: 'all' };

export interface ObjectHeader {
  readonly group: number;
  readonly variation: number;
  readonly qualifier: number;
  readonly range: Range;
}

export type PrefixKind = 'none' | 'index' | 'size';

export interface QualifierInfo {
  prefix: PrefixKind;
  /** Prefix width in bytes (0 when none). */
  prefixSize: 0 | 1 | 2 | 4;
  rangeKind: Range['type'];
  /** Width of start/stop or count fields. */
  rangeSize: 0 | 1 | 2 | 4;
}

/** Splits a qualifier into prefix and range parts; throws FRAME_MALFORMED for unsupported codes. */
export function qualifierInfo(q: number): QualifierInfo {
  const pc = (q >> 4) & 0x07;
  const rs = q & 0x0f;
  if ((q & 0x80) !== 0) throw unsupported(q);
  const prefixSizes = [0, 1, 2, 4, 1, 2, 4] as const;
  if (pc > 6) throw unsupported(q);
  const prefixSize = prefixSizes[pc] ?? 0;
  const prefix: PrefixKind = pc === 0 ? 'none' : pc <= 3 ? 'index' : 'size';
  let rangeKind: Range['type'];
  let rangeSize: 0 | 1 | 2 | 4;
  switch (rs) {
    case 0x0: rangeKind = 'startStop'; rangeSize = 1; break;
    case 0x1: rangeKind = 'startStop'; rangeSize = 2; break;
    case 0x2: rangeKind = 'startStop'; rangeSize = 4; break;
    case 0x6: rangeKind = 'all'; rangeSize = 0; break;
    case 0x7: rangeKind = 'count'; rangeSize = 1; break;
    case 0x8: rangeKind = 'count'; rangeSize = 2; break;
    case 0x9: rangeKind = 'count'; rangeSize = 4; break;
    case 0xb: rangeKind = 'count'; rangeSize = 1; break;
    default: throw unsupported(q);
  }
  // prefixes only make sense with counts; 0xB is only defined with a size prefix
  if (prefix !== 'none' && rangeKind !== 'count') throw unsupported(q);
  if (rs === 0xb && prefix !== 'size') throw unsupported(q);
  if (prefix === 'size' && rs !== 0xb) throw unsupported(q);
  return { prefix, prefixSize: prefixSize as 0 | 1 | 2 | 4, rangeKind, rangeSize };
}

function unsupported(q: number): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', `DNP3: unsupported qualifier 0x${q.toString(16).padStart(2, '0')}`, {
    details: { qualifier: q },
  });
}

/** Reads group, variation, qualifier and range. */
export function readObjectHeader(r: ByteReader): ObjectHeader {
  const group = r.u8();
  const variation = r.u8();
  const qualifier = r.u8();
  const qi = qualifierInfo(qualifier);
  let range: Range;
  if (qi.rangeKind === 'all') range = { type: 'all' };
  else if (qi.rangeKind === 'count') range = { type: 'count', count: r.uint(qi.rangeSize as 1 | 2 | 4) };
  else {
    const start = r.uint(qi.rangeSize as 1 | 2 | 4);
    const stop = r.uint(qi.rangeSize as 1 | 2 | 4);
    if (stop < start) {
      throw new EnergyMeshError('FRAME_MALFORMED', `DNP3: g${group}v${variation} range stop ${stop} < start ${start}`, {
        details: { group, variation, start, stop },
      });
    }
    range = { type: 'startStop', start, stop };
  }
  return { group, variation, qualifier, range };
}

export function writeObjectHeader(w: ByteWriter, h: ObjectHeader): void {
  const qi = qualifierInfo(h.qualifier);
  w.u8(h.group).u8(h.variation).u8(h.qualifier);
  if (qi.rangeKind !== h.range.type) {
    throw new EnergyMeshError('INVALID_ARGUMENT', `DNP3: qualifier 0x${h.qualifier.toString(16)} does not take a ${h.range.type} range`);
  }
  if (h.range.type === 'count') w.uint(qi.rangeSize as 1 | 2 | 4, h.range.count);
  else if (h.range.type === 'startStop') {
    w.uint(qi.rangeSize as 1 | 2 | 4, h.range.start);
    w.uint(qi.rangeSize as 1 | 2 | 4, h.range.stop);
  }
}

/** Number of objects a header announces (undefined for 'all'). */
export function rangeCount(range: Range): number | undefined {
  if (range.type === 'all') return undefined;
  if (range.type === 'count') return range.count;
  return range.stop - range.start + 1;
}

/** Start/stop header with the smallest qualifier that fits (0x00, 0x01 or 0x02). */
export function startStopHeader(group: number, variation: number, start: number, stop: number, minWidth: 1 | 2 | 4 = 1): ObjectHeader {
  const width = Math.max(minWidth, stop <= 0xff ? 1 : stop <= 0xffff ? 2 : 4);
  const qualifier = width === 1 ? QualifierCode.UINT8_START_STOP : width === 2 ? QualifierCode.UINT16_START_STOP : QualifierCode.UINT32_START_STOP;
  return { group, variation, qualifier, range: { type: 'startStop', start, stop } };
}

/** "All objects" header (qualifier 0x06). */
export function allObjectsHeader(group: number, variation: number): ObjectHeader {
  return { group, variation, qualifier: QualifierCode.ALL_OBJECTS, range: { type: 'all' } };
}

/** Count header (0x07/0x08) for objects without prefix. */
export function countHeader(group: number, variation: number, count: number): ObjectHeader {
  const qualifier = count <= 0xff ? QualifierCode.UINT8_COUNT : QualifierCode.UINT16_COUNT;
  return { group, variation, qualifier, range: { type: 'count', count } };
}

/** Count header with 16-bit index prefixes (0x28), or 0x17 when asked and possible. */
export function indexedHeader(group: number, variation: number, count: number, qualifier: number = QualifierCode.UINT16_COUNT_UINT16_INDEX): ObjectHeader {
  return { group, variation, qualifier, range: { type: 'count', count } };
}
