/**
 * The disk spool of one topic: every published record is appended here first (write-ahead), and the
 * forwarder sends it to Kafka from here in order. Built on the core's append-only, CRC-checked segmented
 * log (core/bus/durable-log.ts: a torn tail left by kill -9 is truncated at open, other damage is
 * LOG_CORRUPT) plus a position file (spool-cursor.ts) naming the first record Kafka has not acknowledged.
 *
 * Records are stored as `{key, value}` where value is the exact JSON text sent to Kafka, so a replay sends
 * the same bytes that were accepted.
 *
 * Bounds (explicit policy, applied after each forwarded batch and on a timer):
 * - forwarded segments are deleted as soon as Kafka acknowledged all of their records;
 * - `maxBytes`: with `whenFull: 'drop-oldest'` (default) the oldest segments go even when not forwarded;
 *   with `whenFull: 'reject'` publish() is refused (BUS_OVERRUN, retriable) instead, so the producer
 *   (the pipeline, the driver) sees back-pressure and nothing already accepted is dropped;
 * - `maxAgeMs`: segments whose newest record is older than this are deleted even when not forwarded.
 * Every drop is counted (`droppedRecords` in the bus health) and logged as a BUS_OVERRUN error.
 */
import * as path from 'node:path';

import { DurableLog } from '../../core/bus/durable-log.ts';
import type { FsyncPolicy } from '../../core/bus/durable-log.ts';
import { EnergyMeshError } from '../../core/errors.ts';
import type { Logger } from '../../core/logging/logger.ts';
import { SpoolCursor } from './spool-cursor.ts';

/** One record waiting to go to Kafka. */
export interface SpooledRecord {
  offset: number;
  key: string;
  /** JSON text of the value, as sent to Kafka. */
  value: string;
  /** When publish() accepted it, epoch ms (the Kafka record timestamp). */
  timestamp: number;
}

export interface SpoolPolicy {
  maxBytes: number;
  maxAgeMs: number;
  whenFull: 'drop-oldest' | 'reject';
  fsync: FsyncPolicy;
  segmentBytes: number;
  /** Records kept in memory after append so a forwarder that keeps up never reads the disk. */
  memoryRecords: number;
}

export class TopicSpool {
  private readonly log: DurableLog;
  private readonly cursor: SpoolCursor;
  /** The newest records: tail[head + i] has offset tailStart + i, up to log.endOffset. */
  private tail: SpooledRecord[] = [];
  private head = 0;
  private tailStart: number;
  droppedRecords = 0;
  lastDropAt = 0;

  constructor(
    readonly topic: string,
    readonly dir: string,
    private readonly policy: SpoolPolicy,
    private readonly logger: Logger,
  ) {
    this.log = DurableLog.open({ dir, topic, fsync: policy.fsync, segmentBytes: policy.segmentBytes, logger });
    try {
      this.cursor = new SpoolCursor(dir);
    } catch (e) {
      void this.log.close();
      throw e;
    }
    this.tailStart = this.log.endOffset;
    if (this.cursor.offset < this.log.startOffset) this.cursor.set(this.log.startOffset);
    if (this.cursor.offset > this.log.endOffset) {
      // The position is ahead of the log (the log's tail was lost): nothing to resend.
      this.logger.warn({ topic, position: this.cursor.offset, end: this.log.endOffset }, 'kafka spool: forwarded position beyond the log end; resetting');
      this.cursor.set(this.log.endOffset);
    }
  }

  /** Offset of the first record not yet acknowledged by Kafka. */
  get forwarded(): number {
    return this.cursor.offset;
  }

  get endOffset(): number {
    return this.log.endOffset;
  }

  /** Records waiting to be forwarded. */
  get backlog(): number {
    return this.log.endOffset - this.cursor.offset;
  }

  get bytes(): number {
    return this.log.bytes;
  }

  get segments(): number {
    return this.log.segmentCount;
  }

  /** True when `whenFull: 'reject'` and the spool holds `maxBytes` or more. */
  get full(): boolean {
    return this.policy.whenFull === 'reject' && this.log.bytes >= this.policy.maxBytes;
  }

