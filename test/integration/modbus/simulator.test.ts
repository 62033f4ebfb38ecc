/**
 * The Modbus driver layer against our simulator: SunSpec discovery, setpoints that change the simulated
 * behaviour, dead units and dead connections among live ones, a server that accepts and stays silent.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { ModbusDeviceConfig, ModbusDeviceStatus } from '../../../protocols/modbus/driver/modbus-config.ts';
import { ModbusPoller } from '../../../protocols/modbus/driver/modbus-poller.ts';
import { ModbusSimulator } from '../../../protocols/modbus/simulator/modbus-simulator.ts';
import type { Battery, PvInverter, RevenueMeter } from '../../../protocols/modbus/simulator/simulated-devices.ts';
import { freePort, SampleLog, sleep, waitFor } from './helpers.ts';

const FAST = { reconnect: { initialMs: 100, maxMs: 400 }, unitBackoff: { initialMs: 300, maxMs: 1000 } };
// With a 60 s simulated day, t = 30 s is solar noon.
const NOON = 30_000;

describe('modbus against the simulator', function () {
  this.timeout(30_000);
  let sim: ModbusSimulator;
  let poller: ModbusPoller | undefined;
  let gatewayPort: number;

  beforeEach(async () => {
    gatewayPort = await freePort();
    sim = new ModbusSimulator({
      tickMs: 60_000, // the tests tick by hand
      devices: [
        { id: 'pv', kind: 'pv', port: gatewayPort, unitId: 1, dayLengthS: 60 },
        { id: 'bat', kind: 'battery', port: gatewayPort, unitId: 2 },
        { id: 'meter', kind: 'meter', port: gatewayPort, unitId: 3, dayLengthS: 60 },
        { id: 'other', kind: 'generic', port: 0, registers: 20 },
      ],
    });
    await sim.start();
  });
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
    await sim.stop();
  });

  function devicesFor(ids: string[], extra: Partial<ModbusDeviceConfig> = {}): ModbusDeviceConfig[] {
    return ids.map((id) => {
      const e = sim.endpoint(id);
      return {
        id,
        transport: { type: 'tcp', host: e.host, port: e.port },
        unitId: e.unitId,
        connection: FAST,
        sunspec: id === 'other' ? undefined : { enabled: true },
        points: id === 'other' ? [{ id: 'r0', table: 'holding', address: 0 }] : undefined,
        ...extra,
      };
    });
  }

  it('discovers the SunSpec maps and produces scaled points', async () => {
    const log = new SampleLog();
    const changed: string[] = [];
    poller = new ModbusPoller({
      devices: devicesFor(['pv', 'bat', 'meter'], { pollGroups: [{ name: 'g', intervalMs: 200 }] }),
      onSamples: log.push,
      onDidChangePoints: (id) => changed.push(id),
      spreadStart: false,
    });
    poller.start();
    await waitFor(() => changed.length === 3, 5000, 'discovery');
    assert.deepEqual(
      poller.sunspecMap('pv')!.models.map((m) => m.id),
      [1, 103, 123],
    );
    assert.deepEqual(
      poller.sunspecMap('bat')!.models.map((m) => m.id),
      [1, 124, 802],
    );
    assert.deepEqual(
      poller.sunspecMap('meter')!.models.map((m) => m.id),
      [1, 203],
    );
    const pvIds = poller.points('pv').map((p) => p.pointId);
    for (const id of ['common.Mn', 'common.SN', 'inverter.W', 'inverter.WH', 'inverter.PhVphA', 'inverter.Hz', 'controls.WMaxLimPct']) {
      assert.ok(pvIds.includes(id), id);
    }
    assert.ok(!pvIds.some((id) => id.endsWith('_SF')), 'scale factors are not points of their own');
    assert.ok(!pvIds.includes('inverter.TmpSnk'), 'not implemented points are dropped');
    const wmax = poller.points('pv').find((p) => p.pointId === 'controls.WMaxLimPct')!;
    assert.equal(wmax.writable, true);
    assert.deepEqual(wmax.address, { table: 'holding', address: 40002 + 68 + 52 + 2 + 3, unitId: 1, type: 'u16', registers: 1 });
    const batIds = poller.points('bat').map((p) => p.pointId);
    for (const id of ['storage.ChaState', 'storage.StorCtl_Mod', 'storage.InWRte', 'storage.OutWRte', 'battery.SoC', 'battery.W']) assert.ok(batIds.includes(id), id);
    assert.ok(poller.points('meter').some((p) => p.pointId === 'ac_meter.TotWhImp' && p.kind === 'counter'));
    assert.match(poller.describe('meter'), /SunSpec at 40000: 1@40002\(L=66\) 203@40070\(L=105\)/);

    await waitFor(() => log.get('meter', 'ac_meter.Hz') && log.get('bat', 'battery.SoC') && log.get('pv', 'inverter.PhVphA'), 5000, 'values');
    assert.equal(log.get('pv', 'common.Mn')?.value, 'EnergyMesh');
    assert.equal(log.get('pv', 'common.SN')?.value, 'pv');
    const v = log.get('pv', 'inverter.PhVphA')!;
    assert.ok(typeof v.value === 'number' && Math.abs(v.value - 230) < 2, String(v.value));
    assert.equal(v.unit, 'V');
    assert.ok(Math.abs((log.get('meter', 'ac_meter.Hz')!.value as number) - 50) < 0.1);
    assert.equal(log.get('bat', 'battery.SoC')?.value, 50);
    assert.equal(log.get('bat', 'storage.ChaState')?.value, 50);
    assert.equal(log.get('meter', 'ac_meter.PF')?.value, 95);
  });

  it('writes setpoints that change the simulated behaviour', async () => {
    const log = new SampleLog();
    const changed: string[] = [];
    poller = new ModbusPoller({
      devices: devicesFor(['pv', 'bat', 'meter'], { pollGroups: [{ name: 'g', intervalMs: 60_000 }] }),
      onSamples: log.push,
      onDidChangePoints: (id) => changed.push(id),
      spreadStart: false,
    });
    poller.start();
    await waitFor(() => changed.length === 3, 5000, 'discovery');
    const pv = sim.device<PvInverter>('pv');
    pv.tick(NOON, 1);
    assert.ok((await poller.read('pv', 'inverter.W')).value as number > 9000);
    const w = await poller.write('pv', 'controls.WMaxLimPct', 25.5);
    assert.equal(w.status, 'succeeded', JSON.stringify(w.error));
    assert.deepEqual(w.written?.values, [255]); // WMaxLimPct_SF = -1
    pv.tick(NOON, 1);
    const limited = (await poller.read('pv', 'inverter.W')).value as number;
    assert.ok(limited <= 2550 && limited > 2000, String(limited));
    assert.equal((await poller.read('pv', 'inverter.St')).value, 5, 'THROTTLED');
    assert.equal((await poller.write('pv', 'controls.WMaxLimPct', 1e6)).status, 'rejected');
    assert.equal((await poller.write('pv', 'inverter.W', 1)).error?.code, 'POINT_NOT_WRITABLE');

    const bat = sim.device<Battery>('bat');
    assert.equal((await poller.write('bat', 'storage.StorCtl_Mod', 2)).status, 'succeeded');
    assert.equal((await poller.write('bat', 'storage.OutWRte', 50)).status, 'succeeded');
    bat.tick(0, 720); // 2500 W for 12 min = 500 Wh = 5 % of 10 kWh
    assert.equal((await poller.read('bat', 'battery.W')).value, 2500);
    assert.equal((await poller.read('bat', 'battery.SoC')).value, 45);
    assert.equal((await poller.read('bat', 'storage.ChaSt')).value, 3, 'DISCHARGING');
    assert.equal((await poller.write('bat', 'storage.StorCtl_Mod', 1)).status, 'succeeded');
    assert.equal((await poller.write('bat', 'storage.InWRte', 100)).status, 'succeeded');
    bat.tick(0, 360);
    assert.equal((await poller.read('bat', 'battery.SoC')).value, 50);
    assert.equal((await poller.read('bat', 'battery.W')).value, -5000);

    const meter = sim.device<RevenueMeter>('meter');
    const e0 = (await poller.read('meter', 'ac_meter.TotWhImp')).value as number;
    meter.tick(NOON, 3600);
    const e1 = (await poller.read('meter', 'ac_meter.TotWhImp')).value as number;
    assert.ok(e1 - e0 > 1000, `${e0} → ${e1}`);
  });

  it('keeps the live units and connections at their rate when one unit and one connection die', async () => {
    const log = new SampleLog();
    const statuses: ModbusDeviceStatus[] = [];
    const points = [{ id: 'r0', table: 'holding' as const, address: 40000 }];
    poller = new ModbusPoller({
      devices: devicesFor(['pv', 'bat', 'meter', 'other'], { pollGroups: [{ name: 'g', intervalMs: 100 }], timeoutMs: 250, sunspec: undefined }).map((d) =>
        d.id === 'other' ? d : { ...d, points },
      ),
      onSamples: log.push,
      onDeviceStatus: (s) => statuses.push(s),
      spreadStart: false,
    });
    poller.start();
    await waitFor(() => ['pv', 'bat', 'meter', 'other'].every((id) => log.get(id, 'r0')?.quality.status === 'good'), 5000, 'all good');
    sim.server('bat').setBehaviour(2, { mode: 'silent' }); // one unit of the gateway
    await sim.server('other').close(); // another connection
    const t0 = Date.now();
    await sleep(2000);
    assert.ok(log.get('bat', 'r0')?.quality.flags.includes('timeout'));
    assert.equal(log.get('other', 'r0')?.quality.status, 'invalid');
    for (const id of ['pv', 'meter']) {
      const good = log.all.filter((s) => s.deviceId === id && s.ts >= t0 && s.quality.status === 'good').length;
      assert.ok(good >= 12, `${id}: ${good} good samples in 2 s`);
    }
    assert.ok(statuses.some((s) => s.deviceId === 'bat' && s.state === 'offline'));
    assert.ok(statuses.some((s) => s.deviceId === 'other' && s.state === 'offline'));
    // the unit comes back
    sim.server('bat').setBehaviour(2, { mode: 'normal' });
    await waitFor(() => log.get('bat', 'r0')?.quality.status === 'good', 5000, 'bat back');
  });

  it('drops and re-opens a connection whose server accepts and never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const log = new SampleLog();
    try {
      poller = new ModbusPoller({
        devices: [
          {
            id: 'mute',
            transport: { type: 'tcp', host: '127.0.0.1', port },
            timeoutMs: 150,
            connection: { ...FAST, unitBackoff: { initialMs: 1, maxMs: 1 }, silentTimeoutsBeforeReconnect: 2 },
            points: [{ id: 'x', table: 'holding', address: 0 }],
            pollGroups: [{ name: 'g', intervalMs: 100 }],
          },
        ],
        onSamples: log.push,
        spreadStart: false,
      });
      poller.start();
      const s = await waitFor(() => log.get('mute', 'x'), 5000);
      assert.ok(s.quality.flags.includes('timeout'));
      await waitFor(() => poller!.connections()[0]!.stats.connects >= 2, 5000, 'reconnect');
    } finally {
      await poller?.stop();
      poller = undefined;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
