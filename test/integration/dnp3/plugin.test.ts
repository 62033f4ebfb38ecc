/**
 * The protocol.dnp3 plugin: manifest and config schema under the core's strict ajv, its
 * ContainerModule in a container, and the Dnp3Driver against our outstation over loopback TCP with a
 * DriverContext that collects samples, device status and metrics.
 */
import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Container } from 'inversify';
import { compileSchema, createAjv } from '../../../core/config/schema-validator.ts';
import type { DriverContext, PluginContext, ProtocolDriver, ProtocolDriverContribution } from '../../../core/contributions.ts';
import { PluginContext as PluginContextId, ProtocolDriverContribution as DriverContributionId } from '../../../core/contributions.ts';
import { silentLogger } from '../../../core/logging/logger.ts';
import type { Command, DeviceStatus, Sample } from '../../../core/model/telemetry.ts';
import dnp3Module, { Dnp3Driver, dnp3Quality } from '../../../plugins/protocol-dnp3/index.ts';
import type { Dnp3PluginConfig } from '../../../plugins/protocol-dnp3/index.ts';
import { listenTcp } from '../../../protocols/dnp3/session/channel.ts';
import { Outstation } from '../../../protocols/dnp3/outstation/outstation.ts';
import { VECTOR_T0, vectorDatabase } from '../../../protocols/dnp3/testing/vector-database.ts';
import { waitFor } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(root, p), 'utf8')) as Record<string, unknown>;

class CollectingDriverContext implements DriverContext {
  readonly samples: Sample[] = [];
  readonly statuses: DeviceStatus[] = [];
  readonly polls: boolean[] = [];
  readonly logger = silentLogger();
  readonly ingest = {
    ingest: async (s: readonly Sample[]): Promise<void> => {
      this.samples.push(...s);
    },
    ingestEvents: async (): Promise<void> => undefined,
  };
  readonly metrics = {
    observePoll: (_d: string, _s: number, ok: boolean): void => {
      this.polls.push(ok);
    },
    countError: (): void => undefined,
  };
  reportDeviceStatus(s: DeviceStatus): void {
    this.statuses.push(s);
  }
  latest(pointId: string): Sample | undefined {
    return [...this.samples].reverse().find((s) => s.pointId === pointId);
  }
}

function command(pointId: string, value: number | boolean, action: Command['action'] = 'operate'): Command {
  return { id: `c-${pointId}-${String(value)}`, deviceId: 'rtu-1', pointId, value, action, timeoutMs: 2000, issuedAt: Date.now() };
}

