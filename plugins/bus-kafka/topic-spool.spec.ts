import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isEnergyMeshError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logging/logger.ts';
import { DedupWindow, deviceSeqOf } from './dedup-window.ts';
import { checkRecord } from './record-check.ts';
import { SpoolCursor, decodeCursorSlot, encodeCursorSlot } from './spool-cursor.ts';
import { TopicSpool } from './topic-spool.ts';
import type { SpoolPolicy } from './topic-spool.ts';

const policy: SpoolPolicy = { maxBytes: 1 << 30, maxAgeMs: 3600_000, whenFull: 'drop-oldest', fsync: 'never', segmentBytes: 64 * 1024, memoryRecords: 100 };

function records(from: number, n: number): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ key: `d${(from + i) % 3}`, value: JSON.stringify({ seq: from + i, pad: 'x'.repeat(200) }) }));
}

describe('kafka spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-spool-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands records out in order from memory and from disk, and resumes at the forwarded position after a reopen', async () => {
    const s = new TopicSpool('t', dir, policy, silentLogger());
    for (let i = 0; i < 1000; i += 50) await s.append(records(i, 50), 1000 + i);
    assert.equal(s.backlog, 1000);
    // older than the 100 kept in memory: read from disk (a read stops at a segment end, so take in steps)
    const first: { offset: number; value: string }[] = [];
    while (first.length < 300) {
      const got = await s.take(300 - first.length);
      assert.ok(got.length > 0);
      first.push(...got);
      s.acknowledge((got[got.length - 1]?.offset ?? 0) + 1);
    }
    assert.deepEqual(first.map((r) => r.offset), Array.from({ length: 300 }, (_, i) => i));
    assert.equal(JSON.parse(first[7]?.value ?? '').seq, 7);
    const tail = [];
    for (let i = 0; i < 8; i++) {
      const got = await s.take(1000);
      tail.push(...got);
      s.acknowledge((got[got.length - 1]?.offset ?? 0) + 1);
    }
    assert.equal(tail.length, 0 + 700, 'the rest, from disk and then from memory');
    assert.deepEqual(tail.map((r) => r.offset), Array.from({ length: 700 }, (_, i) => 300 + i));
    await s.close();
    const s2 = new TopicSpool('t', dir, policy, silentLogger());
    assert.equal(s2.backlog, 0);
    await s2.close();
    // append more and reopen before forwarding: resumes at the saved position
    const s3 = new TopicSpool('t', dir, policy, silentLogger());
    await s3.append(records(1000, 10), 5000);
    s3.acknowledge(1003);
    await s3.close();
    const again = new TopicSpool('t', dir, policy, silentLogger());
    assert.equal(again.forwarded, 1003);
    assert.equal(again.backlog, 7);
    const next = await again.take(5);
    assert.deepEqual(next.map((r) => r.offset), [1003, 1004, 1005, 1006, 1007]);
    await again.close();
  });

  it('deletes forwarded segments, and at maxBytes drops the oldest unsent records, counting them', async () => {
    const s = new TopicSpool('t', dir, { ...policy, maxBytes: 256 * 1024 }, silentLogger());
    for (let i = 0; i < 3000; i += 100) await s.append(records(i, 100), Date.now());
    assert.ok(s.bytes > 256 * 1024);
    s.applyRetention(Date.now());
    assert.ok(s.bytes <= 256 * 1024 + 64 * 1024, `spool bounded (${s.bytes})`);
    assert.ok(s.droppedRecords > 0);
    assert.equal(s.forwarded + s.backlog, 3000);
    assert.equal(s.forwarded, s.droppedRecords, 'every record before the new start was dropped and counted');
    const next = await s.take(1);
    assert.equal(next[0]?.offset, s.forwarded);
    // forwarded segments go without counting drops
    const dropped = s.droppedRecords;
    s.acknowledge(s.endOffset);
    s.applyRetention(Date.now());
    assert.equal(s.segments, 1);
    assert.equal(s.droppedRecords, dropped);
    await s.close();
  });

  it("with whenFull 'reject' refuses publishes at maxBytes (BUS_OVERRUN, retriable) and drops nothing", async () => {
    const s = new TopicSpool('t', dir, { ...policy, maxBytes: 128 * 1024, whenFull: 'reject' }, silentLogger());
    let refused: unknown;
    try {
      for (let i = 0; i < 5000; i += 100) await s.append(records(i, 100), Date.now());
    } catch (e) {
      refused = e;
    }
    assert.ok(isEnergyMeshError(refused, 'BUS_OVERRUN') && refused.retriable);
    s.applyRetention(Date.now());
    assert.equal(s.droppedRecords, 0);
    assert.equal(s.forwarded, 0);
    await s.close();
  });

  it('drops unsent segments older than maxAgeMs, counting them', async () => {
    const s = new TopicSpool('t', dir, { ...policy, maxAgeMs: 60_000 }, silentLogger());
    for (let i = 0; i < 1000; i += 100) await s.append(records(i, 100), 1_000_000);
    await s.append(records(1000, 1), 2_000_000);
    s.applyRetention(1_000_000 + 61_000);
    assert.ok(s.droppedRecords > 0);
    assert.equal(s.forwarded, s.droppedRecords);
    await s.close();
  });

  it('cursor: a torn or damaged slot falls back to the other one', () => {
    const c = new SpoolCursor(dir);
    c.set(10);
    c.set(20);
    c.close();
    const file = join(dir, 'FORWARDED');
    const bytes = readFileSync(file);
    // damage the newest slot (sequence 2 → slot 0)
    bytes[10] = (bytes[10] as number) ^ 0xff;
    writeFileSync(file, bytes);
    const c2 = new SpoolCursor(dir);
    assert.equal(c2.offset, 10);
    c2.close();
    assert.deepEqual(decodeCursorSlot(encodeCursorSlot(3, 42)), { sequence: 3, offset: 42 });
    assert.equal(decodeCursorSlot(Buffer.alloc(24)), undefined);
  });
});

