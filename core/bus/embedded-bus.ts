/**
 * The embedded bus: in-process topics, each one ordered log (partition 0), optionally persisted to an
 * append-only on-disk log (durable-log.ts). Per-key order holds because every topic is totally ordered.
 *
 * Delivery: one loop per (topic, consumer group). A group has one active subscriber at a time; further
 * subscribers of the same group wait as standbys and take over, from the group's committed position, when
 * the active one closes. A batch is committed after its handler resolves (at-least-once); a handler that
 * throws gets the same batch again after an exponential back-off, and only its own group waits.
 *
 * Retention: in memory each topic is a ring of `memory.maxRecords` records; the durable log deletes whole
 * segments (retention.ts). A group that falls behind what is retained skips to the oldest record kept, and
 * the bus logs a `BUS_OVERRUN` error with the number of records the group lost and counts them in health().
 *
 * Values are passed by reference to in-process consumers (and kept in the ring): publishers must not mutate
 * a value after publishing it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { EnergyMeshError, errorMessage, isEnergyMeshError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { silentLogger } from '../logging/logger.ts';
import type { Bus, BusHealth, BusMessage, MessageHandler, PublishRecord, SubscribeOptions, Subscription } from './bus.ts';
import { DurableLog } from './durable-log.ts';
import type { FsyncPolicy } from './durable-log.ts';
import { GroupOffsetStore } from './group-offsets.ts';
import { MessageRing } from './message-ring.ts';
import { planRetention } from './retention.ts';
import type { RetentionPolicy } from './retention.ts';

export interface EmbeddedBusDurableOptions {
  /** Directory of the log: one sub-directory per topic, a LOCK file held while a bus has it open. */
  dir: string;
  /**
   * 'always': publish resolves after fsync (group commit); 'interval': fsync every `fsyncIntervalMs`;
   * 'never': leave it to the OS. Every policy survives kill -9 once publish resolved.
   */
  fsync: FsyncPolicy;
  /** Default 200 ms. */
  fsyncIntervalMs?: number;
  /** Default 64 MiB. */
  segmentBytes?: number;
  /** Default `{ maxBytes: 1 GiB, maxAgeMs: 7 days }` per topic; `{}` keeps everything. */
  retention?: RetentionPolicy;
  /** 'sync' (default) or 'async' writes: see DurableLogOptions.writes and the README. */
  writes?: 'sync' | 'async';
  /** How often age-based retention is checked, default 10 s (size-based runs at every segment roll too). */
  retentionCheckMs?: number;
}

export interface EmbeddedBusOptions {
  prefix: string;
  durable?: EmbeddedBusDurableOptions;
  memory?: {
    /**
     * In-memory bus: records kept per topic (the ring; default 100,000). Durable bus: newest records kept in
     * memory per topic so consumers that keep up never read the disk (default 50,000).
     */
    maxRecords?: number;
  };
  /** stop() waits this long for running handlers (default 10,000 ms); then it closes anyway and their batches stay uncommitted. */
  stopTimeoutMs?: number;
  /** Back-off before a failed batch is delivered again: doubles from `initialMs` (100) up to `maxMs` (5,000). */
  retry?: { initialMs?: number; maxMs?: number };
  logger?: Logger;
}

export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = { maxBytes: 1024 * 1024 * 1024, maxAgeMs: 7 * 24 * 3600 * 1000 };
const DEFAULT_MAX_BATCH = 1000;
/** health() stays degraded this long after a group lost records to retention. */
const OVERRUN_DEGRADED_MS = 60_000;

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

class GroupState {
  position: number;
  active: EmbeddedSubscription | null = null;
  standby: EmbeddedSubscription[] = [];
  retrying = false;
  redeliveries = 0;
  overrunRecords = 0;
  lastOverrunAt = 0;
  lastError: string | undefined;

  constructor(
    readonly name: string,
    position: number,
  ) {
    this.position = position;
  }
}

class Topic {
  readonly groups = new Map<string, GroupState>();
  readonly waiters = new Set<() => void>();
  segmentsSeen: number;
  retentionDroppedRecords = 0;
  ringEvicted = 0;

