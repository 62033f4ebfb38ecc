import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { isEnergyMeshError } from '../errors.ts';
import { GroupOffsetStore, decodeOffsetSlot, encodeOffsetSlot } from './group-offsets.ts';

describe('bus group offsets', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'em-offsets-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('encodes a slot with magic and CRC and refuses a damaged one', () => {
    const slot = encodeOffsetSlot(7, 12345, 1_700_000_000_000);
    assert.equal(slot.length, 32);
    assert.equal(slot.toString('latin1', 0, 4), 'EMOF');
    assert.deepEqual(decodeOffsetSlot(slot), { sequence: 7, offset: 12345, committedAt: 1_700_000_000_000 });
    slot[20] = (slot[20] as number) ^ 1;
    assert.equal(decodeOffsetSlot(slot), undefined);
    assert.equal(decodeOffsetSlot(Buffer.alloc(32)), undefined);
  });

  for (const fsync of ['always', 'interval', 'never'] as const) {
    it(`fsync ${fsync}: commits survive a reopen, per group, with names that need encoding`, async () => {
      const store = new GroupOffsetStore(dir, fsync);
      assert.equal(store.load().size, 0);
      await store.commit('historian', 10);
      await store.commit('historian', 20);
      await store.commit('historian', 35);
      await store.commit('ui/live ⚡', 3);
      await store.flush();
      await store.close();
      const again = new GroupOffsetStore(dir, fsync);
      assert.deepEqual(
        again.load(),
        new Map([
          ['historian', 35],
          ['ui/live ⚡', 3],
        ]),
      );
      await again.commit('historian', 36);
      await again.close();
      const third = new GroupOffsetStore(dir, fsync);
      assert.equal(third.load().get('historian'), 36);
      await third.close();
    });
  }

  it('a torn commit leaves the previous committed offset', async () => {
    const store = new GroupOffsetStore(dir, 'never');
    store.load();
    await store.commit('g', 100);
    await store.commit('g', 200); // sequence 1 → slot 1
    await store.close();
    const file = path.join(dir, 'groups', 'g.offset');
    const bytes = fs.readFileSync(file);
    bytes.fill(0xab, 40, 64); // the write of slot 1 was cut short
    fs.writeFileSync(file, bytes);
    const again = new GroupOffsetStore(dir, 'never');
    assert.equal(again.load().get('g'), 100);
    await again.commit('g', 300); // continues after the surviving sequence, into the damaged slot
    await again.close();
    const third = new GroupOffsetStore(dir, 'never');
    assert.equal(third.load().get('g'), 300);
    await third.close();
  });

  it('a file with no valid slot is LOG_CORRUPT naming the file', async () => {
    const store = new GroupOffsetStore(dir, 'never');
    store.load();
    await store.commit('g', 1);
    await store.close();
    const file = path.join(dir, 'groups', 'g.offset');
    fs.writeFileSync(file, Buffer.alloc(64, 0x11));
    const again = new GroupOffsetStore(dir, 'never');
    assert.throws(() => again.load(), (e: unknown) => isEnergyMeshError(e, 'LOG_CORRUPT') && e.details.file === file);
  });
});
