/**
 * The Kafka bus: the core's Bus interface over Apache Kafka (kafkajs), with a write-ahead disk spool.
 *
 * Publish path: publish() appends the records to the topic's spool on disk (topic-spool.ts) and resolves;
 * one forwarder per topic sends the spool to Kafka in order, one produce request at a time (acks=all by
 * default), and advances the spool's forwarded position when Kafka acknowledges. While the broker is
 * unreachable (or a send fails after kafkajs' short retries) the forwarder backs off and retries the same
 * batch; publish() keeps resolving from the spool, so new records queue behind the spooled ones and per-key
 * order holds. After a restart (kill -9 included) the forwarder resumes at the saved position.
 * Guarantee: at-least-once into Kafka (a batch acknowledged by Kafka just before a crash, whose position
 * was not saved yet, is sent again); effectively-once for consumers that de-duplicate by (deviceId, seq)
 * (dedup-window.ts; `subscribe(..., { dedup: true })` does it for you).
 *
 * Why write-ahead (every record goes through the spool, not only during an outage): the healthy path and
 * the outage path are then the same code, which is the code the outage tests exercise; publish() latency is
 * a page-cache write, not a broker round trip; and nothing accepted can be lost between "the send failed"
 * and "the records reached the spool".
 *
 * Ordering: one produce request in flight per topic. With several in flight a failed request retried after
 * a later one succeeded would put older records behind newer ones, and a (deviceId, seq) high-water dedup
 * would then drop the older ones as duplicates.
 *
 * Consume path: subscribe() runs a kafkajs consumer in the given group (instances sharing a group share the
 * partitions); each batch goes to the handler and its offset is committed after the handler resolves; a
 * handler that rejects gets the same records again after a back-off (heartbeats continue; a rebalance
 * hands the uncommitted records to the partition's new owner). Records that are not JSON, or on the
 * telemetry topic not TelemetryRecords, go to `<prefix>.deadletter` with the reason in a header.
 *
 * Error policy: broker failures never reach publish() (they are spooled) nor subscribe() (the consumer is
 * supervised and reconnects with back-off); they show in health(). publish() throws only for bad
 * arguments, a stopped bus, a spool write failure, or a full spool with `whenFull: 'reject'`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CompressionTypes, Kafka, Partitioners } from 'kafkajs';
import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage, Producer } from 'kafkajs';

import type { Bus, BusHealth, BusMessage, MessageHandler, PublishRecord, SubscribeOptions, Subscription } from '../../core/bus/bus.ts';
import { EnergyMeshError, errorMessage } from '../../core/errors.ts';
import type { Logger } from '../../core/logging/logger.ts';
import { silentLogger } from '../../core/logging/logger.ts';
import { DedupWindow, deviceSeqOf } from './dedup-window.ts';
import { FetchLoopGuard } from './fetch-loop-guard.ts';
import { kafkaClientConfig } from './kafka-bus-options.ts';
import type { KafkaBusConfig } from './kafka-bus-options.ts';
import { checkRecord } from './record-check.ts';
import { TopicSpool } from './topic-spool.ts';
import type { SpooledRecord } from './topic-spool.ts';

/** Subscribe options of the Kafka bus: the core's, plus de-duplication by (deviceId, seq). */
export interface KafkaSubscribeOptions extends SubscribeOptions {
  /**
   * Drop records whose (deviceId, seq) is at or below the highest handled for that device (see dedup-window.ts).
   * The high-waters are journaled under `<dataDir>/kafka-dedup/<group>/<topic>.jsonl` before each offset
   * commit, so they survive a restart.
   */
  dedup?: boolean;
}

export interface KafkaBusOptions {
  prefix: string;
  /** Where the spool lives when `config.spool.dir` is not set: `<dataDir>/kafka-spool`. */
  dataDir: string;
  config: KafkaBusConfig;
  logger?: Logger;
  /**
   * Diagnostics: sees every kafkajs log line of the bus's consumers, debug included, with the consumer's
   * group (the stop test uses it to stop the bus at a chosen moment of kafkajs' fetch loop).
   */
  consumerLogTap?: (group: string, entry: { namespace: string; label: string; message: string }) => void;
}

