/**
 * Our outstation against the master side of the reference captures: with the captures' database and
 * change sets, it must answer with the same APDUs opendnp3 answered (byte for byte).
 */
import { strict as assert } from 'node:assert';
import { Outstation } from './outstation.ts';
import { CHANGE_SET_1, VECTOR_T0, largeDatabase, vectorDatabase } from '../testing/vector-database.ts';
import { captureSteps, replay } from '../testing/replay.ts';
import type { VectorName } from '../testing/vectors.ts';
import { toHex, vectorsAvailable } from '../testing/vectors.ts';

async function check(name: VectorName, outstation: Outstation, before?: (i: number) => void, skip: (i: number) => boolean = () => false, flat = false, after?: (i: number) => void): Promise<void> {
  const { leading, steps } = captureSteps(name);
  const got = await replay(outstation, steps, before, leading.length, after);
  if (flat) {
    // the capture's own README says the order of the first exchanges can differ between runs
    assert.deepEqual(got.flat().map(toHex), [...leading, ...steps.flatMap((s) => s.expected)].map(toHex));
    return;
  }
  assert.deepEqual((got[0] ?? []).map(toHex), leading.map(toHex), 'on connect');
  steps.forEach((s, i) => {
    if (skip(i)) return;
    assert.deepEqual((got[i + 1] ?? []).map(toHex), s.expected.map(toHex), `answer to request ${i} (${toHex(s.request).slice(0, 8)})`);
  });
}

(vectorsAvailable() ? describe : describe.skip)('DNP3 outstation replays the captures byte-identical', function () {
  this.timeout(10_000);

  it('01: integrity poll, clear restart, second integrity poll', async () => {
    await check('01_link_status_integrity', new Outstation(vectorDatabase()));
  });

  it('02: event polls with CTO, confirms and class bits', async () => {
    const os = new Outstation(vectorDatabase());
    await check('02_event_polls', os, (i) => {
      if (i === 2) for (const [t, idx, v, f, dt] of CHANGE_SET_1) os.update(t, idx, v, { flags: f, time: VECTOR_T0 + dt });
      if (i === 8) {
        os.update('binaryInput', 0, true, { flags: 0x81, time: VECTOR_T0 + 2000 });
        os.update('doubleBitBinaryInput', 0, 1, { flags: 0x41, time: VECTOR_T0 + 2010 });
        os.update('analogInput', 0, 12500, { flags: 0x21, time: VECTOR_T0 + 2020 });
      }
    });
  });

  it('03: null unsolicited, enable/disable, unsolicited events with confirms', async () => {
    const os = new Outstation(vectorDatabase(), { allowUnsolicited: true });
    const { steps } = captureSteps('03_unsolicited');
    // change set 1 right after ENABLE (request 4), change set 3 after the second DISABLE (request 6)
    await check('03_unsolicited', os, undefined, undefined, true, (i) => {
      if (i === 4) for (const [t, idx, v, f, dt] of CHANGE_SET_1) os.update(t, idx, v, { flags: f, time: VECTOR_T0 + dt });
      if (i === 6) os.update('binaryInput', 2, false, { flags: 0x01, time: VECTOR_T0 + 5000 });
    });
    assert.ok(steps.length >= 8);
  });

  it('04: controls (SBO, direct operate, rejected) — every command response', async () => {
    let t = 1704164745678;
    const os = new Outstation(vectorDatabase(), { now: () => t });
    os.onDidOperate((e) => {
      if (e.status === 0) t += 1000;
    });
    const { steps } = captureSteps('04_controls');
    // the capture's event times advance 1000 ms per successful operate (README, command handling)
    await check('04_controls', os);
    assert.ok(steps.length > 10);
  });

  it('05a/05b: time synchronisation with NEED_TIME', async () => {
    await check('05a_timesync_nonlan', new Outstation(vectorDatabase(), { needTime: true }));
    await check('05b_timesync_lan', new Outstation(vectorDatabase(), { needTime: true }));
  });

  it('06: 1156-point integrity response in three fragments', async () => {
    await check('06_fragmented_integrity', new Outstation(largeDatabase()));
  });

  it('07: range reads, variation 0, forced variation, missing points', async () => {
    await check('07_range_reads', new Outstation(vectorDatabase()));
  });
});
