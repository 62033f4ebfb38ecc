import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Kafka, logLevel } from 'kafkajs';

import type { BusMessage } from '../../../core/bus/bus.ts';
import type { TelemetryRecord } from '../../../core/model/telemetry.ts';
import { DEAD_LETTER_HEADERS } from '../../../plugins/bus-kafka/kafka-bus.ts';
import type { KafkaBus } from '../../../plugins/bus-kafka/kafka-bus.ts';
import { ProxiedCluster, startKafka } from '../../support/kafka-mock.ts';
import type { KafkaCluster } from '../../support/kafka-mock.ts';
import { assertCompleteInOrder, makeBus, record, testConfig, uniquePrefix, until } from './helpers.ts';

describe('kafka bus (librdkafka mock cluster via kcat)', function () {
  this.timeout(90_000);
  let cluster: KafkaCluster;
  let dir: string;
  const buses: KafkaBus[] = [];

  before(async () => {
    cluster = await startKafka();
  });
  after(async () => {
    await cluster?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-kafka-'));
  });
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes and consumes telemetry: key = deviceId keeps one partition per device, order per device, health up', async () => {
    const prefix = uniquePrefix('rt');
    const bus = makeBus(prefix, dir, testConfig(cluster.brokers));
    buses.push(bus);
    await bus.start();
    const topic = `${prefix}.telemetry`;
    const seen: BusMessage<TelemetryRecord>[] = [];
    const sub = await bus.subscribe<TelemetryRecord>(topic, { group: 'g', fromBeginning: true }, (batch) => {
      seen.push(...batch);
    });
    const expected = new Map<string, number[]>();
    for (let round = 0; round < 20; round++) {
      const batch = [];
      for (let d = 0; d < 10; d++) {
        const dev = `dev-${d}`;
        const seq = round * 10 + d;
        batch.push({ key: dev, value: record(dev, seq, seq * 1.5) });
        const l = expected.get(dev) ?? [];
        l.push(seq);
        expected.set(dev, l);
      }
      await bus.publish(topic, batch);
    }
    await until('200 records consumed', () => seen.length >= 200);
    assertCompleteInOrder(seen.map((m) => m.value), expected);
    for (const dev of expected.keys()) {
      const parts = new Set(seen.filter((m) => m.key === dev).map((m) => m.partition));
      assert.equal(parts.size, 1, `${dev} stays on one partition`);
    }
    assert.ok(new Set(seen.map((m) => m.partition)).size > 1, 'devices spread over partitions');
    assert.equal((seen[0] as BusMessage<TelemetryRecord>).value.value, (seen[0] as BusMessage<TelemetryRecord>).value.seq * 1.5);
    await until('health up', () => bus.health().state === 'up');
    assert.equal(bus.health().details?.spooledRecords, 0);
    await sub.close();
  });

  it('sends records that are not ours to <prefix>.deadletter with the reason, and keeps consuming', async () => {
    const prefix = uniquePrefix('dl');
    const bus = makeBus(prefix, dir, testConfig(cluster.brokers));
    buses.push(bus);
    await bus.start();
    const topic = `${prefix}.telemetry`;
    const seen: TelemetryRecord[] = [];
    await bus.subscribe<TelemetryRecord>(topic, { group: 'g', fromBeginning: true }, (batch) => {
      for (const m of batch) seen.push(m.value);
    });
    const kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'a', value: JSON.stringify(record('a', 1, 1)) },
        { key: 'a', value: 'this is {not json' },
        { key: 'a', value: JSON.stringify({ deviceId: 'a', hello: 'world' }) },
        { key: 'a', value: JSON.stringify(record('a', 2, 2)) },
      ],
    });
    await producer.disconnect();
    await until('good records delivered', () => seen.length >= 2);
    assert.deepEqual(seen.map((r) => r.seq), [1, 2]);
    const dead: { value: string; reason: string; offset: string }[] = [];
    const consumer = kafka.consumer({ groupId: 'dl-reader' });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}.deadletter`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        dead.push({
          value: message.value?.toString() ?? '',
          reason: message.headers?.[DEAD_LETTER_HEADERS.reason]?.toString() ?? '',
          offset: message.headers?.[DEAD_LETTER_HEADERS.offset]?.toString() ?? '',
        });
      },
    });
    await until('two dead letters', () => dead.length >= 2);
    await consumer.disconnect();
    dead.sort((a, b) => Number(a.offset) - Number(b.offset));
    assert.equal(dead[0]?.value, 'this is {not json');
    assert.match(dead[0]?.reason ?? '', /not JSON/);
    assert.match(dead[1]?.reason ?? '', /not a TelemetryRecord/);
    assert.equal(bus.health().details?.deadLettered, 2);
  });

  it('dedup survives a restart: a consumer restarted on the same data dir drops a re-send of records it handled before', async () => {
    const prefix = uniquePrefix('dd');
    const topic = `${prefix}.telemetry`;
    const batchOf = (from: number, to: number): { key: string; value: TelemetryRecord }[] => {
      const out = [];
      for (let s = from; s < to; s++) out.push({ key: `dev-${s % 5}`, value: record(`dev-${s % 5}`, s, s) });
      return out;
    };
    const first = makeBus(prefix, dir, testConfig(cluster.brokers));
    buses.push(first);
    await first.start();
    const before: TelemetryRecord[] = [];
    await first.subscribe<TelemetryRecord>(topic, { group: 'dd', fromBeginning: true, dedup: true }, (b) => {
      for (const m of b) before.push(m.value);
    });
    await first.publish(topic, batchOf(0, 100));
    await until('the first instance handled 100 records', () => before.length >= 100);
    await first.stop();
    buses.splice(buses.indexOf(first), 1);

    const second = makeBus(prefix, dir, testConfig(cluster.brokers));
    buses.push(second);
    await second.start();
    const after: TelemetryRecord[] = [];
    await second.subscribe<TelemetryRecord>(topic, { group: 'dd', fromBeginning: true, dedup: true }, (b) => {
      for (const m of b) after.push(m.value);
    });
    // A publisher's re-send after its own restart (at-least-once into Kafka): records 50..99 again, then new ones.
    await second.publish(topic, batchOf(50, 120));
    await until('the new records handled', () => after.some((r) => r.seq === 119) && after.filter((r) => r.seq >= 100).length >= 20);
    const expected = new Map<string, number[]>();
    for (let s = 100; s < 120; s++) expected.set(`dev-${s % 5}`, [...(expected.get(`dev-${s % 5}`) ?? []), s]);
    assertCompleteInOrder(after, expected);
    assert.deepEqual(after.filter((r) => r.seq < 100), [], 'records handled before the restart are dropped after it');
    assert.equal(second.health().details?.[`${topic}.group.dd.duplicatesDropped`], 50);
  });

  it('broker unreachable mid-stream: publish keeps resolving from the spool, health says spooling, the spool drains in order when it is back', async () => {
    const proxied = await ProxiedCluster.start(cluster);
    try {
      const prefix = uniquePrefix('out');
      const bus = makeBus(prefix, dir, testConfig(proxied.brokers, { addressMap: proxied.addressMap }));
      buses.push(bus);
      await bus.start();
      const topic = `${prefix}.telemetry`;
      const seen: TelemetryRecord[] = [];
      await bus.subscribe<TelemetryRecord>(topic, { group: 'g', fromBeginning: true, dedup: true }, (batch) => {
        for (const m of batch) seen.push(m.value);
      });
      const expected = new Map<string, number[]>();
      let seq = 0;
      const publish = async (n: number): Promise<void> => {
        const batch = [];
        for (let i = 0; i < n; i++, seq++) {
          const dev = `dev-${seq % 7}`;
          batch.push({ key: dev, value: record(dev, seq, seq) });
          const l = expected.get(dev) ?? [];
          l.push(seq);
          expected.set(dev, l);
        }
        await bus.publish(topic, batch);
      };
      for (let i = 0; i < 10; i++) await publish(50);
      await until('first part consumed', () => seen.length >= 500);
      proxied.cut();
      for (let i = 0; i < 20; i++) {
        await publish(50);
        await new Promise((r) => setTimeout(r, 20));
      }
      await until('health reports spooling', () => bus.health().details?.spooling === true && bus.health().state === 'degraded');
      assert.ok(Number(bus.health().details?.spooledRecords) > 0);
      assert.match(bus.health().reason ?? '', /spooling/);
      proxied.restore();
      for (let i = 0; i < 5; i++) await publish(50);
      await until('everything consumed', () => seen.length >= seq, 60_000);
      assertCompleteInOrder(seen, expected);
      await until('spool drained', () => bus.health().details?.spooledRecords === 0);
    } finally {
      // Stop the bus while its brokers are reachable: see "Limits" in plugins/bus-kafka/README.md.
      for (const b of buses.splice(0)) await b.stop();
      await proxied.close();
    }
  });
});
