import assert from 'node:assert/strict';
import { RevenueMeter } from './simulated-devices.ts';

describe('simulated revenue meter', () => {
  // a 24-second day: hour h is at h seconds
  const at = (hour: number): number => hour * 1000;

  function run(meter: RevenueMeter, fromHour: number, toHour: number): void {
    for (let h = fromHour; h < toHour; h += 0.1) meter.tick(at(h), 360); // 0.1 h steps, 6 simulated minutes of energy each
  }

  it('only imports without PV behind it', () => {
    const m = new RevenueMeter({ id: 'house-1', dayLengthS: 24 });
    run(m, 10, 14);
    assert.ok(m.importedWh > 0);
    assert.equal(m.exportedWh, 0);
  });

  it('exports around noon and imports in the evening with PV behind it (a prosumer)', () => {
    const m = new RevenueMeter({ id: 'house-2', dayLengthS: 24, ratedW: 8000 });
    run(m, 11, 13);
    const exportedAtNoon = m.exportedWh;
    assert.ok(exportedAtNoon > 1000, `exported ${exportedAtNoon} Wh around noon`);
    const importedBefore = m.importedWh;
    run(m, 19, 21);
    assert.equal(m.exportedWh, exportedAtNoon, 'no export after sunset');
    assert.ok(m.importedWh > importedBefore);
  });
});
