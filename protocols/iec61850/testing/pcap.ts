/**
 * Test helpers: a small classic-libpcap reader (Ethernet link type) that extracts TCP payloads per direction,
 * reassembles them into TPKTs, and GOOSE frames (ethertype 0x88B8); plus a writer so tshark can judge our bytes.
 * Golden captures live in ../shared/vectors/iec61850 (libiec61850 v1.6.0, see its README).
 */
import { readFileSync } from 'node:fs';
import { tpktLength } from '../codec/cotp.ts';
import type { PcapRecord } from '../transport/pcap-file.ts';

export { readPcap, gooseFrames, type PcapRecord } from '../transport/pcap-file.ts';

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  payload: Uint8Array;
}

/** Ethernet (optionally 802.1Q) → IPv4 → TCP; undefined for anything else. */
export function tcpSegment(frame: Uint8Array): TcpSegment | undefined {
  let off = 12;
  let type = ((frame[off] as number) << 8) | (frame[off + 1] as number);
  if (type === 0x8100) {
    off += 4;
    type = ((frame[off] as number) << 8) | (frame[off + 1] as number);
  }
  if (type !== 0x0800) return undefined;
  const ip = off + 2;
  const ihl = ((frame[ip] as number) & 0x0f) * 4;
  if (frame[ip + 9] !== 6) return undefined;
  const totalLen = ((frame[ip + 2] as number) << 8) | (frame[ip + 3] as number);
  const tcp = ip + ihl;
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const dataOff = ((frame[tcp + 12] as number) >> 4) * 4;
  return {
    srcPort: dv.getUint16(tcp),
    dstPort: dv.getUint16(tcp + 2),
    seq: dv.getUint32(tcp + 4),
    payload: frame.subarray(tcp + dataOff, ip + totalLen),
  };
}

export interface TpktMessage {
  /** C = client → server (towards `serverPort`), S = server → client. */
  dir: 'C' | 'S';
  tpkt: Uint8Array;
}

/** Reassembles TPKTs per direction from the TCP segments of a capture, in the order they complete. */
export function tpktsFromPcap(records: readonly PcapRecord[], serverPort = 102): TpktMessage[] {
  const pending: Record<'C' | 'S', Uint8Array> = { C: new Uint8Array(0), S: new Uint8Array(0) };
  const seen: Record<'C' | 'S', Set<number>> = { C: new Set(), S: new Set() };
  const out: TpktMessage[] = [];
  for (const r of records) {
    const seg = tcpSegment(r.data);
    if (!seg || seg.payload.length === 0) continue;
    const dir = seg.dstPort === serverPort ? 'C' : seg.srcPort === serverPort ? 'S' : undefined;
    if (dir === undefined) continue;
    if (seen[dir].has(seg.seq)) continue; // retransmission
    seen[dir].add(seg.seq);
    const merged = new Uint8Array(pending[dir].length + seg.payload.length);
    merged.set(pending[dir]);
    merged.set(seg.payload, pending[dir].length);
    let rest = merged;
    for (;;) {
      const len = tpktLength(rest);
      if (len === undefined || rest.length < len) break;
      out.push({ dir, tpkt: rest.slice(0, len) });
      rest = rest.subarray(len);
    }
    pending[dir] = rest.slice();
  }
  return out;
}

/** Parses a `.pcap.txt` vector file into its messages (C>, S>, E> lines). */
export function readVectorText(path: string): { dir: 'C' | 'S' | 'E'; bytes: Uint8Array }[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => /^[CSE]> /.test(l))
    .map((l) => ({ dir: l[0] as 'C' | 'S' | 'E', bytes: new Uint8Array(Buffer.from(l.slice(3).trim(), 'hex')) }));
}

/**
 * Writes a classic pcap (Ethernet) with one IPv4/TCP frame per message between 127.0.0.1:clientPort and
 * 127.0.0.1:serverPort, sequence numbers continuous per direction, so tshark can dissect our bytes.
 */
export function writeTcpPcap(messages: readonly TpktMessage[], serverPort: number, clientPort = 40000): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(1, 20);
  parts.push(gh);
  const seq = { C: 1000, S: 5000 };
  const frame = (dir: 'C' | 'S', flags: number, payload: Uint8Array, t: number): void => {
    const ipLen = 20 + 20 + payload.length;
    const f = Buffer.alloc(14 + ipLen);
    f.writeUInt16BE(0x0800, 12);
    const ip = 14;
    f[ip] = 0x45;
    f.writeUInt16BE(ipLen, ip + 2);
    f[ip + 8] = 64;
    f[ip + 9] = 6;
    f.writeUInt32BE(0x7f000001, ip + 12);
    f.writeUInt32BE(0x7f000001, ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += f.readUInt16BE(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    f.writeUInt16BE(~sum & 0xffff, ip + 10);
    const tcp = ip + 20;
    f.writeUInt16BE(dir === 'C' ? clientPort : serverPort, tcp);
    f.writeUInt16BE(dir === 'C' ? serverPort : clientPort, tcp + 2);
    f.writeUInt32BE(seq[dir] >>> 0, tcp + 4);
    f.writeUInt32BE(flags === 0x02 ? 0 : seq[dir === 'C' ? 'S' : 'C'] >>> 0, tcp + 8);
    f[tcp + 12] = 0x50;
    f[tcp + 13] = flags;
    f.writeUInt16BE(65535, tcp + 14);
    Buffer.from(payload).copy(f, tcp + 20);
    seq[dir] += payload.length + (flags & 0x02 ? 1 : 0);
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(Math.floor(t / 1000), 0);
    rh.writeUInt32LE((t % 1000) * 1000, 4);
    rh.writeUInt32LE(f.length, 8);
    rh.writeUInt32LE(f.length, 12);
    parts.push(rh, f);
  };
  let t = 1_700_000_000_000;
  frame('C', 0x02, new Uint8Array(0), t++);
  frame('S', 0x12, new Uint8Array(0), t++);
  frame('C', 0x10, new Uint8Array(0), t++);
  for (const m of messages) frame(m.dir, 0x18, m.tpkt, t++);
  return Buffer.concat(parts);
}
