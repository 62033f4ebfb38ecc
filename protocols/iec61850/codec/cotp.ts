/**
 * TPKT (RFC 1006 §6) and COTP class 0 (ISO 8073 / X.224 §13).
 *
 *   TPKT = 03 00 LL LL <TPDU>                       (LL LL = total length incl. the 4-byte header)
 *   CR   = LI E0 dst-ref(2) src-ref(2) class(1) params     (class 0: 0x00)
 *   CC   = LI D0 dst-ref(2) src-ref(2) class(1) params
 *   DT   = 02 F0 EOT|TPDU-NR(1)  user-data                (EOT = 0x80 on the last TPDU of a TSDU)
 *   DR   = LI 80 dst-ref(2) src-ref(2) reason(1) params
 *   ER   = LI 70 dst-ref(2) cause(1) params
 *   param = code(1) len(1) value   c0 tpdu-size (log2 of octets), c1 calling TSEL, c2 called TSEL
 *
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED / FRAME_TOO_LONG.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { concat, malformed, truncated } from './ber.ts';

export const TPKT_HEADER = 4;
export const TPKT_MAX = 0xffff;

export function encodeTpkt(tpdu: Uint8Array): Uint8Array {
  const len = tpdu.length + TPKT_HEADER;
  if (len > TPKT_MAX) throw new EnergyMeshError('FRAME_TOO_LONG', 'TPKT longer than 65535 octets', { details: { length: len } });
  const out = new Uint8Array(len);
  out[0] = 3;
  out[2] = len >> 8;
  out[3] = len & 0xff;
  out.set(tpdu, TPKT_HEADER);
  return out;
}

/** Length of the TPKT starting at `buf[0]`, or undefined when fewer than 4 bytes are there. */
export function tpktLength(buf: Uint8Array): number | undefined {
  if (buf.length < TPKT_HEADER) return undefined;
  if (buf[0] !== 3) throw malformed('TPKT: version is not 3', { version: buf[0] });
  const len = ((buf[2] as number) << 8) | (buf[3] as number);
  if (len < 7) throw malformed('TPKT: length too small', { length: len });
  return len;
}

/** Decodes one complete TPKT into its TPDU. */
export function decodeTpkt(buf: Uint8Array): Uint8Array {
  const len = tpktLength(buf);
  if (len === undefined || buf.length < len) throw truncated('TPKT: truncated', { have: buf.length, need: len });
  if (buf.length !== len) throw malformed('TPKT: trailing bytes', { have: buf.length, length: len });
  return buf.subarray(TPKT_HEADER, len);
}

export interface CotpParams {
  /** TPDU size in octets (a power of two, 128..8192). */
  tpduSize?: number;
  callingTsel?: Uint8Array;
  calledTsel?: Uint8Array;
}

export type CotpTpdu =
  | ({ type: 'CR' | 'CC'; dstRef: number; srcRef: number; classOption: number } & CotpParams)
  | { type: 'DT'; eot: boolean; data: Uint8Array }
  | { type: 'DR'; dstRef: number; srcRef: number; reason: number }
  | { type: 'ER'; dstRef: number; cause: number };

function encodeParams(p: CotpParams): number[] {
  const out: number[] = [];
  if (p.tpduSize !== undefined) out.push(0xc0, 1, Math.round(Math.log2(p.tpduSize)));
  if (p.calledTsel !== undefined) out.push(0xc2, p.calledTsel.length, ...p.calledTsel);
  if (p.callingTsel !== undefined) out.push(0xc1, p.callingTsel.length, ...p.callingTsel);
  return out;
}

export function encodeCotp(t: CotpTpdu): Uint8Array {
  switch (t.type) {
    case 'CR':
    case 'CC': {
      const body = [t.type === 'CR' ? 0xe0 : 0xd0, t.dstRef >> 8, t.dstRef & 0xff, t.srcRef >> 8, t.srcRef & 0xff, t.classOption, ...encodeParams(t)];
      return Uint8Array.from([body.length, ...body]);
    }
    case 'DT':
      return concat([Uint8Array.of(2, 0xf0, t.eot ? 0x80 : 0), t.data]);
    case 'DR':
      return Uint8Array.of(6, 0x80, t.dstRef >> 8, t.dstRef & 0xff, t.srcRef >> 8, t.srcRef & 0xff, t.reason);
    case 'ER':
      return Uint8Array.of(4, 0x70, t.dstRef >> 8, t.dstRef & 0xff, t.cause);
  }
}

function decodeParams(buf: Uint8Array): CotpParams {
  const p: CotpParams = {};
  let i = 0;
  while (i < buf.length) {
    if (i + 2 > buf.length) throw truncated('COTP: truncated parameter');
    const code = buf[i] as number;
    const len = buf[i + 1] as number;
    if (i + 2 + len > buf.length) throw truncated('COTP: parameter runs past the header', { code });
    const v = buf.subarray(i + 2, i + 2 + len);
    if (code === 0xc0) {
      if (len !== 1 || (v[0] as number) < 7 || (v[0] as number) > 13) throw malformed('COTP: bad TPDU size parameter');
      p.tpduSize = 2 ** (v[0] as number);
    } else if (code === 0xc1) p.callingTsel = v.slice();
    else if (code === 0xc2) p.calledTsel = v.slice();
    i += 2 + len;
  }
  return p;
}

/** Decodes one COTP TPDU (the contents of a TPKT). */
export function decodeCotp(buf: Uint8Array): CotpTpdu {
  if (buf.length < 2) throw truncated('COTP: too short');
  const li = buf[0] as number;
  if (li === 255 || li + 1 > buf.length) throw truncated('COTP: header runs past the TPKT', { li });
  const code = (buf[1] as number) & 0xf0;
  const rd16 = (o: number): number => {
    if (o + 2 > li + 1) throw truncated('COTP: header too short');
    return ((buf[o] as number) << 8) | (buf[o + 1] as number);
  };
  switch (code) {
    case 0xe0:
    case 0xd0: {
      if (li < 6) throw truncated('COTP: CR/CC header too short');
      const classOption = buf[6] as number;
      return { type: code === 0xe0 ? 'CR' : 'CC', dstRef: rd16(2), srcRef: rd16(4), classOption, ...decodeParams(buf.subarray(7, li + 1)) };
    }
    case 0xf0:
      if (li < 2) throw malformed('COTP: DT header too short');
      return { type: 'DT', eot: ((buf[2] as number) & 0x80) !== 0, data: buf.subarray(li + 1) };
    case 0x80:
      if (li < 6) throw truncated('COTP: DR header too short');
      return { type: 'DR', dstRef: rd16(2), srcRef: rd16(4), reason: buf[6] as number };
    case 0x70:
      if (li < 4) throw truncated('COTP: ER header too short');
      return { type: 'ER', dstRef: rd16(2), cause: buf[4] as number };
    default:
      throw malformed('COTP: unsupported TPDU code', { code });
  }
}