/** Header names on dead-lettered records. */
export const DEAD_LETTER_HEADERS = {
  reason: 'energymesh-deadletter-reason',
  topic: 'energymesh-deadletter-topic',
  partition: 'energymesh-deadletter-partition',
  offset: 'energymesh-deadletter-offset',
  group: 'energymesh-deadletter-group',
} as const;

const DEFAULT_MAX_BATCH = 1000;
/** health() stays degraded this long after the spool dropped records. */
const DROP_DEGRADED_MS = 60_000;

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

class Forwarder {
  wake: (() => void) | null = null;
  loop: Promise<void> | null = null;
  sentRecords = 0;
  sendFailures = 0;
  failingSince = 0;
  lastError: string | undefined;

  constructor(readonly spool: TopicSpool) {}

  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

class KafkaSubscription implements Subscription {
  closed = false;
  consumer: Consumer | null = null;
  supervisor: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Wakes a back-off sleep. */
  wake: (() => void) | null = null;
  /** Ends the supervisor's wait on a running consumer (crash or close). */
  release: (() => void) | null = null;
  readonly lagByPartition = new Map<number, number>();
  readonly dedup: DedupWindow | null;
  guard: FetchLoopGuard | null = null;
  /** Times a fetch-loop guard ended a kafkajs fetch loop at a stop (see fetch-loop-guard.ts). */
  fetchLoopAborts = 0;
  delivered = 0;
  redeliveries = 0;
  deadLettered = 0;
  failing = false;
  lastError: string | undefined;
  connected = false;

  constructor(
    readonly topic: string,
    readonly group: string,
    readonly options: KafkaSubscribeOptions,
    readonly handler: MessageHandler<unknown>,
    private readonly owner: KafkaBus,
    dedupFile: string,
  ) {
    this.dedup = options.dedup ? DedupWindow.open(dedupFile) : null;
  }

  get lag(): number {
    let n = 0;
    for (const l of this.lagByPartition.values()) n += l;
    return n;
  }

  close(): Promise<void> {
    this.closing ??= this.owner.closeSubscription(this);
    return this.closing;
  }

  dispose(): void {
    void this.close();
  }
}

/** The Kafka implementation of the bus (see the file comment for its guarantees). */
export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  readonly prefix: string;
  private readonly config: KafkaBusConfig;
  private readonly logger: Logger;
  private readonly spoolDir: string;
  private readonly dataDir: string;
  private readonly kafka: Kafka;
  private readonly consumerLogTap: KafkaBusOptions['consumerLogTap'];
  private readonly forwarders = new Map<string, Forwarder>();
  private readonly subscriptions = new Set<KafkaSubscription>();
  private producer: Producer | null = null;
  private producerConnecting: Promise<Producer> | null = null;
  private state: State = 'new';
  private stopping: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lockFile: string | null = null;
  private deadLetterTopic: string;
  private deadLettered = 0;
  /** Times a consumer's fetch loop was ended at a stop because kafkajs would have spun (fetch-loop-guard.ts). */
  fetchLoopAborts = 0;

