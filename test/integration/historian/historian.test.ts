/**
 * The historian plugin in a kernel (default durable embedded bus) writing to VictoriaMetrics through its
 * InfluxDB v2 write API; read back through VictoriaMetrics' export API. With INFLUX_URL set the writes go to
 * that InfluxDB, and the read-back comparison is skipped (it needs the export API).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { inlineConfig } from '../../../core/config/config-file.ts';
import type { JsonObject } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';
import type { Sample } from '../../../core/model/telemetry.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import { startKafka } from '../../support/kafka-mock.ts';
import { VictoriaMetrics } from '../../support/victoria-metrics.ts';
import type { ExportedSeries } from '../../support/victoria-metrics.ts';

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Source times (ms) an hour ago: inside VictoriaMetrics' default retention (1 month), with a 7 ms part.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

function sample(deviceId: string, pointId: string, i: number, value: number | boolean, status: 'good' | 'uncertain' | 'invalid' = 'good'): Sample {
  return { deviceId, pointId, ts: T0 + i * 1000 + 7, value, quality: { status, flags: status === 'good' ? [] : ['comm-lost'] }, protocol: 'test' };
}

describe('historian.influx (VictoriaMetrics via /api/v2/write)', function () {
  this.timeout(120_000);
  let vm: VictoriaMetrics;
  let dir: string;
  let kernel: Kernel | undefined;

  before(async function () {
    if (process.env.INFLUX_URL) this.skip();
    vm = await VictoriaMetrics.start();
  });
  after(async () => {
    await vm?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-hist-'));
  });
  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function startKernel(bucket: string, kafkaBrokers?: string[], prefix = 'energymesh'): Promise<Kernel> {
    const historian: JsonObject = { id: 'historian.influx', config: { url: vm.url, bucket, attempts: 1, retryInitialMs: 10, timeoutMs: 2000 } };
    const kafka: JsonObject = kafkaBrokers
      ? { bus: { kind: 'kafka', prefix }, plugins: [{ id: 'bus.kafka', config: { brokers: kafkaBrokers, retry: { initialMs: 100, maxMs: 1000 }, consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 } } }, historian] }
      : { plugins: [historian] };
    const source = inlineConfig(
      {
        dataDir: dir,
        site: { id: 'north' },
        api: { enabled: false },
        ...kafka,
      },
      resolve(PACKAGE_ROOT, 'test'),
    );
    kernel = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 5000 });
    await kernel.load();
    await kernel.start();
    return kernel;
  }

  function byKey(series: ExportedSeries[]): Map<string, { metric: Record<string, string>; points: Map<number, number> }> {
    const out = new Map<string, { metric: Record<string, string>; points: Map<number, number> }>();
    for (const s of series) {
      const key = `${s.metric.__name__}/${s.metric.deviceId}/${s.metric.pointId}`;
      const e = out.get(key) ?? { metric: s.metric, points: new Map<number, number>() };
      s.timestamps.forEach((t, i) => e.points.set(t, s.values[i] as number));
      out.set(key, e);
    }
    return out;
  }

  it('writes values, tags and ms timestamps that read back equal; a redelivered batch does not duplicate', async () => {
    const k = await startKernel('b1');
    const samples: Sample[] = [];
    for (let i = 0; i < 50; i++) {
      samples.push(sample('inv-1', 'p_ac', i, i * 1.25));
      samples.push(sample('inv-2', 'p_ac', i, -(i + 1) * 0.375, i % 10 === 0 ? 'uncertain' : 'good'));
      samples.push(sample('brk-1', 'closed', i, i % 2 === 0));
    }
    await k.pipeline.ingest(samples);
    await until('150 points exported', async () => (await vm.export('telemetry_value')).reduce((n, s) => n + s.values.length, 0) >= 100
      && (await vm.export('telemetry_value_bool')).reduce((n, s) => n + s.values.length, 0) >= 50);
    const series = await vm.export('telemetry_.*');
    const values = byKey(series.filter((s) => s.metric.__name__ === 'telemetry_value'));
    for (let i = 0; i < 50; i++) {
      const t = T0 + i * 1000 + 7;
      const inv1 = [...values.values()].find((s) => s.metric.deviceId === 'inv-1');
      assert.equal(inv1?.points.get(t), i * 1.25, `inv-1 at ${t}`);
      const inv2Series = series.filter((s) => s.metric.__name__ === 'telemetry_value' && s.metric.deviceId === 'inv-2');
      const found = inv2Series.find((s) => s.timestamps.includes(t));
      assert.ok(found, `inv-2 at ${t}`);
      assert.equal(found.values[found.timestamps.indexOf(t)], -(i + 1) * 0.375);
      assert.equal(found.metric.quality, i % 10 === 0 ? 'uncertain' : 'good', 'quality status kept as a tag');
    }
    const inv1Series = series.find((s) => s.metric.__name__ === 'telemetry_value' && s.metric.deviceId === 'inv-1') as ExportedSeries;
    assert.deepEqual(
      { deviceId: inv1Series.metric.deviceId, pointId: inv1Series.metric.pointId, protocol: inv1Series.metric.protocol, site: inv1Series.metric.site, quality: inv1Series.metric.quality },
      { deviceId: 'inv-1', pointId: 'p_ac', protocol: 'test', site: 'north', quality: 'good' },
    );
    const bools = series.filter((s) => s.metric.__name__ === 'telemetry_value_bool');
    const boolPoints = bools.flatMap((s) => s.timestamps.map((t, i) => [t, s.values[i]] as const)).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(boolPoints.map(([, v]) => v), Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 1 : 0)), 'booleans stored as 1/0');
    const seqs = series.filter((s) => s.metric.__name__ === 'telemetry_seq' && s.metric.deviceId === 'inv-1').flatMap((s) => s.values);
    assert.equal(seqs.length, 50);
    // idempotent: writing the same records again leaves one sample per series and timestamp
    const again = await vm.export('telemetry_value');
    const sink = [...k.sinks.all()].find((s) => s.id === 'historian.influx');
    assert.ok(sink);
    await sink.write(
      samples.slice(0, 30).map((s, i) => ({ ...s, seq: i, receivedAt: s.ts, quality: s.quality ?? { status: 'good', flags: [] }, tags: { site: 'north' } })),
    );
    const after = await vm.export('telemetry_value');
    const count = (ss: ExportedSeries[]): number => ss.reduce((n, s) => n + s.timestamps.length, 0);
    assert.equal(count(after), count(again), 'no duplicate samples after a rewrite');
  });

  it('TSDB down, then up (with a kernel restart in between): every record arrives, none lost', async () => {
    let k = await startKernel('b2');
    const ingest = async (from: number, to: number): Promise<void> => {
      const s: Sample[] = [];
      for (let i = from; i < to; i++) s.push(sample('meter-1', 'e_imp', i, i));
      await k.pipeline.ingest(s);
    };
    await ingest(0, 100);
    const exported = async (): Promise<number> => (await vm.export('telemetry_value')).filter((s) => s.metric.deviceId === 'meter-1').reduce((n, s) => n + s.values.length, 0);
    await until('first 100 written', async () => (await exported()) >= 100);
    await vm.halt();
    await ingest(100, 300);
    const hist = (): string | undefined => k.plugins.find((p) => p.id === 'historian.influx')?.health.current().state;
    await until('plugin degraded while the TSDB is down', () => hist() === 'degraded');
    await k.stop();
    kernel = undefined;
    k = await startKernel('b2'); // same data dir: the bus log and the sink group's position survive
    await ingest(300, 400);
    await vm.resume();
    await until('all 400 arrive after the TSDB is back', async () => (await exported()) >= 400, 60_000);
    const series = (await vm.export('telemetry_value')).filter((s) => s.metric.deviceId === 'meter-1');
    const points = new Map<number, number>();
    for (const s of series) s.timestamps.forEach((t, i) => points.set(t, s.values[i] as number));
    for (let i = 0; i < 400; i++) assert.equal(points.get(T0 + i * 1000 + 7), i, `record ${i}`);
    assert.equal(series.reduce((n, s) => n + s.values.length, 0), 400, 'no duplicates');
    await until('plugin up again', () => hist() === 'up');
  });

  it('on the Kafka bus too: TSDB down, then up → every record arrives with its value and timestamp', async () => {
    const cluster = await startKafka();
    try {
      const k = await startKernel('b3', cluster.brokers, `h${Date.now().toString(36)}`);
      const ingest = async (from: number, to: number): Promise<void> => {
        const s: Sample[] = [];
        for (let i = from; i < to; i++) s.push(sample('meter-k', 'e_exp', i, i + 0.5));
        await k.pipeline.ingest(s);
      };
      const exported = async (): Promise<Map<number, number>> => {
        const points = new Map<number, number>();
        for (const s of (await vm.export('telemetry_value')).filter((x) => x.metric.deviceId === 'meter-k')) s.timestamps.forEach((t, i) => points.set(t, s.values[i] as number));
        return points;
      };
      await ingest(0, 50);
      await until('first 50 written through Kafka', async () => (await exported()).size >= 50, 60_000);
      await vm.halt();
      await ingest(50, 150);
      await until('plugin degraded while the TSDB is down', () => k.plugins.find((p) => p.id === 'historian.influx')?.health.current().state === 'degraded', 60_000);
      await vm.resume();
      await until('all 150 arrive after the TSDB is back', async () => (await exported()).size >= 150, 60_000);
      const points = await exported();
      for (let i = 0; i < 150; i++) assert.equal(points.get(T0 + i * 1000 + 7), i + 0.5, `record ${i}`);
    } finally {
      await kernel?.stop();
      kernel = undefined;
      await cluster.stop();
    }
  });
});
