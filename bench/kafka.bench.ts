/**
 * Kafka bus figures against librdkafka's mock cluster (kcat, 3 brokers, 4 partitions per topic). The mock
 * cluster is an in-memory test broker, not Apache Kafka: no disk, no replication, so acks=all costs what
 * acks=1 does and the figures say more about our client side (kafkajs encoding, the spool) than about a
 * production cluster. Telemetry records of ~230 bytes of JSON, 100 devices.
 *
 * 1. sustained rate into the broker: publish as fast as the spool accepts, acks=all, until the spool is
 *    empty (every record acknowledged by the broker);
 * 2. end-to-end latency at 10k records/s (publish → consumer handler), p50/p99;
 * 3. spool write rate (broker unreachable: publish only writes the disk spool) and replay rate (broker
 *    back: the backlog drains).
 *
 * The consumers fetch with `consumer.maxWaitMs` 100 (the default; KAFKA_BENCH_MAX_WAIT_MS): the mock cluster holds fetches for
 * the full wait instead of answering when records arrive, which a real broker does.
 *
 * Run alone: `npx tsx bench/kafka.bench.ts` (KAFKA_BENCH_RECORDS=N, default 200000; KAFKA_BROKERS=... for a real Kafka).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { TelemetryRecord } from '../core/model/telemetry.ts';
import { KafkaBus } from '../plugins/bus-kafka/kafka-bus.ts';
import { withDefaults } from '../plugins/bus-kafka/kafka-bus-options.ts';
import type { KafkaBusConfig } from '../plugins/bus-kafka/kafka-bus-options.ts';
import { ProxiedCluster, startKafka } from '../test/support/kafka-mock.ts';

const N = Number(process.env.KAFKA_BENCH_RECORDS ?? 200_000);
/** Which parts to run: comma-separated `sustained,latency,spool` (default all). */
const PHASES = new Set((process.env.KAFKA_BENCH_PHASES ?? 'sustained,latency,spool').split(','));
/** consumer.maxWaitMs of the latency run (default: the bus default); KAFKA_BENCH_RATES=1000,10000 the rates. */
const MAX_WAIT_MS = process.env.KAFKA_BENCH_MAX_WAIT_MS === undefined ? undefined : Number(process.env.KAFKA_BENCH_MAX_WAIT_MS);
const BATCH = 1000;

function rec(i: number, now: number): { key: string; value: TelemetryRecord } {
  const deviceId = `dev-${i % 100}`;
  return { key: deviceId, value: { deviceId, pointId: 'p_ac', ts: now, receivedAt: now, value: i * 0.5, quality: { status: 'good', flags: [] }, protocol: 'modbus', seq: i, tags: { site: 'bench' } } };
}

async function waitDrained(bus: KafkaBus, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Number(bus.health().details?.spooledRecords ?? 1) > 0) {
    if (Date.now() > end) throw new Error('spool did not drain');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function config(brokers: string[], extra: Partial<KafkaBusConfig> = {}): KafkaBusConfig {
  return withDefaults({ brokers, connectionTimeoutMs: 1000, ...extra, consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, lagWarnRecords: 10_000, maxBytesPerPartition: 4 * 1024 * 1024, maxWaitMs: MAX_WAIT_MS ?? withDefaults({ brokers }).consumer.maxWaitMs }, retry: { initialMs: 50, maxMs: 500 } });
}

