/**
 * MMS Data, AccessResult and TypeSpecification (ISO 9506-2 §14, with the IEC 61850-8-1 additions).
 *
 *   Data ::= CHOICE { array [1] SEQUENCE OF Data, structure [2] SEQUENCE OF Data, boolean [3] BOOLEAN,
 *            bit-string [4] BIT STRING, integer [5] INTEGER, unsigned [6] INTEGER, floating-point [7] FloatingPoint,
 *            octet-string [9] OCTET STRING, visible-string [10] VisibleString, generalized-time [11],
 *            binary-time [12] TimeOfDay, bcd [13] INTEGER, objId [15] OID, mMSString [16] UTF8String,
 *            utc-time [17] UtcTime }                              (all IMPLICIT)
 *   FloatingPoint ::= OCTET STRING (exponent width octet, then IEEE 754 big-endian: 08 + 4 octets or 0b + 8 octets)
 *   UtcTime       ::= 4 octets seconds since 1970, 3 octets fraction of a second (/2^24), 1 octet TimeQuality
 *   TimeOfDay     ::= 4 octets ms since midnight [+ 2 octets days since 1984-01-01]
 *   AccessResult  ::= CHOICE { failure [0] IMPLICIT DataAccessError, success Data }
 *   TypeSpecification ::= CHOICE { typeName [0] ObjectName, array [1] { packed [0] DEFAULT FALSE, numberOfElements [1],
 *            elementType [2] TypeSpecification }, structure [2] { packed [0] DEFAULT FALSE, components [1] SEQUENCE OF
 *            { componentName [0] Identifier, componentType [1] TypeSpecification } }, boolean [3] NULL, bit-string [4] Integer32,
 *            integer [5] Unsigned8, unsigned [6] Unsigned8, floating-point [7] { format-width, exponent-width },
 *            octet-string [9] Integer32, visible-string [10] Integer32, generalized-time [11] NULL, binary-time [12] BOOLEAN,
 *            bcd [13] Unsigned8, objId [15] NULL, mMSString [16] Integer32, utc-time [17] NULL }
 *
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED; nesting deeper than MAX_DEPTH is malformed.
 */
import {
  CONTEXT, MAX_DEPTH, bitStringContent, boolContent, children, ctxC, ctxP, decodeBitString, decodeBool,
  decodeInt, decodeIntBig, decodeOid, decodeString, decodeUint, decodeUtf8, intContent, malformed, oidContent, readTlv, seq,
  stringContent, tlv, univInt, utf8Content,
} from './ber.ts';
import type { BitString, Tlv } from './ber.ts';

/** UtcTime as on the wire; `ms()` gives epoch milliseconds. */
export interface UtcTime {
  /** Seconds since 1970-01-01 UTC. */
  seconds: number;
  /** Fraction of a second, 24 bits (value / 2^24 s). */
  fraction: number;
  /** TimeQuality octet: 0x80 LeapSecondsKnown, 0x40 ClockFailure, 0x20 ClockNotSynchronized, low 5 bits accuracy. */
  quality: number;
}

/** TimeOfDay (BinaryTime). */
export interface BinaryTime {
  msOfDay: number;
  /** Days since 1984-01-01; absent in the 4-octet form. */
  days?: number;
}

export type MmsData =
  | { type: 'boolean'; value: boolean }
  | { type: 'bit-string'; value: BitString }
  | { type: 'integer'; value: number | bigint }
  | { type: 'unsigned'; value: number | bigint }
  | { type: 'float'; value: number; double?: boolean }
  | { type: 'octet-string'; value: Uint8Array }
  | { type: 'visible-string'; value: string }
  | { type: 'mms-string'; value: string }
  | { type: 'generalized-time'; value: string }
  | { type: 'binary-time'; value: BinaryTime }
  | { type: 'utc-time'; value: UtcTime }
  | { type: 'bcd'; value: number }
  | { type: 'objId'; value: string }
  | { type: 'structure'; value: MmsData[] }
  | { type: 'array'; value: MmsData[] };

/** A failed item of a Read, an InformationReport or a Write response (DataAccessError code). */
export interface DataAccessFailure {
  type: 'failure';
  error: number;
}

