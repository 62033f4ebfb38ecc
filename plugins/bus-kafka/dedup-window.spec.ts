import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DedupWindow, deviceSeqOf } from './dedup-window.ts';

const r = (deviceId: string, seq: number): { deviceId: string; seq: number } => ({ deviceId, seq });

describe('dedup window: check, commit, persistence', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-dedup-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('check() drops duplicates within the batch and below the high-water, but records nothing until commit()', () => {
    const w = new DedupWindow();
    const { fresh, pending } = w.check([r('a', 1), r('a', 2), r('a', 2), r('b', 7), r('a', 1)], deviceSeqOf);
    assert.deepEqual(fresh, [r('a', 1), r('a', 2), r('b', 7)]);
    assert.equal(w.highWater('a'), undefined, 'a failed handler leaves the window unchanged');
    assert.equal(w.check([r('a', 1)], deviceSeqOf).fresh.length, 1, 'redelivered after a failed handler: still new');
    w.commit(pending);
    assert.equal(w.highWater('a'), 2);
    assert.equal(w.highWater('b'), 7);
    assert.deepEqual(w.check([r('a', 2), r('a', 3), r('b', 7)], deviceSeqOf).fresh, [r('a', 3)]);
  });

  it('a journaled window survives a reopen (restart), a torn last line included', () => {
    const file = join(dir, 'g', 't.jsonl');
    const w = DedupWindow.open(file);
    w.commit(w.check([r('a', 1), r('a', 5), r('b', 3)], deviceSeqOf).pending);
    w.commit(w.check([r('b', 9)], deviceSeqOf).pending);
    w.close();
    appendFileSync(file, '["a",1'); // kill -9 mid-write
    const again = DedupWindow.open(file);
    assert.equal(again.highWater('a'), 5);
    assert.equal(again.highWater('b'), 9);
    assert.deepEqual(again.check([r('a', 5), r('a', 6), r('b', 9), r('c', 0)], deviceSeqOf).fresh, [r('a', 6), r('c', 0)]);
    again.commit(again.check([r('a', 6)], deviceSeqOf).pending);
    again.close();
    const third = DedupWindow.open(file);
    assert.equal(third.highWater('a'), 6, 'the torn line was cut off, later lines read');
    third.close();
  });

  it('compacts the journal to one line per device', () => {
    const file = join(dir, 't.jsonl');
    const w = DedupWindow.open(file);
    for (let s = 0; s < 3000; s++) w.commit(new Map([['a', s], ['b', s], ['c', s], ['d', s]]));
    w.close();
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(lines < 12_000, `journal compacted (${lines} lines)`);
    const again = DedupWindow.open(file);
    for (const d of ['a', 'b', 'c', 'd']) assert.equal(again.highWater(d), 2999);
    again.close();
  });
});
