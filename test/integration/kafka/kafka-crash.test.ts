/**
 * Process deaths: the publishing process killed with SIGKILL while the broker is unreachable, and a
 * consumer-group member killed while it owns partitions.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import type { TelemetryRecord } from '../../../core/model/telemetry.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import type { KafkaBus } from '../../../plugins/bus-kafka/kafka-bus.ts';
import { ProxiedCluster, startKafka } from '../../support/kafka-mock.ts';
import type { KafkaCluster } from '../../support/kafka-mock.ts';
import { assertCompleteInOrder, makeBus, record, testConfig, uniquePrefix, until } from './helpers.ts';

const CHILD = resolve(PACKAGE_ROOT, 'test', 'integration', 'kafka', 'bus-child.ts');

interface Child {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

function startChild(args: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { proc, lines, exited };
}

async function kill9(c: Child): Promise<void> {
  c.proc.kill('SIGKILL');
  await c.exited;
}

function parse(lines: readonly string[], tag: string): { deviceId: string; seq: number; partition: number }[] {
  const out = [];
  for (const l of lines) {
    if (!l.startsWith(`${tag} `)) continue;
    const [, deviceId, seq, partition] = l.split(' ');
    out.push({ deviceId: deviceId as string, seq: Number(seq), partition: Number(partition) });
  }
  return out;
}

describe('kafka bus: process deaths (librdkafka mock cluster via kcat)', function () {
  this.timeout(150_000);
  let cluster: KafkaCluster;
  let dir: string;
  const children: Child[] = [];
  const buses: KafkaBus[] = [];

  before(async () => {
    cluster = await startKafka();
  });
  after(async () => {
    await cluster?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-kafka-crash-'));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) await kill9(c);
    for (const b of buses.splice(0)) await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of the publisher during a broker outage, restart: every accepted record reaches Kafka, in order per device, once after dedup', async () => {
    const proxied = await ProxiedCluster.start(cluster);
    try {
      const prefix = uniquePrefix('k9');
      // The verifying consumer talks to the brokers directly; only the publisher goes through the proxy.
      const reader = makeBus(prefix, join(dir, 'reader'), testConfig(cluster.brokers));
      buses.push(reader);
      await reader.start();
      const raw: TelemetryRecord[] = [];
      const deduped: TelemetryRecord[] = [];
      await reader.subscribe<TelemetryRecord>(`${prefix}.telemetry`, { group: 'raw', fromBeginning: true }, (b) => {
        for (const m of b) raw.push(m.value);
      });
      await reader.subscribe<TelemetryRecord>(`${prefix}.telemetry`, { group: 'dedup', fromBeginning: true, dedup: true }, (b) => {
        for (const m of b) deduped.push(m.value);
      });
      const common = { mode: 'publish', prefix, dataDir: join(dir, 'publisher'), brokers: proxied.brokers, addressMap: proxied.addressMap, devices: 5, perBatch: 20, intervalMs: 5 };
      const a = startChild({ ...common, startSeq: 0 });
      children.push(a);
      await until('publisher A accepted 400 records', () => parse(a.lines, 'ok').length >= 400, 60_000);
      await until('records reach Kafka before the outage', () => raw.length > 0, 60_000);
      proxied.cut();
      const atCut = parse(a.lines, 'ok').length;
      await until('publisher A accepted 600 more during the outage', () => parse(a.lines, 'ok').length >= atCut + 600, 60_000);
      await kill9(a);
      const acceptedA = parse(a.lines, 'ok');
      const b = startChild({ ...common, startSeq: 1_000_000, total: 400 });
      children.push(b);
      await until('publisher B accepted its records (still in the outage)', () => b.lines.includes('done'), 60_000);
      const arrivedDuringOutage = raw.length;
      proxied.restore();
      const accepted = [...acceptedA, ...parse(b.lines, 'ok')];
      const acceptedKeys = new Set(accepted.map((r) => `${r.deviceId}/${r.seq}`));
      await until('every accepted record consumed', () => {
        const got = new Set(deduped.map((r) => `${r.deviceId}/${r.seq}`));
        for (const k of acceptedKeys) if (!got.has(k)) return false;
        return true;
      }, 90_000);
      assert.ok(raw.length > arrivedDuringOutage, 'the spool drained after the outage');
      // Order per device in Kafka (raw, before dedup): a record never arrives after a newer one of its device,
      // except as an exact re-send of a batch (at-least-once), which dedup removes.
      const dedupSeen = new Map<string, number>();
      for (const r of deduped) {
        const prev = dedupSeen.get(r.deviceId) ?? -1;
        assert.ok(r.seq > prev, `${r.deviceId}: ${r.seq} after ${prev}`);
        dedupSeen.set(r.deviceId, r.seq);
      }
      const dedupKeys = deduped.map((r) => `${r.deviceId}/${r.seq}`);
      assert.equal(new Set(dedupKeys).size, dedupKeys.length, 'dedup leaves each record once');
      // Whatever arrived beyond the accepted set was attempted by A when it was killed (publish in flight).
      const maxA = Math.max(...acceptedA.map((r) => r.seq));
      for (const r of deduped) if (!acceptedKeys.has(`${r.deviceId}/${r.seq}`)) assert.ok(r.seq > maxA && r.seq < 1_000_000, `unexpected record ${r.deviceId}/${r.seq}`);
      await kill9(b);
    } finally {
      await proxied.close();
    }
  });

  it('two instances in one consumer group split the partitions; one is killed, the other takes over, nothing lost', async () => {
    const prefix = uniquePrefix('grp');
    const topic = `${prefix}.telemetry`;
    const bus = makeBus(prefix, join(dir, 'main'), testConfig(cluster.brokers));
    buses.push(bus);
    await bus.start();
    // create the topic before the group forms
    await bus.publish(topic, [{ key: 'dev-0', value: record('dev-0', 0, 0) }]);
    const mine: { deviceId: string; seq: number; partition: number }[] = [];
    await bus.subscribe<TelemetryRecord>(topic, { group: 'shared', fromBeginning: true }, (b) => {
      for (const m of b) mine.push({ deviceId: m.value.deviceId, seq: m.value.seq, partition: m.partition });
    });
    const other = startChild({ mode: 'consume', prefix, dataDir: join(dir, 'other'), brokers: cluster.brokers, group: 'shared' });
    children.push(other);
    await until('other instance ready', () => other.lines.includes('ready'), 30_000);
    let seq = 1;
    const publish = async (n: number): Promise<void> => {
      const batch = [];
      for (let i = 0; i < n; i++, seq++) {
        const dev = `dev-${seq % 16}`;
        batch.push({ key: dev, value: record(dev, seq, seq) });
      }
      await bus.publish(topic, batch);
    };
    // publish until both instances have received records (the group has rebalanced over both)
    await until('both instances receive records', () => {
      void publish(16);
      return mine.length > 0 && parse(other.lines, 'seen').length > 0;
    }, 60_000);
    const minePartitions = new Set(mine.filter((m) => m.seq >= seq - 16).map((m) => m.partition));
    const otherPartitions = new Set(parse(other.lines, 'seen').map((m) => m.partition));
    assert.ok(otherPartitions.size > 0 && mine.length > 0, 'both instances own partitions');
    assert.ok(minePartitions.size < 4 || otherPartitions.size < 4, 'the partitions are split, not all consumed twice');
    await kill9(other);
    for (let i = 0; i < 10; i++) await publish(16);
    const total = seq;
    await until('the survivor took over: every record consumed by one instance or the other', () => {
      const got = new Set([...mine, ...parse(other.lines, 'seen')].map((m) => m.seq));
      for (let s = 0; s < total; s++) if (!got.has(s)) return false;
      return true;
    }, 90_000);
    const survivorPartitions = new Set(mine.filter((m) => m.seq > total - 160).map((m) => m.partition));
    assert.equal(survivorPartitions.size, 4, 'after the kill the survivor consumes all four partitions');
  });

  it('the broker process dies (kcat killed) mid-stream: publishing goes on into the spool, which drains in order into the replacement broker', async function () {
    const first = await startKafka();
    if (first.external) this.skip(); // cannot kill a real Kafka from here
    const proxied = await ProxiedCluster.start(first);
    let second: KafkaCluster | undefined;
    try {
      const prefix = uniquePrefix('die');
      const topic = `${prefix}.telemetry`;
      const bus = makeBus(prefix, join(dir, 'pub'), testConfig(proxied.brokers, { addressMap: proxied.addressMap }));
      buses.push(bus);
      await bus.start();
      let seq = 0;
      const publish = async (n: number): Promise<void> => {
        const batch = [];
        for (let i = 0; i < n; i++, seq++) batch.push({ key: `dev-${seq % 5}`, value: record(`dev-${seq % 5}`, seq, seq) });
        await bus.publish(topic, batch);
      };
      for (let i = 0; i < 5; i++) await publish(40);
      await until('the first records are in the first broker', () => bus.health().details?.spooledRecords === 0);
      const before = seq;
      await first.kill();
      for (let i = 0; i < 10; i++) {
        await publish(40);
        await new Promise((r) => setTimeout(r, 30));
      }
      await until('health reports spooling', () => bus.health().details?.spooling === true);
      second = await startKafka();
      proxied.proxies.forEach((p, i) => p.retarget(second?.brokers[i] ?? ''));
      const reader = makeBus(prefix, join(dir, 'reader'), testConfig(second.brokers));
      buses.push(reader);
      await reader.start();
      const seen: TelemetryRecord[] = [];
      await reader.subscribe<TelemetryRecord>(topic, { group: 'r', fromBeginning: true, dedup: true }, (b) => {
        for (const m of b) seen.push(m.value);
      });
      await until('every record published while the broker was dead reaches the new broker', () => seen.filter((r) => r.seq >= before).length >= seq - before, 60_000);
      const expected = new Map<string, number[]>();
      for (let s2 = before; s2 < seq; s2++) {
        const l = expected.get(`dev-${s2 % 5}`) ?? [];
        l.push(s2);
        expected.set(`dev-${s2 % 5}`, l);
      }
      assertCompleteInOrder(seen.filter((r) => r.seq >= before), expected);
      await until('spool drained', () => bus.health().details?.spooledRecords === 0);
    } finally {
      for (const b of buses.splice(0)) await b.stop();
      await proxied.close();
      await second?.stop();
      await first.stop();
    }
  });
});
