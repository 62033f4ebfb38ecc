/**
 * The Modbus driver layer against a third-party server: pymodbus 3.0 (Debian python3-pymodbus).
 */
import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../../core/errors.ts';
import type { ModbusDeviceConfig, ModbusDeviceStatus, ModbusPointConfig } from '../../../protocols/modbus/driver/modbus-config.ts';
import { ModbusPoller } from '../../../protocols/modbus/driver/modbus-poller.ts';
import { ModbusSession } from '../../../protocols/modbus/session/modbus-session.ts';
import { LAYOUT, PymodbusServer, SampleLog, sleep, waitFor } from './helpers.ts';

const FAST = { reconnect: { initialMs: 100, maxMs: 400 }, unitBackoff: { initialMs: 300, maxMs: 1000 } };

function holdingPoints(): ModbusPointConfig[] {
  return LAYOUT.holding.map((e) => ({
    id: e.id,
    table: 'holding',
    address: e.address,
    type: e.type,
    byteOrder: e.byteOrder,
    wordOrder: e.wordOrder,
    length: e.length,
  }));
}

describe('modbus against pymodbus', function () {
  this.timeout(30_000);
  let server: PymodbusServer;
  let poller: ModbusPoller | undefined;

  before(async () => {
    server = await PymodbusServer.start();
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
  });

  function start(devices: Omit<ModbusDeviceConfig, 'transport'>[], log: SampleLog, statuses: ModbusDeviceStatus[] = []): ModbusPoller {
    poller = new ModbusPoller({
      devices: devices.map((d) => ({
        transport: { type: 'tcp', host: '127.0.0.1', port: server.port },
        connection: FAST,
        ...d,
      })),
      onSamples: log.push,
      onDeviceStatus: (s) => statuses.push(s),
      spreadStart: false,
    });
    poller.start();
    return poller;
  }

  it('reads every register type in every byte/word order, input registers, coils, discrete inputs and bits', async () => {
    const log = new SampleLog();
    const bitAddress = LAYOUT.bitRegister.address;
    const points: ModbusPointConfig[] = [
      ...holdingPoints(),
      ...LAYOUT.input.map((e): ModbusPointConfig => ({ ...e, table: 'input', value: undefined } as unknown as ModbusPointConfig)),
      ...LAYOUT.coils.values.map((_, i): ModbusPointConfig => ({ id: `coil${i}`, table: 'coil', address: LAYOUT.coils.address + i })),
      ...LAYOUT.discrete.values.map((_, i): ModbusPointConfig => ({ id: `di${i}`, table: 'discrete', address: LAYOUT.discrete.address + i })),
      ...[0, 5, 10, 15, 1].map((bit): ModbusPointConfig => ({ id: `bit${bit}`, table: 'holding', address: bitAddress, type: 'bit', bit })),
      { id: 'bitLittle8', table: 'holding', address: bitAddress, type: 'bit', bit: 8, byteOrder: 'little' },
    ];
    start([{ id: 'dev', unitId: 1, points, pollGroups: [{ name: 'g', intervalMs: 200 }] }], log);
    await waitFor(() => log.get('dev', 'di8'), 5000, 'first poll');
    for (const e of LAYOUT.holding) assert.deepEqual(log.get('dev', e.id)?.value, e.value, e.id);
    for (const e of LAYOUT.input) assert.equal(log.get('dev', e.id)?.value, e.value, e.id);
    LAYOUT.coils.values.forEach((v, i) => assert.equal(log.get('dev', `coil${i}`)?.value, v === 1, `coil${i}`));
    LAYOUT.discrete.values.forEach((v, i) => assert.equal(log.get('dev', `di${i}`)?.value, v === 1, `di${i}`));
    // 0x8421: bits 0, 5, 10, 15 set, bit 1 clear; little byte order puts wire bit 0 at 8
    for (const bit of [0, 5, 10, 15]) assert.equal(log.get('dev', `bit${bit}`)?.value, true);
    assert.equal(log.get('dev', 'bit1')?.value, false);
    assert.equal(log.get('dev', 'bitLittle8')?.value, true);
    const s = log.get('dev', 'u32_bb')!;
    assert.deepEqual(s.quality, { status: 'good', flags: [] });
    assert.equal(s.protocol, 'modbus');
    // coalescing: the 88 holding registers and the bit register are one poll of few reads
    const stats = poller!.pollStats('dev')[0]!;
    assert.ok(stats.blocks <= 5, `blocks ${stats.blocks}`);
  });

  it('writes every register type in every order; pymodbus decodes the same values', async () => {
    const base = LAYOUT.writeBase;
    let addr = base;
    const points: ModbusPointConfig[] = [];
    const expected: { id: string; address: number; type: string; bo: string; wo: string; length?: number; value: number | string }[] = [];
    const values: Record<string, number | string> = {
      u16: 54321,
      i16: -2,
      u32: 4000000000,
      i32: -2000000000,
      u64: 9007199254740991,
      i64: -9007199254740991,
      f32: 1.5,
      f64: -2.718281828459045,
      string: 'Hi Modbus',
    };
    for (const [type, value] of Object.entries(values)) {
      for (const [bo, wo] of [
        ['big', 'big'],
        ['little', 'big'],
        ['big', 'little'],
        ['little', 'little'],
      ] as const) {
        const length = type === 'string' ? 5 : undefined;
        const id = `w_${type}_${bo[0]}${wo[0]}`;
        points.push({ id, table: 'holding', address: addr, type: type as ModbusPointConfig['type'], byteOrder: bo, wordOrder: wo, length, writable: true, pollGroup: 'slow' });
        expected.push({ id, address: addr, type, bo, wo, length, value });
        addr += type === 'string' ? 5 : ({ u16: 1, i16: 1, u32: 2, i32: 2, f32: 2 } as Record<string, number>)[type] ?? 4;
      }
    }
    points.push({ id: 'scaled', table: 'holding', address: addr, type: 'u16', scale: 0.1, offset: -10, writable: true, pollGroup: 'slow', min: -10, max: 500 });
    points.push({ id: 'flag3', table: 'holding', address: addr + 1, type: 'bit', bit: 3, writable: true, pollGroup: 'slow' });
    points.push({ id: 'c5', table: 'coil', address: 5, writable: true, pollGroup: 'slow' });
    points.push({ id: 'c6', table: 'coil', address: 6, writable: true, writeMultiple: true, pollGroup: 'slow' });
    points.push({ id: 'multi16', table: 'holding', address: addr + 2, type: 'u16', writable: true, writeMultiple: true, pollGroup: 'slow' });
    const p = start([{ id: 'w', unitId: 2, points, pollGroups: [{ name: 'slow', intervalMs: 60_000 }] }], new SampleLog());
    await waitFor(() => p.connections()[0]!.isOpen, 5000, 'connection');
    for (const e of expected) {
      const r = await p.write('w', e.id, e.value);
      assert.equal(r.status, 'succeeded', `${e.id}: ${JSON.stringify(r.error)}`);
      assert.equal(r.written?.functionCode, e.type === 'u16' || e.type === 'i16' ? 6 : 16, e.id);
      const back = await server.command(`decode 2 ${e.address} ${e.type} ${e.bo} ${e.wo}${e.length ? ` ${e.length}` : ''}`);
      assert.equal(back, e.value, e.id);
      // and our own read of the same registers
      assert.equal((await p.read('w', e.id)).value, e.value, `${e.id} read back`);
    }
    // scale/offset on write: raw = (eng - offset) / scale
    assert.equal((await p.write('w', 'scaled', 220.5)).status, 'succeeded');
    assert.deepEqual(await server.command(`get hr 2 ${addr} 1`), [2305]);
    assert.equal((await p.read('w', 'scaled')).value, 220.5);
    const out = await p.write('w', 'scaled', 600);
    assert.equal(out.status, 'rejected');
    assert.equal(out.error?.code, 'VALUE_OUT_OF_RANGE');
    // a bit: read-modify-write keeps the other bits
    await server.command(`set 2 ${addr + 1} ${0x8001}`);
    assert.equal((await p.write('w', 'flag3', true)).status, 'succeeded');
    assert.deepEqual(await server.command(`get hr 2 ${addr + 1} 1`), [0x8009]);
    assert.equal((await p.write('w', 'flag3', false)).status, 'succeeded');
    assert.deepEqual(await server.command(`get hr 2 ${addr + 1} 1`), [0x8001]);
    // coils with FC5 and FC15, one register with FC16
    const c5 = await p.write('w', 'c5', true);
    assert.equal(c5.written?.functionCode, 5);
    const c6 = await p.write('w', 'c6', 1);
    assert.equal(c6.written?.functionCode, 15);
    assert.deepEqual(await server.command('get co 2 5 2'), [1, 1]);
    assert.equal((await p.write('w', 'c5', false)).status, 'succeeded');
    assert.deepEqual(await server.command('get co 2 5 1'), [0]);
    const m = await p.write('w', 'multi16', 7);
    assert.equal(m.written?.functionCode, 16);
    assert.deepEqual(await server.command(`get hr 2 ${addr + 2} 1`), [7]);
    // refused before anything is sent
    assert.equal((await p.write('w', 'nope', 1)).error?.code, 'UNKNOWN_POINT');
    assert.equal((await p.write('other', 'scaled', 1)).error?.code, 'UNKNOWN_DEVICE');
    assert.equal((await p.write('w', 'w_u16_bb', 70000)).error?.code, 'VALUE_OUT_OF_RANGE');
    assert.equal((await p.write('w', 'w_u16_bb', 'abc')).status, 'rejected');
    assert.equal((await p.write('w', 'c5', 'maybe')).status, 'rejected');
  });

  it('maps exception responses to DEVICE_EXCEPTION and quality invalid with the code', async () => {
    const log = new SampleLog();
    const statuses: ModbusDeviceStatus[] = [];
    const points: ModbusPointConfig[] = [{ id: 'x', table: 'holding', address: 0, writable: true }];
    const p = start(
      [
        { id: 'illegal', unitId: LAYOUT.units.illegalAddress, points, pollGroups: [{ name: 'g', intervalMs: 200 }] },
        { id: 'failing', unitId: LAYOUT.units.deviceFailure, points, pollGroups: [{ name: 'g', intervalMs: 200 }] },
      ],
      log,
      statuses,
    );
    const a = await waitFor(() => log.get('illegal', 'x'));
    assert.deepEqual(a.quality, { status: 'invalid', flags: ['device-exception'], raw: { errorCode: 'DEVICE_EXCEPTION', modbusException: 2 } });
    assert.equal(a.value, null);
    const b = await waitFor(() => log.get('failing', 'x'));
    assert.equal(b.quality.raw?.modbusException, 4);
    // the device answered: it is not offline
    await waitFor(() => statuses.find((s) => s.deviceId === 'illegal'));
    assert.ok(statuses.filter((s) => s.deviceId === 'illegal').every((s) => s.state === 'degraded'));
    const w = await p.write('illegal', 'x', 1);
    assert.equal(w.status, 'failed');
    assert.equal(w.error?.code, 'DEVICE_EXCEPTION');
    assert.equal(w.error?.details?.exceptionCode, 2);
  });

  it('times out on a unit that never answers while the live units on the same connection keep their rate', async () => {
    const log = new SampleLog();
    const statuses: ModbusDeviceStatus[] = [];
    const points: ModbusPointConfig[] = [{ id: 'u16', table: 'holding', address: 0 }];
    const group = [{ name: 'g', intervalMs: 100 }];
    const p = start(
      [
        { id: 'live1', unitId: 1, points, pollGroups: group, timeoutMs: 300 },
        { id: 'dead', unitId: LAYOUT.units.silent, points, pollGroups: group, timeoutMs: 300 },
        { id: 'live2', unitId: 2, points, pollGroups: group, timeoutMs: 300 },
      ],
      log,
      statuses,
    );
    const dead = await waitFor(() => log.get('dead', 'u16'), 5000);
    assert.equal(dead.quality.status, 'invalid');
    assert.ok(dead.quality.flags.includes('timeout'));
    await waitFor(() => statuses.find((s) => s.deviceId === 'dead' && s.state === 'offline'), 5000, 'dead offline');
    // measure the live units over 2 s: with 100 ms polls they must get well over half their rate
    const t0 = Date.now();
    const timeouts0 = p.connections()[0]!.stats.timeouts;
    await sleep(2000);
    for (const id of ['live1', 'live2']) {
      const n = log.count(id, t0);
      assert.ok(n >= 12, `${id} polled ${n} times in 2 s`);
      assert.equal(log.get(id, 'u16')?.quality.status, 'good');
    }
    // the dead unit is backed off: few requests reach the wire, the others fail fast
    const timeouts = p.connections()[0]!.stats.timeouts - timeouts0;
    assert.ok(timeouts <= 6, `${timeouts} timeouts in 2 s`);
    assert.ok(p.connections()[0]!.stats.skipped > 5);
    assert.ok(statuses.every((s) => s.deviceId === 'dead' || s.state !== 'offline'), JSON.stringify(statuses));
    assert.ok(p.connections()[0]!.stats.timeouts >= 1);
  });

  it('gives typed errors for short, garbled, wrong-unit and wrong-transaction answers', async () => {
    const session = new ModbusSession({ transport: { type: 'tcp', host: '127.0.0.1', port: server.port }, requestTimeoutMs: 500 });
    session.start();
    try {
      await waitFor(() => session.isOpen);
      const u = LAYOUT.units;
      const cases: [number, string][] = [
        [u.shortResponse, 'FRAME_MALFORMED'],
        [u.badByteCount, 'FRAME_MALFORMED'],
        [u.wrongUnit, 'UNEXPECTED_RESPONSE'],
        [u.wrongTransaction, 'UNEXPECTED_RESPONSE'],
      ];
      for (const [unit, code] of cases) {
        await assert.rejects(session.readRegisters(unit, 'holding', 0, 4), (e) => {
          assert.ok(isEnergyMeshError(e, code as 'FRAME_MALFORMED'), `unit ${unit}: ${String(e)}`);
          return true;
        });
      }
      // the connection is still usable
      const ok = await session.readRegisters(1, 'holding', 0, 1);
      assert.equal(ok.readUInt16BE(0), 0x1234);
    } finally {
      await session.stop();
    }
  });

  it('recovers by itself when the server is killed and restarted', async () => {
    const log = new SampleLog();
    const statuses: ModbusDeviceStatus[] = [];
    start([{ id: 'd', unitId: 1, points: [{ id: 'u16', table: 'holding', address: 0 }], pollGroups: [{ name: 'g', intervalMs: 100 }], timeoutMs: 300 }], log, statuses);
    await waitFor(() => log.get('d', 'u16')?.quality.status === 'good');
    await server.kill();
    const down = await waitFor(() => {
      const s = log.get('d', 'u16');
      return s && s.quality.status === 'invalid' ? s : undefined;
    }, 5000, 'invalid quality');
    assert.ok(down.quality.flags.includes('comm-lost'), JSON.stringify(down.quality));
    await waitFor(() => statuses.find((s) => s.state === 'offline'), 3000, 'offline');
    await sleep(500);
    await server.restart();
    await waitFor(() => log.get('d', 'u16')?.quality.status === 'good', 10_000, 'good again');
    assert.equal(log.get('d', 'u16')?.value, 0x1234);
    await waitFor(() => statuses.at(-1)?.state === 'online', 3000, 'online');
  });

  it('speaks RTU framing over TCP', async () => {
    const rtu = await PymodbusServer.start({ framer: 'rtu' });
    try {
      const log = new SampleLog();
      poller = new ModbusPoller({
        devices: [
          {
            id: 'rtu',
            transport: { type: 'rtu-over-tcp', host: '127.0.0.1', port: rtu.port },
            unitId: 1,
            points: [...holdingPoints(), { id: 'c0', table: 'coil', address: 0, writable: true }, { id: 'w', table: 'holding', address: 1500, type: 'f32', wordOrder: 'little', writable: true }],
            pollGroups: [{ name: 'g', intervalMs: 200 }],
          },
          { id: 'rtu-dead', transport: { type: 'rtu-over-tcp', host: '127.0.0.1', port: rtu.port }, unitId: LAYOUT.units.silent, timeoutMs: 200, points: [{ id: 'x', table: 'holding', address: 0 }] },
        ],
        onSamples: log.push,
        spreadStart: false,
      });
      poller.start();
      await waitFor(() => log.get('rtu', 'string_bb'), 5000);
      for (const e of LAYOUT.holding) assert.deepEqual(log.get('rtu', e.id)?.value, e.value, e.id);
      const wr = await poller.write('rtu', 'w', -0.25);
      assert.equal(wr.status, 'succeeded', JSON.stringify(wr.error));
      assert.equal(await rtu.command('decode 1 1500 f32 big little'), -0.25);
      const wc = await poller.write('rtu', 'c0', false);
      assert.equal(wc.status, 'succeeded', JSON.stringify(wc.error));
      assert.deepEqual(await rtu.command('get co 1 0 1'), [0]);
      const dead = await waitFor(() => log.get('rtu-dead', 'x'));
      assert.ok(dead.quality.flags.includes('timeout'));
      assert.equal(log.get('rtu', 'u16_bb')?.quality.status, 'good');
    } finally {
      await poller?.stop();
      poller = undefined;
      await rtu.stop();
    }
  });
});
