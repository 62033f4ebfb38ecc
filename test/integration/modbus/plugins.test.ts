/**
 * The protocol.modbus and simulator.modbus plugins: manifests and config schemas under the core's
 * strict ajv, their ContainerModules in a container, and the ModbusDriver run with a DriverContext that
 * collects what the driver hands to the kernel (samples, device status, metrics, command results).
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Container } from 'inversify';
import { compileSchema, createAjv } from '../../../core/config/schema-validator.ts';
import type { DriverContext, PluginContext, ProtocolDriver, ProtocolDriverContribution } from '../../../core/contributions.ts';
import { LifecycleContribution, PluginContext as PluginContextId, ProtocolDriverContribution as DriverContributionId } from '../../../core/contributions.ts';
import { silentLogger } from '../../../core/logging/logger.ts';
import type { Command, DeviceStatus, Sample } from '../../../core/model/telemetry.ts';
import protocolModule, { ModbusDriver, type ModbusPluginConfig } from '../../../plugins/protocol-modbus/index.ts';
import type { ModbusSimulatorLifecycle } from '../../../plugins/simulator-modbus/index.ts';
import simulatorModule, { type ModbusSimulatorPluginConfig } from '../../../plugins/simulator-modbus/index.ts';
import type { PvInverter } from '../../../protocols/modbus/simulator/simulated-devices.ts';
import { freePort, waitFor } from './helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(root, p), 'utf8')) as Record<string, unknown>;

/** A DriverContext that keeps everything the driver reports. */
class CollectingDriverContext implements DriverContext {
  readonly samples: Sample[] = [];
  readonly statuses: DeviceStatus[] = [];
  readonly polls: { deviceId: string; seconds: number; ok: boolean }[] = [];
  readonly errors: { deviceId: string; code: string }[] = [];
  readonly logger = silentLogger();
  readonly ingest = {
    ingest: async (samples: readonly Sample[]): Promise<void> => {
      this.samples.push(...samples);
    },
    ingestEvents: async (): Promise<void> => undefined,
  };
  readonly metrics = {
    observePoll: (deviceId: string, seconds: number, ok: boolean): void => {
      this.polls.push({ deviceId, seconds, ok });
    },
    countError: (deviceId: string, code: string): void => {
      this.errors.push({ deviceId, code });
    },
  };
  reportDeviceStatus(status: DeviceStatus): void {
    this.statuses.push(status);
  }
  latest(deviceId: string, pointId: string): Sample | undefined {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i]!;
      if (s.deviceId === deviceId && s.pointId === pointId) return s;
    }
    return undefined;
  }
}

function pluginContext<C>(id: string, config: C): PluginContext<C> {
  let health = { state: 'up' as 'up' | 'degraded' | 'down', since: Date.now() } as { state: 'up' | 'degraded' | 'down'; reason?: string; since: number };
  return {
    id,
    manifest: { id, kind: 'protocol', version: '0.1.0', apiVersion: '1', entry: './index.ts' },
    config,
    logger: silentLogger(),
    dataDir: '/nonexistent',
    health: {
      up: () => (health = { state: 'up', since: Date.now() }),
      degraded: (reason: string) => (health = { state: 'degraded', reason, since: Date.now() }),
      down: (reason: string) => (health = { state: 'down', reason, since: Date.now() }),
      current: () => health,
    },
    guard: (_what: string, fn: () => unknown) => {
      try {
        void fn();
      } catch {
        // the kernel would degrade the plugin
      }
    },
  };
}

function command(deviceId: string, pointId: string, value: number | boolean | string, action: Command['action'] = 'write'): Command {
  return { id: `c-${Math.random()}`, deviceId, pointId, value, action, timeoutMs: 1000, issuedAt: Date.now() };
}

