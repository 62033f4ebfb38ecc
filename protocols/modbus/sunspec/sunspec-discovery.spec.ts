import assert from 'node:assert/strict';
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import { RegisterBank } from '../simulator/register-bank.ts';
import { SunSpecImage } from '../simulator/sunspec-image.ts';
import { discoverSunSpec, readModelData, sunspecPoints, type HoldingReader } from './sunspec-discovery.ts';
import { SUNSPEC_MODELS } from './sunspec-models.ts';

/** A reader over a bank, answering undefined registers with exception 2 like a device would. */
function reader(bank: RegisterBank): HoldingReader & { reads: number } {
  const f = async (address: number, count: number): Promise<Buffer> => {
    f.reads++;
    const r = bank.read('holding', address, count);
    if (typeof r === 'number') {
      throw new EnergyMeshError('DEVICE_EXCEPTION', 'illegal address', { details: { exceptionCode: r } });
    }
    const out = Buffer.alloc(count * 2);
    r.forEach((v, i) => out.writeUInt16BE(v, 2 * i));
    return out;
  };
  f.reads = 0;
  return f;
}

describe('SunSpec models and discovery', () => {
  it('model tables have the lengths of the specification', () => {
    const expected: Record<number, number> = { 1: 66, 101: 50, 102: 50, 103: 50, 123: 24, 124: 24, 201: 105, 202: 105, 203: 105, 204: 105, 701: 153, 802: 62 };
    for (const [id, length] of Object.entries(expected)) assert.equal(SUNSPEC_MODELS.get(Number(id))?.length, length, `model ${id}`);
    // every scale-factor reference names a sunssf point of the same model
    for (const m of SUNSPEC_MODELS.values()) {
      for (const p of m.points) if (p.sf) assert.equal(m.points.find((x) => x.name === p.sf)?.type, 'sunssf', `${m.id}.${p.name}`);
    }
  });

  it('walks the model chain at 40000 and builds points with scale factors', async () => {
    const bank = new RegisterBank();
    const img = new SunSpecImage(bank, [1, 103, 123], 40000);
    img.setRaw('common', 'Mn', 'ACME');
    img.setRaw('inverter', 'W_SF', -1);
    img.set('inverter', 'W', 1234.5);
    const map = await discoverSunSpec(reader(bank));
    assert.equal(map.baseAddress, 40000);
    assert.deepEqual(
      map.models.map((m) => [m.id, m.address, m.length]),
      [
        [1, 40002, 66],
        [103, 40070, 50],
        [123, 40122, 24],
      ],
    );
    const points = sunspecPoints(map);
    const w = points.find((p) => p.id === 'inverter.W')!;
    assert.equal(w.address, 40070 + 2 + 12);
    assert.equal(w.type, 'i16');
    assert.equal(w.scaleFactorPoint, 'inverter.W_SF');
    assert.equal(w.unit, 'W');
    const sf = points.find((p) => p.id === 'inverter.W_SF')!;
    assert.equal(sf.emit, false);
    assert.equal(points.find((p) => p.id === 'common.Mn')?.length, 16);
    assert.equal(points.find((p) => p.id === 'controls.WMaxLimPct')?.writable, true);
    assert.equal(points.find((p) => p.id === 'inverter.WH')?.kind, 'counter');
    assert.ok(!points.some((p) => p.id === 'common.Pad'));
    // the registers say what the table says
    const data = await readModelData(reader(bank), map.models[1]!);
    assert.equal(data.readInt16BE(12 * 2), 12345);
  });

  it('falls back to 0 and 50000, skipping exceptions', async () => {
    for (const base of [0, 50000]) {
      const bank = new RegisterBank();
      new SunSpecImage(bank, [1, 203], base);
      const r = reader(bank);
      const map = await discoverSunSpec(r);
      assert.equal(map.baseAddress, base);
      assert.deepEqual(
        map.models.map((m) => m.id),
        [1, 203],
      );
      assert.equal(map.models[1]!.prefix, 'ac_meter');
    }
  });

  it('drops points that read as not implemented', async () => {
    const bank = new RegisterBank();
    const img = new SunSpecImage(bank, [1, 124]);
    img.setRaw('storage', 'ChaState_SF', -1);
    img.set('storage', 'ChaState', 55.5);
    const r = reader(bank);
    const map = await discoverSunSpec(r);
    const data = new Map([[map.models[1]!, await readModelData(r, map.models[1]!)]]);
    const ids = sunspecPoints(map, { data }).map((p) => p.id);
    assert.ok(ids.includes('storage.ChaState'));
    assert.ok(ids.includes('storage.ChaState_SF'));
    assert.ok(!ids.includes('storage.InBatV'), 'InBatV was left at 0xFFFF');
    assert.ok(ids.length < sunspecPoints(map).length);
  });

  it('names repeated models and skips unknown ones', async () => {
    const bank = new RegisterBank();
    new SunSpecImage(bank, [1, 203, 203]);
    // an unknown model 64001 of 3 registers inserted before the end marker
    const end = 40002 + 68 + 107 + 107;
    bank.define('holding', end, 7);
    bank.setMany('holding', end, [64001, 3, 1, 2, 3, 0xffff, 0]);
    const map = await discoverSunSpec(reader(bank));
    assert.deepEqual(
      map.models.map((m) => [m.id, m.prefix]),
      [
        [1, 'common'],
        [203, 'ac_meter'],
        [203, 'ac_meter_2'],
        [64001, undefined],
      ],
    );
    const ids = sunspecPoints(map).map((p) => p.id);
    assert.ok(ids.includes('ac_meter_2.W'));
    assert.equal(ids.filter((i) => i.startsWith('ac_meter.')).length, ids.filter((i) => i.startsWith('ac_meter_2.')).length);
  });

  it('refuses a device without the marker and a chain past the address space', async () => {
    const empty = new RegisterBank();
    empty.define('holding', 0, 10);
    await assert.rejects(discoverSunSpec(reader(empty)), (e) => isEnergyMeshError(e, 'UNEXPECTED_RESPONSE'));
    const bad = new RegisterBank();
    bad.define('holding', 50000, 4);
    bad.setMany('holding', 50000, [0x5375, 0x6e53, 1, 60000]);
    await assert.rejects(discoverSunSpec(reader(bad), [50000]), (e) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
  });

  it('lets timeouts through so the caller retries', async () => {
    const failing: HoldingReader = async () => {
      throw new EnergyMeshError('TIMEOUT', 'no answer', { retriable: true });
    };
    await assert.rejects(discoverSunSpec(failing), (e) => isEnergyMeshError(e, 'TIMEOUT'));
  });
});
