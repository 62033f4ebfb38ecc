/**
 * Test helper: loads the reference captures of ../shared/vectors/dnp3 (opendnp3 3.1.2, see the README
 * there): the `.txt` frame lists and the TCP byte streams of the `.pcap` files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { readPcapTcpPayloads } from './pcap.ts';

const here = dirname(fileURLToPath(import.meta.url));

const SHARED = resolve(here, '../../../../shared/vectors/dnp3');
const FIXTURES = resolve(here, '../../../test/fixtures/dnp3/vectors');

/** Folder of the vectors: $DNP3_VECTORS, else ../shared/vectors/dnp3, else the copy in test/fixtures/dnp3/vectors. */
export const VECTOR_DIR = process.env['DNP3_VECTORS'] ?? (existsSync(resolve(SHARED, '01_link_status_integrity.txt')) ? SHARED : FIXTURES);

export const VECTOR_NAMES = [
  '01_link_status_integrity',
  '01b_link_reset_raw',
  '02_event_polls',
  '03_unsolicited',
  '04_controls',
  '05a_timesync_nonlan',
  '05b_timesync_lan',
  '06_fragmented_integrity',
  '07_range_reads',
] as const;
export type VectorName = (typeof VECTOR_NAMES)[number];

export function vectorsAvailable(): boolean {
  return existsSync(resolve(VECTOR_DIR, '01_link_status_integrity.txt'));
}

export interface VectorFrame {
  /** 'M' master → outstation, 'O' outstation → master. */
  readonly from: 'M' | 'O';
  readonly bytes: Uint8Array;
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function loadVectorFrames(name: VectorName): VectorFrame[] {
  const text = readFileSync(resolve(VECTOR_DIR, `${name}.txt`), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = /^([MO])>\s*([0-9a-fA-F]+)$/.exec(l);
      if (!m) throw new Error(`bad vector line: ${l}`);
      return { from: m[1] as 'M' | 'O', bytes: hex(m[2] ?? '') };
    });
}

/** The two TCP byte streams of a capture (master → outstation port 20000, and back). */
export function loadVectorStreams(name: VectorName): { master: Uint8Array[]; outstation: Uint8Array[] } {
  const pkts = readPcapTcpPayloads(new Uint8Array(readFileSync(resolve(VECTOR_DIR, `${name}.pcap`))));
  return {
    master: pkts.filter((p) => p.dstPort === 20000).map((p) => p.payload),
    outstation: pkts.filter((p) => p.srcPort === 20000).map((p) => p.payload),
  };
}
