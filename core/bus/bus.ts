/**
 * The bus: one interface, several implementations (embedded in-process with an optional durable log;
 * Kafka). Messages carry a key (the deviceId for telemetry) and per-key order holds on every
 * implementation. Delivery to subscribers is at-least-once; consumers de-duplicate by (deviceId, seq).
 */
import type { Disposable } from '../disposable.ts';

/** The topic families; the full topic name is `<prefix>.<kind>`. */
export type TopicKind = 'telemetry' | 'events' | 'commands' | 'readings' | 'settlements';
export const TOPIC_KINDS: readonly TopicKind[] = ['telemetry', 'events', 'commands', 'readings', 'settlements'];

/** Builds `<prefix>.<kind>`. */
export function topicName(prefix: string, kind: TopicKind): string {
  return `${prefix}.${kind}`;
}

/** A record to publish. `value` must be JSON-serialisable. */
export interface PublishRecord<T = unknown> {
  key: string;
  value: T;
}

/** A record as a subscriber receives it. */
export interface BusMessage<T = unknown> {
  topic: string;
  key: string;
  value: T;
  /** Position in the topic (embedded: one ordered log per topic; Kafka: per partition). */
  offset: number;
  partition: number;
  /** When the bus accepted the record, epoch ms. */
  timestamp: number;
}

export interface SubscribeOptions {
  /** Consumer group: subscribers of one group share the records and commit one position. */
  group: string;
  /** Start at the oldest retained record when the group has no committed position (default: latest). */
  fromBeginning?: boolean;
  /** Largest batch handed to the handler at once (default 1000). */
  maxBatch?: number;
}

/**
 * Receives a batch. The batch's position is committed after the returned promise resolves; if it
 * rejects, the batch is delivered again (after a back-off) — so handlers must be idempotent.
 */
export type MessageHandler<T = unknown> = (batch: readonly BusMessage<T>[]) => void | Promise<void>;

export interface Subscription extends Disposable {
  readonly topic: string;
  readonly group: string;
  /** Stops delivery; resolves once no handler call is running. */
  close(): Promise<void>;
}

export interface BusHealth {
  state: 'up' | 'degraded' | 'down';
  reason?: string;
  /** Implementation-specific figures (lag, spool size, ...). */
  details?: Record<string, number | string | boolean>;
}

export interface Bus {
  /** 'embedded', 'kafka', ... */
  readonly kind: string;
  /** The topic prefix, e.g. `energymesh`. */
  readonly prefix: string;
  start(): Promise<void>;
  /** Flushes what was accepted and closes; pending publishes resolve or reject, none is dropped silently. */
  stop(): Promise<void>;
  /**
   * Accepts records in order. When the promise resolves the records are accepted: with a durable
   * log they survive a crash of the process (kill -9) from then on.
   */
  publish<T>(topic: string, records: readonly PublishRecord<T>[]): Promise<void>;
  subscribe<T>(topic: string, options: SubscribeOptions, handler: MessageHandler<T>): Promise<Subscription>;
  health(): BusHealth;
}
