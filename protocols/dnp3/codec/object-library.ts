/**
 * The DNP3 object library (IEEE 1815-2012 clause 11/A): size and encoding of each group/variation we
 * support. Fixed-size objects are described by their field layout; packed objects (g1v1, g3v1,
 * g10v1, g80v1) by their bit width. Variation 0 ("any variation") and class objects (g60) carry no
 * data and appear only in requests.
 *
 * Binary flags bytes keep the state bit (0x80 for single-bit, bits 7..6 for double-bit) as on the wire;
 * `value` holds the decoded state.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import type { ByteReader } from './byte-reader.ts';
import type { ByteWriter } from './byte-writer.ts';

/** Double-bit states (bits 7..6 of the flags byte, or 2 bits packed). */
export enum DoubleBit {
  INTERMEDIATE = 0,
  DETERMINED_OFF = 1,
  DETERMINED_ON = 2,
  INDETERMINATE = 3,
}

/** What a point of a static or event object means; used by masters and outstations alike. */
export type PointType =
  | 'binaryInput'
  | 'doubleBitBinaryInput'
  | 'binaryOutputStatus'
  | 'counter'
  | 'frozenCounter'
  | 'analogInput'
  | 'analogOutputStatus';

/** A measured value: binaries are booleans, double-bits DoubleBit numbers, the rest numbers. */
export interface PointValue {
  readonly kind: 'point';
  readonly value: number | boolean;
  /** Flags byte as on the wire (absent in variations without flags). */
  readonly flags?: number;
  /** Absolute time, epoch ms (from the object, or CTO + relative time). */
  readonly time?: number;
  /** The 16-bit relative time of g2v3/g4v3, as received. */
  readonly relativeMs?: number;
}

/** Control relay output block (g12v1). */
export interface Crob {
  readonly kind: 'crob';
  /** Control code byte: op type (low nibble), clear bit 0x20, queue 0x10, trip-close code (bits 7..6). */
  readonly code: number;
  readonly count: number;
  readonly onTimeMs: number;
  readonly offTimeMs: number;
  readonly status: number;
}

/** Analog output command (g41v1..v4). */
export interface AnalogCommand {
  readonly kind: 'analogCommand';
  readonly value: number;
  readonly status: number;
}

/** Absolute time (g50v1, g50v3, g51). */
export interface TimeValue {
  readonly kind: 'time';
  readonly time: number;
  /** g50v2/g50v4 interval. */
  readonly interval?: number;
  /** g50v4 interval units. */
  readonly units?: number;
}

/** Time delay (g52v1 seconds, g52v2 milliseconds), always expressed in ms. */
export interface DelayValue {
  readonly kind: 'delay';
  readonly ms: number;
}

/** Free-format or octet-string object. */
export interface OctetsValue {
  readonly kind: 'octets';
  readonly bytes: Uint8Array;
}

export type ObjectValue = PointValue | Crob | AnalogCommand | TimeValue | DelayValue | OctetsValue;

type NumField = 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';

export type ObjectRole =
  | 'static'
  | 'event'
  | 'command'
  | 'time'
  | 'cto'
  | 'delay'
  | 'class'
  | 'iin'
  | 'octets';

/** Description of one group/variation. */
export interface ObjectType {
  readonly group: number;
  readonly variation: number;
  readonly name: string;
  readonly role: ObjectRole;
  readonly pointType?: PointType;
  /** Bytes per object (0 for packed or data-less objects). */
  readonly size: number;
  /** Bits per object for packed variations. */
  readonly bits?: 1 | 2;
  /** True for the variation-0 and class objects that never carry data. */
  readonly noData?: boolean;
  readonly hasFlags?: boolean;
  readonly time?: 'absolute' | 'relative';
  decode(r: ByteReader): ObjectValue;
  encode(w: ByteWriter, v: ObjectValue): void;
}

function malformed(msg: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', `DNP3: ${msg}`, { details });
}

function fieldSize(f: NumField): number {
  return f === 'u16' || f === 'i16' ? 2 : f === 'f64' ? 8 : 4;
}

function readNum(r: ByteReader, f: NumField): number {
  switch (f) {
    case 'u16': return r.u16();
    case 'i16': return r.i16();
    case 'u32': return r.u32();
    case 'i32': return r.i32();
    case 'f32': return r.f32();
    case 'f64': return r.f64();
  }
}

