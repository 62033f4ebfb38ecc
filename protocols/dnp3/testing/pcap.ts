/**
 * Test helper: reads classic libpcap files (Ethernet / IPv4 / TCP) and returns TCP payloads, and
 * writes such files from byte streams (so tshark can judge frames we encoded). No I/O beyond the
 * buffers given; callers read and write files.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { ByteReader } from '../codec/byte-reader.ts';

export interface TcpPayload {
  /** Capture time in microseconds. */
  readonly tsUs: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/** TCP payloads of a pcap (link type 1, little-endian magic d4 c3 b2 a1), in file order. */
export function readPcapTcpPayloads(file: Uint8Array): TcpPayload[] {
  const r = new ByteReader(file);
  const magic = r.u32();
  if (magic !== 0xa1b2c3d4) throw new EnergyMeshError('FRAME_MALFORMED', `pcap: unsupported magic 0x${magic.toString(16)}`);
  r.bytesView(16);
  const linkType = r.u32();
  if (linkType !== 1) throw new EnergyMeshError('FRAME_MALFORMED', `pcap: link type ${linkType} is not Ethernet`);
  const out: TcpPayload[] = [];
  while (r.remaining > 0) {
    const sec = r.u32();
    const usec = r.u32();
    const incl = r.u32();
    r.u32();
    const pkt = r.bytesView(incl);
    const ethType = ((pkt[12] ?? 0) << 8) | (pkt[13] ?? 0);
    if (ethType !== 0x0800) continue;
    const ip = pkt.subarray(14);
    const ihl = ((ip[0] ?? 0) & 0x0f) * 4;
    const totalLen = ((ip[2] ?? 0) << 8) | (ip[3] ?? 0);
    if (ip[9] !== 6) continue;
    const tcp = ip.subarray(ihl, totalLen);
    const srcPort = ((tcp[0] ?? 0) << 8) | (tcp[1] ?? 0);
    const dstPort = ((tcp[2] ?? 0) << 8) | (tcp[3] ?? 0);
    const dataOff = ((tcp[12] ?? 0) >> 4) * 4;
    const payload = tcp.subarray(dataOff);
    if (payload.length > 0) out.push({ tsUs: sec * 1e6 + usec, srcPort, dstPort, payload: payload.slice() });
  }
  return out;
}

export interface PcapPacket {
  /** True for client → server. */
  readonly fromClient: boolean;
  readonly payload: Uint8Array;
}

/**
 * Builds a pcap with one TCP connection (127.0.0.1:clientPort ↔ 127.0.0.1:serverPort) carrying the
 * given payloads, with consistent sequence/ack numbers so dissectors reassemble it.
 */
export function writePcap(packets: readonly PcapPacket[], serverPort = 20000, clientPort = 40000): Uint8Array {
  const chunks: Uint8Array[] = [];
  const gh = new DataView(new ArrayBuffer(24));
  gh.setUint32(0, 0xa1b2c3d4, true);
  gh.setUint16(4, 2, true);
  gh.setUint16(6, 4, true);
  gh.setUint32(16, 65535, true);
  gh.setUint32(20, 1, true);
  chunks.push(new Uint8Array(gh.buffer));
  let seqC = 1000;
  let seqS = 5000;
  let t = 0;
  const add = (fromClient: boolean, flags: number, payload: Uint8Array): void => {
    const len = 14 + 20 + 20 + payload.length;
    const rec = new Uint8Array(16 + len);
    const dv = new DataView(rec.buffer);
    t += 1000;
    dv.setUint32(0, 1_700_000_000 + Math.floor(t / 1e6), true);
    dv.setUint32(4, t % 1e6, true);
    dv.setUint32(8, len, true);
    dv.setUint32(12, len, true);
    const p = 16;
    dv.setUint16(p + 12, 0x0800);
    const ip = p + 14;
    rec[ip] = 0x45;
    dv.setUint16(ip + 2, 20 + 20 + payload.length);
    rec[ip + 8] = 64;
    rec[ip + 9] = 6;
    rec.set([127, 0, 0, 1], ip + 12);
    rec.set([127, 0, 0, 1], ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += dv.getUint16(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    dv.setUint16(ip + 10, ~sum & 0xffff);
    const tcp = ip + 20;
    dv.setUint16(tcp, fromClient ? clientPort : serverPort);
    dv.setUint16(tcp + 2, fromClient ? serverPort : clientPort);
    dv.setUint32(tcp + 4, fromClient ? seqC : seqS);
    dv.setUint32(tcp + 8, flags & 0x10 ? (fromClient ? seqS : seqC) : 0);
    rec[tcp + 12] = 5 << 4;
    rec[tcp + 13] = flags;
    dv.setUint16(tcp + 14, 65535);
    rec.set(payload, tcp + 20);
    chunks.push(rec);
    const adv = payload.length + (flags & 0x03 ? 1 : 0);
    if (fromClient) seqC += adv;
    else seqS += adv;
  };
  add(true, 0x02, new Uint8Array(0));
  add(false, 0x12, new Uint8Array(0));
  add(true, 0x10, new Uint8Array(0));
  for (const pk of packets) add(pk.fromClient, 0x18, pk.payload);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