  constructor(
    readonly name: string,
    readonly ring: MessageRing,
    readonly log: DurableLog | null,
    readonly offsets: GroupOffsetStore | null,
    readonly committed: Map<string, number>,
  ) {
    this.segmentsSeen = log?.segmentCount ?? 0;
  }

  notify(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

class EmbeddedSubscription implements Subscription {
  closed = false;
  /** Set when stop() gave up waiting for the handler: its batch must not be committed any more. */
  abandoned = false;
  /** Wakes the loop out of a wait or back-off. */
  wake: (() => void) | null = null;
  loop: Promise<void> | null = null;
  /** The delivery loop has ended. */
  finished = false;
  closing: Promise<void> | null = null;

  constructor(
    readonly topic: string,
    readonly group: string,
    readonly maxBatch: number,
    readonly handler: MessageHandler<unknown>,
    private readonly owner: EmbeddedBus,
  ) {}

  close(): Promise<void> {
    this.closing ??= this.owner.closeSubscription(this);
    return this.closing;
  }

  dispose(): void {
    void this.close();
  }
}

/** The in-process bus (see the file comment for its guarantees). */
export class EmbeddedBus implements Bus {
  readonly kind = 'embedded';
  readonly prefix: string;
  private readonly logger: Logger;
  private readonly durable: EmbeddedBusDurableOptions | undefined;
  private readonly retention: RetentionPolicy;
  private readonly ringSize: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly stopTimeoutMs: number;
  private readonly topics = new Map<string, Topic>();
  private state: State = 'new';
  private stopping: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lockFile: string | null = null;

  constructor(options: EmbeddedBusOptions) {
    if (typeof options.prefix !== 'string' || options.prefix === '') {
      throw new EnergyMeshError('INVALID_ARGUMENT', 'embedded bus: prefix must be a non-empty string');
    }
    this.prefix = options.prefix;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'bus.embedded' });
    this.durable = options.durable;
    this.retention = options.durable?.retention ?? DEFAULT_RETENTION;
    this.ringSize = options.memory?.maxRecords ?? (options.durable ? 50_000 : 100_000);
    this.retryInitialMs = options.retry?.initialMs ?? 100;
    this.retryMaxMs = options.retry?.maxMs ?? 5000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    if (options.durable && !['always', 'interval', 'never'].includes(options.durable.fsync)) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `embedded bus: fsync must be 'always', 'interval' or 'never', got ${String(options.durable.fsync)}`);
    }
  }

  /** Opens the durable log (scanning every topic: a damaged log fails here with LOG_CORRUPT). */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    if (this.state !== 'new') throw new EnergyMeshError('BUS_CLOSED', `embedded bus cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      if (this.durable) {
        fs.mkdirSync(this.durable.dir, { recursive: true });
        this.acquireLock(this.durable.dir);
        for (const entry of fs.readdirSync(this.durable.dir, { withFileTypes: true })) {
          if (entry.isDirectory()) this.openTopic(decodeURIComponent(entry.name));
        }
        if (this.durable.fsync === 'interval') {
          this.timers.push(setInterval(() => this.syncTick(), this.durable.fsyncIntervalMs ?? 200).unref());
        }
        this.timers.push(setInterval(() => this.retentionTick(), this.durable.retentionCheckMs ?? 10_000).unref());
      }
      this.state = 'running';
      this.logger.info({ durable: this.durable?.dir ?? false, fsync: this.durable?.fsync, topics: this.topics.size }, 'embedded bus started');
    } catch (e) {
      await this.closeTopics();
      this.topics.clear();
      this.releaseLock();
      this.state = 'new';
      throw e;
    }
  }

  /** Stops delivery, waits for running handlers, commits, fsyncs and closes the log. */
  stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const closing: Promise<void>[] = [];
    const active: EmbeddedSubscription[] = [];
    for (const topic of this.topics.values()) {
      for (const g of topic.groups.values()) {
        for (const s of g.standby) s.closed = true;
        g.standby = [];
        if (g.active) {
          active.push(g.active);
          closing.push(g.active.close());
        }
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(closing).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const stuck = active.filter((s) => !s.finished);
      for (const s of stuck) s.abandoned = true;
      this.logger.warn(
        { groups: stuck.map((s) => `${s.topic}/${s.group}`), timeoutMs: this.stopTimeoutMs },
        'embedded bus: stop gave up waiting for running handlers; their batches stay uncommitted and will be delivered again',
      );
    }
    await this.closeTopics();
    this.releaseLock();
    this.state = 'stopped';
    this.logger.info('embedded bus stopped');
  }

  private async closeTopics(): Promise<void> {
    for (const topic of this.topics.values()) {
      if (topic.log) {
        try {
          await topic.log.close();
          await topic.offsets?.close();
        } catch (e) {
          this.logger.error({ err: e, topic: topic.name }, 'embedded bus: closing the log failed');
        }
      }
    }
  }

  async publish<T>(topic: string, records: readonly PublishRecord<T>[]): Promise<void> {
    this.assertRunning('publish');
    if (!Array.isArray(records)) throw new EnergyMeshError('INVALID_ARGUMENT', 'publish: records must be an array');
    const n = records.length;
    if (n === 0) return;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      if (r === null || typeof r !== 'object' || typeof r.key !== 'string') {
        throw new EnergyMeshError('INVALID_ARGUMENT', `publish to ${topic}: record ${i} has no string key`, { details: { topic, index: i } });
      }
    }
    const t = this.topicFor(topic);
    const timestamp = Date.now();
    let first: number;
    let written: Promise<void> | undefined;
    if (t.log) {
      try {
        ({ first, written } = t.log.append(records, timestamp));
      } catch (e) {
        if (e instanceof RangeError) throw new EnergyMeshError('INVALID_ARGUMENT', `publish to ${topic}: ${e.message}`, { details: { topic }, cause: e });
        throw e;
      }
    } else {
      first = t.ring.endOffset;
    }
    const messages = new Array<BusMessage>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i] as PublishRecord<T>;
      messages[i] = { topic, key: r.key, value: r.value, offset: first + i, partition: 0, timestamp };
    }
    t.ringEvicted += t.ring.push(messages);
    if (t.log) {
      if (t.log.segmentCount !== t.segmentsSeen) {
        t.segmentsSeen = t.log.segmentCount;
        this.applyRetention(t);
      }
      await written;
      if (this.durable?.fsync === 'always') await t.log.sync();
    }
    t.notify();
  }

  async subscribe<T>(topic: string, options: SubscribeOptions, handler: MessageHandler<T>): Promise<Subscription> {
    this.assertRunning('subscribe');
    if (typeof options?.group !== 'string' || options.group === '') {
      throw new EnergyMeshError('INVALID_ARGUMENT', `subscribe to ${topic}: group must be a non-empty string`);
    }
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `subscribe to ${topic}: maxBatch must be a positive integer`);
    }
    if (typeof handler !== 'function') throw new EnergyMeshError('INVALID_ARGUMENT', `subscribe to ${topic}: handler must be a function`);
    const t = this.topicFor(topic);
    let g = t.groups.get(options.group);
    if (g === undefined) {
      const committed = t.committed.get(options.group);
      const position = committed ?? (options.fromBeginning ? this.startOffset(t) : this.visibleEnd(t));
      g = new GroupState(options.group, position);
      t.groups.set(options.group, g);
      // A new group's starting point is committed at once, so records published before a crash are not skipped.
      if (committed === undefined) await this.commit(t, g, position);
    }
    const sub = new EmbeddedSubscription(topic, options.group, maxBatch, handler as MessageHandler<unknown>, this);
    if (g.active === null) this.activate(t, g, sub);
    else {
      g.standby.push(sub);
      this.logger.debug({ topic, group: g.name }, 'embedded bus: subscriber waits as standby (one active subscriber per group)');
    }
    return sub;
  }

  /** @internal Called by EmbeddedSubscription.close(). */
  async closeSubscription(sub: EmbeddedSubscription): Promise<void> {
    sub.closed = true;
    sub.wake?.();
    const t = this.topics.get(sub.topic);
    const g = t?.groups.get(sub.group);
    if (t === undefined || g === undefined) return;
    if (g.active !== sub) {
      g.standby = g.standby.filter((s) => s !== sub);
      return;
    }
    await sub.loop;
    g.active = null;
    g.retrying = false;
    let next = g.standby.shift();
    while (next !== undefined && next.closed) next = g.standby.shift();
    if (next !== undefined && this.state === 'running') this.activate(t, g, next);
  }

  health(): BusHealth {
    const details: Record<string, number | string | boolean> = { durable: this.durable !== undefined, topics: this.topics.size };
    if (this.durable) details.fsync = this.durable.fsync;
    if (this.state !== 'running') return { state: 'down', reason: `embedded bus is ${this.state}`, details };
    const problems: string[] = [];
    const now = Date.now();
    for (const t of this.topics.values()) {
      const start = this.startOffset(t);
      const end = this.visibleEnd(t);
      details[`${t.name}.records`] = end - start;
      details[`${t.name}.startOffset`] = start;
      details[`${t.name}.endOffset`] = end;
      if (t.log) {
        details[`${t.name}.bytes`] = t.log.bytes;
        details[`${t.name}.segments`] = t.log.segmentCount;
        details[`${t.name}.fsyncs`] = t.log.fsyncCount;
        details[`${t.name}.retentionDroppedRecords`] = t.retentionDroppedRecords;
        if (t.log.failed) problems.push(`log of ${t.name} failed: ${t.log.failed.message}`);
        if (t.offsets?.lastFlushError !== undefined) problems.push(`fsync of group offsets of ${t.name} failed: ${errorMessage(t.offsets.lastFlushError)}`);
      } else {
        details[`${t.name}.evictedRecords`] = t.ringEvicted;
      }
      for (const g of t.groups.values()) {
        const p = `${t.name}.group.${g.name}`;
        details[`${p}.lag`] = Math.max(0, end - g.position);
        details[`${p}.active`] = g.active !== null;
        details[`${p}.redeliveries`] = g.redeliveries;
        details[`${p}.overrunRecords`] = g.overrunRecords;
        if (g.retrying) problems.push(`handler of group ${g.name} on ${t.name} is failing: ${g.lastError ?? ''}`);
        if (g.overrunRecords > 0 && now - g.lastOverrunAt < OVERRUN_DEGRADED_MS) {
          problems.push(`group ${g.name} on ${t.name} lost ${g.overrunRecords} records to retention`);
        }
      }
    }
    if (problems.length > 0) return { state: 'degraded', reason: problems.join('; '), details };
    return { state: 'up', details };
  }

  // ---------------------------------------------------------------------------------------------------------

  private assertRunning(what: string): void {
    if (this.state !== 'running') {
      throw new EnergyMeshError('BUS_CLOSED', `embedded bus: cannot ${what}, the bus is ${this.state === 'new' ? 'not started' : this.state}`, {
        retriable: this.state === 'new' || this.state === 'starting',
      });
    }
  }

  private topicFor(name: string): Topic {
    const t = this.topics.get(name);
    if (t !== undefined) return t;
    if (typeof name !== 'string' || name === '' || name === '.' || name === '..') {
      throw new EnergyMeshError('INVALID_ARGUMENT', `embedded bus: invalid topic name ${JSON.stringify(name)}`);
    }
    return this.openTopic(name);
  }

  private openTopic(name: string): Topic {
    if (!this.durable) {
      const t = new Topic(name, new MessageRing(this.ringSize), null, null, new Map());
      this.topics.set(name, t);
      return t;
    }
    const dir = path.join(this.durable.dir, encodeURIComponent(name));
    const log = DurableLog.open({ dir, topic: name, fsync: this.durable.fsync, segmentBytes: this.durable.segmentBytes, writes: this.durable.writes, logger: this.logger });
    let committed: Map<string, number>;
    let offsets: GroupOffsetStore;
    try {
      offsets = new GroupOffsetStore(dir, this.durable.fsync);
      committed = offsets.load();
    } catch (e) {
      void log.close();
      throw e;
    }
    const t = new Topic(name, new MessageRing(this.ringSize, log.endOffset), log, offsets, committed);
    this.topics.set(name, t);
    this.logger.info(
      { topic: name, startOffset: log.startOffset, endOffset: log.endOffset, bytes: log.bytes, segments: log.segmentCount, groups: committed.size },
      'embedded bus: topic log opened',
    );
    return t;
  }

  private startOffset(t: Topic): number {
    return t.log ? t.log.startOffset : t.ring.startOffset;
  }

  /** Consumers see records up to here: with fsync 'always' only what is fsync'd. */
  private visibleEnd(t: Topic): number {
    if (!t.log) return t.ring.endOffset;
    return this.durable?.fsync === 'always' ? t.log.syncedEnd : t.log.writtenEnd;
  }

  private async read(t: Topic, from: number, max: number): Promise<BusMessage[]> {
    const limit = this.visibleEnd(t);
    const n = Math.min(max, limit - from);
    if (n <= 0) return [];
    if (from >= t.ring.startOffset) return t.ring.read(from, n);
    if (!t.log) return [];
    const stored = await t.log.read(from, n, limit);
    const out = new Array<BusMessage>(stored.length);
    for (let i = 0; i < stored.length; i++) {
      const r = stored[i] as (typeof stored)[number];
      out[i] = { topic: t.name, key: r.key, value: r.value, offset: r.offset, partition: 0, timestamp: r.timestamp };
    }
    return out;
  }

  private activate(t: Topic, g: GroupState, sub: EmbeddedSubscription): void {
    g.active = sub;
    sub.loop = this.deliver(t, g, sub)
      .catch((e: unknown) => {
        this.logger.error({ err: e, topic: t.name, group: g.name }, 'embedded bus: delivery loop ended by an error');
      })
      .finally(() => {
        sub.finished = true;
      });
  }

  /** Waits until `ms` passed or the subscription is closed. */
  private sleep(sub: EmbeddedSubscription, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        sub.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      sub.wake = done;
    });
  }

  /** Waits until the topic has new records or the subscription is closed. */
  private waitForData(t: Topic, sub: EmbeddedSubscription): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        t.waiters.delete(done);
        sub.wake = null;
        resolve();
      };
      t.waiters.add(done);
      sub.wake = done;
    });
  }

  private async deliver(t: Topic, g: GroupState, sub: EmbeddedSubscription): Promise<void> {
    let backoff = this.retryInitialMs;
    let attempt = 0;
    while (!sub.closed) {
      const start = this.startOffset(t);
      if (g.position < start) await this.overrun(t, g, start);
      if (g.position >= this.visibleEnd(t)) {
        await this.waitForData(t, sub);
        continue;
      }
      let batch: BusMessage[];
      try {
        batch = await this.read(t, g.position, sub.maxBatch);
      } catch (e) {
        g.lastError = errorMessage(e);
        this.logger.error({ err: e, topic: t.name, group: g.name, offset: g.position }, 'embedded bus: reading the log failed; retrying after back-off');
        await this.sleep(sub, this.retryMaxMs);
        continue;
      }
      if (batch.length === 0) {
        // The records were deleted by retention while we read them: the next turn notices the overrun.
        if (g.position >= this.startOffset(t)) await this.sleep(sub, this.retryInitialMs);
        continue;
      }
      if (sub.closed) break;
      try {
        await sub.handler(batch);
      } catch (e) {
        attempt++;
        g.retrying = true;
        g.redeliveries++;
        g.lastError = errorMessage(e);
        this.logger.warn(
          { err: e, topic: t.name, group: g.name, offset: (batch[0] as BusMessage).offset, records: batch.length, attempt, backoffMs: backoff },
          'embedded bus: handler failed; the same batch will be delivered again after back-off',
        );
        if (sub.abandoned) break;
        await this.sleep(sub, backoff);
        backoff = Math.min(backoff * 2, this.retryMaxMs);
        continue;
      }
      if (attempt > 0) {
        this.logger.info({ topic: t.name, group: g.name, attempts: attempt + 1 }, 'embedded bus: handler recovered');
        attempt = 0;
        backoff = this.retryInitialMs;
        g.retrying = false;
      }
      if (sub.abandoned) break;
      g.position = (batch[batch.length - 1] as BusMessage).offset + 1;
      await this.commit(t, g, g.position);
    }
  }

  private async overrun(t: Topic, g: GroupState, start: number): Promise<void> {
    const lost = start - g.position;
    g.overrunRecords += lost;
    g.lastOverrunAt = Date.now();
    const err = new EnergyMeshError(
      'BUS_OVERRUN',
      `consumer group ${g.name} fell behind the retention of ${t.name}: ${lost} records were deleted before it read them`,
      { details: { topic: t.name, group: g.name, from: g.position, resumeAt: start, lost } },
    );
    this.logger.error({ err, topic: t.name, group: g.name, lost }, err.message);
    g.position = start;
    await this.commit(t, g, start);
  }

  private async commit(t: Topic, g: GroupState, offset: number): Promise<void> {
    t.committed.set(g.name, offset);
    if (!t.offsets) return;
    try {
      await t.offsets.commit(g.name, offset);
    } catch (e) {
      this.logger.error({ err: e, topic: t.name, group: g.name, offset }, 'embedded bus: committing the group offset failed');
    }
  }

  private syncTick(): void {
    for (const t of this.topics.values()) {
      if (t.log?.dirty && !t.log.failed) {
        t.log.sync().catch((e: unknown) => this.logger.error({ err: e, topic: t.name }, 'embedded bus: fsync failed'));
      }
      t.offsets?.flush().catch((e: unknown) => this.logger.error({ err: e, topic: t.name }, 'embedded bus: fsync of group offsets failed'));
    }
  }

  private retentionTick(): void {
    for (const t of this.topics.values()) this.applyRetention(t);
  }

  private applyRetention(t: Topic): void {
    if (!t.log) return;
    const plan = planRetention(t.log.segmentInfos(), t.committed, this.retention, Date.now());
    if (plan.deleteSegments === 0) return;
    let records = 0;
    let bytes = 0;
    try {
      for (let i = 0; i < plan.deleteSegments; i++) {
        const s = t.log.deleteOldestSegment();
        if (s === undefined) break;
        records += s.endOffset - s.baseOffset;
        bytes += s.bytes;
      }
    } catch (e) {
      this.logger.error({ err: e, topic: t.name }, 'embedded bus: deleting an old segment failed');
    }
    t.segmentsSeen = t.log.segmentCount;
    this.logger.info({ topic: t.name, segments: plan.deleteSegments, records, bytes }, 'embedded bus: retention deleted old segments');
    for (const [group, lost] of plan.droppedByGroup) {
      t.retentionDroppedRecords += lost;
      this.logger.warn(
        { topic: t.name, group, lost, maxBytes: this.retention.maxBytes },
        `embedded bus: retention (maxBytes) deleted ${lost} records that group ${group} had not consumed yet`,
      );
    }
  }

  private acquireLock(dir: string): void {
    const file = path.join(dir, 'LOCK');
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new EnergyMeshError('LOG_LOCKED', `bus log ${dir} is in use by process ${holder}`, { details: { dir, pid: holder } });
      }
      this.logger.warn({ dir, previousPid: holder }, 'embedded bus: taking over the lock of a process that ended without stopping');
      fs.writeFileSync(file, String(process.pid));
    }
    this.lockFile = file;
  }

  private releaseLock(): void {
    if (this.lockFile === null) return;
    try {
      fs.rmSync(this.lockFile, { force: true });
    } catch (e) {
      this.logger.warn({ err: e, file: this.lockFile }, 'embedded bus: could not remove the lock file');
    }
    this.lockFile = null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `e` is the bus refusing work because it is stopped. */
export function isBusClosed(e: unknown): boolean {
  return isEnergyMeshError(e, 'BUS_CLOSED');
}