/** Writes a number into an integer field, clamping to the field's range (as outstations report over-range). */
function clamp(v: number, min: number, max: number): number {
  const r = Math.round(v);
  return r < min ? min : r > max ? max : r;
}

function writeNum(w: ByteWriter, f: NumField, v: number): void {
  switch (f) {
    case 'u16': w.u16(clamp(v, 0, 0xffff)); break;
    case 'i16': w.i16(clamp(v, -0x8000, 0x7fff)); break;
    case 'u32': w.u32(clamp(v, 0, 0xffff_ffff)); break;
    case 'i32': w.i32(clamp(v, -0x8000_0000, 0x7fff_ffff)); break;
    case 'f32': w.f32(v); break;
    case 'f64': w.f64(v); break;
  }
}

function asPoint(v: ObjectValue, where: string): PointValue {
  if (v.kind !== 'point') throw new EnergyMeshError('INVALID_ARGUMENT', `DNP3: ${where} needs a point value, got ${v.kind}`);
  return v;
}

function pointNumber(p: PointValue): number {
  return typeof p.value === 'boolean' ? (p.value ? 1 : 0) : p.value;
}

const registry = new Map<number, ObjectType>();
const key = (g: number, v: number): number => (g << 8) | v;

function add(t: ObjectType): void {
  registry.set(key(t.group, t.variation), t);
}

/** Looks up a group/variation; undefined when we do not support it. */
export function objectType(group: number, variation: number): ObjectType | undefined {
  return registry.get(key(group, variation));
}

/** All supported group/variations (for the conformance table and tests). */
export function allObjectTypes(): ObjectType[] {
  return [...registry.values()];
}

function noData(group: number, variation: number, name: string, role: ObjectRole, pointType?: PointType): void {
  add({
    group, variation, name, role, size: 0, noData: true,
    ...(pointType ? { pointType } : {}),
    decode: () => { throw malformed(`g${group}v${variation} carries no data`); },
    encode: () => { throw malformed(`g${group}v${variation} carries no data`); },
  });
}

/** Binary-like objects whose state lives in the flags byte. */
function binaryWithFlags(group: number, variation: number, name: string, role: ObjectRole, pointType: PointType, double: boolean, time?: 'absolute' | 'relative'): void {
  const size = 1 + (time === 'absolute' ? 6 : time === 'relative' ? 2 : 0);
  add({
    group, variation, name, role, pointType, size, hasFlags: true, ...(time ? { time } : {}),
    decode(r) {
      const flags = r.u8();
      const value = double ? (flags >> 6) & 0x03 : (flags & 0x80) !== 0;
      if (time === 'absolute') return { kind: 'point', value, flags, time: r.u48() };
      if (time === 'relative') return { kind: 'point', value, flags, relativeMs: r.u16() };
      return { kind: 'point', value, flags };
    },
    encode(w, v) {
      const p = asPoint(v, name);
      const base = p.flags ?? 0x01;
      const flags = double ? (base & 0x3f) | ((pointNumber(p) & 0x03) << 6) : (base & 0x7f) | (p.value === true || p.value === 1 ? 0x80 : 0);
      w.u8(flags);
      if (time === 'absolute') w.u48(p.time ?? 0);
      if (time === 'relative') w.u16(p.relativeMs ?? 0);
    },
  });
}

function packed(group: number, variation: number, name: string, role: ObjectRole, bits: 1 | 2, pointType?: PointType): void {
  add({
    group, variation, name, role, size: 0, bits, ...(pointType ? { pointType } : {}),
    decode: () => { throw malformed(`g${group}v${variation} is packed`); },
    encode: () => { throw malformed(`g${group}v${variation} is packed`); },
  });
}

/** Numeric objects: optional flags, a value field, optional absolute time. */
function numeric(group: number, variation: number, name: string, role: ObjectRole, pointType: PointType, field: NumField, flags: boolean, time: boolean): void {
  const size = (flags ? 1 : 0) + fieldSize(field) + (time ? 6 : 0);
  add({
    group, variation, name, role, pointType, size, hasFlags: flags, ...(time ? { time: 'absolute' as const } : {}),
    decode(r) {
      if (flags) {
        const f = r.u8();
        const value = readNum(r, field);
        return time ? { kind: 'point', value, flags: f, time: r.u48() } : { kind: 'point', value, flags: f };
      }
      const value = readNum(r, field);
      return time ? { kind: 'point', value, time: r.u48() } : { kind: 'point', value };
    },
    encode(w, v) {
      const p = asPoint(v, name);
      if (flags) w.u8(p.flags ?? 0x01);
      writeNum(w, field, pointNumber(p));
      if (time) w.u48(p.time ?? 0);
    },
  });
}