describe('modbus plugins', function () {
  this.timeout(20_000);

  it('manifests and config schemas pass the core strict ajv, with defaults', () => {
    const ajv = createAjv();
    const manifestSchema = readJson('schemas/plugin-manifest.schema.json');
    const validManifest = compileSchema(ajv, manifestSchema, 'plugin-manifest');
    for (const dir of ['plugins/protocol-modbus', 'plugins/simulator-modbus']) {
      const manifest = readJson(`${dir}/plugin.json`);
      assert.ok(validManifest(manifest), `${dir}: ${JSON.stringify(validManifest.errors)}`);
    }
    const validate = compileSchema<ModbusPluginConfig>(ajv, readJson('plugins/protocol-modbus/config.schema.json'), 'protocol.modbus');
    const config = {
      devices: [
        { id: 'pv-1', transport: { type: 'tcp', host: '127.0.0.1', port: 502 }, sunspec: { enabled: true } },
        {
          id: 'meter-1',
          transport: { type: 'rtu', path: '/dev/ttyUSB0', baudRate: 19200, parity: 'even' },
          unitId: 7,
          pollGroups: [
            { name: 'fast', intervalMs: 500 },
            { name: 'slow', intervalMs: 60000 },
          ],
          points: [
            { id: 'power', table: 'input', address: 12, type: 'f32', wordOrder: 'little', unit: 'W' },
            { id: 'energy', table: 'holding', address: 100, type: 'u64', scale: 0.001, unit: 'kWh', pollGroup: 'slow' },
            { id: 'limit', table: 'holding', address: 200, type: 'i16', scale: 0.1, writable: true, min: 0, max: 100 },
            { id: 'relay', table: 'coil', address: 0, writable: true },
          ],
        },
        { id: 'gw-2', transport: { type: 'rtu-over-tcp', host: 'gw.local', port: 4001 }, unitId: 2 },
      ],
    };
    assert.ok(validate(config), JSON.stringify(validate.errors));
    const dev0 = config.devices[0] as unknown as Record<string, unknown>;
    assert.equal(dev0.unitId, 1);
    assert.equal(dev0.timeoutMs, 1000);
    assert.deepEqual(dev0.pollGroups, [{ name: 'default', intervalMs: 1000 }]);
    assert.equal((dev0.sunspec as Record<string, unknown>).dropNotImplemented, true);
    assert.equal(((config.devices[1] as unknown as Record<string, unknown>).points as Record<string, unknown>[])[0]!.byteOrder, 'big');
    // the driver accepts what the schema produced
    assert.doesNotThrow(() => new ModbusDriver(config as unknown as ModbusPluginConfig));
    for (const bad of [
      { devices: [{ id: 'x', transport: { type: 'tcp', host: 'h' } }] },
      { devices: [{ id: 'x', transport: { type: 'udp', host: 'h', port: 1 } }] },
      { devices: [{ id: 'x', transport: { type: 'tcp', host: 'h', port: 1 }, points: [{ id: 'p', table: 'holding', address: 70000 }] }] },
      { devices: [{ id: 'x', transport: { type: 'tcp', host: 'h', port: 1 }, maxRegistersPerRead: 126 }] },
      { devices: [{ id: 'x', transport: { type: 'tcp', host: 'h', port: 1 }, points: [{ id: 'p', table: 'holding', address: 0, type: 'u128' }] }] },
      { devices: [{ id: 'x', transport: { type: 'tcp', host: 'h', port: 1 }, points: [{ id: 'p', table: 'holding', address: 0, scale: 0 }] }] },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
    }
    const validSim = compileSchema<ModbusSimulatorPluginConfig>(ajv, readJson('plugins/simulator-modbus/config.schema.json'), 'simulator.modbus');
    const sim = { devices: [{ id: 'pv', kind: 'pv', port: 15020 }] };
    assert.ok(validSim(sim), JSON.stringify(validSim.errors));
    assert.equal((sim.devices[0] as unknown as Record<string, unknown>).unitId, 1);
    assert.equal(validSim({ devices: [{ id: 'x', kind: 'wind', port: 1 }] }), false);
  });

  it('runs simulated devices and the driver through their ContainerModules', async () => {
    const port = await freePort();
    const simConfig: ModbusSimulatorPluginConfig = {
      tickMs: 100,
      devices: [
        { id: 'pv', kind: 'pv', port, unitId: 1, dayLengthS: 60 },
        { id: 'bat', kind: 'battery', port, unitId: 2 },
        { id: 'meter', kind: 'meter', port, unitId: 3 },
      ],
    };
    const simContainer = new Container();
    simContainer.bind<PluginContext>(PluginContextId).toConstantValue(pluginContext('simulator.modbus', simConfig));
    await simContainer.load(simulatorModule);
    const lifecycles = simContainer.getAll<LifecycleContribution>(LifecycleContribution);
    assert.equal(lifecycles.length, 1);
    await lifecycles[0]!.onStart?.();
    const simulator = (lifecycles[0] as ModbusSimulatorLifecycle).running!;

    const config: ModbusPluginConfig = {
      devices: ['pv', 'bat', 'meter'].map((id, i) => ({
        id,
        transport: { type: 'tcp' as const, host: '127.0.0.1', port },
        unitId: i + 1,
        sunspec: { enabled: true },
        pollGroups: [{ name: 'default', intervalMs: 200 }],
      })),
    };
    const container = new Container();
    container.bind<PluginContext>(PluginContextId).toConstantValue(pluginContext('protocol.modbus', config));
    await container.load(protocolModule);
    const drivers: ProtocolDriver[] = [];
    for (const c of container.getAll<ProtocolDriverContribution>(DriverContributionId)) {
      c.registerDrivers({ register: (d) => (drivers.push(d), { dispose: () => undefined }) });
    }
    assert.equal(drivers.length, 1);
    const driver = drivers[0]!;
    assert.equal(driver.protocol, 'modbus');
    const ctx = new CollectingDriverContext();
    await driver.start(ctx);
    try {
      await waitFor(() => ctx.latest('pv', 'inverter.W') && ctx.latest('bat', 'battery.SoC') && ctx.latest('meter', 'ac_meter.TotWhImp'), 8000, 'samples');
      const w = ctx.latest('pv', 'inverter.W')!;
      assert.equal(w.protocol, 'modbus');
      assert.equal(w.unit, 'W');
      assert.deepEqual(w.quality, { status: 'good', flags: [] });
      assert.ok(typeof w.ts === 'number' && Math.abs(w.ts - Date.now()) < 5000);
      await waitFor(() => ctx.statuses.filter((s) => s.state === 'online').length === 3, 3000, 'online');
      assert.ok(ctx.polls.some((p) => p.deviceId === 'meter' && p.ok && p.seconds >= 0));
      assert.deepEqual(
        driver.deviceStatus().map((s) => s.state),
        ['online', 'online', 'online'],
      );
      const descriptors = driver.devices();
      const pv = descriptors.find((d) => d.deviceId === 'pv')!;
      assert.match(pv.description ?? '', /103@40070/);
      const wmax = pv.points.find((p) => p.pointId === 'controls.WMaxLimPct')!;
      assert.deepEqual({ writable: wmax.writable, protocol: wmax.protocol, unit: wmax.unit }, { writable: true, protocol: 'modbus', unit: '% WMax' });

      // commands
      const ok = await driver.execute(command('pv', 'controls.WMaxLimPct', 40));
      assert.equal(ok.status, 'succeeded');
      assert.ok(ok.completedAt! >= ok.issuedAt);
      assert.equal(simulator.device<PvInverter>('pv').limitW(), 4000);
      await waitFor(() => ctx.latest('pv', 'controls.WMaxLimPct')?.value === 40, 3000, 'new setpoint polled');
      const cases: [Command, string, string][] = [
        [command('pv', 'nope', 1), 'rejected', 'UNKNOWN_POINT'],
        [command('ghost', 'x', 1), 'rejected', 'UNKNOWN_DEVICE'],
        [command('pv', 'inverter.W', 1), 'rejected', 'POINT_NOT_WRITABLE'],
        [command('pv', 'controls.WMaxLimPct', 1e9), 'rejected', 'VALUE_OUT_OF_RANGE'],
        [command('pv', 'controls.WMaxLimPct', 1, 'operate'), 'rejected', 'INVALID_ARGUMENT'],
      ];
      for (const [cmd, status, code] of cases) {
        const r = await driver.execute(cmd);
        assert.equal(r.status, status, JSON.stringify(r));
        assert.equal(r.error?.code, code);
        assert.equal(r.commandId, cmd.id);
      }
      // a unit that stops answering: the write times out, its points go invalid, the device offline
      simulator.server('bat').setBehaviour(2, { mode: 'silent' });
      const t = await driver.execute(command('bat', 'storage.OutWRte', 10));
      assert.equal(t.status, 'timeout');
      await waitFor(() => ctx.statuses.find((s) => s.deviceId === 'bat' && s.state === 'offline'), 5000, 'bat offline');
      assert.equal(ctx.latest('bat', 'battery.SoC')?.quality.status, 'invalid');
      assert.ok(ctx.errors.some((e) => e.deviceId === 'bat' && e.code === 'TIMEOUT'));
      assert.equal(ctx.latest('meter', 'ac_meter.W')?.quality.status, 'good');
    } finally {
      await driver.stop();
      await lifecycles[0]!.onStop?.();
    }
  });
});