  constructor(options: KafkaBusOptions) {
    if (typeof options.prefix !== 'string' || options.prefix === '') {
      throw new EnergyMeshError('INVALID_ARGUMENT', 'kafka bus: prefix must be a non-empty string');
    }
    this.prefix = options.prefix;
    this.config = options.config;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'bus.kafka' });
    this.spoolDir = options.config.spool.dir ?? path.join(options.dataDir, 'kafka-spool');
    this.dataDir = options.dataDir;
    this.kafka = new Kafka(kafkaClientConfig(options.config, this.logger));
    this.deadLetterTopic = `${this.prefix}.deadletter`;
    this.consumerLogTap = options.consumerLogTap;
  }

  /** Opens the spool of every topic found on disk and starts forwarding what it holds. */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    if (this.state !== 'new') throw new EnergyMeshError('BUS_CLOSED', `kafka bus cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      fs.mkdirSync(this.spoolDir, { recursive: true });
      this.acquireLock();
      for (const entry of fs.readdirSync(this.spoolDir, { withFileTypes: true })) {
        if (entry.isDirectory()) this.forwarderFor(decodeURIComponent(entry.name));
      }
      if (this.config.spool.fsync === 'interval') {
        this.timers.push(setInterval(() => this.syncTick(), this.config.spool.fsyncIntervalMs).unref());
      }
      this.timers.push(setInterval(() => this.retentionTick(), 5000).unref());
      this.state = 'running';
      for (const f of this.forwarders.values()) this.runForwarder(f);
      const backlog = [...this.forwarders.values()].reduce((n, f) => n + f.spool.backlog, 0);
      this.logger.info({ brokers: this.config.brokers, spool: this.spoolDir, topics: this.forwarders.size, backlog }, 'kafka bus started');
    } catch (e) {
      await this.closeSpools();
      this.releaseLock();
      this.state = 'new';
      throw e;
    }
  }

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
    // Bounded: a consumer that cannot reach the broker to leave its group must not hold the stop forever
    // (its uncommitted records are delivered again to the group, at-least-once).
    await settleWithin(Promise.all([...this.subscriptions].map((s) => s.close())), 10_000);
    // Give the forwarders a moment to send what is spooled (what is left stays in the spool for next start).
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && [...this.forwarders.values()].some((f) => f.spool.backlog > 0 && f.failingSince === 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.state = 'stopped';
    for (const f of this.forwarders.values()) f.notify();
    await settleWithin(Promise.all([...this.forwarders.values()].map((f) => f.loop)), 10_000);
    await settleWithin(this.disconnectProducer(), 5000);
    await this.closeSpools();
    this.releaseLock();
    this.logger.info('kafka bus stopped');
  }

  private async closeSpools(): Promise<void> {
    for (const f of this.forwarders.values()) {
      await f.spool.close().catch((e: unknown) => this.logger.error({ err: e, topic: f.spool.topic }, 'kafka bus: closing the spool failed'));
    }
  }

  async publish<T>(topic: string, records: readonly PublishRecord<T>[]): Promise<void> {
    this.assertRunning('publish');
    if (!Array.isArray(records)) throw new EnergyMeshError('INVALID_ARGUMENT', 'publish: records must be an array');
    if (records.length === 0) return;
    const max = this.config.producer.maxRecordBytes;
    const encoded = new Array<{ key: string; value: string }>(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (r === null || typeof r !== 'object' || typeof r.key !== 'string') {
        throw new EnergyMeshError('INVALID_ARGUMENT', `publish to ${topic}: record ${i} has no string key`, { details: { topic, index: i } });
      }
      const value = JSON.stringify(r.value);
      if (value === undefined) throw new EnergyMeshError('INVALID_ARGUMENT', `publish to ${topic}: record ${i} has no JSON value`, { details: { topic, index: i } });
      if (value.length > max) {
        throw new EnergyMeshError('INVALID_ARGUMENT', `publish to ${topic}: record ${i} is larger than producer.maxRecordBytes (${max})`, {
          details: { topic, index: i, bytes: value.length, max },
        });
      }
      encoded[i] = { key: r.key, value };
    }
    const f = this.forwarderFor(topic);
    await f.spool.append(encoded, Date.now());
    f.notify();
  }

  async subscribe<T>(topic: string, options: KafkaSubscribeOptions, handler: MessageHandler<T>): Promise<Subscription> {
    this.assertRunning('subscribe');
    if (typeof options?.group !== 'string' || options.group === '') {
      throw new EnergyMeshError('INVALID_ARGUMENT', `subscribe to ${topic}: group must be a non-empty string`);
    }
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new EnergyMeshError('INVALID_ARGUMENT', `subscribe to ${topic}: maxBatch must be a positive integer`);
    if (typeof handler !== 'function') throw new EnergyMeshError('INVALID_ARGUMENT', `subscribe to ${topic}: handler must be a function`);
    const dedupFile = path.join(this.dataDir, 'kafka-dedup', encodeURIComponent(options.group), `${encodeURIComponent(topic)}.jsonl`);
    const sub = new KafkaSubscription(topic, options.group, { ...options, maxBatch }, handler as MessageHandler<unknown>, this, dedupFile);
    this.subscriptions.add(sub);
    sub.supervisor = this.supervise(sub);
    return sub;
  }

  /** @internal Called by KafkaSubscription.close(). */
  async closeSubscription(sub: KafkaSubscription): Promise<void> {
    sub.closed = true;
    sub.guard?.markStopping();
    sub.wake?.();
    sub.release?.();
    await sub.supervisor;
    sub.dedup?.close();
    this.subscriptions.delete(sub);
  }

  health(): BusHealth {
    const details: Record<string, number | string | boolean> = { brokers: this.config.brokers.join(','), spoolDir: this.spoolDir };
    if (this.state !== 'running') return { state: 'down', reason: `kafka bus is ${this.state}`, details };
    const problems: string[] = [];
    const now = Date.now();
    let backlog = 0;
    let dropped = 0;
    let failing = false;
    let lastError: string | undefined;
    for (const f of this.forwarders.values()) {
      const t = f.spool.topic;
      backlog += f.spool.backlog;
      dropped += f.spool.droppedRecords;
      details[`${t}.spooled`] = f.spool.backlog;
      details[`${t}.spoolBytes`] = f.spool.bytes;
      details[`${t}.forwarded`] = f.sentRecords;
      details[`${t}.sendFailures`] = f.sendFailures;
      details[`${t}.dropped`] = f.spool.droppedRecords;
      if (f.failingSince > 0) {
        failing = true;
        lastError = f.lastError;
      }
      if (f.spool.droppedRecords > 0 && now - f.spool.lastDropAt < DROP_DEGRADED_MS) {
        problems.push(`spool of ${t} dropped ${f.spool.droppedRecords} records (bounds reached)`);
      }
    }
    details.connected = !failing;
    details.spooledRecords = backlog;
    details.droppedRecords = dropped;
    details.deadLettered = this.deadLettered;
    details.fetchLoopAborts = this.fetchLoopAborts;
    details.spooling = failing || backlog > this.config.spool.warnRecords;
    if (lastError !== undefined) details.lastError = lastError;
    if (failing) problems.push(`spooling: broker unreachable (${lastError ?? 'send failed'}); ${backlog} records wait in the spool`);
    else if (backlog > this.config.spool.warnRecords) problems.push(`spooling: ${backlog} records wait in the spool`);
    let lagging = false;
    for (const s of this.subscriptions) {
      const p = `${s.topic}.group.${s.group}`;
      details[`${p}.lag`] = s.lag;
      details[`${p}.connected`] = s.connected;
      details[`${p}.redeliveries`] = s.redeliveries;
      details[`${p}.deadLettered`] = s.deadLettered;
      if (s.dedup) details[`${p}.duplicatesDropped`] = s.dedup.duplicates;
      if (s.lag > this.config.consumer.lagWarnRecords) {
        lagging = true;
        problems.push(`lagging: group ${s.group} on ${s.topic} is ${s.lag} records behind`);
      }
      if (s.failing) problems.push(`handler of group ${s.group} on ${s.topic} is failing: ${s.lastError ?? ''}`);
      else if (!s.connected) problems.push(`consumer of group ${s.group} on ${s.topic} is not connected${s.lastError ? `: ${s.lastError}` : ''}`);
    }
    details.lagging = lagging;
    if (problems.length > 0) return { state: 'degraded', reason: problems.join('; '), details };
    return { state: 'up', details };
  }

  // ------------------------------------------------------------------------------------------------------
  // Forwarding

  private forwarderFor(topic: string): Forwarder {
    const existing = this.forwarders.get(topic);
    if (existing !== undefined) return existing;
    if (typeof topic !== 'string' || topic === '') throw new EnergyMeshError('INVALID_ARGUMENT', 'kafka bus: topic must be a non-empty string');
    const s = this.config.spool;
    const spool = new TopicSpool(
      topic,
      TopicSpool.dirFor(this.spoolDir, topic),
      { maxBytes: s.maxBytes, maxAgeMs: s.maxAgeMs, whenFull: s.whenFull, fsync: s.fsync, segmentBytes: s.segmentBytes, memoryRecords: s.memoryRecords },
      this.logger,
    );
    const f = new Forwarder(spool);
    this.forwarders.set(topic, f);
    if (spool.backlog > 0) this.logger.info({ topic, backlog: spool.backlog }, 'kafka bus: spool holds records not yet in Kafka; forwarding them first');
    if (this.state === 'running') this.runForwarder(f);
    return f;
  }

  private runForwarder(f: Forwarder): void {
    if (f.loop !== null) return;
    f.loop = this.forward(f).catch((e: unknown) => {
      this.logger.error({ err: e, topic: f.spool.topic }, 'kafka bus: forwarder ended by an error');
    });
  }

  private async forward(f: Forwarder): Promise<void> {
    const { batchSize, lingerMs } = this.config.producer;
    let backoff = this.config.retry.initialMs;
    while (this.state === 'running' || (this.state === 'stopping' && f.spool.backlog > 0 && f.failingSince === 0)) {
      if (f.spool.backlog === 0) {
        await new Promise<void>((resolve) => (f.wake = resolve));
        if (lingerMs > 0 && f.spool.backlog < batchSize && this.state === 'running') await delay(lingerMs);
        continue;
      }
      let batch;
      try {
        batch = await f.spool.take(batchSize);
      } catch (e) {
        f.lastError = `reading the spool failed: ${errorMessage(e)}`;
        this.logger.error({ err: e, topic: f.spool.topic }, 'kafka bus: reading the spool failed; retrying');
        await this.sleep(f, this.config.retry.maxMs);
        continue;
      }
      if (batch.length === 0) {
        // Records not readable yet (a spool write still queued) or gone: wait on a timer, never spin on microtasks.
        await this.sleep(f, 10);
        continue;
      }
      try {
        const producer = await this.connectedProducer();
        await producer.send({
          topic: f.spool.topic,
          acks: this.config.producer.acks === 'all' ? -1 : 1,
          timeout: this.config.producer.timeoutMs,
          compression: this.config.producer.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          messages: toMessages(batch),
        });
      } catch (e) {
        f.sendFailures++;
        f.lastError = errorMessage(e);
        if (f.failingSince === 0) {
          f.failingSince = Date.now();
          this.logger.warn({ err: f.lastError, topic: f.spool.topic, backlog: f.spool.backlog }, 'kafka bus: cannot reach Kafka; records stay in the spool and are sent when it is back');
        }
        await this.resetProducer();
        await this.sleep(f, backoff);
        backoff = Math.min(backoff * 2, this.config.retry.maxMs);
        continue;
      }
      const last = batch[batch.length - 1] as (typeof batch)[number];
      f.spool.acknowledge(last.offset + 1);
      f.sentRecords += batch.length;
      if (f.failingSince > 0) {
        this.logger.info({ topic: f.spool.topic, outageMs: Date.now() - f.failingSince, backlog: f.spool.backlog }, 'kafka bus: Kafka reachable again; draining the spool');
        f.failingSince = 0;
        backoff = this.config.retry.initialMs;
      }
      if (f.spool.segments > 1) f.spool.applyRetention(Date.now());
    }
  }

  private sleep(f: Forwarder, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        f.wake = null;
        resolve();
      }, ms);
      f.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private connectedProducer(): Promise<Producer> {
    if (this.producer !== null) return Promise.resolve(this.producer);
    this.producerConnecting ??= (async () => {
      const p = this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: this.config.producer.idempotent,
        maxInFlightRequests: this.config.producer.idempotent ? 1 : undefined,
        allowAutoTopicCreation: true,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      try {
        await p.connect();
      } catch (e) {
        await p.disconnect().catch(() => undefined);
        throw e;
      }
      this.producer = p;
      return p;
    })().finally(() => {
      this.producerConnecting = null;
    });
    return this.producerConnecting;
  }

  /** After a failed send the client is rebuilt: kafkajs keeps stale connections and metadata otherwise. */
  private async resetProducer(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p !== null) await p.disconnect().catch(() => undefined);
  }

  private async disconnectProducer(): Promise<void> {
    await this.resetProducer();
  }

  private syncTick(): void {
    for (const f of this.forwarders.values()) {
      f.spool.sync().catch((e: unknown) => this.logger.error({ err: e, topic: f.spool.topic }, 'kafka bus: fsync of the spool failed'));
    }
  }

  private retentionTick(): void {
    const now = Date.now();
    for (const f of this.forwarders.values()) {
      try {
        f.spool.applyRetention(now);
      } catch (e) {
        this.logger.error({ err: e, topic: f.spool.topic }, 'kafka bus: spool retention failed');
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Consuming

  /** Runs the subscription's consumer until it is closed, rebuilding it after failures. */
  private async supervise(sub: KafkaSubscription): Promise<void> {
    let backoff = this.config.retry.initialMs;
    while (!sub.closed) {
      const crashed = new Promise<void>((resolve) => (sub.release = resolve));
      // One client per consumer, logging into its own guard (fetch-loop-guard.ts: kafkajs can spin when a
      // consumer stops during an outage; the guard ends that loop).
      const guard = new FetchLoopGuard();
      sub.guard = guard;
      const tap = this.consumerLogTap;
      const kafka = new Kafka(
        kafkaClientConfig(this.config, this.logger, (e) => {
          tap?.(sub.group, { namespace: e.namespace, label: e.label, message: e.log.message });
          guard.inspect(e);
        }),
      );
      const c = kafka.consumer({
        groupId: sub.group,
        sessionTimeout: this.config.consumer.sessionTimeoutMs,
        heartbeatInterval: this.config.consumer.heartbeatIntervalMs,
        rebalanceTimeout: this.config.consumer.rebalanceTimeoutMs,
        maxBytesPerPartition: this.config.consumer.maxBytesPerPartition,
        maxWaitTimeInMs: this.config.consumer.maxWaitMs,
        allowAutoTopicCreation: true,
        retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000, restartOnFailure: () => Promise.resolve(false) },
      });
      sub.consumer = c;
      c.on(c.events.CRASH, (e) => {
        sub.lastError = errorMessage(e.payload.error);
        sub.connected = false;
        sub.release?.();
      });
      c.on(c.events.GROUP_JOIN, () => {
        sub.connected = true;
        sub.lagByPartition.clear();
        backoff = this.config.retry.initialMs;
      });
      try {
        await c.connect();
        await c.subscribe({ topic: sub.topic, fromBeginning: sub.options.fromBeginning ?? false });
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => this.eachBatch(sub, c, payload),
        });
        await crashed;
      } catch (e) {
        sub.lastError = errorMessage(e);
        sub.connected = false;
      }
      sub.connected = false;
      guard.markStopping();
      await c.disconnect().catch(() => undefined);
      sub.fetchLoopAborts += guard.aborts;
      this.fetchLoopAborts += guard.aborts;
      if (guard.aborts > 0) this.logger.info({ topic: sub.topic, group: sub.group }, 'kafka bus: ended a kafkajs fetch loop that would have spun after the consumer stopped (see fetch-loop-guard.ts)');
      sub.consumer = null;
      if (sub.closed) break;
      this.logger.warn({ topic: sub.topic, group: sub.group, err: sub.lastError, backoffMs: backoff }, 'kafka bus: consumer stopped; reconnecting after back-off');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        sub.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, this.config.retry.maxMs);
    }
  }

  private async eachBatch(sub: KafkaSubscription, consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const telemetry = batch.topic === `${this.prefix}.telemetry` && this.config.deadLetter.validateTelemetry;
    const maxBatch = sub.options.maxBatch ?? DEFAULT_MAX_BATCH;
    const messages = batch.messages;
    for (let start = 0; start < messages.length; start += maxBatch) {
      if (sub.closed || !payload.isRunning() || payload.isStale()) return;
      const chunk = messages.slice(start, start + maxBatch);
      const good: BusMessage[] = [];
      const bad: { message: KafkaMessage; reason: string }[] = [];
      for (const m of chunk) {
        const check = checkRecord(m.value, telemetry);
        if (!check.ok) {
          bad.push({ message: m, reason: check.reason });
          continue;
        }
        good.push({
          topic: batch.topic,
          key: m.key === null ? '' : m.key.toString('utf8'),
          value: check.value,
          offset: Number(m.offset),
          partition: batch.partition,
          timestamp: Number(m.timestamp),
        });
      }
      // Checked now, recorded (and journaled) only once the handler succeeded, before the offsets are committed.
      const checked = sub.dedup ? sub.dedup.check(good, (g) => deviceSeqOf(g.value)) : null;
      const deliver = checked ? checked.fresh : good;
      let backoff = this.config.retry.initialMs;
      for (;;) {
        try {
          if (bad.length > 0) await this.sendDeadLetters(sub, batch.partition, bad);
          bad.length = 0;
          if (deliver.length > 0) await sub.handler(deliver);
          break;
        } catch (e) {
          sub.failing = true;
          sub.redeliveries++;
          sub.lastError = errorMessage(e);
          this.logger.warn(
            { err: sub.lastError, topic: batch.topic, partition: batch.partition, group: sub.group, records: deliver.length, backoffMs: backoff },
            'kafka bus: handler failed; the same records will be delivered again after back-off',
          );
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, backoff);
            sub.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          backoff = Math.min(backoff * 2, this.config.retry.maxMs);
          if (sub.closed || !payload.isRunning() || payload.isStale()) return;
          await payload.heartbeat(); // throws on a rebalance: the records stay uncommitted for the next owner
        }
      }
      if (sub.failing) {
        sub.failing = false;
        this.logger.info({ topic: batch.topic, group: sub.group }, 'kafka bus: handler recovered');
      }
      sub.delivered += deliver.length;
      if (checked) sub.dedup?.commit(checked.pending);
      const last = chunk[chunk.length - 1] as KafkaMessage;
      const next = String(Number(last.offset) + 1);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      payload.resolveOffset(last.offset);
      const hw = Number(batch.highWatermark);
      sub.lagByPartition.set(batch.partition, Math.max(0, hw - Number(next)));
      await payload.heartbeat();
    }
  }

  private async sendDeadLetters(sub: KafkaSubscription, partition: number, bad: readonly { message: KafkaMessage; reason: string }[]): Promise<void> {
    if (!this.config.deadLetter.enabled) {
      sub.deadLettered += bad.length;
      for (const b of bad) this.logger.warn({ topic: sub.topic, partition, offset: b.message.offset, reason: b.reason }, 'kafka bus: skipped a record that is not ours');
      return;
    }
    const producer = await this.connectedProducer();
    await producer.send({
      topic: this.deadLetterTopic,
      acks: -1,
      messages: bad.map((b) => {
        const headers: IHeaders = {
          ...(b.message.headers ?? {}),
          [DEAD_LETTER_HEADERS.reason]: b.reason,
          [DEAD_LETTER_HEADERS.topic]: sub.topic,
          [DEAD_LETTER_HEADERS.partition]: String(partition),
          [DEAD_LETTER_HEADERS.offset]: b.message.offset,
          [DEAD_LETTER_HEADERS.group]: sub.group,
        };
        return { key: b.message.key, value: b.message.value, headers };
      }),
    });
    sub.deadLettered += bad.length;
    this.deadLettered += bad.length;
    this.logger.warn(
      { topic: sub.topic, partition, group: sub.group, records: bad.length, deadLetterTopic: this.deadLetterTopic, firstReason: bad[0]?.reason },
      'kafka bus: records that are not ours went to the dead-letter topic',
    );
  }

  // ------------------------------------------------------------------------------------------------------

  private assertRunning(what: string): void {
    if (this.state !== 'running') {
      throw new EnergyMeshError('BUS_CLOSED', `kafka bus: cannot ${what}, the bus is ${this.state === 'new' ? 'not started' : this.state}`, {
        retriable: this.state === 'new' || this.state === 'starting',
      });
    }
  }

  private acquireLock(): void {
    const file = path.join(this.spoolDir, 'LOCK');
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new EnergyMeshError('LOG_LOCKED', `kafka spool ${this.spoolDir} is in use by process ${holder}`, { details: { dir: this.spoolDir, pid: holder } });
      }
      this.logger.warn({ dir: this.spoolDir, previousPid: holder }, 'kafka bus: taking over the spool of a process that ended without stopping');
      fs.writeFileSync(file, String(process.pid));
    }
    this.lockFile = file;
  }

  private releaseLock(): void {
    if (this.lockFile === null) return;
    fs.rmSync(this.lockFile, { force: true });
    this.lockFile = null;
  }
}

/**
 * kafkajs messages for a spool batch. The records of one publish() share a timestamp, so its string form
 * (kafkajs wants a string) is made once per run of equal timestamps, not once per record.
 */
function toMessages(batch: readonly SpooledRecord[]): { key: string; value: string; timestamp: string }[] {
  const out = new Array<{ key: string; value: string; timestamp: string }>(batch.length);
  let ts = Number.NaN;
  let tsText = '';
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i] as SpooledRecord;
    if (r.timestamp !== ts) {
      ts = r.timestamp;
      tsText = String(ts);
    }
    out[i] = { key: r.key, value: r.value, timestamp: tsText };
  }
  return out;
}

/** Waits for `p`, or `ms` at most (then goes on; `p` keeps running in the background). */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