export type AccessResult = MmsData | DataAccessFailure;

/** DataAccessError (ISO 9506-2). */
export const DataAccessError = {
  objectInvalidated: 0,
  hardwareFault: 1,
  temporarilyUnavailable: 2,
  objectAccessDenied: 3,
  objectUndefined: 4,
  invalidAddress: 5,
  typeUnsupported: 6,
  typeInconsistent: 7,
  objectAttributeInconsistent: 8,
  objectAccessUnsupported: 9,
  objectNonExistent: 10,
  objectValueInvalid: 11,
} as const;

export type TypeSpec =
  | { type: 'structure'; components: { name: string; spec: TypeSpec }[] }
  | { type: 'array'; elements: number; element: TypeSpec }
  | { type: 'boolean' }
  | { type: 'bit-string'; size: number }
  | { type: 'integer'; size: number }
  | { type: 'unsigned'; size: number }
  | { type: 'float'; formatWidth: number; exponentWidth: number }
  | { type: 'octet-string'; size: number }
  | { type: 'visible-string'; size: number }
  | { type: 'mms-string'; size: number }
  | { type: 'generalized-time' }
  | { type: 'binary-time'; withDate: boolean }
  | { type: 'utc-time' }
  | { type: 'bcd'; size: number }
  | { type: 'objId' };

const TWO24 = 2 ** 24;
const DAY_MS = 86_400_000;
/** 1984-01-01T00:00:00Z in epoch ms. */
export const EPOCH_1984 = Date.UTC(1984, 0, 1);

export function utcTimeToMs(t: UtcTime): number {
  return t.seconds * 1000 + Math.round((t.fraction * 1000) / TWO24);
}

export function utcTimeFromMs(ms: number, quality = 0): UtcTime {
  const seconds = Math.floor(ms / 1000);
  const rest = ms - seconds * 1000;
  return { seconds, fraction: Math.min(TWO24 - 1, Math.round((rest * TWO24) / 1000)), quality };
}

export function binaryTimeToMs(b: BinaryTime): number {
  return EPOCH_1984 + (b.days ?? 0) * DAY_MS + b.msOfDay;
}

export function binaryTimeFromMs(ms: number): BinaryTime {
  const since = ms - EPOCH_1984;
  const days = Math.floor(since / DAY_MS);
  return { msOfDay: since - days * DAY_MS, days };
}

function decodeFloat(v: Uint8Array): { value: number; double: boolean } {
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  if (v.length === 5) return { value: dv.getFloat32(1), double: false };
  if (v.length === 9) return { value: dv.getFloat64(1), double: true };
  throw malformed('MMS: unsupported floating-point length', { length: v.length });
}

function encodeFloat(value: number, double: boolean): Uint8Array {
  const out = new Uint8Array(double ? 9 : 5);
  const dv = new DataView(out.buffer);
  out[0] = double ? 11 : 8;
  if (double) dv.setFloat64(1, value);
  else dv.setFloat32(1, value);
  return out;
}

function numberOrBig(v: Uint8Array): number | bigint {
  if (v.length <= 6) return decodeInt(v);
  const b = decodeIntBig(v);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(b) : b;
}

