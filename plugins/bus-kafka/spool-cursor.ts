/**
 * The forwarder's position in one topic spool: the offset of the first record not yet acknowledged by
 * Kafka. One small file, `FORWARDED`, holding two 24-byte slots written alternately:
 * ```
 * slot = magic:u32 ("EMSC") crc:u32 sequence:f64 offset:f64      ; crc = CRC-32 of bytes 8..23, little-endian
 * ```
 * The valid slot with the highest sequence wins, so a write torn by a crash leaves the previous position
 * readable. A position lost that way only makes records be sent again (at-least-once), never skipped.
 * Writes go to the page cache (they survive kill -9); no fsync per write: a stale position after a power
 * loss again only causes duplicates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

const SLOT_BYTES = 24;
const MAGIC = 0x4353_4d45; // "EMSC" little-endian

/** Encodes one slot (exported for the spec). */
export function encodeCursorSlot(sequence: number, offset: number): Buffer {
  const b = Buffer.alloc(SLOT_BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b.writeDoubleLE(sequence, 8);
  b.writeDoubleLE(offset, 16);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
}

/** Decodes one slot; undefined when it was never written, is torn or damaged. */
export function decodeCursorSlot(b: Buffer): { sequence: number; offset: number } | undefined {
  if (b.length < SLOT_BYTES || b.readUInt32LE(0) !== MAGIC) return undefined;
  if (b.readUInt32LE(4) !== crc32(b.subarray(8, SLOT_BYTES))) return undefined;
  const offset = b.readDoubleLE(16);
  if (!Number.isInteger(offset) || offset < 0) return undefined;
  return { sequence: b.readDoubleLE(8), offset };
}

export class SpoolCursor {
  private readonly fd: number;
  private sequence: number;
  private current: number;

  /** Opens (or creates) `<dir>/FORWARDED`; a missing or unreadable file means position 0. */
  constructor(dir: string) {
    const file = path.join(dir, 'FORWARDED');
    this.fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
    const buf = Buffer.alloc(2 * SLOT_BYTES);
    fs.readSync(this.fd, buf, 0, buf.length, 0);
    const a = decodeCursorSlot(buf.subarray(0, SLOT_BYTES));
    const b = decodeCursorSlot(buf.subarray(SLOT_BYTES));
    const best = a && b ? (a.sequence >= b.sequence ? a : b) : (a ?? b);
    this.sequence = best?.sequence ?? 0;
    this.current = best?.offset ?? 0;
  }

  get offset(): number {
    return this.current;
  }

  /** Records `offset` (one positional write into the slot not holding the current position). */
  set(offset: number): void {
    if (offset === this.current) return;
    this.sequence++;
    const slot = this.sequence % 2;
    fs.writeSync(this.fd, encodeCursorSlot(this.sequence, offset), 0, SLOT_BYTES, slot * SLOT_BYTES);
    this.current = offset;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
