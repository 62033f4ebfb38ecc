import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { isEnergyMeshError } from '../errors.ts';
import { silentLogger } from '../logging/logger.ts';
import { DurableLog, segmentFileName } from './durable-log.ts';
import type { DurableLogOptions } from './durable-log.ts';
import { encodeFrame } from './record-codec.ts';

/** Appends and waits for the write. */
async function appendNow(log: DurableLog, batch: { key: string; value: unknown }[], timestamp: number): Promise<number> {
  const { first, written } = log.append(batch, timestamp);
  await written;
  return first;
}

function records(from: number, n: number): { key: string; value: unknown }[] {
  return Array.from({ length: n }, (_, i) => ({ key: `dev-${(from + i) % 3}`, value: { seq: from + i, v: (from + i) * 1.5 } }));
}

for (const writes of ['sync', 'async'] as const) describe(`bus durable log (${writes} writes)`, () => {
  let dir: string;
  const open = (extra: Partial<DurableLogOptions> = {}): DurableLog =>
    DurableLog.open({ dir, topic: 't', fsync: 'never', writes, logger: silentLogger(), ...extra });
  const firstSegment = (): string => path.join(dir, segmentFileName(0));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'em-durable-log-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('appends batches with one frame per record and reads them back after reopening', async () => {
    const log = open();
    assert.equal(await appendNow(log, records(0, 10), 111), 0);
    assert.equal(await appendNow(log, records(10, 5), 222), 10);
    assert.equal(log.endOffset, 15);
    await log.close();
    const again = open();
    assert.equal(again.startOffset, 0);
    assert.equal(again.endOffset, 15);
    const got = await again.read(3, 100);
    assert.deepEqual(
      got.map((r) => r.offset),
      Array.from({ length: 12 }, (_, i) => i + 3),
    );
    assert.deepEqual(got[0], { offset: 3, timestamp: 111, key: 'dev-0', value: { seq: 3, v: 4.5 } });
    assert.equal(got[11]?.timestamp, 222);
    assert.equal((await again.read(0, 4)).length, 4);
    assert.deepEqual(await again.read(15, 10), []);
    await again.close();
  });

  it('truncates a torn tail (a record cut short by a crash) and stays appendable', async () => {
    const log = open();
    await appendNow(log, records(0, 20), 1);
    await log.close();
    const size = fs.statSync(firstSegment()).size;
    const lastFrame = encodeFrame({ offset: 19, timestamp: 1, key: 'dev-1', value: { seq: 19, v: 28.5 } });
    fs.truncateSync(firstSegment(), size - Math.floor(lastFrame.length / 2));
    const again = open();
    assert.equal(again.endOffset, 19);
    assert.ok(again.tornBytesTruncated > 0);
    assert.equal(fs.statSync(firstSegment()).size, size - lastFrame.length);
    assert.equal(await appendNow(again, records(19, 2), 2), 19);
    await again.close();
    const third = open();
    assert.deepEqual(
      (await third.read(0, 100)).map((r) => r.offset),
      Array.from({ length: 21 }, (_, i) => i),
    );
    await third.close();
  });

  it('truncates a zero-filled tail and a last record whose bytes were never fully written', async () => {
    const log = open();
    await appendNow(log, records(0, 5), 1);
    await log.close();
    const good = fs.statSync(firstSegment()).size;
    fs.appendFileSync(firstSegment(), Buffer.alloc(4096)); // extended by the file system, never filled
    let again = open();
    assert.equal(again.endOffset, 5);
    assert.equal(fs.statSync(firstSegment()).size, good);
    await again.close();
    const garbled = encodeFrame({ offset: 5, timestamp: 1, key: 'k', value: 'last' });
    garbled.fill(0xee, 20); // the header made it to disk, the end of the payload did not
    fs.appendFileSync(firstSegment(), garbled);
    again = open();
    assert.equal(again.endOffset, 5);
    assert.equal(fs.statSync(firstSegment()).size, good);
    await again.close();
  });

  it('refuses a corrupted record in the middle with LOG_CORRUPT naming file and byte position', async () => {
    const log = open();
    await appendNow(log, records(0, 10), 1);
    await log.close();
    const bytes = fs.readFileSync(firstSegment());
    let position = 0;
    for (let i = 0; i < 3; i++) position += 8 + bytes.readUInt32LE(position); // the 4th frame starts here
    bytes[position + 30] = (bytes[position + 30] as number) ^ 0xff;
    fs.writeFileSync(firstSegment(), bytes);
    assert.throws(
      () => open(),
      (e: unknown) =>
        isEnergyMeshError(e, 'LOG_CORRUPT') && e.details.file === firstSegment() && e.details.position === position && /CRC mismatch/.test(e.message),
    );
    assert.equal(fs.statSync(firstSegment()).size, bytes.length, 'a corrupt log is not modified');
  });

  it('rolls segments at segmentBytes, reads across them and reports corruption in an older segment', async () => {
    const log = open({ segmentBytes: 2000 });
    for (let i = 0; i < 20; i++) await appendNow(log, records(i * 10, 10), i);
    assert.ok(log.segmentCount > 5, `segments: ${log.segmentCount}`);
    const infos = log.segmentInfos();
    for (let i = 1; i < infos.length; i++) assert.equal(infos[i]?.baseOffset, infos[i - 1]?.endOffset);
    for (const s of infos.slice(0, -1)) assert.ok(s.bytes <= 2000);
    const all: number[] = [];
    for (let from = 0; from < 200; ) {
      const got = await log.read(from, 1000);
      assert.ok(got.length > 0);
      all.push(...got.map((r) => (r.value as { seq: number }).seq));
      from += got.length;
    }
    assert.deepEqual(all, Array.from({ length: 200 }, (_, i) => i));
    await log.close();
    const second = infos[1]?.file as string;
    const bytes = fs.readFileSync(second);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x10; // the last record of a sealed segment
    fs.writeFileSync(second, bytes);
    assert.throws(() => open({ segmentBytes: 2000 }), (e: unknown) => isEnergyMeshError(e, 'LOG_CORRUPT') && e.details.file === second);
  });

  it('deletes whole old segments only, never the active one', async () => {
    const log = open({ segmentBytes: 1000 });
    for (let i = 0; i < 10; i++) await appendNow(log, records(i * 10, 10), i);
    const before = log.segmentCount;
    const first = log.deleteOldestSegment();
    assert.ok(first !== undefined);
    assert.equal(first.baseOffset, 0);
    assert.equal(log.startOffset, first.endOffset);
    assert.equal(fs.existsSync(first.file), false);
    assert.deepEqual(await log.read(0, 10), [], 'deleted offsets read as nothing');
    while (log.deleteOldestSegment() !== undefined);
    assert.equal(log.segmentCount, 1);
    assert.ok(before > 2);
    assert.equal(log.endOffset, 100);
    await log.close();
  });

  it('group commit: syncs requested while an fsync runs share the next one, and cover every earlier write', async () => {
    const log = open({ fsync: 'always' });
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      const { written } = log.append(records(i * 3, 3), i);
      waits.push(written.then(() => log.sync()));
    }
    assert.equal(log.syncedEnd, 0, 'nothing is durable before the fsync');
    await Promise.all(waits);
    assert.equal(log.writtenEnd, 90);
    assert.equal(log.syncedEnd, 90);
    assert.ok(log.fsyncCount <= 3, `30 sync requests took ${log.fsyncCount} fsyncs`);
    assert.equal(log.dirty, false);
    await log.close();
  });

  for (const fsync of ['always', 'interval', 'never'] as const) {
    it(`fsync ${fsync}: rolling segments under concurrent syncs leaves no file descriptor open after close`, async () => {
      const fds = (): number => fs.readdirSync('/proc/self/fd').length;
      const before = fds();
      const log = open({ fsync, segmentBytes: 700 });
      const waits: Promise<void>[] = [];
      for (let i = 0; i < 40; i++) {
        const { written } = log.append(records(i * 3, 3), i);
        waits.push(written.then(() => (i % 3 === 0 ? log.sync() : undefined)));
      }
      await Promise.all(waits);
      assert.ok(log.segmentCount > 5);
      await log.close();
      assert.equal(fds(), before);
      const again = open();
      assert.equal(again.endOffset, 120);
      const seqs: number[] = [];
      for (let from = 0; from < 120; ) {
        const got = await again.read(from, 1000);
        assert.ok(got.length > 0, `records from ${from}`);
        seqs.push(...got.map((r) => (r.value as { seq: number }).seq));
        from += got.length;
      }
      assert.deepEqual(
        seqs,
        Array.from({ length: 120 }, (_, i) => i),
      );
      await again.close();
    });
  }

  it('keeps the order of batches appended without waiting (async: queued and coalesced into writev)', async () => {
    const log = open();
    const all = Array.from({ length: 50 }, (_, i) => log.append(records(i * 4, 4), i));
    assert.deepEqual(
      all.map((a) => a.first),
      Array.from({ length: 50 }, (_, i) => i * 4),
    );
    await Promise.all(all.map((a) => a.written));
    await log.close();
    const again = open();
    const got = await again.read(0, 1000);
    assert.deepEqual(
      got.map((r) => (r.value as { seq: number }).seq),
      Array.from({ length: 200 }, (_, i) => i),
    );
    await again.close();
  });

  it('refuses appends after close with BUS_CLOSED', async () => {
    const log = open();
    await log.close();
    assert.throws(() => log.append(records(0, 1), 0), (e: unknown) => isEnergyMeshError(e, 'BUS_CLOSED'));
  });
});
