/** Outstation database: change detection, deadbands, classes, event buffer limits and overflow. */
import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { OutstationDatabase } from './database.ts';
import { eventUnits, packFragments, staticUnits } from './response-builder.ts';

describe('DNP3 outstation database', () => {
  it('binaries create events on value or quality changes only', () => {
    const db = new OutstationDatabase({ binaryInput: [{ index: 0, value: false, class: 1 }] }, () => 1000);
    assert.equal(db.update('binaryInput', 0, false), false);
    assert.equal(db.update('binaryInput', 0, true), true);
    assert.equal(db.update('binaryInput', 0, true, { flags: 0x05 }), true, 'COMM_LOST set');
    assert.equal(db.eventCount, 2);
    assert.deepEqual(db.pendingClasses(), { class1: true, class2: false, class3: false });
  });

  it('analog deadbands and class 0 points', () => {
    const db = new OutstationDatabase({ analogInput: [{ index: 0, value: 100, class: 2, deadband: 5 }, { index: 1, value: 0, class: 0 }] });
    assert.equal(db.update('analogInput', 0, 104), false);
    assert.equal(db.update('analogInput', 0, 106), true);
    assert.equal(db.update('analogInput', 0, 109), false, 'measured from the last reported value');
    assert.equal(db.update('analogInput', 1, 50), false, 'class 0 never creates events');
    assert.equal(db.get('analogInput', 1)?.value, 50);
    assert.throws(() => db.update('analogInput', 9, 1), (e) => isEnergyMeshError(e, 'UNKNOWN_POINT'));
  });

  it('a full buffer drops the oldest event and raises overflow until drained', () => {
    const db = new OutstationDatabase({ counter: [{ index: 0, value: 0, class: 3 }], eventBufferSize: 3 });
    for (let v = 1; v <= 5; v++) db.update('counter', 0, v, { time: v });
    assert.equal(db.eventCount, 3);
    assert.equal(db.overflow, true);
    assert.deepEqual(db.pendingEvents().map((e) => e.value), [3, 4, 5]);
    db.clearEvents(new Set(db.pendingEvents().map((e) => e.id)));
    assert.equal(db.overflow, false);
  });

  it('rejects variations that do not exist', () => {
    assert.throws(() => new OutstationDatabase({ analogInput: [{ index: 0, staticVariation: 9 }] }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });

  it('relative-time events start a new CTO when 16 bits no longer reach', () => {
    const db = new OutstationDatabase({ binaryInput: [{ index: 0, value: false, class: 1, eventVariation: 3 }] });
    db.update('binaryInput', 0, true, { time: 1_000_000 });
    db.update('binaryInput', 0, false, { time: 1_000_100 });
    db.update('binaryInput', 0, true, { time: 1_100_000 });
    const units = eventUnits(db.pendingEvents());
    assert.deepEqual(units.map((u) => [u.cto, u.objects.length]), [[1_000_000, 2], [1_100_000, 1]]);
    const frag = packFragments(units, 2048)[0];
    assert.deepEqual(frag?.blocks.map((b) => `g${b.header.group}v${b.header.variation}`), ['g51v1', 'g2v3', 'g51v1', 'g2v3']);
  });

  it('static runs split on gaps and variation changes, 16-bit qualifier beyond index 255', () => {
    const db = new OutstationDatabase({ analogInput: [{ index: 0 }, { index: 1 }, { index: 3 }, { index: 300, staticVariation: 5 }] });
    const units = staticUnits('analogInput', db.list('analogInput'));
    assert.deepEqual(units.map((u) => [u.kind, u.variation, u.objects.map((o) => o.index)]), [
      ['range16', 1, [0, 1]],
      ['range16', 1, [3]],
      ['range16', 5, [300]],
    ]);
  });
});