describe('protocol.dnp3 plugin', function () {
  this.timeout(20_000);

  it('manifest and config schema are valid under the core ajv, with defaults', () => {
    const ajv = createAjv();
    const manifestOk = compileSchema(ajv, readJson('schemas/plugin-manifest.schema.json'), 'plugin-manifest');
    assert.ok(manifestOk(readJson('plugins/protocol-dnp3/plugin.json')), JSON.stringify(manifestOk.errors));
    const validate = compileSchema<Dnp3PluginConfig>(ajv, readJson('plugins/protocol-dnp3/config.schema.json'), 'protocol.dnp3');
    const cfg: Record<string, unknown> = { outstations: [{ deviceId: 'rtu-1', host: '127.0.0.1', points: [{ id: 'bus-kv', type: 'analogInput', index: 0 }] }] };
    assert.ok(validate(cfg), JSON.stringify(validate.errors));
    assert.equal((cfg as unknown as Dnp3PluginConfig).outstations[0]?.port, 20000);
    assert.equal(validate({ outstations: [{ deviceId: 'x', host: 'h', points: [{ id: 'p', type: 'gizmo', index: 0 }] }] }), false);
    assert.ok(validate(readJson('test/fixtures/dnp3/plugin-config.example.json')), JSON.stringify(validate.errors));
  });

  it('maps DNP3 flags to normalized quality and keeps the raw flags', () => {
    assert.deepEqual(dnp3Quality('binaryInput', 0x81), { status: 'good', flags: [], raw: { dnp3Flags: 0x81, names: 'ONLINE' } });
    assert.deepEqual(dnp3Quality('binaryInput', 0x85).status, 'invalid');
    assert.deepEqual(dnp3Quality('binaryInput', 0x85).flags, ['comm-lost']);
    assert.deepEqual(dnp3Quality('analogInput', 0x21).flags, ['over-range']);
    assert.equal(dnp3Quality('analogInput', 0x41).status, 'uncertain');
    assert.deepEqual(dnp3Quality('analogInput', 0x41).flags, ['reference-error']);
    assert.deepEqual(dnp3Quality('binaryOutputStatus', 0x91).flags, ['local-forced']);
    assert.deepEqual(dnp3Quality('analogInput', 0x0a).flags, ['offline', 'restart', 'remote-forced']);
    assert.equal(dnp3Quality('analogInput', undefined).status, 'good');
  });

  it('polls our outstation through the ContainerModule: samples, events with source time, commands, comm loss', async () => {
    const outstation = new Outstation(vectorDatabase());
    const listener = await listenTcp('127.0.0.1', 0, (c) => outstation.attach(c));
    const config: Dnp3PluginConfig = {
      outstations: [
        {
          deviceId: 'rtu-1',
          host: '127.0.0.1',
          port: listener.port,
          keepAliveMs: 0,
          responseTimeoutMs: 1000,
          reconnectDelayMs: 50,
          eventPollPeriodMs: 50,
          integrityPeriodMs: 0,
          points: [
            { id: 'bus-kv', type: 'analogInput', index: 0, unit: 'kV', scale: 0.01 },
            { id: 'breaker-1', type: 'binaryOutputStatus', index: 0 },
            { id: 'p-limit', type: 'analogOutputStatus', index: 2, control: { mode: 'direct', analogVariation: 3 } },
            { id: 'phantom-breaker', type: 'binaryOutputStatus', index: 10 },
          ],
        },
      ],
    };
    const container = new Container();
    const pluginCtx: PluginContext<Dnp3PluginConfig> = {
      id: 'protocol.dnp3',
      manifest: { id: 'protocol.dnp3', kind: 'protocol', version: '0.1.0', apiVersion: '1', entry: './index.ts' },
      config,
      logger: silentLogger(),
      dataDir: '/nonexistent',
      health: { up: () => undefined, degraded: () => undefined, down: () => undefined, current: () => ({ state: 'up', since: 0 }) },
      guard: () => undefined,
    };
    container.bind(PluginContextId).toConstantValue(pluginCtx);
    await container.load(dnp3Module);
    const drivers: ProtocolDriver[] = [];
    for (const c of container.getAll<ProtocolDriverContribution>(DriverContributionId)) c.registerDrivers({ register: (d) => (drivers.push(d), { dispose: () => undefined }) });
    assert.equal(drivers.length, 1);
    const driver = drivers[0] as Dnp3Driver;
    const ctx = new CollectingDriverContext();
    try {
      await driver.start(ctx);
      await waitFor(() => ctx.samples.some((s) => s.tags?.['source'] === 'integrity') && !outstation.restart, 5000, 'integrity samples');
      assert.equal(ctx.latest('bus-kv')?.value, 123.45);
      assert.equal(ctx.latest('bus-kv')?.unit, 'kV');
      // discovered points and their quality
      assert.deepEqual(ctx.latest('binaryInput.4')?.quality.flags, ['comm-lost']);
      assert.equal(ctx.latest('binaryInput.3')?.quality.status, 'uncertain');
      assert.equal(ctx.latest('analogInput.5')?.quality.raw?.['names'], 'ONLINE|REFERENCE_ERR');
      assert.ok(driver.devices()[0]?.points.some((p) => p.pointId === 'counter.1'));
      assert.ok(ctx.statuses.some((s) => s.state === 'online'));
      // an event: source time and over-range quality
      outstation.update('analogInput', 0, 12500, { flags: 0x21, time: VECTOR_T0 + 2020 });
      await waitFor(() => ctx.latest('bus-kv')?.ts === VECTOR_T0 + 2020, 3000, 'event sample');
      assert.deepEqual(ctx.latest('bus-kv')?.quality, { status: 'uncertain', flags: ['over-range'], raw: { dnp3Flags: 0x21, names: 'ONLINE|OVER_RANGE' } });
      assert.equal(ctx.latest('bus-kv')?.tags?.['event'], 'true');
      assert.ok(ctx.polls.includes(true));
      // commands
      const c1 = await driver.execute(command('breaker-1', true, 'select-operate'));
      assert.equal(c1.status, 'succeeded');
      assert.equal(outstation.database.get('binaryOutputStatus', 0)?.value, true);
      const c2 = await driver.execute(command('p-limit', 12.5, 'write'));
      assert.equal(c2.status, 'succeeded');
      assert.equal(outstation.database.get('analogOutputStatus', 2)?.value, 12.5);
      const c3 = await driver.execute(command('phantom-breaker', true));
      assert.equal(c3.status, 'rejected');
      assert.equal(c3.error?.details?.['statusName'], 'NOT_SUPPORTED');
      const c4 = await driver.execute(command('bus-kv', 1));
      assert.deepEqual([c4.status, c4.error?.code], ['rejected', 'POINT_NOT_WRITABLE']);
      const c5 = await driver.execute({ ...command('breaker-1', true), deviceId: 'nope' });
      assert.deepEqual([c5.status, c5.error?.code], ['failed', 'UNKNOWN_DEVICE']);
      // the outstation goes away: device offline, last values marked comm-lost
      outstation.dispose();
      await listener.close();
      await waitFor(() => ctx.statuses.some((s) => s.state === 'offline'), 3000, 'offline');
      await waitFor(() => ctx.latest('bus-kv')?.quality.status === 'invalid', 3000, 'comm-lost quality');
      assert.deepEqual(ctx.latest('bus-kv')?.quality.flags, ['comm-lost', 'not-connected']);
      assert.equal(ctx.latest('bus-kv')?.value, 125);
    } finally {
      await driver.stop();
      outstation.dispose();
      await listener.close();
    }
  });

  it('runs an in-process simulator from its YAML file and polls it (demo convenience)', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const driver = new Dnp3Driver({
      simulators: [{ configFile: path.join(root, 'protocols/dnp3/simulator/substation-rtu.yaml'), port }],
      outstations: [{ deviceId: 'rtu-sim', host: '127.0.0.1', port, keepAliveMs: 0, eventPollPeriodMs: 100, integrityPeriodMs: 0, timeSync: 'lan' }],
    });
    const ctx = new CollectingDriverContext();
    try {
      await driver.start(ctx);
      await waitFor(() => new Set(ctx.samples.map((s) => s.pointId)).size === 13, 5000, 'all 13 simulator points');
      assert.ok(driver.devices()[0]?.points.some((p) => p.pointId === 'analogOutputStatus.0' && p.writable));
    } finally {
      await driver.stop();
    }
  });
});
