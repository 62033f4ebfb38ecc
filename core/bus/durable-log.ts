/**
 * The append-only on-disk log of one topic: a directory of segment files named after the offset of their
 * first record (`00000000000000000000.seg`), each a sequence of frames (see record-codec.ts).
 *
 * Error policy:
 * - open: every segment is scanned and every CRC checked. A damaged *tail* of the last segment (a frame
 *   cut short, or a bad frame that reaches the end of the file, or only zero bytes from the bad frame to the
 *   end) is the trace of a crash during a write: it is truncated and logged. Any other damage (a bad frame
 *   followed by more data, a bad frame in an older segment, offsets that do not follow on) throws
 *   `LOG_CORRUPT` naming the file and byte position; nothing is repaired silently.
 * - append: one `write` per batch. If the write fails the file is truncated back to the batch start and
 *   `LOG_WRITE_FAILED` is thrown (retriable); if even that fails the log refuses further appends.
 * - sync: a failed fsync leaves the log failed (the kernel may have dropped the dirty pages: retrying
 *   fsync would lie), appends are refused from then on.
 *
 * Durability: {@link DurableLog.sync} is a group commit. Appends are written synchronously into the page
 * cache (so they survive kill -9 as soon as `append` returns); `sync` makes them survive a power loss.
 * Calls arriving while an fsync runs share the next fsync.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { EnergyMeshError, errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import {
  FRAME_HEADER_BYTES,
  FrameEncoder,
  decodeFrameAt,
  describeProblem,
  isFrameProblem,
  readRecord,
} from './record-codec.ts';
import type { FrameInfo, FrameProblem, StoredRecord } from './record-codec.ts';

const fdatasyncAsync = promisify(fs.fdatasync);
const closeAsync = promisify(fs.close);

/** When appended bytes are fsync'd: before publish resolves, on a timer, or when the OS decides. */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface DurableLogOptions {
  /** Directory of this topic's segments (created if missing). */
  dir: string;
  /** Topic name, for messages. */
  topic: string;
  fsync: FsyncPolicy;
  /** A segment is closed and a new one started once it would exceed this size (default 64 MiB). */
  segmentBytes?: number;
  /**
   * 'sync' (default): `append` writes with one write() before returning — least CPU and latency, but the
   * event loop waits for the copy into the page cache (~10–30 µs per batch; longer when the kernel throttles
   * dirty pages). 'async': one writev on the thread pool for all batches queued meanwhile — the event loop
   * never waits for the disk, at the price of a thread-pool round trip (slow when the CPU is oversubscribed).
   */
  writes?: 'sync' | 'async';
  logger: Logger;
}

/** What a segment holds, as retention sees it. */
export interface SegmentInfo {
  file: string;
  baseOffset: number;
  /** Offset after the segment's last record. */
  endOffset: number;
  bytes: number;
  /** Timestamp of the newest record, epoch ms (0 when empty). */
  lastTimestamp: number;
}

/** A sparse index entry every this many bytes of a segment. */
const INDEX_EVERY_BYTES = 16 * 1024;
/** Read chunk for the open-time scan and for consumers catching up from disk. */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;
const READ_CHUNK_BYTES = 256 * 1024;
const SEGMENT_NAME = /^(\d{20})\.seg$/;

interface Segment {
  file: string;
  baseOffset: number;
  endOffset: number;
  /** Bytes appended, including those still queued for writing. */
  size: number;
  /** Bytes whose write completed. */
  writtenSize: number;
  lastTimestamp: number;
  /** Sparse index: offsets and the byte positions of their frames. */
  indexOffsets: number[];
  indexPositions: number[];
  lastIndexedPosition: number;
}

