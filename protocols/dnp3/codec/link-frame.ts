/**
 * DNP3 link layer frame (FT3), IEEE 1815-2012 clause 9.2.
 *
 * ```
 * frame  = header block*
 * header = 0x05 0x64 LEN CTRL DEST(u16le) SRC(u16le) CRC(u16le)        ; 10 bytes
 * LEN    = 5 + user data length (5..255)
 * CTRL   = DIR(0x80) PRM(0x40) FCB(0x20) FCV/DFC(0x10) FUNC(0x0f)
 * block  = up to 16 user-data bytes, then their CRC-16/DNP (u16le)
 * ```
 * Policy: the codec throws typed EnergyMeshError (CRC_MISMATCH, FRAME_MALFORMED, FRAME_TOO_LONG,
 * FRAME_TRUNCATED); the streaming parser (link-parser.ts) turns them into resynchronisation.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { crcDnp, crcMatches } from './crc.ts';

export const LINK_START_1 = 0x05;
export const LINK_START_2 = 0x64;
export const LINK_HEADER_SIZE = 10;
/** Largest user-data payload of one frame (LEN 255 − 5). */
export const LINK_MAX_USER_DATA = 250;
/** Largest frame on the wire: 10 + 250 + 16 × 2. */
export const LINK_MAX_FRAME_SIZE = 292;

/** Primary-to-secondary link functions (PRM = 1). */
export enum PrimaryFunction {
  RESET_LINK_STATES = 0,
  TEST_LINK_STATES = 2,
  CONFIRMED_USER_DATA = 3,
  UNCONFIRMED_USER_DATA = 4,
  REQUEST_LINK_STATUS = 9,
}

/** Secondary-to-primary link functions (PRM = 0). */
export enum SecondaryFunction {
  ACK = 0,
  NACK = 1,
  LINK_STATUS = 11,
  NOT_SUPPORTED = 15,
}

export const PRIMARY_FUNCTION_NAMES: Readonly<Record<number, string>> = {
  0: 'RESET_LINK_STATES',
  2: 'TEST_LINK_STATES',
  3: 'CONFIRMED_USER_DATA',
  4: 'UNCONFIRMED_USER_DATA',
  9: 'REQUEST_LINK_STATUS',
};

export const SECONDARY_FUNCTION_NAMES: Readonly<Record<number, string>> = {
  0: 'ACK',
  1: 'NACK',
  11: 'LINK_STATUS',
  14: 'NOT_FUNCTIONING',
  15: 'NOT_SUPPORTED',
};

/** Broadcast destinations (clause 9.2.5.4): 0xFFFD (confirm optional), 0xFFFE (no confirm), 0xFFFF (confirm mandatory). */
export function isBroadcastAddress(addr: number): boolean {
  return addr >= 0xfffd && addr <= 0xffff;
}

export interface LinkFrame {
  /** DIR bit: 1 when sent by the master. */
  readonly dir: boolean;
  /** PRM bit: 1 for primary (initiating) frames. */
  readonly prm: boolean;
  /** FCB in primary frames; unused (0) in secondary frames. */
  readonly fcb: boolean;
  /** FCV in primary frames, DFC in secondary frames. */
  readonly fcvDfc: boolean;
  /** Link function code (PrimaryFunction when prm, else SecondaryFunction). */
  readonly func: number;
  readonly dest: number;
  readonly src: number;
  /** User data without CRCs (empty for link-only frames). */
  readonly data: Uint8Array;
}

/** Name of a frame's function, e.g. `UNCONFIRMED_USER_DATA`. */
export function linkFunctionName(f: Pick<LinkFrame, 'prm' | 'func'>): string {
  const names = f.prm ? PRIMARY_FUNCTION_NAMES : SECONDARY_FUNCTION_NAMES;
  return names[f.func] ?? `UNKNOWN(${f.func})`;
}

/** Encodes a control byte. */
export function encodeControl(f: Pick<LinkFrame, 'dir' | 'prm' | 'fcb' | 'fcvDfc' | 'func'>): number {
  return (f.dir ? 0x80 : 0) | (f.prm ? 0x40 : 0) | (f.fcb ? 0x20 : 0) | (f.fcvDfc ? 0x10 : 0) | (f.func & 0x0f);
}

/** Size on the wire of a frame carrying `n` user-data bytes. */
export function linkFrameSize(n: number): number {
  return LINK_HEADER_SIZE + n + 2 * Math.ceil(n / 16);
}