describe('dedup window', () => {
  it('drops (deviceId, seq) at or below the high-water mark, per device, and forgets the least recent device first', () => {
    const d = new DedupWindow(2);
    assert.deepEqual(
      [d.accept('a', 1), d.accept('a', 2), d.accept('a', 2), d.accept('a', 1), d.accept('b', 5), d.accept('b', 6)],
      [true, true, false, false, true, true],
    );
    assert.equal(d.duplicates, 2);
    d.accept('a', 3); // a most recent
    d.accept('c', 1); // evicts b
    assert.equal(d.highWater('b'), undefined);
    assert.equal(d.highWater('a'), 3);
    const kept = d.filter([{ deviceId: 'a', seq: 3 }, { deviceId: 'a', seq: 4 }, { other: true }], deviceSeqOf);
    assert.deepEqual(kept, [{ deviceId: 'a', seq: 4 }, { other: true }]);
  });
});

describe('record check (dead-letter decision)', () => {
  it('accepts JSON, and TelemetryRecords on the telemetry topic; names the reason otherwise', () => {
    const good = { deviceId: 'a', pointId: 'p', ts: 1, receivedAt: 1, value: 1, quality: { status: 'good', flags: [] }, protocol: 'x', seq: 1 };
    assert.deepEqual(checkRecord(Buffer.from(JSON.stringify(good)), true), { ok: true, value: good });
    assert.deepEqual(checkRecord(Buffer.from('[1,2]'), false), { ok: true, value: [1, 2] });
    const notJson = checkRecord(Buffer.from('{oops'), false);
    assert.ok(!notJson.ok && /not JSON/.test(notJson.reason));
    const wrong = checkRecord(Buffer.from(JSON.stringify({ ...good, seq: -1 })), true);
    assert.ok(!wrong.ok && /not a TelemetryRecord.*\/seq/.test(wrong.reason), !wrong.ok ? wrong.reason : '');
    const tomb = checkRecord(null, false);
    assert.ok(!tomb.ok && /tombstone/.test(tomb.reason));
  });
});
