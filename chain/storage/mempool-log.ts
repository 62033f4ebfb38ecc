/**
 * The pending transactions' append log, so the pool survives a restart: each admitted transaction is
 * appended as a record; on open the records are read back (the chain replays them through admission,
 * which drops what blocks have meanwhile included); as blocks commit, the log is rewritten with the
 * pool's current contents once the dead records outnumber the live ones.
 *
 * File grammar: record* where record = length (u32 big-endian, 1..MAX_TX_BYTES) ‖ raw signed transaction.
 * A torn last record (the process died mid-append) ends the log: everything before it is kept.
 * Appends are synchronous writes (in the OS page cache at once: they survive `kill -9`, not a power
 * loss — the pool is best-effort, the chain store is the durable part); rewrites go through a
 * temporary file, fsync and rename, so a crash leaves either the old or the new log.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EnergyMeshError } from '../../core/errors.ts';

/** Largest record accepted when reading (a longer length is corruption). */
const MAX_RECORD = 128 * 1024;

function frame(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + raw.length);
  new DataView(out.buffer).setUint32(0, raw.length);
  out.set(raw, 4);
  return out;
}

/** Parses a log image; stops at the first torn or implausible record. */
export function parseMempoolLog(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 4 <= bytes.length) {
    const len = view.getUint32(at);
    if (len === 0 || len > MAX_RECORD || at + 4 + len > bytes.length) break;
    out.push(new Uint8Array(bytes.subarray(at + 4, at + 4 + len))); // a copy, and a plain Uint8Array (not a Buffer view)
    at += 4 + len;
  }
  return out;
}

export class MempoolLog {
  private fd: number;
  private readonly path: string;
  /** Records written since the last rewrite (live or not). */
  private records = 0;

  private constructor(path: string, fd: number, records: number) {
    this.path = path;
    this.fd = fd;
    this.records = records;
  }

  /** Opens (creating) `mempool.journal` in `dir`; returns the log and the transactions it held. */
  static open(dir: string): { log: MempoolLog; pending: Uint8Array[] } {
    const path = join(dir, 'mempool.journal');
    let pending: Uint8Array[] = [];
    try {
      if (existsSync(path)) pending = parseMempoolLog(readFileSync(path));
      const fd = openSync(path, 'a');
      return { log: new MempoolLog(path, fd, pending.length), pending };
    } catch (e) {
      throw new EnergyMeshError('INTERNAL', `cannot open the mempool journal at ${path}`, { cause: e, details: { path } });
    }
  }

  /** Records written since the last rewrite. */
  get size(): number {
    return this.records;
  }

  append(raw: Uint8Array): void {
    const rec = frame(raw);
    writeSync(this.fd, rec, 0, rec.length);
    this.records++;
  }

  /** Replaces the log with `raws` (the live pool), atomically. */
  rewrite(raws: readonly Uint8Array[]): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      const chunks = raws.map(frame);
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const buf = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        buf.set(c, at);
        at += c.length;
      }
      if (total > 0) writeSync(fd, buf, 0, total);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.records = raws.length;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