/** Encodes one frame with its header CRC and per-block CRCs. */
export function encodeLinkFrame(f: LinkFrame): Uint8Array {
  const n = f.data.length;
  if (n > LINK_MAX_USER_DATA) {
    throw new EnergyMeshError('FRAME_TOO_LONG', `DNP3 link: ${n} user-data bytes exceed ${LINK_MAX_USER_DATA}`, {
      details: { length: n },
    });
  }
  for (const [name, v] of [['dest', f.dest], ['src', f.src]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `DNP3 link: ${name} address ${v} outside 0..65535`);
    }
  }
  const out = new Uint8Array(linkFrameSize(n));
  out[0] = LINK_START_1;
  out[1] = LINK_START_2;
  out[2] = 5 + n;
  out[3] = encodeControl(f);
  out[4] = f.dest & 0xff;
  out[5] = f.dest >>> 8;
  out[6] = f.src & 0xff;
  out[7] = f.src >>> 8;
  writeCrc(out, 0, 8);
  let o = LINK_HEADER_SIZE;
  for (let i = 0; i < n; i += 16) {
    const block = f.data.subarray(i, Math.min(n, i + 16));
    out.set(block, o);
    writeCrc(out, o, o + block.length);
    o += block.length + 2;
  }
  return out;
}

function writeCrc(buf: Uint8Array, start: number, at: number): void {
  const c = crcDnp(buf, start, at);
  buf[at] = c & 0xff;
  buf[at + 1] = c >>> 8;
}

/** Decodes the 10-byte header (after checking its CRC); returns LEN and the fields. */
export function decodeLinkHeader(buf: Uint8Array, at = 0): Omit<LinkFrame, 'data'> & { len: number } {
  if (buf.length - at < LINK_HEADER_SIZE) {
    throw new EnergyMeshError('FRAME_TRUNCATED', 'DNP3 link: header needs 10 bytes', {
      details: { available: buf.length - at },
    });
  }
  if (buf[at] !== LINK_START_1 || buf[at + 1] !== LINK_START_2) {
    throw new EnergyMeshError('FRAME_MALFORMED', 'DNP3 link: missing start bytes 05 64', {
      details: { start: [buf[at], buf[at + 1]] },
    });
  }
  if (!crcMatches(buf, at, at + 8)) {
    throw new EnergyMeshError('CRC_MISMATCH', 'DNP3 link: header CRC mismatch', { details: { block: 'header' } });
  }
  const len = buf[at + 2] ?? 0;
  if (len < 5) {
    throw new EnergyMeshError('FRAME_MALFORMED', `DNP3 link: LEN ${len} is below 5`, { details: { len } });
  }
  const ctrl = buf[at + 3] ?? 0;
  return {
    len,
    dir: (ctrl & 0x80) !== 0,
    prm: (ctrl & 0x40) !== 0,
    fcb: (ctrl & 0x20) !== 0,
    fcvDfc: (ctrl & 0x10) !== 0,
    func: ctrl & 0x0f,
    dest: (buf[at + 4] ?? 0) | ((buf[at + 5] ?? 0) << 8),
    src: (buf[at + 6] ?? 0) | ((buf[at + 7] ?? 0) << 8),
  };
}

/**
 * Decodes exactly one complete frame starting at `buf[0]`; throws if it is incomplete, malformed or
 * fails a CRC. Returns the frame and the number of bytes it occupied.
 */
export function decodeLinkFrame(buf: Uint8Array): { frame: LinkFrame; size: number } {
  return decodeLinkFrameWithHeader(buf, 0, decodeLinkHeader(buf, 0));
}

/** Decodes the data blocks of a frame at `at` whose header was already checked (the parser's path). */
export function decodeLinkFrameWithHeader(buf: Uint8Array, at: number, h: Omit<LinkFrame, 'data'> & { len: number }): { frame: LinkFrame; size: number } {
  const n = h.len - 5;
  const size = linkFrameSize(n);
  if (buf.length - at < size) {
    throw new EnergyMeshError('FRAME_TRUNCATED', `DNP3 link: frame needs ${size} bytes, got ${buf.length - at}`, {
      details: { needed: size, available: buf.length - at },
    });
  }
  const data = new Uint8Array(n);
  let o = at + LINK_HEADER_SIZE;
  for (let i = 0; i < n; i += 16) {
    const k = Math.min(16, n - i);
    if (!crcMatches(buf, o, o + k)) {
      throw new EnergyMeshError('CRC_MISMATCH', `DNP3 link: data block ${i / 16} CRC mismatch`, {
        details: { block: i / 16 },
      });
    }
    for (let j = 0; j < k; j++) data[i + j] = buf[o + j]!;
    o += k + 2;
  }
  return { frame: { dir: h.dir, prm: h.prm, fcb: h.fcb, fcvDfc: h.fcvDfc, func: h.func, dest: h.dest, src: h.src, data }, size };
}
