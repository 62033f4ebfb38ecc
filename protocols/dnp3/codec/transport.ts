/**
 * DNP3 transport function, IEEE 1815-2012 clause 8.
 *
 * ```
 * segment = header(1) application-bytes(1..249)
 * header  = FIN(0x80) FIR(0x40) SEQ(6 bits)
 * ```
 * Each direction keeps its own 6-bit sequence counter, incremented for every segment sent.
 * Reassembly rules: a FIR segment starts a new fragment (dropping any partial one); a non-FIR segment
 * must carry the next sequence number, else the partial fragment is dropped; a fragment larger than
 * `maxFragmentSize` is dropped. Drops are reported, never thrown.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { LINK_MAX_USER_DATA } from './link-frame.ts';

export const TRANSPORT_FIN = 0x80;
export const TRANSPORT_FIR = 0x40;
/** Application bytes per segment: 250 user-data bytes − 1 transport header. */
export const TRANSPORT_MAX_PAYLOAD = LINK_MAX_USER_DATA - 1;

export interface TransportHeader {
  fin: boolean;
  fir: boolean;
  seq: number;
}

export function decodeTransportHeader(b: number): TransportHeader {
  return { fin: (b & TRANSPORT_FIN) !== 0, fir: (b & TRANSPORT_FIR) !== 0, seq: b & 0x3f };
}

export function encodeTransportHeader(h: TransportHeader): number {
  return (h.fin ? TRANSPORT_FIN : 0) | (h.fir ? TRANSPORT_FIR : 0) | (h.seq & 0x3f);
}

/**
 * Splits an APDU into transport segments (each ready to be a link frame's user data), numbering them
 * from `startSeq`. Returns the segments and the next sequence number.
 */
export function segmentApdu(apdu: Uint8Array, startSeq: number, maxPayload = TRANSPORT_MAX_PAYLOAD): { segments: Uint8Array[]; nextSeq: number } {
  if (apdu.length === 0) {
    throw new EnergyMeshError('INVALID_ARGUMENT', 'DNP3 transport: empty APDU');
  }
  const segments: Uint8Array[] = [];
  let seq = startSeq & 0x3f;
  for (let i = 0; i < apdu.length; i += maxPayload) {
    const chunk = apdu.subarray(i, Math.min(apdu.length, i + maxPayload));
    const seg = new Uint8Array(chunk.length + 1);
    seg[0] = encodeTransportHeader({ fir: i === 0, fin: i + maxPayload >= apdu.length, seq });
    seg.set(chunk, 1);
    segments.push(seg);
    seq = (seq + 1) & 0x3f;
  }
  return { segments, nextSeq: seq };
}

export interface ReassemblyResult {
  /** A complete APDU, when this segment finished one. */
  apdu?: Uint8Array;
  /** Why a segment or a partial fragment was dropped. */
  error?: EnergyMeshError;
}

/** Reassembles segments of one direction into APDUs. */
export class TransportReassembler {
  private parts: Uint8Array[] = [];
  private size = 0;
  private expectedSeq = -1;

  constructor(readonly maxFragmentSize = 2048) {}

  reset(): void {
    this.parts = [];
    this.size = 0;
    this.expectedSeq = -1;
  }

  /** True while a fragment is partly received. */
  get inProgress(): boolean {
    return this.expectedSeq >= 0;
  }

  push(segment: Uint8Array): ReassemblyResult {
    if (segment.length < 1) {
      return { error: new EnergyMeshError('FRAME_TRUNCATED', 'DNP3 transport: empty segment') };
    }
    const h = decodeTransportHeader(segment[0] ?? 0);
    const payload = segment.subarray(1);
    let error: EnergyMeshError | undefined;
    if (h.fir) {
      if (this.inProgress) {
        error = new EnergyMeshError('FRAME_MALFORMED', 'DNP3 transport: FIR segment dropped a partial fragment', {
          details: { droppedBytes: this.size },
        });
      }
      this.parts = [];
      this.size = 0;
    } else if (!this.inProgress) {
      return { error: new EnergyMeshError('FRAME_MALFORMED', 'DNP3 transport: segment without FIR outside a fragment', { details: { seq: h.seq } }) };
    } else if (h.seq !== this.expectedSeq) {
      const expected = this.expectedSeq;
      this.reset();
      return {
        error: new EnergyMeshError('FRAME_MALFORMED', 'DNP3 transport: sequence gap, fragment dropped', {
          details: { expected, got: h.seq },
        }),
      };
    }
    if (this.size + payload.length > this.maxFragmentSize) {
      const size = this.size + payload.length;
      this.reset();
      return {
        error: new EnergyMeshError('FRAME_TOO_LONG', `DNP3 transport: fragment exceeds ${this.maxFragmentSize} bytes`, {
          details: { size, max: this.maxFragmentSize },
        }),
      };
    }
    if (h.fir && h.fin) {
      // single-segment fragment: no concatenation
      this.reset();
      if (payload.length === 0) return { error: new EnergyMeshError('FRAME_TRUNCATED', 'DNP3 transport: empty fragment') };
      return error ? { apdu: payload.slice(), error } : { apdu: payload.slice() };
    }
    this.parts.push(payload.slice());
    this.size += payload.length;
    this.expectedSeq = (h.seq + 1) & 0x3f;
    if (!h.fin) return error ? { error } : {};
    const apdu = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      apdu.set(p, o);
      o += p.length;
    }
    this.reset();
    if (apdu.length === 0) {
      return { error: new EnergyMeshError('FRAME_TRUNCATED', 'DNP3 transport: empty fragment') };
    }
    return error ? { apdu, error } : { apdu };
  }
}
