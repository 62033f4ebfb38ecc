/**
 * ISO session (ISO 8327-1 / X.225), the kernel functional unit with duplex, as IEC 61850-8-1 uses it.
 *
 *   SPDU  = SI(1) LI(1 | FF hi lo) parameters [user data]
 *   param = PI(1) LI(1 | FF hi lo) value    (PGI 05 Connect/Accept item holds PI 13 protocol options, PI 16 version)
 *   CN 0d: 05{13 00, 16 02} 14 session-requirement(2) 33 calling-SSEL 34 called-SSEL C1 user-data
 *   AC 0e: 05{13 00, 16 02} 14 session-requirement 34 responding-SSEL C1 user-data
 *   RF 0c, FN 09, DN 0a, AB 19, AA 1a: parameters (user data in C1)
 *   data  = 01 00 (Give-Tokens, empty) 01 00 (Data-Transfer, empty) followed by the user data
 *
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED.
 */
import { concat, malformed, truncated } from './ber.ts';

export const SPDU = { CN: 0x0d, AC: 0x0e, RF: 0x0c, FN: 0x09, DN: 0x0a, AB: 0x19, AA: 0x1a, DT: 0x01 } as const;
export type SpduType = 'CN' | 'AC' | 'RF' | 'FN' | 'DN' | 'AB' | 'AA' | 'DT';

export interface Spdu {
  type: SpduType;
  /** Session user data (the presentation PPDU). */
  userData: Uint8Array;
  callingSsel?: Uint8Array;
  calledSsel?: Uint8Array;
  sessionRequirement?: number;
  version?: number;
}

function len(n: number): number[] {
  return n < 255 ? [n] : [0xff, n >> 8, n & 0xff];
}

function param(pi: number, value: Uint8Array | readonly number[]): Uint8Array {
  const v = value instanceof Uint8Array ? value : Uint8Array.from(value);
  return concat([Uint8Array.from([pi, ...len(v.length)]), v]);
}

const SSEL_DEFAULT = Uint8Array.of(0, 1);

export interface SessionConnectOptions {
  callingSsel?: Uint8Array;
  calledSsel?: Uint8Array;
}

/** CONNECT SPDU carrying `userData`. */
export function encodeSessionConnect(userData: Uint8Array, o: SessionConnectOptions = {}): Uint8Array {
  const params = concat([
    param(0x05, [0x13, 1, 0, 0x16, 1, 2]),
    param(0x14, [0, 2]),
    param(0x33, o.callingSsel ?? SSEL_DEFAULT),
    param(0x34, o.calledSsel ?? SSEL_DEFAULT),
    param(0xc1, userData),
  ]);
  return concat([Uint8Array.from([SPDU.CN, ...len(params.length)]), params]);
}

/** ACCEPT SPDU carrying `userData`. */
export function encodeSessionAccept(userData: Uint8Array, respondingSsel: Uint8Array = SSEL_DEFAULT): Uint8Array {
  const params = concat([param(0x05, [0x13, 1, 0, 0x16, 1, 2]), param(0x14, [0, 2]), param(0x34, respondingSsel), param(0xc1, userData)]);
  return concat([Uint8Array.from([SPDU.AC, ...len(params.length)]), params]);
}

/** FINISH, DISCONNECT, REFUSE or ABORT SPDU with optional user data. */
export function encodeSessionSimple(type: 'FN' | 'DN' | 'RF' | 'AB' | 'AA', userData?: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  if (type === 'AB') parts.push(param(0x11, [0x09]));
  if (userData !== undefined && userData.length > 0) parts.push(param(0xc1, userData));
  const params = concat(parts);
  return concat([Uint8Array.from([SPDU[type], ...len(params.length)]), params]);
}

const GT_DT = Uint8Array.of(0x01, 0x00, 0x01, 0x00);

/** Give-Tokens + Data-Transfer carrying `userData`. */
export function encodeSessionData(userData: Uint8Array): Uint8Array {
  return concat([GT_DT, userData]);
}

function readLen(buf: Uint8Array, p: number): [number, number] {
  if (p >= buf.length) throw truncated('session: missing length');
  const b = buf[p] as number;
  if (b !== 0xff) return [b, p + 1];
  if (p + 3 > buf.length) throw truncated('session: truncated length');
  return [((buf[p + 1] as number) << 8) | (buf[p + 2] as number), p + 3];
}

/** Decodes one session SPDU (Give-Tokens + Data-Transfer concatenation counts as DT). */
export function decodeSpdu(buf: Uint8Array): Spdu {
  if (buf.length < 2) throw truncated('session: SPDU too short');
  const si = buf[0] as number;
  if (si === 0x01) {
    // Give-Tokens (empty) then Data-Transfer (parameters may follow), then user data
    let [l, p] = readLen(buf, 1);
    p += l;
    if (p < buf.length && buf[p] === 0x01) {
      [l, p] = readLen(buf, p + 1);
      if (p + l > buf.length) throw truncated('session: DT parameters run past the end');
      p += l;
    }
    return { type: 'DT', userData: buf.subarray(p) };
  }
  const names: Record<number, SpduType> = { 0x0d: 'CN', 0x0e: 'AC', 0x0c: 'RF', 0x09: 'FN', 0x0a: 'DN', 0x19: 'AB', 0x1a: 'AA' };
  const type = names[si];
  if (type === undefined) throw malformed('session: unsupported SPDU', { si });
  const [l, start] = readLen(buf, 1);
  const end = start + l;
  if (end > buf.length) throw truncated('session: SPDU runs past the end', { length: l });
  const out: Spdu = { type, userData: buf.subarray(end) };
  let p = start;
  while (p < end) {
    const pi = buf[p] as number;
    const [pl, vs] = readLen(buf, p + 1);
    if (vs + pl > end) throw truncated('session: parameter runs past the SPDU', { pi });
    const v = buf.subarray(vs, vs + pl);
    switch (pi) {
      case 0x05: {
        // PGI: look for version number (PI 16)
        let q = 0;
        while (q + 2 <= v.length) {
          const sub = v[q] as number;
          const sl = v[q + 1] as number;
          if (q + 2 + sl > v.length) throw truncated('session: truncated PGI');
          if (sub === 0x16 && sl === 1) out.version = v[q + 2] as number;
          q += 2 + sl;
        }
        break;
      }
      case 0x14:
        if (pl === 2) out.sessionRequirement = ((v[0] as number) << 8) | (v[1] as number);
        break;
      case 0x33:
        out.callingSsel = v.slice();
        break;
      case 0x34:
        out.calledSsel = v.slice();
        break;
      case 0xc1:
      case 0xc2:
        out.userData = v;
        break;
      default:
        break;
    }
    p = vs + pl;
  }
  return out;
}