/** Decodes one Data value from its TLV. */
export function decodeData(t: Tlv, depth = 0): MmsData {
  if (depth > MAX_DEPTH) throw malformed('MMS: Data nested too deeply', { depth });
  if (t.cls !== CONTEXT) throw malformed('MMS: Data must be context-tagged', { cls: t.cls, tag: t.tag });
  const v = t.value;
  switch (t.tag) {
    case 1:
    case 2:
      return { type: t.tag === 1 ? 'array' : 'structure', value: children(t).map((c) => decodeData(c, depth + 1)) };
    case 3:
      return { type: 'boolean', value: decodeBool(v) };
    case 4:
      return { type: 'bit-string', value: decodeBitString(v) };
    case 5:
      return { type: 'integer', value: numberOrBig(v) };
    case 6: {
      const n = numberOrBig(v);
      if (n < 0) throw malformed('MMS: negative unsigned');
      return { type: 'unsigned', value: n };
    }
    case 7: {
      const f = decodeFloat(v);
      return f.double ? { type: 'float', value: f.value, double: true } : { type: 'float', value: f.value };
    }
    case 9:
      return { type: 'octet-string', value: v.slice() };
    case 10:
      return { type: 'visible-string', value: decodeString(v) };
    case 11:
      return { type: 'generalized-time', value: decodeString(v) };
    case 12: {
      if (v.length !== 4 && v.length !== 6) throw malformed('MMS: binary-time must be 4 or 6 octets', { length: v.length });
      const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const value: BinaryTime = { msOfDay: dv.getUint32(0) };
      if (v.length === 6) value.days = dv.getUint16(4);
      return { type: 'binary-time', value };
    }
    case 13:
      return { type: 'bcd', value: decodeUint(v) };
    case 15:
      return { type: 'objId', value: decodeOid(v) };
    case 16:
      return { type: 'mms-string', value: decodeUtf8(v) };
    case 17: {
      if (v.length !== 8) throw malformed('MMS: utc-time must be 8 octets', { length: v.length });
      const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      return { type: 'utc-time', value: { seconds: dv.getUint32(0), fraction: (dv.getUint32(4) >>> 8) & 0xffffff, quality: v[7] as number } };
    }
    default:
      throw malformed('MMS: unsupported Data tag', { tag: t.tag });
  }
}

export function decodeAccessResult(t: Tlv): AccessResult {
  if (t.cls === CONTEXT && t.tag === 0 && !t.constructed) return { type: 'failure', error: decodeUint(t.value) };
  return decodeData(t);
}

export function encodeData(d: MmsData, depth = 0): Uint8Array {
  if (depth > MAX_DEPTH) throw malformed('MMS: Data nested too deeply', { depth });
  switch (d.type) {
    case 'array':
      return tlv(CONTEXT, true, 1, d.value.map((x) => encodeData(x, depth + 1)));
    case 'structure':
      return tlv(CONTEXT, true, 2, d.value.map((x) => encodeData(x, depth + 1)));
    case 'boolean':
      return ctxP(3, boolContent(d.value));
    case 'bit-string':
      return ctxP(4, bitStringContent(d.value));
    case 'integer':
      return ctxP(5, intContent(d.value));
    case 'unsigned':
      return ctxP(6, intContent(d.value));
    case 'float':
      return ctxP(7, encodeFloat(d.value, d.double === true));
    case 'octet-string':
      return ctxP(9, d.value);
    case 'visible-string':
      return ctxP(10, stringContent(d.value));
    case 'generalized-time':
      return ctxP(11, stringContent(d.value));
    case 'binary-time': {
      const out = new Uint8Array(d.value.days === undefined ? 4 : 6);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, d.value.msOfDay);
      if (d.value.days !== undefined) dv.setUint16(4, d.value.days);
      return ctxP(12, out);
    }
    case 'bcd':
      return ctxP(13, intContent(d.value));
    case 'objId':
      return ctxP(15, oidContent(d.value));
    case 'mms-string':
      return ctxP(16, utf8Content(d.value));
    case 'utc-time': {
      const out = new Uint8Array(8);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, d.value.seconds >>> 0);
      dv.setUint32(4, ((d.value.fraction & 0xffffff) << 8) >>> 0);
      out[7] = d.value.quality & 0xff;
      return ctxP(17, out);
    }
  }
}

export function encodeAccessResult(r: AccessResult): Uint8Array {
  return r.type === 'failure' ? ctxP(0, intContent(r.error)) : encodeData(r);
}

// ---------------------------------------------------------------------------------------------
// TypeSpecification

