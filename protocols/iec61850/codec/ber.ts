/**
 * BER (ITU-T X.690) reader and writer for the ISO/MMS stack, definite lengths only.
 *
 *   TLV        = identifier length contents
 *   identifier = class(2 bits) constructed(1 bit) tag(5 bits) [ 1xxxxxxx* 0xxxxxxx  when tag = 31 ]
 *   length     = 0xxxxxxx | 1nnnnnnn <n octets big-endian>        (0x80 = indefinite: refused)
 *
 * The reader is bounds-checked: it never reads past the end of the buffer or of the enclosing TLV,
 * and refuses lengths over 2^31 and tag numbers over 2^21. Recursion depth is limited by the callers
 * (see `MAX_DEPTH`). The writer always emits minimal definite lengths, as libiec61850 and every
 * DER-like encoder does, so our PDUs are byte-identical where BER leaves no other choice.
 *
 * Error policy: the codec throws EnergyMeshError FRAME_TRUNCATED (not enough bytes) or FRAME_MALFORMED.
 */
import { EnergyMeshError } from '../../../core/errors.ts';

/** Tag classes. */
export const UNIVERSAL = 0;
export const APPLICATION = 1;
export const CONTEXT = 2;
export const PRIVATE = 3;

/** Deepest nesting the decoders follow (MMS data, type descriptions). */
export const MAX_DEPTH = 48;

/** One decoded TLV; `value` is a view on the contents. */
export interface Tlv {
  readonly cls: number;
  readonly constructed: boolean;
  readonly tag: number;
  readonly value: Uint8Array;
  /** Total encoded length (identifier + length + contents). */
  readonly size: number;
}

export function malformed(message: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', message, { details });
}

export function truncated(message: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('FRAME_TRUNCATED', message, { details });
}

/** Reads one TLV at `offset` of `buf`, refusing anything that runs past `end`. */
export function readTlv(buf: Uint8Array, offset = 0, end = buf.length): Tlv {
  let p = offset;
  if (p >= end) throw truncated('BER: missing identifier', { offset });
  const id = buf[p++] as number;
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let i = 0; ; i++) {
      if (p >= end) throw truncated('BER: truncated tag', { offset });
      if (i >= 3) throw malformed('BER: tag number too large', { offset });
      const b = buf[p++] as number;
      tag = (tag << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= end) throw truncated('BER: missing length', { offset });
  let len = buf[p++] as number;
  if (len === 0x80) throw malformed('BER: indefinite length not supported', { offset });
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw malformed('BER: length too large', { offset, octets: n });
    if (p + n > end) throw truncated('BER: truncated length', { offset });
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] as number);
    if (len > 0x7fffffff) throw malformed('BER: length too large', { offset });
  }
  if (p + len > end) throw truncated('BER: contents run past the end', { offset, length: len, available: end - p });
  return { cls, constructed, tag, value: buf.subarray(p, p + len), size: p + len - offset };
}

/** Reads exactly one TLV filling the whole buffer. */
export function readSingle(buf: Uint8Array): Tlv {
  const t = readTlv(buf);
  if (t.size !== buf.length) throw malformed('BER: trailing bytes after TLV', { extra: buf.length - t.size });
  return t;
}

/** Splits the contents of a constructed TLV into its children. */
export function children(t: Tlv): Tlv[] {
  if (!t.constructed) throw malformed('BER: expected a constructed TLV', { tag: t.tag, cls: t.cls });
  return readAll(t.value);
}

/** All TLVs of a buffer, back to back. */
export function readAll(buf: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < buf.length) {
    const t = readTlv(buf, p);
    out.push(t);
    p += t.size;
  }
  return out;
}

export function is(t: Tlv | undefined, cls: number, tag: number): t is Tlv {
  return t !== undefined && t.cls === cls && t.tag === tag;
}

/** Throws unless `t` has the expected class and tag. */
export function expect(t: Tlv | undefined, cls: number, tag: number, what: string): Tlv {
  if (t === undefined) throw malformed(`BER: missing ${what}`);
  if (t.cls !== cls || t.tag !== tag) {
    throw malformed(`BER: unexpected tag for ${what}`, { expected: `${cls}/${tag}`, got: `${t.cls}/${t.tag}` });
  }
  return t;
}

export function find(list: readonly Tlv[], cls: number, tag: number): Tlv | undefined {
  return list.find((t) => t.cls === cls && t.tag === tag);
}

// ---------------------------------------------------------------------------------------------
// primitive contents

/** Signed two's complement integer contents; bigint when it does not fit a safe number. */
export function decodeIntBig(v: Uint8Array): bigint {
  if (v.length === 0) throw malformed('BER: empty INTEGER');
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  if (((v[0] as number) & 0x80) !== 0) n -= 1n << BigInt(v.length * 8);
  return n;
}

export function decodeInt(v: Uint8Array): number {
  if (v.length === 0) throw malformed('BER: empty INTEGER');
  if (v.length > 6) {
    const b = decodeIntBig(v);
    if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw malformed('BER: INTEGER out of range', { octets: v.length });
    }
    return Number(b);
  }
  let u = 0;
  for (const b of v) u = u * 256 + b;
  return ((v[0] as number) & 0x80) !== 0 ? u - 2 ** (8 * v.length) : u;
}

/** Unsigned value carried as a BER INTEGER (MMS Unsigned32 etc.). */
export function decodeUint(v: Uint8Array): number {
  const n = decodeInt(v);
  if (n < 0) throw malformed('BER: negative value for unsigned', { value: n });
  return n;
}

export function decodeBool(v: Uint8Array): boolean {
  if (v.length !== 1) throw malformed('BER: BOOLEAN must be one octet', { length: v.length });
  return v[0] !== 0;
}

