/**
 * OPC UA against the DER simulator in a child process (node-opcua server, loopback, free port).
 * One simulator serves the whole file to keep CPU low; the last test kills and restarts it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inlineConfig } from '../../../core/config/config-file.ts';
import type { JsonObject } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { Kernel } from '../../../core/kernel.ts';
import { startInstance } from '../../../core/instance.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import { topicName } from '../../../core/bus/bus.ts';
import type { CommandResult, TelemetryRecord } from '../../../core/model/telemetry.ts';
import type { CliCommandDefinition } from '../../../core/contributions.ts';
import { OpcuaClient } from '../../../protocols/opcua/client/opcua-client.ts';
import type { ItemChange, OpcuaStateChange } from '../../../protocols/opcua/client/opcua-client.ts';
import { routeNodeOpcuaLogs } from '../../../protocols/opcua/client/opcua-logging.ts';
import { OpcuaPki } from '../../../protocols/opcua/client/opcua-pki.ts';
import { SimulatorProcess, TcpProxy, freePort, hangUpServer, until } from './opcua-harness.ts';

const STATIC_TIME = Date.UTC(2026, 0, 1, 12, 0, 0);
const fixtures = resolve(PACKAGE_ROOT, 'test', 'fixtures');

describe('opcua (node-opcua server in a child process)', function () {
  this.timeout(90_000);
  let dir: string;
  let sim: SimulatorProcess;
  const clients: OpcuaClient[] = [];
  const kernels: Kernel[] = [];

  before(async () => {
    routeNodeOpcuaLogs(null);
    dir = mkdtempSync(join(tmpdir(), 'em-opcua-'));
    sim = new SimulatorProcess({
      port: await freePort(),
      pkiDir: join(dir, 'server-pki'),
      rateMs: 100,
      variables: 30,
      maxItemsPerCall: 5,
      maxItemsPerSubscription: 12,
      staticSourceTime: STATIC_TIME,
      users: ['alice:secret'],
    });
    await sim.start();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const k of kernels.splice(0)) await k.stop();
  });

  after(async () => {
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(extra: Partial<Parameters<typeof OpcuaClient.connect>[0]> = {}): Promise<OpcuaClient> {
    const c = await OpcuaClient.connect({ endpointUrl: sim.endpointUrl, pki: new OpcuaPki({ rootFolder: join(dir, 'client-pki') }), reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ...extra });
    clients.push(c);
    return c;
  }

  function kernel(plugins: JsonObject[]): Kernel {
    const source = inlineConfig({ dataDir: join(dir, `kernel-${kernels.length}-${Date.now()}`), api: { enabled: false }, plugins }, fixtures);
    // a loaded 2-core machine may need more than 5 s to start a node-opcua server with a fresh PKI
    const k = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 30_000 });
    kernels.push(k);
    return k;
  }

  it('creates monitored items in bulk within the server limits: several calls and subscriptions, all items live', async () => {
    const c = await connect();
    const limits = await c.limits();
    assert.equal(limits.maxMonitoredItemsPerCall, 5);
    assert.equal(limits.maxMonitoredItemsPerSubscription, 12);
    const found = await c.discover('ns=1;s=EnergyMesh');
    const vars = found.variables;
    assert.ok(vars.length >= 50, `discovered ${vars.length} variables`);
    const pv = vars.find((v) => v.nodeId === 'ns=1;s=PV1.ActivePowerLimit');
    assert.deepEqual(pv && { path: pv.browsePath, type: pv.dataType, w: pv.writable, unit: pv.engineeringUnits }, { path: 'PV1/ActivePowerLimit', type: 'Double', w: true, unit: '%' });
    assert.equal(vars.find((v) => v.nodeId === 'ns=1;s=Info.Nameplate')?.writable, false);
    assert.ok(found.methods.some((m) => m.methodId === 'ns=1;s=Alarms.ResetAlarms' && m.objectId === 'ns=1;s=Alarms'));

    const set = await c.subscribe(
      vars.map((v) => ({ key: v.nodeId, nodeId: v.nodeId })),
      { publishingIntervalMs: 100, defaults: { samplingIntervalMs: 50 } },
    );
    assert.equal(set.subscriptionCount, Math.ceil(vars.length / 12));
    assert.ok(set.calls >= Math.ceil(vars.length / 5), `${set.calls} CreateMonitoredItems calls`);
    assert.ok(set.itemStatuses().every((s) => s.ok));
    assert.deepEqual(await set.verifyOnServer(), { subscriptions: set.subscriptionCount, expected: vars.length, onServer: vars.length });
    const seen = new Map<string, ItemChange>();
    set.onDidReceive((b) => b.forEach((ch) => seen.set(ch.key, ch)));
    await until('a value from every item', () => seen.size === vars.length);

    const unc = seen.get('ns=1;s=Diagnostics.Uncertain') as ItemChange;
    assert.deepEqual([unc.value, unc.quality.status, unc.quality.flags, unc.quality.raw.statusName, unc.sourceTimestamp], [42.5, 'uncertain', ['inaccurate'], 'UncertainSensorNotAccurate', STATIC_TIME]);
    const bad = seen.get('ns=1;s=Diagnostics.Bad') as ItemChange;
    assert.deepEqual([bad.quality.status, bad.quality.flags], ['invalid', ['device-exception']]);
    assert.equal(seen.get('ns=1;s=Info.RatedPower')?.sourceTimestamp, STATIC_TIME);
    assert.equal(seen.get('ns=1;s=PV1.ActivePower')?.quality.status, 'good');
  });

  it('applies deadbands: an absolute deadband filters small changes, a percent deadband uses the EURange', async () => {
    const c = await connect();
    const node = 'ns=1;s=Bench.V00003'; // +1 every tick
    const set = await c.subscribe(
      [
        { key: 'all', nodeId: node },
        { key: 'abs', nodeId: node, deadband: { type: 'absolute', value: 3.5 } },
        { key: 'pct', nodeId: 'ns=1;s=PV1.ActivePowerLimit', deadband: { type: 'percent', value: 5 } },
        { key: 'pct-not-analog', nodeId: node, deadband: { type: 'percent', value: 5 } },
      ],
      { publishingIntervalMs: 100, defaults: { samplingIntervalMs: 50, queueSize: 100 } },
    );
    const st = Object.fromEntries(set.itemStatuses().map((x) => [x.key, x]));
    assert.deepEqual([st.all?.ok, st.abs?.ok, st.pct?.ok], [true, true, true]);
    assert.equal(st['pct-not-analog']?.ok, false, 'a percent deadband needs an EURange');
    const counts = new Map<string, number[]>();
    set.onDidReceive((b) => b.forEach((ch) => counts.set(ch.key, [...(counts.get(ch.key) ?? []), Number(ch.value)])));
    await until('enough unfiltered changes', () => (counts.get('all')?.length ?? 0) >= 25);
    const abs = counts.get('abs') ?? [];
    assert.ok(abs.length >= 2 && abs.length <= Math.ceil((counts.get('all')?.length ?? 0) / 3), `absolute deadband: ${abs.length} changes`);
    for (let i = 1; i < abs.length; i++) assert.ok((abs[i] as number) - (abs[i - 1] as number) > 3.5, `each reported change exceeds the deadband: ${abs.join(',')}`);
    assert.equal((await c.write('ns=1;s=PV1.ActivePowerLimit', 97)).good, true); // 3 % of 0..100: filtered
    assert.equal((await c.write('ns=1;s=PV1.ActivePowerLimit', 80)).good, true); // 20 %: reported
    await until('percent-deadband change', () => (counts.get('pct') ?? []).includes(80));
    assert.deepEqual(counts.get('pct'), [100, 80]);
    assert.equal((await c.write('ns=1;s=PV1.ActivePowerLimit', 100)).good, true);
  });

  it('streams samples through the plugin with source time and quality, maps commands, and survives unknown node ids', async () => {
    const k = kernel([
      {
        id: 'protocol.opcua',
        config: {
          subscription: { publishingIntervalMs: 100, samplingIntervalMs: 50 },
          reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
          devices: [
            {
              id: 'der-1',
              endpointUrl: sim.endpointUrl,
              user: { username: 'alice', password: 'secret' },
              points: [
                { id: 'pv-limit', nodeId: 'ns=1;s=PV1.ActivePowerLimit' },
                { id: 'pv-p', nodeId: 'ns=1;s=PV1.ActivePower' },
                { id: 'rated', nodeId: 'ns=1;s=Info.RatedPower' },
                { id: 'uncertain', nodeId: 'ns=1;s=Diagnostics.Uncertain' },
                { id: 'nameplate', nodeId: 'ns=1;s=Info.Nameplate', writable: true },
                { id: 'limit-as-int', nodeId: 'ns=1;s=PV1.ActivePowerLimit', dataType: 'Int32' },
                { id: 'ghost', nodeId: 'ns=1;s=Does.Not.Exist', writable: true },
                { id: 'garbled', nodeId: 'not a node id' },
                { id: 'reset', method: { objectId: 'ns=1;s=Alarms', methodId: 'ns=1;s=Alarms.ResetAlarms' } },
                { id: 'raise', method: { objectId: 'ns=1;s=Alarms', methodId: 'ns=1;s=Alarms.RaiseAlarm' } },
              ],
              discovery: { root: 'ns=1;s=Battery1' },
            },
          ],
        },
      },
    ]);
    await k.load();
    await k.start();
    await until('values', () => ['pv-p', 'rated', 'uncertain', 'StateOfCharge'].every((p) => k.latest.get('der-1', p) !== undefined));
    const rated = k.latest.get('der-1', 'rated') as TelemetryRecord;
    assert.deepEqual([rated.value, rated.ts, rated.protocol, rated.unit, rated.quality.status], [500, STATIC_TIME, 'opcua', 'kW', 'good']);
    const unc = k.latest.get('der-1', 'uncertain') as TelemetryRecord;
    assert.equal(unc.quality.status, 'uncertain');
    assert.equal(unc.quality.raw?.statusName, 'UncertainSensorNotAccurate');
    const status = k.devicesStatus().find((s) => s.deviceId === 'der-1');
    assert.equal(status?.state, 'degraded');
    assert.match(status?.reason ?? '', /ghost .*BadNodeIdUnknown/);
    assert.match(status?.reason ?? '', /garbled .*bad node id/);
    const desc = k.drivers.all().flatMap((d) => d.driver.devices()).find((d) => d.deviceId === 'der-1');
    assert.ok(desc?.points.some((p) => p.pointId === 'ChargeSetpoint' && p.writable && p.unit === 'kW'), 'discovered points are described');

    const exec = (pointId: string, value: number | string | boolean, action: 'write' | 'operate' = 'write'): Promise<CommandResult> => k.commands.execute({ deviceId: 'der-1', pointId, action, value });
    const ok = await exec('pv-limit', 30);
    assert.equal(ok.status, 'succeeded', JSON.stringify(ok.error));
    await until('PV output capped by the new limit', () => Number(k.latest.get('der-1', 'pv-p')?.value) <= 150);
    const ro = await exec('nameplate', 'x');
    assert.deepEqual([ro.status, ro.error?.code, ro.error?.details?.statusName], ['rejected', 'POINT_NOT_WRITABLE', 'BadNotWritable']);
    const mismatch = await exec('limit-as-int', 10);
    assert.deepEqual([mismatch.status, mismatch.error?.code, mismatch.error?.details?.statusName], ['rejected', 'INVALID_ARGUMENT', 'BadTypeMismatch']);
    const local = await exec('rated', 1);
    assert.deepEqual([local.status, local.error?.code], ['rejected', 'POINT_NOT_WRITABLE']);
    const ghost = await exec('ghost', 1);
    assert.deepEqual([ghost.status, ghost.error?.code], ['rejected', 'UNKNOWN_POINT']);
    const charge = await exec('ChargeSetpoint', 100);
    assert.equal(charge.status, 'succeeded');
    await until('battery follows the setpoint', () => k.latest.get('der-1', 'ActivePower')?.value === 100);

    const raised = await exec('raise', 5, 'operate');
    assert.equal(raised.status, 'succeeded', JSON.stringify(raised.error));
    const reset = await exec('reset', 0, 'operate');
    assert.equal(reset.status, 'succeeded', JSON.stringify(reset.error));
    const outOfRange = await exec('raise', 5000, 'operate');
    assert.deepEqual([outOfRange.status, outOfRange.error?.code, outOfRange.error?.details?.statusName], ['rejected', 'VALUE_OUT_OF_RANGE', 'BadOutOfRange']);
    const wrongAction = await exec('reset', 0, 'write');
    assert.equal(wrongAction.status, 'rejected');
  });

  it('refuses an untrusted server certificate with its thumbprint and the command to trust it; trusting through the CLI command lets it connect', async () => {
    const pkiDir = join(dir, 'secure-pki');
    const k = kernel([
      {
        id: 'protocol.opcua',
        config: {
          pkiDir,
          subscription: { publishingIntervalMs: 100 },
          reconnect: { initialDelayMs: 100, maxDelayMs: 300 },
          devices: [{ id: 'secure-1', endpointUrl: sim.endpointUrl, security: { mode: 'SignAndEncrypt', policy: 'Basic256Sha256' }, points: [{ id: 'v', nodeId: 'ns=1;s=Substation.Bus1.Voltage' }] }],
        },
      },
    ]);
    await k.load();
    await k.start();
    await until('refused', () => /not trusted/.test(k.devicesStatus().find((s) => s.deviceId === 'secure-1')?.reason ?? ''));
    const reason = k.devicesStatus().find((s) => s.deviceId === 'secure-1')?.reason ?? '';
    const tp = /thumbprint ([0-9a-f]{40})/.exec(reason)?.[1];
    assert.ok(tp, reason);
    assert.ok(reason.includes(`energymesh opcua certs trust ${tp}`), reason);
    assert.equal(k.latest.get('secure-1', 'v'), undefined);

    const cmd = k.pluginCommands().find((c) => c.pluginId === 'protocol.opcua' && c.command.name === 'opcua')?.command as CliCommandDefinition;
    const listed = await captureStdout(() => cmd.run(['certs', 'list'], { json: true }));
    const list = JSON.parse(listed.out) as { certificates: { thumbprint: string; status: string }[] };
    assert.deepEqual(list.certificates.map((c) => [c.thumbprint, c.status]), [[tp, 'rejected']]);
    const trusted = await captureStdout(() => cmd.run(['certs', 'trust', tp.slice(0, 12)], {}));
    assert.equal(trusted.code, 0, trusted.out);
    assert.match(trusted.out, new RegExp(`trusted\\s+trusted\\s+${tp}`));
    await until('secure values', () => k.latest.get('secure-1', 'v') !== undefined);
    assert.equal(k.devicesStatus().find((s) => s.deviceId === 'secure-1')?.state, 'online');

    // the same through the client API: a client on the same PKI connects directly now
    const c = await connect({ pki: new OpcuaPki({ rootFolder: pkiDir }), securityMode: 'Sign' });
    assert.equal((await c.read(['ns=1;s=Info.RatedPower']))[0]?.value, 500);
  });

  it('manages the trust list through the API routes', async () => {
    const pkiDir = join(dir, 'secure-pki'); // trusted by the previous test
    const instance = await startInstance(inlineConfig({ dataDir: join(dir, 'api'), api: { port: 0 }, plugins: [{ id: 'protocol.opcua', config: { pkiDir } }] }, fixtures), { defaultMetrics: false });
    try {
      const base = `${instance.url as string}/api/v1/plugins/protocol.opcua/certs`;
      const headers = { authorization: `Bearer ${instance.initialAdminToken?.token as string}` };
      const list = async (): Promise<{ own: { thumbprint: string }; certificates: { thumbprint: string; status: string }[] }> => {
        const res = await fetch(base, { headers });
        assert.equal(res.status, 200);
        return (await res.json()) as { own: { thumbprint: string }; certificates: { thumbprint: string; status: string }[] };
      };
      const before = await list();
      assert.match(before.own.thumbprint, /^[0-9a-f]{40}$/);
      assert.equal(before.certificates.length, 1);
      const tp = before.certificates[0]?.thumbprint as string;
      assert.equal(before.certificates[0]?.status, 'trusted');
      const rejected = await fetch(`${base}/${tp}/reject`, { method: 'POST', headers });
      assert.equal(rejected.status, 200);
      assert.deepEqual((await list()).certificates.map((c) => [c.thumbprint, c.status]), [[tp, 'rejected']]);
      const trusted = await fetch(`${base}/${tp.slice(0, 10)}/trust`, { method: 'POST', headers });
      assert.equal(trusted.status, 200);
      assert.deepEqual((await list()).certificates.map((c) => [c.thumbprint, c.status]), [[tp, 'trusted']]);
      const unknown = await fetch(`${base}/0123456789abcdef/trust`, { method: 'POST', headers });
      const body = await unknown.text();
      assert.ok(unknown.status >= 400 && unknown.status < 500, `status ${unknown.status}: ${body}`);
      assert.match(body, /no certificate with thumbprint 0123456789abcdef/);
    } finally {
      await instance.stop();
    }
  });

  it('runs the simulator as a plugin (simulator.opcua) for the demo, with the driver reading it and a setpoint steering it', async () => {
    const port = await freePort();
    const k = kernel([
      { id: 'simulator.opcua', config: { servers: [{ port, rateMs: 100, feeders: 2 }] } },
      {
        id: 'protocol.opcua',
        config: {
          subscription: { publishingIntervalMs: 100 },
          devices: [{ id: 'sub-1', endpointUrl: `opc.tcp://127.0.0.1:${port}`, discovery: { root: 'ns=1;s=EnergyMesh', exclude: '^(Info|Diagnostics)/' } }],
        },
      },
    ]);
    await k.load();
    await k.start();
    assert.equal(k.plugins.find((p) => p.id === 'simulator.opcua')?.health.current().state, 'up');
    await until('substation values', () => k.latest.get('sub-1', 'Substation/Feeder2/ActivePower') !== undefined && k.latest.get('sub-1', 'Substation/Bus1/Voltage') !== undefined);
    assert.equal(k.latest.get('sub-1', 'Info/Nameplate'), undefined, 'excluded by the discovery filter');
    const open = await k.commands.execute({ deviceId: 'sub-1', pointId: 'Substation/Feeder2/BreakerClosed', action: 'write', value: false });
    assert.equal(open.status, 'succeeded', JSON.stringify(open.error));
    await until('feeder 2 de-energised and an alarm raised', () => k.latest.get('sub-1', 'Substation/Feeder2/ActivePower')?.value === 0 && k.latest.get('sub-1', 'Alarms/Active')?.value === true);
    const reset = await k.commands.execute({ deviceId: 'sub-1', pointId: 'Alarms/ResetAlarms', action: 'operate', value: 0 });
    assert.equal(reset.status, 'succeeded', JSON.stringify(reset.error));
    await until('alarm cleared', () => k.latest.get('sub-1', 'Alarms/Active')?.value === false);
  });

  it('gives typed errors for bad endpoints, refused connections, servers that hang up, and wrong credentials', async () => {
    await assert.rejects(OpcuaClient.connect({ endpointUrl: 'http://127.0.0.1:4840' }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID') && /opc\.tcp:\/\/host:port/.test(e.message));
    await assert.rejects(OpcuaClient.connect({ endpointUrl: 'opc.tcp://127.0.0.1' }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    const pki = new OpcuaPki({ rootFolder: join(dir, 'client-pki') });
    const closedPort = await freePort();
    await assert.rejects(OpcuaClient.connect({ endpointUrl: `opc.tcp://127.0.0.1:${closedPort}`, pki, reconnectInitialDelayMs: 50 }), (e) => isEnergyMeshError(e, 'CONNECTION_REFUSED') && e.retriable);
    for (const garbage of [false, true]) {
      const h = await hangUpServer(garbage);
      try {
        await assert.rejects(
          OpcuaClient.connect({ endpointUrl: `opc.tcp://127.0.0.1:${h.port}`, pki, reconnectInitialDelayMs: 50 }),
          (e) => isEnergyMeshError(e) && ['CONNECTION_CLOSED', 'CONNECTION_REFUSED'].includes(e.code) && e.retriable,
        );
      } finally {
        await h.stop();
      }
    }
    await assert.rejects(connect({ user: { username: 'alice', password: 'wrong' } }), (e) => isEnergyMeshError(e, 'UNAUTHORIZED'));
    await assert.rejects(connect({ securityMode: 'Sign', securityPolicy: 'None' }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });

  it('recovers when the connection is cut mid-session: the session is resumed, every item delivers again, nothing twice', async () => {
    const proxy = new TcpProxy(Number(new URL(sim.endpointUrl).port));
    await proxy.start();
    try {
      const c = await connect({ endpointUrl: `opc.tcp://127.0.0.1:${proxy.port}` });
      const ids = ['ns=1;s=PV1.ActivePower', 'ns=1;s=Info.RatedPower', 'ns=1;s=Diagnostics.Uncertain', ...Array.from({ length: 10 }, (_, i) => `ns=1;s=Bench.V${String(i).padStart(5, '0')}`)];
      const set = await c.subscribe(ids.map((id) => ({ key: id, nodeId: id })), { publishingIntervalMs: 100, defaults: { samplingIntervalMs: 50 } });
      const changes: ItemChange[] = [];
      set.onDidReceive((b) => changes.push(...b));
      const states: OpcuaStateChange[] = [];
      c.onDidChangeState((s) => states.push(s));
      await until('first values', () => new Set(changes.map((ch) => ch.key)).size === ids.length);
      proxy.cut();
      await until('restored', () => states.some((s) => s.state === 'restored'), 30_000);
      const mark = changes.length;
      await until('changing items deliver again', () => {
        const after = new Set(changes.slice(mark).map((ch) => ch.key));
        return ids.filter((id) => id.includes('Bench')).every((id) => after.has(id));
      });
      assert.ok(states.some((s) => s.state === 'reconnecting'));
      const restored = states.find((s) => s.state === 'restored');
      assert.deepEqual([restored?.restore?.items, restored?.restore?.liveItems], [ids.length, ids.length]);
      assertNoDuplicates(changes.map((ch) => `${ch.key}|${ch.sourceTimestamp}|${ch.value}|${ch.statusCode}`));
      assert.equal(changes.filter((ch) => ch.key === 'ns=1;s=Info.RatedPower').length, 1, 'the static value is delivered once');
      assert.ok(set.dedup.duplicates >= 1, 'the server did replay values (initial values after the transfer) and they were dropped');
      assert.deepEqual(await set.verifyOnServer(), { subscriptions: 2, expected: ids.length, onServer: ids.length });
    } finally {
      await proxy.stop();
    }
  });

  it('restores every monitored item after the server is killed and restarted on the same port, without duplicate samples', async () => {
    const k = kernel([
      {
        id: 'protocol.opcua',
        config: {
          subscription: { publishingIntervalMs: 100, samplingIntervalMs: 50 },
          reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
          devices: [{ id: 'der-2', endpointUrl: sim.endpointUrl, discovery: { root: 'ns=1;s=EnergyMesh' } }],
        },
      },
    ]);
    await k.load();
    await k.start();
    const seen: TelemetryRecord[] = [];
    const sub = await k.bus.subscribe<TelemetryRecord>(topicName(k.bus.prefix, 'telemetry'), { group: 'test.opcua', fromBeginning: true }, (batch) => {
      for (const m of batch) if (m.value.deviceId === 'der-2') seen.push(m.value);
    });
    try {
      const driver = k.drivers.all().find((d) => d.driver.id === 'opcua')?.driver as unknown as { devicesById: Map<string, { items?: { dedup: { duplicates: number }; verifyOnServer(): Promise<{ expected: number; onServer: number; subscriptions: number }> } }> };
      const device = driver.devicesById.get('der-2');
      await until('subscribed', () => device?.items !== undefined);
      const before = await device?.items?.verifyOnServer();
      assert.ok(before && before.expected >= 50 && before.onServer === before.expected && before.subscriptions >= 5, JSON.stringify(before));
      const points = new Set<string>();
      await until('every point once', () => {
        for (const r of seen) points.add(r.pointId);
        return points.size === before?.expected;
      });

      await sim.kill();
      await until('offline', () => k.devicesStatus().find((s) => s.deviceId === 'der-2')?.state === 'offline');
      const restartedAt = Date.now();
      await sim.start();
      await until('online again', () => k.devicesStatus().find((s) => s.deviceId === 'der-2')?.state === 'online', 60_000);
      const after = await device?.items?.verifyOnServer();
      assert.deepEqual(after, before, 'the same number of subscriptions and items on the new server');
      await until('changing points deliver again', () => {
        const fresh = new Set(seen.filter((r) => r.ts >= restartedAt && r.quality.status === 'good').map((r) => r.pointId));
        return [...points].filter((p) => p.startsWith('Bench/') || p === 'PV1/Irradiance').every((p) => fresh.has(p));
      });
      const commLost = seen.filter((r) => r.quality.flags.includes('comm-lost'));
      assert.equal(commLost.length, points.size, 'each point marked comm-lost once during the outage');
      assertNoDuplicates(seen.filter((r) => !r.quality.flags.includes('comm-lost')).map((r) => `${r.pointId}|${r.ts}|${r.value}|${r.quality.status}`));
      assert.equal(seen.filter((r) => r.pointId === 'Info/RatedPower' && r.quality.status === 'good').length, 1, 'the static value (same source time after the restart) is not emitted again');
      assert.ok((device?.items?.dedup.duplicates ?? 0) >= 1, 'replayed initial values were dropped');
    } finally {
      await sub.close();
    }
  });
});

function assertNoDuplicates(keys: string[]): void {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const dups = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(dups, [], 'no change is delivered twice');
}

async function captureStdout(fn: () => Promise<number> | number): Promise<{ code: number; out: string }> {
  const original = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await fn();
    return { code, out };
  } finally {
    process.stdout.write = original;
  }
}