/** `00000000000000001234.seg`: segments sort by name in offset order. */
export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.seg`;
}

/** The on-disk log of one topic (see the file comment for its error policy). */
export class DurableLog {
  readonly topic: string;
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  private readonly segmentBytes: number;
  private readonly syncWrites: boolean;
  private readonly logger: Logger;
  private readonly encoder = new FrameEncoder();
  private readonly segments: Segment[] = [];
  /** Append descriptor of the last segment. */
  private fd: number;
  /** Descriptors of rolled segments waiting for their final fsync before close. */
  private retiring: number[] = [];
  /** Appended batches waiting for their write, in offset order. */
  private queue: PendingWrite[] = [];
  private writer: Promise<void> | null = null;
  private written: number;
  private dirDirty = false;
  private dirtyBytes = 0;
  private next: number;
  private durableEnd: number;
  private syncing: Promise<void> | null = null;
  private nextSync: Promise<void> | null = null;
  private failure: EnergyMeshError | null = null;
  private closed = false;
  private fsyncs = 0;
  /** Bytes truncated from a torn tail at open (0 when the log was clean). */
  readonly tornBytesTruncated: number;

  private constructor(options: DurableLogOptions, segments: Segment[], tornBytes: number) {
    this.topic = options.topic;
    this.dir = options.dir;
    this.fsync = options.fsync;
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.syncWrites = (options.writes ?? 'sync') === 'sync';
    this.logger = options.logger;
    this.segments = segments;
    const last = segments[segments.length - 1] as Segment;
    this.fd = fs.openSync(path.join(this.dir, last.file), 'a');
    this.next = last.endOffset;
    this.written = last.endOffset;
    this.durableEnd = last.endOffset;
    this.tornBytesTruncated = tornBytes;
  }

  /**
   * Opens (or creates) the log: scans every segment, checks every frame, truncates a torn tail and throws
   * `LOG_CORRUPT` for damage anywhere else.
   */
  static open(options: DurableLogOptions): DurableLog {
    fs.mkdirSync(options.dir, { recursive: true });
    const files = fs
      .readdirSync(options.dir)
      .filter((f) => SEGMENT_NAME.test(f))
      .sort();
    const segments: Segment[] = [];
    let tornBytes = 0;
    for (let i = 0; i < files.length; i++) {
      const file = files[i] as string;
      const baseOffset = Number((SEGMENT_NAME.exec(file) as RegExpExecArray)[1]);
      const previous = segments[segments.length - 1];
      if (previous !== undefined && previous.endOffset !== baseOffset) {
        throw corrupt(options.dir, file, 0, `segment starts at offset ${baseOffset} but the previous one ends at ${previous.endOffset}`);
      }
      const scanned = scanSegment(options.dir, file, baseOffset, i === files.length - 1);
      if (scanned.tornBytes > 0) {
        tornBytes = scanned.tornBytes;
        options.logger.warn(
          { topic: options.topic, file: path.join(options.dir, file), position: scanned.segment.size, bytes: scanned.tornBytes },
          'bus log: truncated a torn tail left by a crash during a write',
        );
      }
      segments.push(scanned.segment);
    }
    if (segments.length === 0) {
      const file = segmentFileName(0);
      fs.closeSync(fs.openSync(path.join(options.dir, file), 'a'));
      fsyncDir(options.dir);
      segments.push(emptySegment(file, 0));
    }
    return new DurableLog(options, segments, tornBytes);
  }

  /** Offset of the oldest record kept. */
  get startOffset(): number {
    return (this.segments[0] as Segment).baseOffset;
  }

  /** Offset the next appended record gets. */
  get endOffset(): number {
    return this.next;
  }

  /** Records below this offset are written (in the page cache: they survive kill -9). */
  get writtenEnd(): number {
    return this.written;
  }

  /** Records below this offset have been fsync'd (or, with fsync 'never', written). */
  get syncedEnd(): number {
    return this.fsync === 'never' ? this.written : this.durableEnd;
  }

  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** True when bytes were written since the last fsync. */
  get dirty(): boolean {
    return this.dirtyBytes > 0 || this.retiring.length > 0 || this.dirDirty;
  }

  /** The write or fsync failure that stopped this log, if any. */
  get failed(): EnergyMeshError | null {
    return this.failure;
  }

  segmentInfos(): SegmentInfo[] {
    return this.segments.map((s) => ({
      file: path.join(this.dir, s.file),
      baseOffset: s.baseOffset,
      endOffset: s.endOffset,
      bytes: s.size,
      lastTimestamp: s.lastTimestamp,
    }));
  }

  /**
   * Appends records (offsets are assigned in call order). `written` resolves when the bytes are in the page
   * cache — they survive kill -9 from then on; call {@link sync} for power-loss durability. With 'sync'
   * writes the batch is written with one write() before this returns (and `written` is already resolved);
   * with 'async' writes it is queued, and batches queued while a write runs go out together in one writev.
   */
  append(records: readonly { key: string; value: unknown }[], timestamp: number): { first: number; written: Promise<void> } {
    this.assertWritable();
    const first = this.next;
    const encoded = this.encoder.encode(records, first, timestamp);
    let active = this.segments[this.segments.length - 1] as Segment;
    if (active.size > 0 && active.size + encoded.bytes.length > this.segmentBytes) active = this.roll();
    if (this.syncWrites) {
      this.writeNow(active, encoded.bytes);
      this.record(active, first, records.length, encoded.frameEnds, encoded.bytes.length, timestamp);
      active.writtenSize = active.size;
      this.written = this.next;
      this.dirtyBytes += encoded.bytes.length;
      return { first, written: RESOLVED };
    }
    const bytes = Buffer.allocUnsafe(encoded.bytes.length);
    encoded.bytes.copy(bytes);
    this.record(active, first, records.length, encoded.frameEnds, bytes.length, timestamp);
    const written = new Promise<void>((resolve, reject) => {
      this.queue.push({ segment: active, fd: this.fd, bytes, end: this.next, resolve, reject });
    });
    this.writer ??= this.writeQueued();
    return { first, written };
  }

  /** Updates the segment's index and extent for a batch appended at its current end. */
  private record(active: Segment, first: number, count: number, frameEnds: number[], length: number, timestamp: number): void {
    const startSize = active.size;
    let frameStart = 0;
    for (let i = 0; i < frameEnds.length; i++) {
      const position = startSize + frameStart;
      if (position - active.lastIndexedPosition >= INDEX_EVERY_BYTES) {
        active.indexOffsets.push(first + i);
        active.indexPositions.push(position);
        active.lastIndexedPosition = position;
      }
      frameStart = frameEnds[i] as number;
    }
    active.size += length;
    active.endOffset = first + count;
    active.lastTimestamp = timestamp;
    this.next = first + count;
  }

  /** One synchronous write of a batch; on failure the file is cut back to where the batch began. */
  private writeNow(active: Segment, bytes: Buffer): void {
    const startSize = active.size;
    try {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (e) {
      const details = { file: path.join(this.dir, active.file), position: startSize };
      try {
        fs.ftruncateSync(this.fd, startSize);
      } catch (e2) {
        this.failure = new EnergyMeshError('LOG_WRITE_FAILED', `bus log ${this.topic}: write failed and the file could not be cut back`, { details, cause: e2 });
        throw this.failure;
      }
      throw new EnergyMeshError('LOG_WRITE_FAILED', `bus log ${this.topic}: write failed: ${errorMessage(e)}`, { retriable: true, details, cause: e });
    }
  }

  /** Writes queued batches, one writev per run of batches for the same file, until the queue is empty. */
  private async writeQueued(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const head = this.queue[0] as PendingWrite;
        let n = 1;
        while (n < this.queue.length && n < MAX_IOVECS && (this.queue[n] as PendingWrite).fd === head.fd) n++;
        const batch = this.queue.splice(0, n);
        const buffers = batch.map((b) => b.bytes);
        try {
          await writeAll(head.fd, buffers);
        } catch (e) {
          this.failure = new EnergyMeshError('LOG_WRITE_FAILED', `bus log ${this.topic}: write failed: ${errorMessage(e)}`, {
            details: { file: path.join(this.dir, head.segment.file), position: head.segment.writtenSize },
            cause: e,
          });
          this.logger.error({ err: this.failure, topic: this.topic }, 'bus log: write failed; the log refuses appends until restarted (the restart truncates a partial record)');
          for (const b of batch) b.reject(this.failure);
          break;
        }
        let bytes = 0;
        for (const b of buffers) bytes += b.length;
        head.segment.writtenSize += bytes;
        this.written = (batch[batch.length - 1] as PendingWrite).end;
        this.dirtyBytes += bytes;
        for (const b of batch) b.resolve();
        if (head.fd !== this.fd && (this.queue[0] === undefined || (this.queue[0] as PendingWrite).fd !== head.fd)) this.retire(head.fd);
      }
      if (this.failure) {
        for (const b of this.queue.splice(0)) b.reject(this.failure);
      }
    } finally {
      this.writer = null;
    }
  }

  /** A rolled segment whose writes are all done: fsync'd and closed by the next sync (closed now with 'never'). */
  private retire(fd: number): void {
    if (this.fsync === 'never' && this.syncing === null) fs.closeSync(fd);
    else this.retiring.push(fd);
  }

  /**
   * Group commit: resolves once everything appended before the call is fsync'd. Calls arriving while an
   * fsync runs share the next one.
   */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.syncing === null) {
      const run = this.doSync();
      this.syncing = run;
      const clear = (): void => {
        if (this.syncing === run) this.syncing = null;
      };
      run.then(clear, clear);
      return run;
    }
    if (this.nextSync === null) {
      const after = (): Promise<void> => {
        this.nextSync = null;
        return this.sync();
      };
      this.nextSync = this.syncing.then(after, after);
    }
    return this.nextSync;
  }

  /** How many group-commit fsyncs ran (a metric; with group commit it grows slower than publishes). */
  get fsyncCount(): number {
    return this.fsyncs;
  }

  private async doSync(): Promise<void> {
    this.fsyncs++;
    const target = this.written;
    // Captured now: a roll during the awaits below moves this descriptor to `retiring` (closed only by a
    // later sync), and the records up to `target` are in it, not in the new one.
    const activeFd = this.fd;
    const retiring = this.retiring;
    this.retiring = [];
    const syncDir = this.dirDirty;
    this.dirDirty = false;
    this.dirtyBytes = 0;
    try {
      for (const fd of retiring) {
        await fdatasyncAsync(fd);
        await closeAsync(fd);
      }
      await fdatasyncAsync(activeFd);
      if (syncDir) await fsyncDirAsync(this.dir);
      if (target > this.durableEnd) this.durableEnd = target;
    } catch (e) {
      this.failure ??= new EnergyMeshError('LOG_WRITE_FAILED', `bus log ${this.topic}: fsync failed: ${errorMessage(e)}`, {
        details: { dir: this.dir },
        cause: e,
      });
      throw this.failure;
    }
  }

  /** Starts a new segment at the current end offset. */
  private roll(): Segment {
    const file = segmentFileName(this.next);
    const fd = fs.openSync(path.join(this.dir, file), 'a');
    const previous = this.fd;
    this.fd = fd;
    // The old descriptor is retired once its queued writes are done.
    if (!this.queue.some((w) => w.fd === previous) && this.writer === null) this.retire(previous);
    this.dirDirty = true;
    const segment = emptySegment(file, this.next);
    this.segments.push(segment);
    return segment;
  }

  /**
   * Reads up to `max` records from offset `from`, stopping before `limit`. Returns fewer at a segment
   * boundary, and none when `from` is no longer kept (retention deleted it) or not yet written.
   */
  async read(from: number, max: number, limit = this.written): Promise<StoredRecord[]> {
    if (limit > this.written) limit = this.written;
    const seg = this.segmentFor(from);
    if (seg === undefined) return [];
    // Positions of the sparse index: the last entry at or before `from`.
    let lo = 0;
    let hi = seg.indexOffsets.length - 1;
    let position = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((seg.indexOffsets[mid] as number) <= from) {
        position = seg.indexPositions[mid] as number;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const size = seg.writtenSize;
    const out: StoredRecord[] = [];
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(path.join(this.dir, seg.file), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    try {
      let chunkBytes = READ_CHUNK_BYTES;
      while (position < size && out.length < max) {
        const length = Math.min(chunkBytes, size - position);
        const buf = Buffer.allocUnsafe(length);
        const { bytesRead } = await fh.read(buf, 0, length, position);
        let p = 0;
        let progressed = false;
        while (p < bytesRead && out.length < max) {
          const r = decodeFrameAt(buf, p, bytesRead);
          if (isFrameProblem(r)) {
            if (r.problem === 'truncated' && position + bytesRead < size) break; // frame continues in next chunk
            throw corrupt(this.dir, seg.file, position + p, describeProblem(r));
          }
          if (r.offset >= limit) return out;
          if (r.offset >= from) out.push(readRecord(buf, r));
          p = r.end;
          progressed = true;
        }
        if (!progressed) chunkBytes *= 2;
        position += p;
      }
      return out;
    } finally {
      await fh.close();
    }
  }

  private segmentFor(offset: number): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segments[mid] as Segment;
      if (offset < s.baseOffset) hi = mid - 1;
      else if (offset >= s.endOffset) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  /**
   * Deletes the oldest segment (never the one being written). Returns what it held, or undefined when only
   * the active segment is left.
   */
  deleteOldestSegment(): SegmentInfo | undefined {
    if (this.segments.length <= 1) return undefined;
    const oldest = this.segments[0] as Segment;
    if (oldest.writtenSize < oldest.size) return undefined; // still being written
    const s = this.segments.shift() as Segment;
    fs.rmSync(path.join(this.dir, s.file), { force: true });
    return { file: path.join(this.dir, s.file), baseOffset: s.baseOffset, endOffset: s.endOffset, bytes: s.size, lastTimestamp: s.lastTimestamp };
  }

  /** Waits for a running fsync, fsyncs what is left (every policy: a clean stop is durable) and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      while (this.writer) await this.writer;
      if (this.nextSync) await this.nextSync.catch(() => undefined);
      if (this.syncing) await this.syncing.catch(() => undefined);
      if (!this.failure) await this.doSync().catch(() => undefined);
    } finally {
      for (const fd of this.retiring) fs.closeSync(fd);
      this.retiring = [];
      fs.closeSync(this.fd);
    }
  }

  private assertWritable(): void {
    if (this.closed) throw new EnergyMeshError('BUS_CLOSED', `bus log ${this.topic} is closed`);
    if (this.failure) throw this.failure;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

interface PendingWrite {
  segment: Segment;
  fd: number;
  bytes: Buffer;
  /** Offset after the batch. */
  end: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Linux IOV_MAX is 1024. */
const MAX_IOVECS = 1024;

/** writev until every byte is written (a write may be partial). */
async function writeAll(fd: number, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    let n = await writevAsync(fd, pending);
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (n >= b.length) n -= b.length;
      else {
        rest.push(n > 0 ? b.subarray(n) : b);
        n = 0;
      }
    }
    pending = rest;
  }
}

function writevAsync(fd: number, buffers: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => fs.writev(fd, buffers, (err, n) => (err ? reject(err) : resolve(n))));
}

function emptySegment(file: string, baseOffset: number): Segment {
  return {
    file,
    baseOffset,
    endOffset: baseOffset,
    size: 0,
    writtenSize: 0,
    lastTimestamp: 0,
    indexOffsets: [],
    indexPositions: [],
    lastIndexedPosition: -INDEX_EVERY_BYTES,
  };
}

function corrupt(dir: string, file: string, position: number, reason: string): EnergyMeshError {
  const full = path.join(dir, file);
  return new EnergyMeshError('LOG_CORRUPT', `bus log corrupt: ${full} at byte ${position}: ${reason}`, {
    details: { file: full, position, reason },
  });
}

async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Scans one segment: checks every frame, builds the sparse index, and truncates a torn tail of the last
 * segment. Throws LOG_CORRUPT otherwise.
 */
function scanSegment(dir: string, file: string, baseOffset: number, isLast: boolean): { segment: Segment; tornBytes: number } {
  const full = path.join(dir, file);
  const fd = fs.openSync(full, isLast ? 'r+' : 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const segment = emptySegment(file, baseOffset);
    let expected = baseOffset;
    let position = 0;
    let chunkBytes = SCAN_CHUNK_BYTES;
    let buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(size, 1)));
    while (position < size) {
      const length = Math.min(chunkBytes, size - position);
      if (buf.length < length) buf = Buffer.allocUnsafe(length);
      const bytesRead = fs.readSync(fd, buf, 0, length, position);
      let p = 0;
      let problem: FrameProblem | null = null;
      while (p < bytesRead) {
        const r: FrameInfo | FrameProblem = decodeFrameAt(buf, p, bytesRead);
        if (isFrameProblem(r)) {
          problem = r;
          break;
        }
        if (r.offset !== expected) {
          throw corrupt(dir, file, position + p, `record has offset ${r.offset}, expected ${expected}`);
        }
        const framePosition = position + p;
        if (framePosition - segment.lastIndexedPosition >= INDEX_EVERY_BYTES) {
          segment.indexOffsets.push(r.offset);
          segment.indexPositions.push(framePosition);
          segment.lastIndexedPosition = framePosition;
        }
        segment.lastTimestamp = r.timestamp;
        expected++;
        p = r.end;
      }
      if (problem !== null) {
        const at = position + p;
        if (problem.problem === 'truncated' && position + bytesRead < size) {
          // The frame continues past this chunk: read again from its start, with a chunk that holds it.
          if (p === 0) chunkBytes = Math.max(chunkBytes * 2, problem.needed + bytesRead);
          position = at;
          continue;
        }
        if (!isLast || !isTornTail(fd, problem, at, size)) {
          throw corrupt(dir, file, at, describeProblem(problem));
        }
        fs.ftruncateSync(fd, at);
        fs.fsyncSync(fd);
        segment.size = at;
        segment.writtenSize = at;
        segment.endOffset = expected;
        return { segment, tornBytes: size - at };
      }
      position += p;
    }
    segment.size = size;
    segment.writtenSize = size;
    segment.endOffset = expected;
    return { segment, tornBytes: 0 };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A bad frame at `at` is a torn tail when it cannot be followed by good data: the frame reaches the end of
 * the file (cut short, or its last page never written), or everything from it to the end is zero bytes
 * (space the file system extended but never filled).
 */
function isTornTail(fd: number, problem: FrameProblem, at: number, size: number): boolean {
  if (problem.problem === 'truncated') return true;
  if (problem.problem === 'crc-mismatch' || problem.problem === 'bad-format') {
    const header = Buffer.alloc(4);
    fs.readSync(fd, header, 0, 4, at);
    if (at + FRAME_HEADER_BYTES + header.readUInt32LE(0) >= size) return true;
  }
  if (problem.problem === 'bad-length' && at + FRAME_HEADER_BYTES + problem.length >= size) return true;
  const rest = Buffer.allocUnsafe(64 * 1024);
  for (let pos = at; pos < size; ) {
    const n = fs.readSync(fd, rest, 0, Math.min(rest.length, size - pos), pos);
    if (n === 0) break;
    for (let i = 0; i < n; i++) if (rest[i] !== 0) return false;
    pos += n;
  }
  return true;
}