export function decodeString(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

export function decodeUtf8(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
}

export function decodeOid(v: Uint8Array): string {
  if (v.length === 0) throw malformed('BER: empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let n = 0;
  let pending = false;
  for (const b of v) {
    if (n > 2 ** 45) throw malformed('BER: OID arc too large');
    n = n * 128 + (b & 0x7f);
    pending = true;
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = n < 80 ? Math.floor(n / 40) : 2;
        arcs.push(first, n - first * 40);
      } else arcs.push(n);
      n = 0;
      pending = false;
    }
  }
  if (pending) throw malformed('BER: truncated OID arc');
  return arcs.join('.');
}

/** A BIT STRING: `bits` = number of significant bits, `bytes` = the octets (unused low bits zero). */
export interface BitString {
  readonly bits: number;
  readonly bytes: Uint8Array;
}

export function decodeBitString(v: Uint8Array): BitString {
  if (v.length === 0) throw malformed('BER: empty BIT STRING');
  const unused = v[0] as number;
  if (unused > 7 || (v.length === 1 && unused !== 0)) throw malformed('BER: bad unused-bits count', { unused });
  return { bits: (v.length - 1) * 8 - unused, bytes: v.slice(1) };
}

export function bitAt(b: BitString, i: number): boolean {
  if (i < 0 || i >= b.bits) return false;
  return (((b.bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1;
}

export function bitStringFromBools(flags: readonly boolean[]): BitString {
  const bytes = new Uint8Array(Math.ceil(flags.length / 8));
  flags.forEach((f, i) => {
    if (f) bytes[i >> 3] = (bytes[i >> 3] as number) | (0x80 >> (i & 7));
  });
  return { bits: flags.length, bytes };
}

export function bitStringToBools(b: BitString): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < b.bits; i++) out.push(bitAt(b, i));
  return out;
}

// ---------------------------------------------------------------------------------------------
// writer

function lengthOctets(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  let n = len;
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | out.length, ...out];
}

function identifierOctets(cls: number, constructed: boolean, tag: number): number[] {
  const first = (cls << 6) | (constructed ? 0x20 : 0);
  if (tag < 31) return [first | tag];
  const rest: number[] = [tag & 0x7f];
  let n = tag >> 7;
  while (n > 0) {
    rest.unshift(0x80 | (n & 0x7f));
    n >>= 7;
  }
  return [first | 0x1f, ...rest];
}

/** Encodes one TLV; `content` is the contents or a list of already-encoded children. */
export function tlv(cls: number, constructed: boolean, tag: number, content: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const body = content instanceof Uint8Array ? content : concat(content);
  const head = [...identifierOctets(cls, constructed, tag), ...lengthOctets(body.length)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Context-specific constructed [n] { children }. */
export const ctxC = (tag: number, ...kids: Uint8Array[]): Uint8Array => tlv(CONTEXT, true, tag, kids);
/** Context-specific primitive [n] contents. */
export const ctxP = (tag: number, content: Uint8Array): Uint8Array => tlv(CONTEXT, false, tag, content);
export const seq = (...kids: Uint8Array[]): Uint8Array => tlv(UNIVERSAL, true, 16, kids);
export const appC = (tag: number, ...kids: Uint8Array[]): Uint8Array => tlv(APPLICATION, true, tag, kids);

/** Minimal two's complement contents of an integer. */
export function intContent(value: number | bigint): Uint8Array {
  let n = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const b = Number(n & 0xffn);
    out.unshift(b);
    n >>= 8n;
    if ((n === 0n && (b & 0x80) === 0) || (n === -1n && (b & 0x80) !== 0)) break;
  }
  return Uint8Array.from(out);
}

/** Contents of a non-negative value as a BER INTEGER (leading 0 when the top bit is set). */
export function uintContent(value: number | bigint): Uint8Array {
  if (BigInt(value) < 0n) throw new EnergyMeshError('VALUE_OUT_OF_RANGE', 'negative value for an unsigned field', { details: { value: String(value) } });
  return intContent(value);
}

/** BOOLEAN contents; TRUE as 0x01 like libiec61850 (BER allows any non-zero octet). */
export const boolContent = (b: boolean): Uint8Array => Uint8Array.of(b ? 0x01 : 0x00);

export function stringContent(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

export function utf8Content(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

export function bitStringContent(b: BitString): Uint8Array {
  const n = Math.ceil(b.bits / 8);
  const out = new Uint8Array(n + 1);
  out[0] = n * 8 - b.bits;
  out.set(b.bytes.subarray(0, n), 1);
  if (b.bits % 8 !== 0 && n > 0) out[n] = (out[n] as number) & (0xff << (8 - (b.bits % 8)));
  return out;
}

export function oidContent(oid: string): Uint8Array {
  const arcs = oid.split('.').map((s) => Number(s));
  if (arcs.length < 2 || arcs.some((a) => !Number.isInteger(a) || a < 0)) {
    throw new EnergyMeshError('INVALID_ARGUMENT', `bad OID ${oid}`);
  }
  const nums = [(arcs[0] as number) * 40 + (arcs[1] as number), ...arcs.slice(2)];
  const out: number[] = [];
  for (const a of nums) {
    const bytes = [a & 0x7f];
    let n = Math.floor(a / 128);
    while (n > 0) {
      bytes.unshift(0x80 | (n & 0x7f));
      n = Math.floor(n / 128);
    }
    out.push(...bytes);
  }
  return Uint8Array.from(out);
}

export const univInt = (n: number | bigint): Uint8Array => tlv(UNIVERSAL, false, 2, intContent(n));
export const univOid = (oid: string): Uint8Array => tlv(UNIVERSAL, false, 6, oidContent(oid));
export const univVisible = (s: string): Uint8Array => tlv(UNIVERSAL, false, 26, stringContent(s));

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}
