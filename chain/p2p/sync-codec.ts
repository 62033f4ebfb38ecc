/**
 * The block-sync request/response protocol `/empos/sync/1` over a libp2p stream. Pure codec plus a
 * bounded frame reader; no I/O of its own.
 *
 *   frame     = length (4 bytes BE, ≤ MAX_SYNC_FRAME) ‖ payload
 *   request   = [chainId, kind (0 status | 1 blocks), from, count]              (one frame)
 *   status    = [head, finalized]                                              (one frame)
 *   blocks    = one frame per block: [blockRlp, seal]  (from `from` upward, at most `count`, ≤ MAX_SYNC_BLOCKS),
 *               then the responder closes its side. `seal` is the stored seal (proposer signature and the
 *               block's own finality certificate), which the receiver verifies against the validator set.
 */
import { RLP } from '@ethereumjs/rlp';
import { bytesToHex } from '@ethereumjs/util';
import { EnergyMeshError } from '../../core/errors.ts';

export const SYNC_PROTOCOL = '/empos/sync/1';
export const MAX_SYNC_FRAME = 8 * 1024 * 1024;
export const MAX_SYNC_BLOCKS = 64;

export type SyncRequest = { chainId: bigint; kind: 'status' } | { chainId: bigint; kind: 'blocks'; from: bigint; count: number };

export interface SyncStatus {
  head: bigint;
  finalized: bigint;
}

export interface SyncedBlock {
  block: Uint8Array;
  seal: Uint8Array;
}

function malformed(what: string): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', `malformed sync message: ${what}`);
}

function int(n: bigint | number): Uint8Array {
  const b = BigInt(n);
  if (b === 0n) return new Uint8Array();
  const h = b.toString(16);
  return Uint8Array.from(Buffer.from(h.length % 2 === 1 ? `0${h}` : h, 'hex'));
}

function uint(x: unknown, what: string): bigint {
  if (!(x instanceof Uint8Array) || x.length > 8) throw malformed(what);
  if (x.length > 0 && x[0] === 0) throw malformed(`${what} has leading zeros`);
  return x.length === 0 ? 0n : BigInt(bytesToHex(x));
}

function decodeList(payload: Uint8Array, len: number, what: string): unknown[] {
  let x: unknown;
  try {
    x = RLP.decode(payload);
  } catch (e) {
    throw new EnergyMeshError('FRAME_MALFORMED', `${what}: invalid RLP`, { cause: e });
  }
  if (!Array.isArray(x) || x.length !== len) throw malformed(what);
  return x;
}

export function frame(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_SYNC_FRAME) throw new EnergyMeshError('FRAME_TOO_LONG', `sync frame of ${payload.length} bytes`);
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

export function encodeSyncRequest(r: SyncRequest): Uint8Array {
  return RLP.encode([int(r.chainId), int(r.kind === 'status' ? 0 : 1), int(r.kind === 'blocks' ? r.from : 0n), int(r.kind === 'blocks' ? r.count : 0)]);
}

export function decodeSyncRequest(payload: Uint8Array): SyncRequest {
  const [c, k, f, n] = decodeList(payload, 4, 'request');
  const chainId = uint(c, 'chain id');
  const kind = uint(k, 'kind');
  if (kind === 0n) return { chainId, kind: 'status' };
  if (kind !== 1n) throw malformed('unknown request kind');
  const count = uint(n, 'count');
  return { chainId, kind: 'blocks', from: uint(f, 'from'), count: Number(count > BigInt(MAX_SYNC_BLOCKS) ? BigInt(MAX_SYNC_BLOCKS) : count) };
}

export function encodeSyncStatus(s: SyncStatus): Uint8Array {
  return RLP.encode([int(s.head), int(s.finalized)]);
}

export function decodeSyncStatus(payload: Uint8Array): SyncStatus {
  const [h, f] = decodeList(payload, 2, 'status');
  return { head: uint(h, 'head'), finalized: uint(f, 'finalized') };
}

export function encodeSyncedBlock(b: SyncedBlock): Uint8Array {
  return RLP.encode([b.block, b.seal]);
}

export function decodeSyncedBlock(payload: Uint8Array): SyncedBlock {
  const [b, s] = decodeList(payload, 2, 'block');
  if (!(b instanceof Uint8Array) || !(s instanceof Uint8Array)) throw malformed('block frame');
  return { block: b, seal: s };
}

/** Anything a libp2p stream yields (Uint8Array or Uint8ArrayList). */
export type Chunk = Uint8Array | { subarray(): Uint8Array };

/**
 * Reads length-prefixed frames from a byte stream; refuses a frame longer than `max` (FRAME_TOO_LONG)
 * and a stream that ends inside a frame (FRAME_TRUNCATED).
 */
export async function* readFrames(source: AsyncIterable<Chunk>, max = MAX_SYNC_FRAME): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(0);
  for await (const chunk of source) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    const next = new Uint8Array(buf.length + bytes.length);
    next.set(buf);
    next.set(bytes, buf.length);
    buf = next;
    while (buf.length >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
      if (len > max) throw new EnergyMeshError('FRAME_TOO_LONG', `sync frame of ${len} bytes exceeds ${max}`);
      if (buf.length < 4 + len) break;
      yield buf.slice(4, 4 + len);
      buf = buf.slice(4 + len);
    }
  }
  if (buf.length > 0) throw new EnergyMeshError('FRAME_TRUNCATED', 'sync stream ended inside a frame');
}
