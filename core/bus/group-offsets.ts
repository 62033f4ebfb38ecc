/**
 * Committed positions of consumer groups for one topic of the durable bus, one small file per group in
 * `<topic dir>/groups/<group, URI-encoded>.offset`.
 *
 * File grammar (64 bytes, little-endian): two 32-byte slots, written alternately
 * ```
 * slot = magic:u32 ("EMOF") crc:u32 sequence:f64 offset:f64 committedAt:f64   ; crc = CRC-32 of bytes 8..31
 * ```
 * The valid slot with the highest sequence holds the committed offset. A commit overwrites the *other*
 * slot with one positional write, so a crash at any point — even one that tears the write — leaves the
 * previous commit readable: the update is atomic without a rename per commit (a consumer commits up to
 * thousands of batches per second, and write-temp-then-rename measured as a quarter of the durable bus's
 * CPU). The file itself is created atomically: written to a temp file, fsync'd, renamed, directory fsync'd.
 *
 * fsync: every policy survives kill -9 (the write is in the page cache when `commit` returns). A lost
 * commit can only cause a redelivery, never a loss (the bus is at-least-once), so commits do not wait for
 * fsync: with 'always' each commit starts a background fdatasync (coalesced: one runs at a time, the next
 * covers every commit made meanwhile); with 'interval' {@link GroupOffsetStore.flush} runs on the bus's
 * fsync tick; with 'never' it is left to the OS. close() fsyncs what is left (except with 'never').
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';

import { EnergyMeshError } from '../errors.ts';
import type { FsyncPolicy } from './durable-log.ts';

const fdatasyncAsync = promisify(fs.fdatasync);

const SUFFIX = '.offset';
const SLOT_BYTES = 32;
const FILE_BYTES = 2 * SLOT_BYTES;
const MAGIC = 0x464f4d45; // "EMOF" read as u32 little-endian

interface GroupFile {
  fd: number;
  sequence: number;
  dirty: boolean;
}

/** Encodes one slot. */
export function encodeOffsetSlot(sequence: number, offset: number, committedAt: number): Buffer {
  const b = Buffer.alloc(SLOT_BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b.writeDoubleLE(sequence, 8);
  b.writeDoubleLE(offset, 16);
  b.writeDoubleLE(committedAt, 24);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
}

/** Decodes one slot; undefined when it is not a valid slot (never written, torn or damaged). */
export function decodeOffsetSlot(b: Buffer): { sequence: number; offset: number; committedAt: number } | undefined {
  if (b.length < SLOT_BYTES || b.readUInt32LE(0) !== MAGIC) return undefined;
  if (b.readUInt32LE(4) !== crc32(b.subarray(8, SLOT_BYTES))) return undefined;
  const offset = b.readDoubleLE(16);
  if (!Number.isInteger(offset) || offset < 0) return undefined;
  return { sequence: b.readDoubleLE(8), offset, committedAt: b.readDoubleLE(24) };
}

/** The committed offsets of the consumer groups of one topic (see the file comment). */
export class GroupOffsetStore {
  private readonly dir: string;
  private readonly files = new Map<string, GroupFile>();
  private readonly creating = new Map<string, Promise<GroupFile>>();
  private readonly slot = Buffer.alloc(SLOT_BYTES);
  private chain: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private flushError: unknown = undefined;

  constructor(
    topicDir: string,
    private readonly fsync: FsyncPolicy,
  ) {
    this.dir = path.join(topicDir, 'groups');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Reads every group's committed offset. A file with no valid slot is reported as LOG_CORRUPT. */
  load(): Map<string, number> {
    try {
      return this.loadFiles();
    } catch (e) {
      for (const file of this.files.values()) fs.closeSync(file.fd);
      this.files.clear();
      throw e;
    }
  }

  private loadFiles(): Map<string, number> {
    const out = new Map<string, number>();
    for (const f of fs.readdirSync(this.dir)) {
      const full = path.join(this.dir, f);
      if (f.endsWith('.tmp')) {
        fs.rmSync(full, { force: true }); // a creation interrupted before its rename
        continue;
      }
      if (!f.endsWith(SUFFIX)) continue;
      const group = decodeURIComponent(f.slice(0, -SUFFIX.length));
      const fd = fs.openSync(full, 'r+');
      const bytes = Buffer.alloc(FILE_BYTES);
      fs.readSync(fd, bytes, 0, FILE_BYTES, 0);
      const a = decodeOffsetSlot(bytes.subarray(0, SLOT_BYTES));
      const b = decodeOffsetSlot(bytes.subarray(SLOT_BYTES));
      const best = a && b ? (a.sequence > b.sequence ? a : b) : (a ?? b);
      if (best === undefined) {
        fs.closeSync(fd);
        throw new EnergyMeshError('LOG_CORRUPT', `bus group offset file ${full} has no valid slot`, { details: { file: full, position: 0 } });
      }
      this.files.set(group, { fd, sequence: best.sequence, dirty: false });
      out.set(group, best.offset);
    }
    return out;
  }

  /** Persists `offset` (the next offset the group will read) for `group`. */
  async commit(group: string, offset: number): Promise<void> {
    const file = this.files.get(group);
    if (file === undefined) {
      let creating = this.creating.get(group);
      if (creating === undefined) {
        creating = this.create(group, offset).finally(() => this.creating.delete(group));
        this.creating.set(group, creating);
        await creating;
        return;
      }
      await creating;
      return this.commit(group, offset);
    }
    file.sequence++;
    const slot = this.slot;
    slot.writeUInt32LE(MAGIC, 0);
    slot.writeDoubleLE(file.sequence, 8);
    slot.writeDoubleLE(offset, 16);
    slot.writeDoubleLE(Date.now(), 24);
    slot.writeUInt32LE(crc32(slot.subarray(8)), 4);
    fs.writeSync(file.fd, slot, 0, SLOT_BYTES, (file.sequence % 2) * SLOT_BYTES);
    if (this.fsync === 'never') return;
    file.dirty = true;
    if (this.fsync === 'always') this.backgroundFlush();
  }

  /** 'always': queues a flush unless one is queued and not started yet (it will cover this commit). */
  private backgroundFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.flush().catch((e: unknown) => {
      this.flushError = e;
    });
  }

  /** The last background fsync failure, if any. */
  get lastFlushError(): unknown {
    return this.flushError;
  }

  private async create(group: string, offset: number): Promise<GroupFile> {
    const full = path.join(this.dir, encodeURIComponent(group) + SUFFIX);
    const tmp = `${full}.tmp`;
    const image = Buffer.concat([encodeOffsetSlot(0, offset, Date.now()), Buffer.alloc(SLOT_BYTES)]);
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(image);
      if (this.fsync !== 'never') await fh.datasync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, full);
    if (this.fsync !== 'never') await fsyncDirectory(this.dir);
    const file: GroupFile = { fd: fs.openSync(full, 'r+'), sequence: 0, dirty: false };
    this.files.set(group, file);
    return file;
  }

  /** Fsyncs the files of groups committed since the last flush. Flushes run one at a time, in order. */
  flush(): Promise<void> {
    const run = this.chain.then(async () => {
      this.flushQueued = false;
      for (const file of this.files.values()) {
        if (!file.dirty) continue;
        file.dirty = false;
        await fdatasyncAsync(file.fd);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Flushes and closes the files. */
  async close(): Promise<void> {
    try {
      await this.chain;
      if (this.fsync !== 'never') {
        for (const file of this.files.values()) file.dirty = true;
        await this.flush();
      }
    } finally {
      for (const file of this.files.values()) fs.closeSync(file.fd);
      this.files.clear();
    }
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