  /**
   * Appends records (one write; in the page cache when this returns, so they survive kill -9) and, with
   * fsync 'always', waits for the fsync.
   */
  async append(records: readonly { key: string; value: string }[], timestamp: number): Promise<void> {
    if (this.full) {
      throw new EnergyMeshError('BUS_OVERRUN', `kafka spool of ${this.topic} is full (${this.log.bytes} bytes, limit ${this.policy.maxBytes}) and whenFull is 'reject'`, {
        retriable: true,
        details: { topic: this.topic, bytes: this.log.bytes, maxBytes: this.policy.maxBytes, backlog: this.backlog },
      });
    }
    const { first, written } = this.log.append(records, timestamp);
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as { key: string; value: string };
      this.tail.push({ offset: first + i, key: r.key, value: r.value, timestamp });
    }
    const kept = this.tail.length - this.head;
    if (kept > this.policy.memoryRecords * 1.25) this.dropTail(kept - this.policy.memoryRecords);
    await written;
    if (this.policy.fsync === 'always') await this.log.sync();
  }

  /** Up to `max` records from the forwarded position on, in order (from memory, else from disk). */
  async take(max: number): Promise<SpooledRecord[]> {
    const from = this.cursor.offset;
    const n = Math.min(max, this.log.endOffset - from);
    if (n <= 0) return [];
    if (from >= this.tailStart) {
      const i = this.head + from - this.tailStart;
      return this.tail.slice(i, i + n);
    }
    const stored = await this.log.read(from, Math.min(n, this.tailStart - from), this.log.writtenEnd);
    return stored.map((r) => ({ offset: r.offset, key: r.key, value: r.value as string, timestamp: r.timestamp }));
  }

  /** Kafka acknowledged everything before `offset`. */
  acknowledge(offset: number): void {
    if (offset <= this.cursor.offset) return;
    this.cursor.set(offset);
    if (offset > this.tailStart) this.dropTail(Math.min(offset - this.tailStart, this.tail.length - this.head));
  }

  /** Forgets the `n` oldest in-memory records (they are still on disk until retention). */
  private dropTail(n: number): void {
    this.head += n;
    this.tailStart += n;
    if (this.head === this.tail.length) {
      this.tail = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.head);
      this.head = 0;
    }
  }

  /** Deletes forwarded segments, then applies the size and age bounds (counting what they drop). */
  applyRetention(now: number): void {
    let dropped = 0;
    for (;;) {
      const infos = this.log.segmentInfos();
      if (infos.length <= 1) break;
      const oldest = infos[0] as (typeof infos)[number];
      const forwardedAll = oldest.endOffset <= this.cursor.offset;
      const tooBig = this.policy.whenFull === 'drop-oldest' && this.log.bytes > this.policy.maxBytes;
      const tooOld = oldest.lastTimestamp > 0 && now - oldest.lastTimestamp > this.policy.maxAgeMs;
      if (!forwardedAll && !tooBig && !tooOld) break;
      this.log.deleteOldestSegment();
      if (!forwardedAll) {
        const lost = oldest.endOffset - Math.max(oldest.baseOffset, this.cursor.offset);
        dropped += lost;
        this.acknowledge(oldest.endOffset);
      }
    }
    if (dropped > 0) {
      this.droppedRecords += dropped;
      this.lastDropAt = now;
      const err = new EnergyMeshError('BUS_OVERRUN', `kafka spool of ${this.topic} dropped ${dropped} records that never reached Kafka (spool bounds: maxBytes ${this.policy.maxBytes}, maxAgeMs ${this.policy.maxAgeMs})`, {
        details: { topic: this.topic, dropped, totalDropped: this.droppedRecords },
      });
      this.logger.error({ err, topic: this.topic, dropped }, err.message);
    }
  }

  /** fsync (used by the 'interval' policy's timer). */
  async sync(): Promise<void> {
    if (this.log.dirty && !this.log.failed) await this.log.sync();
  }

  async close(): Promise<void> {
    this.cursor.close();
    await this.log.close();
  }

  static dirFor(root: string, topic: string): string {
    return path.join(root, encodeURIComponent(topic));
  }
}
