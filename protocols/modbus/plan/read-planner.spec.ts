import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { planReads, splitAtGaps, type PlanField } from './read-planner.ts';

const h = (address: number, count = 1): PlanField => ({ table: 'holding', address, count });

describe('modbus read planner', () => {
  it('merges adjacent fields into one read', () => {
    const blocks = planReads([h(10), h(11, 2), h(13, 4)]);
    assert.equal(blocks.length, 1);
    assert.deepEqual({ ...blocks[0], fields: blocks[0]!.fields.length }, { table: 'holding', address: 10, count: 7, fields: 3 });
  });

  it('sorts fields and keeps tables apart', () => {
    const blocks = planReads([h(20), { table: 'input', address: 0, count: 1 }, h(19), { table: 'coil', address: 5, count: 1 }]);
    assert.deepEqual(
      blocks.map((b) => [b.table, b.address, b.count]),
      [
        ['holding', 19, 2],
        ['input', 0, 1],
        ['coil', 5, 1],
      ],
    );
  });

  it('joins across holes up to maxGap only', () => {
    assert.equal(planReads([h(0), h(5)]).length, 2, 'default: no holes');
    assert.equal(planReads([h(0), h(5)], { maxGapRegisters: 4 }).length, 1);
    assert.equal(planReads([h(0), h(6)], { maxGapRegisters: 4 }).length, 2);
    const [b] = planReads([h(0), h(5)], { maxGapRegisters: 4 });
    assert.equal(b!.count, 6);
  });

  it('never exceeds 125 registers per read', () => {
    const fields = Array.from({ length: 300 }, (_, i) => h(i));
    const blocks = planReads(fields);
    assert.deepEqual(
      blocks.map((b) => b.count),
      [125, 125, 50],
    );
    assert.equal(blocks[1]!.address, 125);
    // a multi-register field is not cut in two
    const b2 = planReads([h(0, 124), h(124, 2)]);
    assert.deepEqual(
      b2.map((b) => [b.address, b.count]),
      [
        [0, 124],
        [124, 2],
      ],
    );
    // exactly 125 fits
    assert.equal(planReads([h(0, 120), h(120, 5)]).length, 1);
  });

  it('honours a smaller maxRegisters and refuses one above the protocol limit', () => {
    assert.deepEqual(
      planReads(Array.from({ length: 10 }, (_, i) => h(i)), { maxRegisters: 4 }).map((b) => b.count),
      [4, 4, 2],
    );
    assert.throws(() => planReads([h(0)], { maxRegisters: 126 }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => planReads([h(0)], { maxBits: 2001 }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => planReads([h(0)], { maxRegisters: 0 }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });

  it('refuses a field wider than one read, or outside the address space', () => {
    assert.throws(() => planReads([h(0, 126)]), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => planReads([h(65535, 2)]), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => planReads([h(-1)]), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => planReads([h(70000)]), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => planReads([{ table: 'coil', address: 0, count: 2001 }]), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });

  it('reads bits of one register once', () => {
    const bits = Array.from({ length: 16 }, () => h(100));
    const blocks = planReads([...bits, h(100, 2)]);
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]!.count, 2);
    assert.equal(blocks[0]!.fields.length, 17);
  });

  it('groups coils up to 2000 bits', () => {
    const coils = Array.from({ length: 2500 }, (_, i): PlanField => ({ table: 'coil', address: i, count: 1 }));
    assert.deepEqual(
      planReads(coils).map((b) => b.count),
      [2000, 500],
    );
    assert.equal(planReads([{ table: 'discrete', address: 0, count: 1 }, { table: 'discrete', address: 60, count: 1 }], { maxGapBits: 64 }).length, 1);
  });

  it('splits a block at its holes', () => {
    const [b] = planReads([h(0), h(1), h(5), h(9, 2)], { maxGapRegisters: 10 });
    assert.deepEqual(
      splitAtGaps(b!).map((x) => [x.address, x.count]),
      [
        [0, 2],
        [5, 1],
        [9, 2],
      ],
    );
  });
});
