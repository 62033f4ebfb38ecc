/**
 * A frame source for GOOSE (and tests): classic libpcap files (Ethernet link type, micro- or nanosecond
 * timestamps, either byte order). Live capture is a later step.
 * Error policy: throws FRAME_TRUNCATED / FRAME_MALFORMED for a damaged file.
 */
import { readFileSync } from 'node:fs';
import { EnergyMeshError } from '../../../core/errors.ts';
import { GooseSubscriber } from '../codec/goose.ts';
import type { GooseEvent } from '../codec/goose.ts';

export interface PcapRecord {
  tsMs: number;
  data: Uint8Array;
}

export function readPcap(path: string): PcapRecord[] {
  const buf = readFileSync(path);
  if (buf.length < 24) throw new EnergyMeshError('FRAME_TRUNCATED', 'pcap: no global header');
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new EnergyMeshError('FRAME_MALFORMED', 'pcap: bad magic');
  const nano = (le ? magic : buf.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: PcapRecord[] = [];
  let p = 24;
  while (p + 16 <= buf.length) {
    const sec = u32(p);
    const frac = u32(p + 4);
    const incl = u32(p + 8);
    p += 16;
    if (p + incl > buf.length) throw new EnergyMeshError('FRAME_TRUNCATED', 'pcap: truncated record');
    out.push({ tsMs: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3), data: new Uint8Array(buf.subarray(p, p + incl)) });
    p += incl;
  }
  return out;
}

/** Ethernet frames of ethertype 0x88B8 (GOOSE), VLAN-tagged or not. */
export function gooseFrames(records: readonly PcapRecord[]): PcapRecord[] {
  return records.filter((r) => {
    let type = ((r.data[12] as number) << 8) | (r.data[13] as number);
    if (type === 0x8100) type = ((r.data[16] as number) << 8) | (r.data[17] as number);
    return type === 0x88b8;
  });
}

/** Feeds every GOOSE frame of a pcap file to a subscriber (at the capture times) and returns the events. */
export function replayGoosePcap(path: string, staleCheck = true): GooseEvent[] {
  const events: GooseEvent[] = [];
  const sub = new GooseSubscriber((e) => events.push(e));
  const frames = gooseFrames(readPcap(path));
  for (const f of frames) {
    if (staleCheck) sub.checkStale(f.tsMs);
    sub.onFrame(f.data, f.tsMs);
  }
  return events;
}
