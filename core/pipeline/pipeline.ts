/**
 * The telemetry pipeline: driver samples → normalize (seq, receive time, quality shape, value
 * checks) → compliance stages (in order; each may transform, tag or drop records) → bus topics.
 *
 * Order: a device's records keep the order in which `ingest` was called. Sequence numbers are
 * taken synchronously on entry and batches reach the bus in the same order, because stage
 * processing is chained and each batch's publish is issued before the next batch is processed.
 *
 * Error policy: a malformed sample (no device/point id, a value of the wrong type) is not thrown
 * back at the driver: it is counted and logged, and dropped with its reason. A stage that throws
 * rejects the batch's promise (the driver sees the error) and the following batches go on.
 */
import type { Bus, PublishRecord } from '../bus/bus.ts';
import { topicName } from '../bus/bus.ts';
import type { ComplianceStage, TelemetryIngest } from '../contributions.ts';
import type { Logger } from '../logging/logger.ts';
import type { DeviceEvent, PointValue, Quality, Sample, TelemetryRecord } from '../model/telemetry.ts';
import type { SequenceStore } from './sequence-store.ts';

/** Counters the pipeline keeps (also exported as Prometheus metrics by the kernel). */
export interface PipelineCounters {
  accepted: number;
  rejected: number;
  dropped: number;
  events: number;
}

export interface PipelineOptions {
  bus: Bus;
  sequences: SequenceStore;
  logger: Logger;
  siteId?: string;
  /** The compliance hook: stages applied in order (empty until compliance modules are enabled). */
  stages?: () => readonly ComplianceStage[];
  /** Called for every record rejected by normalization, with the reason. */
  onReject?: (reason: string, sample: unknown) => void;
  /** Applied to each event before it is published (egress pseudonymisation when the bus leaves the site). */
  eventTransform?: (event: DeviceEvent) => DeviceEvent;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const GOOD: Quality = Object.freeze({ status: 'good', flags: [] }) as Quality;

export class Pipeline implements TelemetryIngest {
  readonly counters: PipelineCounters = { accepted: 0, rejected: 0, dropped: 0, events: 0 };
  private chain: Promise<void> = Promise.resolve();
  private readonly telemetryTopic: string;
  private readonly eventsTopic: string;
  /** `{ site }`, shared by every record without tags of its own (frozen: consumers must copy to change it). */
  private readonly siteTags: Readonly<Record<string, string>> | undefined;

  constructor(private readonly options: PipelineOptions) {
    this.telemetryTopic = topicName(options.bus.prefix, 'telemetry');
    this.eventsTopic = topicName(options.bus.prefix, 'events');
    this.siteTags = options.siteId ? Object.freeze({ site: options.siteId }) : undefined;
  }

  ingest(samples: readonly Sample[]): Promise<void> {
    const receivedAt = Date.now();
    const records: TelemetryRecord[] = [];
    for (const s of samples) {
      const r = this.normalize(s, receivedAt);
      if (r) records.push(r);
    }
    if (records.length === 0) return Promise.resolve();
    return this.enqueue(records);
  }

  ingestEvents(events: readonly Omit<DeviceEvent, 'receivedAt'>[]): Promise<void> {
    const receivedAt = Date.now();
    const out: PublishRecord<DeviceEvent>[] = [];
    for (const e of events) {
      if (typeof e?.deviceId !== 'string' || !ID.test(e.deviceId) || typeof e.message !== 'string') {
        this.reject('event without a valid deviceId or message', e);
        continue;
      }
      let value: DeviceEvent = { ...e, receivedAt, ts: Number.isFinite(e.ts) ? e.ts : receivedAt };
      if (this.options.eventTransform) value = this.options.eventTransform(value);
      out.push({ key: value.deviceId, value });
    }
    if (out.length === 0) return Promise.resolve();
    this.counters.events += out.length;
    return this.options.bus.publish(this.eventsTopic, out);
  }

  private enqueue(records: TelemetryRecord[]): Promise<void> {
    let published!: Promise<void>;
    const step = this.chain.then(async () => {
      let batch = records;
      for (const stage of this.options.stages?.() ?? []) {
        const before = batch.length;
        batch = await stage.process(batch);
        this.counters.dropped += before - batch.length;
      }
      const out: PublishRecord<TelemetryRecord>[] = new Array(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i] as TelemetryRecord;
        out[i] = { key: r.deviceId, value: r };
      }
      this.counters.accepted += batch.length;
      // issued here, in order; awaited by the caller, not by the chain
      published = batch.length > 0 ? this.options.bus.publish(this.telemetryTopic, out) : Promise.resolve();
    });
    this.chain = step.catch(() => undefined);
    return step.then(() => published);
  }

  /** Checks a sample and stamps it; returns undefined (and counts the reason) when it is unusable. */
  private normalize(s: Sample, receivedAt: number): TelemetryRecord | undefined {
    if (s === null || typeof s !== 'object') return this.reject('sample is not an object', s);
    if (typeof s.deviceId !== 'string' || !ID.test(s.deviceId)) return this.reject('invalid deviceId', s);
    if (typeof s.pointId !== 'string' || !ID.test(s.pointId)) return this.reject('invalid pointId', s);
    let value: PointValue = s.value;
    let quality: Quality = s.quality ?? GOOD;
    const t = typeof value;
    if (t === 'number') {
      if (!Number.isFinite(value as number)) {
        value = null;
        quality = { status: 'invalid', flags: [...quality.flags, 'overflow'], ...(quality.raw ? { raw: quality.raw } : {}) };
      }
    } else if (t !== 'boolean' && t !== 'string' && value !== null) {
      return this.reject(`value of ${s.deviceId}/${s.pointId} has type ${t}`, s);
    }
    if (quality.status !== 'good' && quality.status !== 'uncertain' && quality.status !== 'invalid') {
      return this.reject(`quality.status of ${s.deviceId}/${s.pointId} is ${String(quality.status)}`, s);
    }
    const ts = typeof s.ts === 'number' && Number.isFinite(s.ts) && s.ts >= 0 ? s.ts : receivedAt;
    const record: TelemetryRecord = {
      deviceId: s.deviceId,
      pointId: s.pointId,
      ts,
      receivedAt: s.receivedAt ?? receivedAt,
      value,
      quality,
      protocol: s.protocol,
      seq: this.options.sequences.take(s.deviceId),
    };
    if (s.unit !== undefined) record.unit = s.unit;
    if (s.tags !== undefined) record.tags = this.siteTags ? { ...this.siteTags, ...s.tags } : s.tags;
    else if (this.siteTags) record.tags = this.siteTags;
    return record;
  }

  private reject(reason: string, sample: unknown): undefined {
    this.counters.rejected++;
    this.options.onReject?.(reason, sample);
    if (this.counters.rejected <= 10 || this.counters.rejected % 1000 === 0) {
      this.options.logger.warn({ reason, rejected: this.counters.rejected }, 'telemetry sample rejected');
    }
    return undefined;
  }

  /** Resolves when every batch handed in so far has been issued to the bus. */
  async drain(): Promise<void> {
    await this.chain;
  }
}
