/**
 * Pipeline alone: records/s through normalize → embedded bus → a consumer (the latest-value store's
 * path), with the bus in memory and durable (fsync interval / always), and the process's RSS.
 * Run: npx tsx bench/pipeline.bench.ts  (or npm run bench -- pipeline)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmbeddedBus } from '../core/bus/embedded-bus.ts';
import type { EmbeddedBusOptions } from '../core/bus/embedded-bus.ts';
import { topicName } from '../core/bus/bus.ts';
import { silentLogger } from '../core/logging/logger.ts';
import type { Sample, TelemetryRecord } from '../core/model/telemetry.ts';
import { Pipeline } from '../core/pipeline/pipeline.ts';
import { SequenceStore } from '../core/pipeline/sequence-store.ts';
import { LatestValueStore } from '../core/store/latest-value-store.ts';

const DEVICES = 1000;
const POINTS = 100;
const BATCH = 100; // one device poll
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

async function measure(label: string, busOptions: EmbeddedBusOptions): Promise<void> {
  const bus = new EmbeddedBus(busOptions);
  await bus.start();
  const store = new LatestValueStore();
  let consumed = 0;
  const sub = await bus.subscribe<TelemetryRecord>(topicName(bus.prefix, 'telemetry'), { group: 'bench', maxBatch: 5000 }, (batch) => {
    const records = batch.map((m) => m.value);
    store.apply(records);
    consumed += records.length;
  });
  const pipeline = new Pipeline({ bus, sequences: new SequenceStore(), logger: silentLogger(), siteId: 'bench' });
  const batches: Sample[][] = [];
  for (let d = 0; d < DEVICES; d++) {
    const batch: Sample[] = [];
    for (let p = 0; p < POINTS; p++) {
      batch.push({ deviceId: `dev-${d}`, pointId: `reg-${p}`, ts: 0, value: p, quality: { status: 'good', flags: [] }, protocol: 'modbus', unit: 'W' });
    }
    batches.push(batch);
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let produced = 0;
  let peakRss = 0;
  let d = 0;
  const inflight = new Set<Promise<void>>();
  while (performance.now() - t0 < SECONDS * 1000) {
    const batch = batches[d++ % DEVICES] as Sample[];
    for (const s of batch) s.ts = Date.now();
    const p = pipeline.ingest(batch).finally(() => inflight.delete(p));
    inflight.add(p);
    produced += batch.length;
    if (inflight.size >= 64) await Promise.race(inflight);
    if ((d & 255) === 0) {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      await new Promise((r) => setImmediate(r)); // let the consumer run
    }
  }
  await Promise.all(inflight);
  while (consumed < produced) await new Promise((r) => setTimeout(r, 5));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await sub.close();
  await bus.stop();
  console.log(
    `${label.padEnd(28)} ${Math.round(produced / elapsed).toLocaleString('en-US').padStart(10)} records/s end to end, ` +
      `CPU ${((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(2)} cores, peak RSS ${Math.round(peakRss / 1048576)} MB ` +
      `(${produced.toLocaleString('en-US')} records in ${elapsed.toFixed(1)} s)`,
  );
}

export async function run(): Promise<void> {
  console.log(`pipeline: normalize → embedded bus → consumer (latest-value store); ${DEVICES} devices × ${POINTS} points, batches of ${BATCH}, ${SECONDS} s each`);
  await measure('in-memory bus', { prefix: 'bench', memory: { maxRecords: 200_000 } });
  for (const fsync of ['never', 'interval', 'always'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'em-bench-'));
    try {
      await measure(`durable bus, fsync ${fsync}`, { prefix: 'bench', durable: { dir, fsync, fsyncIntervalMs: 200 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