function analogCommand(variation: number, field: NumField): void {
  add({
    group: 41, variation, name: `analog output ${field}`, role: 'command', size: fieldSize(field) + 1,
    decode(r) {
      const value = readNum(r, field);
      return { kind: 'analogCommand', value, status: r.u8() };
    },
    encode(w, v) {
      if (v.kind !== 'analogCommand') throw new EnergyMeshError('INVALID_ARGUMENT', 'DNP3: g41 needs an analog command');
      writeNum(w, field, v.value);
      w.u8(v.status);
    },
  });
}

function timeObject(group: number, variation: number, name: string, role: ObjectRole, extra: 'none' | 'interval' | 'intervalUnits'): void {
  add({
    group, variation, name, role, size: 6 + (extra === 'none' ? 0 : extra === 'interval' ? 4 : 5),
    decode(r) {
      const time = r.u48();
      if (extra === 'none') return { kind: 'time', time };
      const interval = r.u32();
      if (extra === 'interval') return { kind: 'time', time, interval };
      return { kind: 'time', time, interval, units: r.u8() };
    },
    encode(w, v) {
      if (v.kind !== 'time') throw new EnergyMeshError('INVALID_ARGUMENT', `DNP3: ${name} needs a time value`);
      w.u48(v.time);
      if (extra !== 'none') w.u32(v.interval ?? 0);
      if (extra === 'intervalUnits') w.u8(v.units ?? 0);
    },
  });
}