export function decodeTypeSpec(t: Tlv, depth = 0): TypeSpec {
  if (depth > MAX_DEPTH) throw malformed('MMS: TypeSpecification nested too deeply', { depth });
  if (t.cls !== CONTEXT) throw malformed('MMS: TypeSpecification must be context-tagged');
  const v = t.value;
  switch (t.tag) {
    case 0:
      throw malformed('MMS: typeName references are not supported');
    case 1: {
      const kids = children(t);
      const n = kids.find((k) => k.cls === CONTEXT && k.tag === 1);
      const e = kids.find((k) => k.cls === CONTEXT && k.tag === 2);
      if (!n || !e) throw malformed('MMS: array type without size or element type');
      const inner = children(e)[0];
      if (!inner) throw malformed('MMS: array type without element type');
      return { type: 'array', elements: decodeUint(n.value), element: decodeTypeSpec(inner, depth + 1) };
    }
    case 2: {
      const comps = children(t).find((k) => k.cls === CONTEXT && k.tag === 1);
      if (!comps) throw malformed('MMS: structure type without components');
      return {
        type: 'structure',
        components: children(comps).map((c) => {
          const kids = children(c);
          const name = kids.find((k) => k.cls === CONTEXT && k.tag === 0);
          const spec = kids.find((k) => k.cls === CONTEXT && k.tag === 1);
          const inner = spec ? children(spec)[0] : undefined;
          if (!inner) throw malformed('MMS: component without type');
          return { name: name ? decodeString(name.value) : '', spec: decodeTypeSpec(inner, depth + 1) };
        }),
      };
    }
    case 3:
      return { type: 'boolean' };
    case 4:
      return { type: 'bit-string', size: decodeInt(v) };
    case 5:
      return { type: 'integer', size: decodeUint(v) };
    case 6:
      return { type: 'unsigned', size: decodeUint(v) };
    case 7: {
      const [fw, ew] = children(t);
      if (!fw || !ew) throw malformed('MMS: floating-point type needs two widths');
      return { type: 'float', formatWidth: decodeUint(fw.value), exponentWidth: decodeUint(ew.value) };
    }
    case 9:
      return { type: 'octet-string', size: decodeInt(v) };
    case 10:
      return { type: 'visible-string', size: decodeInt(v) };
    case 11:
      return { type: 'generalized-time' };
    case 12:
      return { type: 'binary-time', withDate: v.length > 0 && decodeBool(v) };
    case 13:
      return { type: 'bcd', size: decodeUint(v) };
    case 15:
      return { type: 'objId' };
    case 16:
      return { type: 'mms-string', size: decodeInt(v) };
    case 17:
      return { type: 'utc-time' };
    default:
      throw malformed('MMS: unsupported TypeSpecification tag', { tag: t.tag });
  }
}

export function encodeTypeSpec(s: TypeSpec, depth = 0): Uint8Array {
  if (depth > MAX_DEPTH) throw malformed('MMS: TypeSpecification nested too deeply');
  switch (s.type) {
    case 'structure':
      return ctxC(2, ctxC(1, ...s.components.map((c) => seq(ctxP(0, stringContent(c.name)), ctxC(1, encodeTypeSpec(c.spec, depth + 1))))));
    case 'array':
      return ctxC(1, ctxP(1, intContent(s.elements)), ctxC(2, encodeTypeSpec(s.element, depth + 1)));
    case 'boolean':
      return ctxP(3, new Uint8Array(0));
    case 'bit-string':
      return ctxP(4, intContent(s.size));
    case 'integer':
      return ctxP(5, intContent(s.size));
    case 'unsigned':
      return ctxP(6, intContent(s.size));
    case 'float':
      return ctxC(7, univInt(s.formatWidth), univInt(s.exponentWidth));
    case 'octet-string':
      return ctxP(9, intContent(s.size));
    case 'visible-string':
      return ctxP(10, intContent(s.size));
    case 'generalized-time':
      return ctxP(11, new Uint8Array(0));
    case 'binary-time':
      return ctxP(12, boolContent(s.withDate));
    case 'bcd':
      return ctxP(13, intContent(s.size));
    case 'objId':
      return ctxP(15, new Uint8Array(0));
    case 'mms-string':
      return ctxP(16, intContent(s.size));
    case 'utc-time':
      return ctxP(17, new Uint8Array(0));
  }
}

/** Decodes a Data value from a whole buffer (one TLV). */
export function decodeDataBytes(buf: Uint8Array): MmsData {
  const t = readTlv(buf);
  if (t.size !== buf.length) throw malformed('MMS: trailing bytes after Data');
  return decodeData(t);
}

