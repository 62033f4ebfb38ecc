import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inlineConfig } from '../../../core/config/config-file.ts';
import type { JsonObject } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import type { TelemetryRecord } from '../../../core/model/telemetry.ts';
import { topicName } from '../../../core/bus/bus.ts';

const fixtures = resolve(PACKAGE_ROOT, 'test', 'fixtures');

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kernel', () => {
  let dir: string;
  let kernel: Kernel | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-kernel-'));
  });
  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function make(plugins: JsonObject[], extra: JsonObject = {}): Kernel {
    const source = inlineConfig({ dataDir: dir, api: { enabled: false }, plugins, ...extra }, fixtures);
    kernel = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 3000 });
    return kernel;
  }

  it('loads the plugin template from its folder as a third-party plugin and streams its values', async () => {
    const k = make([{ path: '../../examples/plugin-template', config: { devices: [{ id: 'gen-1', intervalMs: 20 }, { id: 'gen-2', intervalMs: 20 }] } }]);
    await k.load();
    await k.start();
    const p = k.plugins[0];
    assert.equal(p?.id, 'protocol.template');
    assert.equal(p?.location.builtin, false);
    assert.equal(p?.health.current().state, 'up');
    await until('values of both devices', () => k.latest.get('gen-1', 'signal') !== undefined && k.latest.get('gen-2', 'signal') !== undefined);
    const r = k.latest.get('gen-1', 'signal') as TelemetryRecord;
    assert.equal(r.protocol, 'template');
    assert.equal(r.quality.status, 'good');
    assert.equal(typeof r.value, 'number');
    assert.ok(r.receivedAt >= r.ts);
    assert.deepEqual(k.devicesStatus().map((s) => s.deviceId).sort(), ['gen-1', 'gen-2']);
  });

  it('keeps per-device order: seq strictly increases per device on the bus', async () => {
    const k = make([{ path: '../../examples/plugin-template', config: { devices: [{ id: 'a', intervalMs: 10 }, { id: 'b', intervalMs: 10 }] } }]);
    await k.load();
    await k.start();
    const seen: TelemetryRecord[] = [];
    const sub = await k.bus.subscribe<TelemetryRecord>(topicName(k.bus.prefix, 'telemetry'), { group: 'test.order', fromBeginning: true }, (batch) => {
      for (const m of batch) seen.push(m.value);
    });
    // concurrent ingests from outside the driver as well
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        k.pipeline.ingest([
          { deviceId: 'a', pointId: 'x', ts: i, value: i, quality: { status: 'good', flags: [] }, protocol: 'test' },
          { deviceId: 'b', pointId: 'x', ts: i, value: i, quality: { status: 'good', flags: [] }, protocol: 'test' },
        ]),
      ),
    );
    await until('records', () => seen.filter((r) => r.protocol === 'test').length >= 40);
    await sub.close();
    for (const dev of ['a', 'b']) {
      const mine = seen.filter((r) => r.deviceId === dev);
      for (let i = 1; i < mine.length; i++) assert.ok((mine[i] as TelemetryRecord).seq > (mine[i - 1] as TelemetryRecord).seq, `seq of ${dev} grows`);
      const test = mine.filter((r) => r.protocol === 'test').map((r) => r.value);
      assert.deepEqual(test, Array.from({ length: 20 }, (_, i) => i), `ingest order of ${dev} is kept`);
    }
  });

  it('isolates failures: a plugin that throws at import or start is down, its dependents are down, the rest runs', async () => {
    const k = make([
      { path: 'plugins/depends-on-failing' },
      { path: 'plugins/import-fails' },
      { path: 'plugins/start-fails' },
      { path: '../../examples/plugin-template', config: { devices: [{ id: 'ok-1', intervalMs: 20 }] } },
    ]);
    await k.load();
    await k.start();
    const state = Object.fromEntries(k.plugins.map((p) => [p.id, p.health.current()]));
    assert.equal(state['test.import-fails']?.state, 'down');
    assert.match(state['test.import-fails']?.reason ?? '', /load failed: boom at import/);
    assert.equal(state['test.start-fails']?.state, 'down');
    assert.match(state['test.start-fails']?.reason ?? '', /start failed: boom at start/);
    assert.equal(state['test.depends-on-failing']?.state, 'down');
    assert.match(state['test.depends-on-failing']?.reason ?? '', /dependency test\.start-fails is down/);
    assert.equal(state['protocol.template']?.state, 'up');
    assert.equal(k.health().status, 'degraded');
    await until('values from the healthy plugin', () => k.latest.get('ok-1', 'signal') !== undefined);
  });

  it('degrades a plugin that throws at run time and keeps the others running', async () => {
    const k = make([{ path: '../../examples/plugin-template', config: { devices: [{ id: 'flaky', intervalMs: 10, failAfter: 3 }] } }]);
    await k.load();
    await k.start();
    const p = k.plugins[0];
    await until('degraded', () => p?.health.current().state === 'degraded');
    assert.match(p?.health.current().reason ?? '', /simulated fault in flaky/);
  });

  it('executes commands through the driver and rejects unknown or read-only points', async () => {
    const k = make([{ path: '../../examples/plugin-template', config: { devices: [{ id: 'g', intervalMs: 20 }] } }]);
    await k.load();
    await k.start();
    const ok = await k.commands.execute({ deviceId: 'g', pointId: 'offset', value: 500 });
    assert.equal(ok.status, 'succeeded');
    await until('offset applied', () => k.latest.get('g', 'offset')?.value === 500);
    const ro = await k.commands.execute({ deviceId: 'g', pointId: 'signal', value: 1 });
    assert.equal(ro.status, 'rejected');
    assert.equal(ro.error?.code, 'POINT_NOT_WRITABLE');
    const unknown = await k.commands.execute({ deviceId: 'nope', pointId: 'x', value: 1 });
    assert.equal(unknown.status, 'rejected');
    assert.equal(unknown.error?.code, 'UNKNOWN_DEVICE');
    assert.equal(k.commands.get(ok.commandId)?.status, 'succeeded');
  });

  it('rejects malformed samples with a reason and passes the good ones', async () => {
    const k = make([]);
    await k.load();
    await k.start();
    const good = { deviceId: 'd', pointId: 'p', ts: 1, value: 1, quality: { status: 'good' as const, flags: [] }, protocol: 't' };
    await k.pipeline.ingest([
      good,
      { ...good, deviceId: '' },
      { ...good, pointId: 'bad id with spaces' },
      { ...good, value: { nested: true } as unknown as number },
      { ...good, pointId: 'nan', value: Number.NaN },
    ]);
    assert.equal(k.pipeline.counters.rejected, 3);
    await until('good record', () => k.latest.get('d', 'p') !== undefined && k.latest.get('d', 'nan') !== undefined);
    const nan = k.latest.get('d', 'nan') as TelemetryRecord;
    assert.equal(nan.value, null);
    assert.equal(nan.quality.status, 'invalid');
  });

  it('continues sequence numbers across a restart so (deviceId, seq) stays unique', async () => {
    const k1 = make([]);
    await k1.load();
    await k1.start();
    const good = { deviceId: 'd', pointId: 'p', ts: 1, value: 1, quality: { status: 'good' as const, flags: [] }, protocol: 't' };
    await k1.pipeline.ingest([good, good, good]);
    await until('3 records', () => k1.latest.get('d', 'p') !== undefined);
    const last1 = (k1.latest.get('d', 'p') as TelemetryRecord).seq;
    await k1.stop();
    const k2 = make([]);
    await k2.load();
    await k2.start();
    await k2.pipeline.ingest([good]);
    await until('record after restart', () => (k2.latest.get('d', 'p')?.seq ?? 0) > last1);
  });

  it('feeds telemetry sinks from the bus and redelivers a batch the sink failed to write', async () => {
    const sinkModule = (await import('../../fixtures/plugins/memory-sink/index.ts')) as { received: TelemetryRecord[]; attempts: { count: number } };
    sinkModule.received.length = 0;
    sinkModule.attempts.count = 0;
    const k = make([{ path: 'plugins/memory-sink', config: { failFirst: 2 } }]);
    await k.load();
    await k.start();
    const good = { deviceId: 'm', pointId: 'p', ts: 1, value: 1, quality: { status: 'good' as const, flags: [] }, protocol: 't' };
    await k.pipeline.ingest([good, { ...good, value: 2 }, { ...good, value: 3 }]);
    await until('sink received all after two failures', () => sinkModule.received.length >= 3);
    assert.deepEqual(sinkModule.received.map((r) => r.value), [1, 2, 3]);
    assert.ok(sinkModule.attempts.count >= 3);
    assert.equal(k.plugins[0]?.health.current().state, 'up', 'the plugin is up again once the sink writes');
    const metrics = await k.metrics.registry.getSingleMetricAsString('energymesh_errors_total');
    assert.match(metrics, /energymesh_errors_total\{plugin="test\.memory-sink",device="",code="PLUGIN_FAILED"\} 2/);
  });

  it('uses the bus kind a bus plugin provides, and names the available kinds for an unknown one', async () => {
    const mod = (await import('../../fixtures/plugins/custom-bus/index.ts')) as { published: { count: number } };
    const k = make([{ path: 'plugins/custom-bus' }], { bus: { kind: 'counting' } });
    await k.load();
    await k.start();
    assert.equal(k.bus.kind, 'counting');
    const before = mod.published.count;
    await k.pipeline.ingest([{ deviceId: 'd', pointId: 'p', ts: 1, value: 1, quality: { status: 'good', flags: [] }, protocol: 't' }]);
    assert.equal(mod.published.count, before + 1);
    await k.stop();
    const k2 = make([{ path: 'plugins/custom-bus' }], { bus: { kind: 'kafka' } });
    await assert.rejects(k2.load(), /\/bus\/kind: no enabled plugin provides a bus of kind kafka \(available: embedded, counting\)/);
  });

  describe('GDPR egress on an external bus', () => {
    const scanLog = (topic: string): string =>
      (readdirSync(join(dir, 'bus', `energymesh.${topic}`), { recursive: true, withFileTypes: true }) as Dirent[])
        .filter((e) => e.isFile())
        .map((e) => readFileSync(join(e.parentPath ?? e.path, e.name)).toString('latin1'))
        .join('');
    const scanTelemetryLog = (): string => scanLog('telemetry');

    for (const external of [true, false]) {
      it(`${external ? 'pseudonymises' : 'leaves'} personal device ids in what the bus writes when the bus is ${external ? '' : 'not '}external`, async () => {
        process.env.EM_TEST_GDPR_KEY = 'k'.repeat(32);
        const k = make(
          [
            { path: '../../examples/plugin-template', config: { devices: [{ id: 'meter-42', intervalMs: 10 }] } },
            { id: 'compliance.eu-gdpr', config: { keys: [{ id: 'k1', secret: process.env.EM_TEST_GDPR_KEY }], activeKey: 'k1', personalDevices: ['meter-*'] } },
          ],
          { bus: { durable: true, fsync: 'always', external } },
        );
        await k.load();
        k.compliance.enable('eu-gdpr', { by: 'test', reason: 'EU site' });
        await k.start();
        await until('records on the bus', () => k.pipeline.counters.accepted >= 20);
        await k.pipeline.ingestEvents([{ deviceId: 'meter-42', pointId: 'tamper', type: 'alarm', severity: 'warning', ts: Date.now(), message: 'cover opened', data: { serial: 'meter-42-serial' } }]);
        await k.stop();
        const log = scanTelemetryLog();
        const events = scanLog('events');
        assert.ok(events.includes('cover opened'), 'the event was written');
        assert.ok(log.length > 0);
        if (external) {
          assert.ok(!log.includes('meter-42'), 'no personal id in the telemetry log');
          assert.match(log, /p-k1-[0-9a-f]{32}/, 'pseudonyms instead');
          assert.ok(!events.includes('meter-42'), 'no personal id in the events log either (ids pseudonymised in the event, its message and data)');
          assert.match(events, /p-k1-[0-9a-f]{32}/);
        } else {
          assert.ok(log.includes('meter-42'), 'on a site-local bus the id stays (the scan works)');
          assert.ok(events.includes('meter-42-serial'));
        }
      });
    }
  });
});