// --- binary inputs
noData(1, 0, 'binary input - any variation', 'static', 'binaryInput');
packed(1, 1, 'binary input - packed format', 'static', 1, 'binaryInput');
binaryWithFlags(1, 2, 'binary input - with flags', 'static', 'binaryInput', false);
noData(2, 0, 'binary input event - any variation', 'event', 'binaryInput');
binaryWithFlags(2, 1, 'binary input event - without time', 'event', 'binaryInput', false);
binaryWithFlags(2, 2, 'binary input event - with absolute time', 'event', 'binaryInput', false, 'absolute');
binaryWithFlags(2, 3, 'binary input event - with relative time', 'event', 'binaryInput', false, 'relative');
// --- double-bit binary inputs
noData(3, 0, 'double-bit binary input - any variation', 'static', 'doubleBitBinaryInput');
packed(3, 1, 'double-bit binary input - packed format', 'static', 2, 'doubleBitBinaryInput');
binaryWithFlags(3, 2, 'double-bit binary input - with flags', 'static', 'doubleBitBinaryInput', true);
noData(4, 0, 'double-bit binary input event - any variation', 'event', 'doubleBitBinaryInput');
binaryWithFlags(4, 1, 'double-bit binary input event - without time', 'event', 'doubleBitBinaryInput', true);
binaryWithFlags(4, 2, 'double-bit binary input event - with absolute time', 'event', 'doubleBitBinaryInput', true, 'absolute');
binaryWithFlags(4, 3, 'double-bit binary input event - with relative time', 'event', 'doubleBitBinaryInput', true, 'relative');
// --- binary outputs
noData(10, 0, 'binary output - any variation', 'static', 'binaryOutputStatus');
packed(10, 1, 'binary output - packed format', 'static', 1, 'binaryOutputStatus');
binaryWithFlags(10, 2, 'binary output - output status with flags', 'static', 'binaryOutputStatus', false);
noData(11, 0, 'binary output event - any variation', 'event', 'binaryOutputStatus');
binaryWithFlags(11, 1, 'binary output event - status without time', 'event', 'binaryOutputStatus', false);
binaryWithFlags(11, 2, 'binary output event - status with time', 'event', 'binaryOutputStatus', false, 'absolute');
add({
  group: 12, variation: 1, name: 'binary command - control relay output block', role: 'command', size: 11,
  decode(r) {
    return { kind: 'crob', code: r.u8(), count: r.u8(), onTimeMs: r.u32(), offTimeMs: r.u32(), status: r.u8() };
  },
  encode(w, v) {
    if (v.kind !== 'crob') throw new EnergyMeshError('INVALID_ARGUMENT', 'DNP3: g12v1 needs a CROB');
    w.u8(v.code).u8(v.count).u32(v.onTimeMs).u32(v.offTimeMs).u8(v.status);
  },
});
// --- counters
noData(20, 0, 'counter - any variation', 'static', 'counter');
numeric(20, 1, 'counter - 32-bit with flag', 'static', 'counter', 'u32', true, false);
numeric(20, 2, 'counter - 16-bit with flag', 'static', 'counter', 'u16', true, false);
numeric(20, 5, 'counter - 32-bit without flag', 'static', 'counter', 'u32', false, false);
numeric(20, 6, 'counter - 16-bit without flag', 'static', 'counter', 'u16', false, false);
noData(21, 0, 'frozen counter - any variation', 'static', 'frozenCounter');
numeric(21, 1, 'frozen counter - 32-bit with flag', 'static', 'frozenCounter', 'u32', true, false);
numeric(21, 2, 'frozen counter - 16-bit with flag', 'static', 'frozenCounter', 'u16', true, false);
numeric(21, 5, 'frozen counter - 32-bit with flag and time', 'static', 'frozenCounter', 'u32', true, true);
numeric(21, 6, 'frozen counter - 16-bit with flag and time', 'static', 'frozenCounter', 'u16', true, true);
numeric(21, 9, 'frozen counter - 32-bit without flag', 'static', 'frozenCounter', 'u32', false, false);
numeric(21, 10, 'frozen counter - 16-bit without flag', 'static', 'frozenCounter', 'u16', false, false);
noData(22, 0, 'counter event - any variation', 'event', 'counter');
numeric(22, 1, 'counter event - 32-bit with flag', 'event', 'counter', 'u32', true, false);
numeric(22, 2, 'counter event - 16-bit with flag', 'event', 'counter', 'u16', true, false);
numeric(22, 5, 'counter event - 32-bit with flag and time', 'event', 'counter', 'u32', true, true);
numeric(22, 6, 'counter event - 16-bit with flag and time', 'event', 'counter', 'u16', true, true);
noData(23, 0, 'frozen counter event - any variation', 'event', 'frozenCounter');
numeric(23, 1, 'frozen counter event - 32-bit with flag', 'event', 'frozenCounter', 'u32', true, false);
numeric(23, 2, 'frozen counter event - 16-bit with flag', 'event', 'frozenCounter', 'u16', true, false);
numeric(23, 5, 'frozen counter event - 32-bit with flag and time', 'event', 'frozenCounter', 'u32', true, true);
numeric(23, 6, 'frozen counter event - 16-bit with flag and time', 'event', 'frozenCounter', 'u16', true, true);
// --- analog inputs
noData(30, 0, 'analog input - any variation', 'static', 'analogInput');
numeric(30, 1, 'analog input - 32-bit with flag', 'static', 'analogInput', 'i32', true, false);
numeric(30, 2, 'analog input - 16-bit with flag', 'static', 'analogInput', 'i16', true, false);
numeric(30, 3, 'analog input - 32-bit without flag', 'static', 'analogInput', 'i32', false, false);
numeric(30, 4, 'analog input - 16-bit without flag', 'static', 'analogInput', 'i16', false, false);
numeric(30, 5, 'analog input - single-precision with flag', 'static', 'analogInput', 'f32', true, false);
numeric(30, 6, 'analog input - double-precision with flag', 'static', 'analogInput', 'f64', true, false);
noData(32, 0, 'analog input event - any variation', 'event', 'analogInput');
numeric(32, 1, 'analog input event - 32-bit without time', 'event', 'analogInput', 'i32', true, false);
numeric(32, 2, 'analog input event - 16-bit without time', 'event', 'analogInput', 'i16', true, false);
numeric(32, 3, 'analog input event - 32-bit with time', 'event', 'analogInput', 'i32', true, true);
numeric(32, 4, 'analog input event - 16-bit with time', 'event', 'analogInput', 'i16', true, true);
numeric(32, 5, 'analog input event - single-precision without time', 'event', 'analogInput', 'f32', true, false);
numeric(32, 6, 'analog input event - double-precision without time', 'event', 'analogInput', 'f64', true, false);
numeric(32, 7, 'analog input event - single-precision with time', 'event', 'analogInput', 'f32', true, true);
numeric(32, 8, 'analog input event - double-precision with time', 'event', 'analogInput', 'f64', true, true);
// --- analog outputs
noData(40, 0, 'analog output status - any variation', 'static', 'analogOutputStatus');
numeric(40, 1, 'analog output status - 32-bit with flag', 'static', 'analogOutputStatus', 'i32', true, false);
numeric(40, 2, 'analog output status - 16-bit with flag', 'static', 'analogOutputStatus', 'i16', true, false);
numeric(40, 3, 'analog output status - single-precision with flag', 'static', 'analogOutputStatus', 'f32', true, false);
numeric(40, 4, 'analog output status - double-precision with flag', 'static', 'analogOutputStatus', 'f64', true, false);
analogCommand(1, 'i32');
analogCommand(2, 'i16');
analogCommand(3, 'f32');
analogCommand(4, 'f64');
noData(42, 0, 'analog output event - any variation', 'event', 'analogOutputStatus');
numeric(42, 1, 'analog output event - 32-bit without time', 'event', 'analogOutputStatus', 'i32', true, false);
numeric(42, 2, 'analog output event - 16-bit without time', 'event', 'analogOutputStatus', 'i16', true, false);
numeric(42, 3, 'analog output event - 32-bit with time', 'event', 'analogOutputStatus', 'i32', true, true);
numeric(42, 4, 'analog output event - 16-bit with time', 'event', 'analogOutputStatus', 'i16', true, true);
numeric(42, 5, 'analog output event - single-precision without time', 'event', 'analogOutputStatus', 'f32', true, false);
numeric(42, 6, 'analog output event - double-precision without time', 'event', 'analogOutputStatus', 'f64', true, false);
numeric(42, 7, 'analog output event - single-precision with time', 'event', 'analogOutputStatus', 'f32', true, true);
numeric(42, 8, 'analog output event - double-precision with time', 'event', 'analogOutputStatus', 'f64', true, true);
// --- time
timeObject(50, 1, 'time and date - absolute time', 'time', 'none');
timeObject(50, 2, 'time and date - absolute time and interval', 'time', 'interval');
timeObject(50, 3, 'time and date - absolute time at last recorded time', 'time', 'none');
timeObject(50, 4, 'time and date - indexed absolute time and long interval', 'time', 'intervalUnits');
timeObject(51, 1, 'time and date CTO - absolute time, synchronized', 'cto', 'none');
timeObject(51, 2, 'time and date CTO - absolute time, unsynchronized', 'cto', 'none');
for (const [variation, scale, name] of [[1, 1000, 'coarse'], [2, 1, 'fine']] as const) {
  add({
    group: 52, variation, name: `time delay - ${name}`, role: 'delay', size: 2,
    decode: (r) => ({ kind: 'delay', ms: r.u16() * scale }),
    encode(w, v) {
      if (v.kind !== 'delay') throw new EnergyMeshError('INVALID_ARGUMENT', 'DNP3: g52 needs a delay');
      w.u16(Math.min(0xffff, Math.round(v.ms / scale)));
    },
  });
}
// --- class data and IIN
noData(60, 1, 'class objects - class 0 data', 'class');
noData(60, 2, 'class objects - class 1 data', 'class');
noData(60, 3, 'class objects - class 2 data', 'class');
noData(60, 4, 'class objects - class 3 data', 'class');
packed(80, 1, 'internal indications - packed format', 'iin', 1);

/** Event variation → static point type group, for mapping responses (g2→g1 ...). */
export const POINT_TYPE_NAMES: Readonly<Record<PointType, string>> = {
  binaryInput: 'binary input',
  doubleBitBinaryInput: 'double-bit binary input',
  binaryOutputStatus: 'binary output status',
  counter: 'counter',
  frozenCounter: 'frozen counter',
  analogInput: 'analog input',
  analogOutputStatus: 'analog output status',
};

/** Whether an octet-string group (g110 static strings, g111 string events) with this variation is valid. */
export function isOctetStringGroup(group: number): boolean {
  return group === 110 || group === 111;
}