/** The machine's load average: these figures are only comparable on an otherwise idle machine. */
function loadNote(): string {
  return `load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores`;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function run(): Promise<void> {
  const cluster = await startKafka();
  const proxied = await ProxiedCluster.start(cluster);
  const dir = mkdtempSync(join(tmpdir(), 'em-kafka-bench-'));
  try {
    console.log(`broker: ${cluster.external ? `Kafka at ${cluster.brokers.join(',')}` : 'librdkafka mock cluster (kcat), 3 brokers'}; ${N} records; batchSize 1000; acks=all`);
    // 1. sustained rate
    if (PHASES.has('sustained')) {
      const bus = new KafkaBus({ prefix: 'bench1', dataDir: join(dir, 'a'), config: config(cluster.brokers) });
      await bus.start();
      await bus.publish('bench1.telemetry', [rec(0, Date.now())]); // topic metadata, connection
      await waitDrained(bus);
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < N; i += BATCH) {
        const now = Date.now();
        const batch = [];
        for (let j = 0; j < BATCH; j++) batch.push(rec(i + j, now));
        await bus.publish('bench1.telemetry', batch);
      }
      const accepted = performance.now() - t0;
      await waitDrained(bus);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      console.log(
        `sustained into the broker (acks=all): ${Math.round(N / (ms / 1000)).toLocaleString('en')} records/s (publish accepted all in ${Math.round(accepted)} ms; ` +
          `client CPU ${((cpuSeconds * 1000) / ms * 100).toFixed(0)}% of one core = ${Math.round(N / cpuSeconds).toLocaleString('en')} records per client CPU-second; ${loadNote()})`,
      );
      await bus.stop();
    }
    // 2. latency at 1k and 10k records/s
    const rates = (process.env.KAFKA_BENCH_RATES ?? '1000,10000').split(',').map(Number);
    for (const rate of PHASES.has('latency') ? rates : []) {
      const prefix = `bench2r${rate}`;
      const topic = `${prefix}.telemetry`;
      const bus = new KafkaBus({ prefix, dataDir: join(dir, `b${rate}`), config: config(cluster.brokers, { producer: { ...withDefaults({ brokers: [] }).producer, lingerMs: 1 } }) });
      await bus.start();
      const latencies: number[] = [];
      let measuring = false;
      let warm = 0;
      const sub = await bus.subscribe<TelemetryRecord>(topic, { group: 'lat', fromBeginning: false }, (b) => {
        const now = Date.now();
        warm += b.length;
        if (measuring) for (const m of b) if (m.value.deviceId !== 'warm-up') latencies.push(now - m.value.receivedAt);
      });
      // until the consumer has joined the group and receives
      while (warm === 0) {
        await bus.publish(topic, [{ key: 'warm-up', value: { ...rec(0, Date.now()).value, deviceId: 'warm-up' } }]);
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 500));
      measuring = true;
      const seconds = 6;
      const perTick = rate / 200; // every 5 ms
      const start = performance.now();
      let i = 0;
      for (let tick = 0; tick < seconds * 200; tick++) {
        const wait = start + tick * 5 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const now = Date.now();
        const batch = [];
        for (let j = 0; j < perTick; j++, i++) batch.push(rec(i, now));
        await bus.publish(topic, batch);
      }
      const offered = i / ((performance.now() - start) / 1000);
      const end = Date.now() + 60_000;
      while (latencies.length < i && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      latencies.sort((a, b) => a - b);
      console.log(
        `end-to-end latency, ${rate.toLocaleString('en')} records/s asked, ${Math.round(offered).toLocaleString('en')}/s published (publish → handler, ${latencies.length}/${i} records): ` +
          `p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms (${loadNote()})`,
      );
      await sub.close();
      await bus.stop();
    }
    // 3. spool write and replay
    if (PHASES.has('spool')) {
      const bus = new KafkaBus({ prefix: 'bench3', dataDir: join(dir, 'c'), config: config(proxied.brokers, { addressMap: proxied.addressMap }) });
      await bus.start();
      await bus.publish('bench3.telemetry', [rec(0, Date.now())]);
      await waitDrained(bus);
      proxied.cut();
      const cpuW = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < N; i += BATCH) {
        const now = Date.now();
        const batch = [];
        for (let j = 0; j < BATCH; j++) batch.push(rec(i + j, now));
        await bus.publish('bench3.telemetry', batch);
      }
      const writeMs = performance.now() - t0;
      const writeCpu = process.cpuUsage(cpuW);
      const bytes = Number(bus.health().details?.['bench3.telemetry.spoolBytes'] ?? 0);
      console.log(
        `spool write (broker unreachable): ${Math.round(N / (writeMs / 1000)).toLocaleString('en')} records/s, ${Math.round(N / ((writeCpu.user + writeCpu.system) / 1e6)).toLocaleString('en')} per client CPU-second (${(bytes / 1024 / 1024).toFixed(1)} MiB spooled)`,
      );
      const t1 = performance.now();
      const cpuR = process.cpuUsage();
      proxied.restore();
      await waitDrained(bus);
      const replayMs = performance.now() - t1;
      const replayCpu = process.cpuUsage(cpuR);
      console.log(
        `spool replay (broker back, includes reconnect back-off up to 500 ms): ${Math.round(N / (replayMs / 1000)).toLocaleString('en')} records/s, ` +
          `${Math.round(N / ((replayCpu.user + replayCpu.system) / 1e6)).toLocaleString('en')} per client CPU-second (${loadNote()})`,
      );
      await bus.stop();
    }
  } finally {
    await proxied.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
