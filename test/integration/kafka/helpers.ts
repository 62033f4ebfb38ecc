/** Shared pieces of the Kafka bus tests. */
import assert from 'node:assert/strict';

import type { TelemetryRecord } from '../../../core/model/telemetry.ts';
import { KafkaBus } from '../../../plugins/bus-kafka/kafka-bus.ts';
import { withDefaults } from '../../../plugins/bus-kafka/kafka-bus-options.ts';
import type { KafkaBusConfig } from '../../../plugins/bus-kafka/kafka-bus-options.ts';

export async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Short timings for tests. */
export function testConfig(brokers: string[], extra: Partial<KafkaBusConfig> = {}): KafkaBusConfig {
  return withDefaults({
    brokers,
    connectionTimeoutMs: 1000,
    requestTimeoutMs: 5000,
    ...extra,
    consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, lagWarnRecords: 10_000, maxBytesPerPartition: 1024 * 1024, maxWaitMs: 100, ...extra.consumer },
    retry: { initialMs: 100, maxMs: 1000, ...extra.retry },
  });
}

export function makeBus(prefix: string, dataDir: string, config: KafkaBusConfig): KafkaBus {
  return new KafkaBus({ prefix, dataDir, config });
}

export function record(deviceId: string, seq: number, value: number): TelemetryRecord {
  return {
    deviceId,
    pointId: 'p',
    ts: 1_700_000_000_000 + seq,
    receivedAt: 1_700_000_000_000 + seq,
    value,
    quality: { status: 'good', flags: [] },
    protocol: 'test',
    seq,
  };
}

/** A unique prefix per test, so topics of one mock cluster do not mix. */
export function uniquePrefix(name: string): string {
  return `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}.${name}`;
}

/** Asserts that every device's seqs arrive strictly increasing (after dedup) and that all expected are there. */
export function assertCompleteInOrder(seen: readonly TelemetryRecord[], expected: Map<string, number[]>): void {
  const byDevice = new Map<string, number[]>();
  for (const r of seen) {
    let l = byDevice.get(r.deviceId);
    if (l === undefined) byDevice.set(r.deviceId, (l = []));
    l.push(r.seq);
  }
  for (const [dev, seqs] of expected) {
    const got = byDevice.get(dev) ?? [];
    for (let i = 1; i < got.length; i++) assert.ok((got[i] as number) > (got[i - 1] as number), `${dev}: seq ${got[i]} after ${got[i - 1]} (order broken)`);
    assert.deepEqual(got, seqs, `${dev}: every record exactly once, in order`);
  }
}
