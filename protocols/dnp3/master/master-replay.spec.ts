/**
 * Our master against the outstation side of the reference captures: driven like opendnp3's master
 * was (same settings, same user calls), it sends the same link frames byte for byte — application
 * and transport sequence numbers, automatic restart clearing, time sync, confirms and all.
 */
import { strict as assert } from 'node:assert';
import { replayMaster } from '../testing/master-replay.ts';
import type { VectorName } from '../testing/vectors.ts';
import { loadVectorFrames, toHex, vectorsAvailable } from '../testing/vectors.ts';
import { ControlCode } from '../codec/requests.ts';
import { QualifierCode } from '../codec/object-header.ts';
import type { MasterSession, MasterSessionOptions } from './master-session.ts';

/** The capture's master frames, without the keep-alive (its timing is not part of a request flow). */
function capturedMasterFrames(name: VectorName): string[] {
  return loadVectorFrames(name)
    .filter((f) => f.from === 'M' && f.bytes[3] !== 0xc9)
    .map((f) => toHex(f.bytes));
}

async function check(name: VectorName, options: MasterSessionOptions, script: (m: MasterSession) => Promise<void> = async () => undefined, prefixOnly = false): Promise<void> {
  const expected = capturedMasterFrames(name);
  const { frames } = await replayMaster(name, options, script);
  const got = frames.map(toHex);
  assert.deepEqual(prefixOnly ? got.slice(0, expected.length) : got, expected);
}

const noStartup: MasterSessionOptions = { startupIntegrityPoll: false };

(vectorsAvailable() ? describe : describe.skip)('DNP3 master replays the captures byte-identical', function () {
  this.timeout(15_000);

  it('01: start-up integrity poll, automatic restart clear, integrity poll again', async () => {
    await check('01_link_status_integrity', {});
  });

  it('02: class polls with confirms', async () => {
    await check('02_event_polls', noStartup, async (m) => {
      await m.poll([1]);
      await m.poll([1]);
      await m.poll([2]);
      await m.poll([3]);
      await m.poll([1, 2, 3]);
      await m.poll([1, 2, 3]);
    });
  });

  it('03: disable at start-up, integrity, enable, unsolicited confirms, disable/enable', async () => {
    await check('03_unsolicited', { disableUnsolicitedOnStartup: true, unsolicitedClasses: [1, 2, 3] }, async (m) => {
      const end = Date.now() + 3000;
      while (m.stats.unsolicited < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      await m.disableUnsolicited();
      await m.enableUnsolicited();
    });
  });

  it('04: SBO, direct operate, analog outputs, two headers, rejected controls, event poll', async () => {
    await check('04_controls', noStartup, async (m) => {
      const crob = (index: number, code: number, onTimeMs = 100, offTimeMs = 100): { index: number; crob: { code: number; count: number; onTimeMs: number; offTimeMs: number } } => ({ index, crob: { code, count: 1, onTimeMs, offTimeMs } });
      await m.selectAndOperate([crob(0, ControlCode.LATCH_ON)]);
      await m.directOperate([crob(1, ControlCode.LATCH_OFF)]);
      await m.directOperate([crob(2, ControlCode.CLOSE_PULSE_ON, 250, 0)]);
      await m.directOperate([{ index: 0, analog: { variation: 1, value: 1000 } }]);
      await m.directOperate([{ index: 1, analog: { variation: 2, value: -300 } }]);
      await m.directOperate([{ index: 2, analog: { variation: 3, value: 12.5 } }]);
      await m.directOperate([{ index: 3, analog: { variation: 4, value: 0.5 } }]);
      await m.selectAndOperate([{ index: 3, analog: { variation: 2, value: 77 } }]);
      await m.directOperate([crob(2, ControlCode.CLOSE_PULSE_ON, 250, 0), { index: 3, analog: { variation: 2, value: 77 } }]);
      const r10 = await m.directOperate([crob(10, ControlCode.LATCH_ON)]);
      assert.equal(r10.statuses[0]?.statusName, 'NOT_SUPPORTED');
      const r11 = await m.selectAndOperate([crob(11, ControlCode.LATCH_ON)]);
      assert.equal(r11.operated, false);
      await m.directOperate([{ index: 9, analog: { variation: 1, value: 5 } }]);
      await m.poll([1, 2, 3]);
    });
  });

  it('05a: NEED_TIME answered with non-LAN time sync (fixed clock)', async () => {
    await check('05a_timesync_nonlan', { ...noStartup, timeSyncMode: 'nonlan', now: () => 1795494318162 }, async (m) => {
      await m.poll([1]);
      const end = Date.now() + 3000;
      while (m.busy && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      await m.poll([1]);
    });
  });

  it('05b: NEED_TIME answered with LAN time sync (fixed clock)', async () => {
    await check('05b_timesync_lan', { ...noStartup, timeSyncMode: 'lan', now: () => 1795494321571 }, async (m) => {
      await m.poll([1]);
      const end = Date.now() + 3000;
      while (m.busy && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      await m.poll([1]);
    });
  });

  it('06: fragmented integrity response confirmed fragment by fragment', async () => {
    // the capture ends after the restart clear; our master would go on with the repeated integrity poll
    await check('06_fragmented_integrity', {}, async () => undefined, true);
  });

  it('07: range reads with qualifiers 0x00, 0x01 and 0x06', async () => {
    await check('07_range_reads', noStartup, async (m) => {
      await m.scanRange(30, 0, 0, 3);
      await m.read([{ group: 1, variation: 2, qualifier: QualifierCode.UINT16_START_STOP, range: { type: 'startStop', start: 0, stop: 7 } }]);
      await m.read([{ group: 30, variation: 5, qualifier: QualifierCode.ALL_OBJECTS, range: { type: 'all' } }]);
      await m.scanRange(20, 0, 200, 201);
      await m.read([{ group: 40, variation: 0, qualifier: QualifierCode.ALL_OBJECTS, range: { type: 'all' } }]);
    });
  });
});
