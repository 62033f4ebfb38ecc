/**
 * Our master against our outstation for every scenario of the reference captures, over both an
 * in-memory channel pair and loopback TCP.
 */
import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { FunctionCode, Iin1, Iin2 } from '../../../protocols/dnp3/codec/app-header.ts';
import { ControlCode } from '../../../protocols/dnp3/codec/requests.ts';
import { DoubleBit } from '../../../protocols/dnp3/codec/object-library.ts';
import { CHANGE_SET_1, VECTOR_T0, largeDatabase, vectorDatabase } from '../../../protocols/dnp3/testing/vector-database.ts';
import type { ChannelKind, Harness } from './harness.ts';
import { startHarness, waitFor } from './harness.ts';

const fcs = (h: Harness): string[] => h.requests.map((r) => `${FunctionCode[r.func]}${r.blocks.map((b) => ` g${b.header.group}v${b.header.variation}`).join('')}`);

for (const kind of ['memory', 'tcp'] as ChannelKind[]) {
  describe(`DNP3 master ↔ outstation over ${kind}`, function () {
    this.timeout(15_000);
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it('start-up integrity poll, restart cleared, second integrity poll; no integrity on reconnect', async () => {
      h = await startHarness(kind, vectorDatabase());
      const hh = h;
      await waitFor(() => hh.batches.filter((b) => b.source === 'integrity').length >= 2, 3000, 'startup');
      assert.deepEqual(fcs(hh).slice(0, 3), ['READ g60v2 g60v3 g60v4 g60v1', 'WRITE g80v1', 'READ g60v2 g60v3 g60v4 g60v1']);
      assert.equal(hh.outstation.restart, false);
      const integrity = hh.batches.filter((b) => b.source === 'integrity');
      assert.ok(integrity.length >= 2);
      const m = integrity[integrity.length - 1]?.measurements ?? [];
      assert.equal(m.length, 34);
      const ai7 = m.find((x) => x.type === 'analogInput' && x.index === 7);
      assert.equal(ai7?.value, 123456.789);
      assert.equal(m.find((x) => x.type === 'doubleBitBinaryInput' && x.index === 3)?.value, DoubleBit.INDETERMINATE);
      assert.equal(m.find((x) => x.type === 'frozenCounter' && x.index === 1)?.time, 1704161045678);
      // reconnect: the outstation did not restart, so no new integrity poll
      const before = hh.requests.length;
      hh.dropConnection();
      await waitFor(() => hh.master.state === 'offline' || hh.master.state === 'connecting');
      await waitFor(() => hh.master.state === 'online');
      await hh.master.poll([1, 2, 3]);
      const after = fcs(hh).slice(before);
      assert.deepEqual(after, ['READ g60v2 g60v3 g60v4']);
      // an outstation restart brings the integrity poll back
      await hh.master.restart('cold');
      await hh.master.poll([1]);
      await waitFor(() => fcs(hh).filter((x) => x === 'READ g60v2 g60v3 g60v4 g60v1').length === 3, 3000, 'integrity after restart');
    });

    it('event polls with confirms release events; CTO-relative times resolved', async () => {
      h = await startHarness(kind, vectorDatabase(), {}, { startupIntegrityPoll: false });
      const hh = h;
      await waitFor(() => hh.master.state === 'online');
      await hh.master.poll([1]);
      // the restart IIN makes the master clear it (no integrity poll: start-up polls are off)
      await waitFor(() => !hh.outstation.restart && !hh.master.busy);
      assert.ok(!hh.batches.some((b) => b.source === 'integrity'));
      for (const [t, idx, v, f, dt] of CHANGE_SET_1) hh.outstation.update(t, idx, v, { flags: f, time: VECTOR_T0 + dt });
      assert.equal(hh.outstation.database.eventCount, 12);
      const r1 = await hh.master.poll([1]);
      assert.equal(r1.iin.iin1 & (Iin1.CLASS_2_EVENTS | Iin1.CLASS_3_EVENTS), Iin1.CLASS_2_EVENTS | Iin1.CLASS_3_EVENTS);
      const ev = hh.batches[hh.batches.length - 1]?.measurements ?? [];
      assert.deepEqual(ev.map((m) => [m.type, m.index, m.value, m.time]), [
        ['binaryInput', 0, false, VECTOR_T0],
        ['binaryInput', 1, true, VECTOR_T0 + 10],
        ['binaryInput', 5, false, VECTOR_T0 + 20],
        ['binaryInput', 6, true, VECTOR_T0 + 25],
        ['doubleBitBinaryInput', 1, DoubleBit.DETERMINED_ON, VECTOR_T0 + 30],
        ['binaryOutputStatus', 1, false, VECTOR_T0 + 90],
      ]);
      await waitFor(() => hh.outstation.database.eventCount === 6, 2000, 'class 1 confirmed');
      await hh.master.poll([2, 3]);
      await waitFor(() => hh.outstation.database.eventCount === 0, 2000, 'all confirmed');
      const none = await hh.master.poll([1, 2, 3]);
      assert.equal(none.blocks.length, 0);
      // event reads limited by a count qualifier, and by event group with a forced variation
      for (let v = 1; v <= 3; v++) hh.outstation.update('counter', 0, 2000000 + v, { time: VECTOR_T0 + v });
      const two = await hh.master.read([{ group: 60, variation: 4, qualifier: 0x07, range: { type: 'count', count: 2 } }]);
      assert.equal(two.blocks.reduce((n, b) => n + b.objects.length, 0), 2);
      assert.ok(two.iin.iin1 & Iin1.CLASS_3_EVENTS, 'one class 3 event left');
      const forced = await hh.master.read([{ group: 22, variation: 1, qualifier: 0x06, range: { type: 'all' } }]);
      assert.deepEqual(forced.blocks.map((b) => [b.header.group, b.header.variation, b.objects.length]), [[22, 1, 1]]);
    });

    it('unsolicited responses: disable at start-up, enable, events delivered and confirmed', async () => {
      h = await startHarness(kind, vectorDatabase(), { allowUnsolicited: true }, { disableUnsolicitedOnStartup: true, unsolicitedClasses: [1, 2, 3] });
      const hh = h;
      await waitFor(() => hh.outstation.unsolicitedEnabled.class3 && !hh.outstation.restart, 3000, 'enabled');
      for (const [t, idx, v, f, dt] of CHANGE_SET_1) hh.outstation.update(t, idx, v, { flags: f, time: VECTOR_T0 + dt });
      await waitFor(() => hh.batches.some((b) => b.source === 'unsolicited'), 3000, 'unsolicited');
      const u = hh.batches.filter((b) => b.source === 'unsolicited').flatMap((b) => b.measurements);
      assert.equal(u.length, 12);
      await waitFor(() => hh.outstation.database.eventCount === 0, 2000, 'unsolicited confirmed');
      const confirms = hh.requests.filter((r) => r.func === FunctionCode.CONFIRM && r.control.uns);
      assert.ok(confirms.length >= 2, 'null unsolicited and event unsolicited confirmed');
      await hh.master.disableUnsolicited();
      hh.outstation.update('binaryInput', 2, false, { flags: 0x01, time: VECTOR_T0 + 5000 });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(hh.outstation.database.eventCount, 1, 'not sent while disabled');
      const en = await hh.master.enableUnsolicited();
      assert.equal(en.iin.iin1 & Iin1.CLASS_1_EVENTS, Iin1.CLASS_1_EVENTS);
      await waitFor(() => hh.outstation.database.eventCount === 0, 2000, 'buffered event delivered');
    });

    it('select-before-operate and direct operate for CROB and g41v1-v4 with per-object status', async () => {
      h = await startHarness(kind, vectorDatabase(), {}, { startupIntegrityPoll: false });
      const hh = h;
      await waitFor(() => hh.master.state === 'online');
      const sbo = await hh.master.selectAndOperate([{ index: 0, crob: { code: ControlCode.LATCH_ON, count: 1, onTimeMs: 100, offTimeMs: 100 } }]);
      assert.ok(sbo.success && sbo.operated);
      assert.equal(hh.outstation.database.get('binaryOutputStatus', 0)?.value, true);
      assert.deepEqual(fcs(hh).slice(-2), ['SELECT g12v1', 'OPERATE g12v1']);
      const d = await hh.master.directOperate([{ index: 2, crob: { code: ControlCode.CLOSE_PULSE_ON, count: 1, onTimeMs: 250, offTimeMs: 0 } }]);
      assert.ok(d.success);
      for (const [variation, index, value] of [[1, 0, 1000], [2, 1, -300], [3, 2, 12.5], [4, 3, 0.5]] as const) {
        const r = await hh.master.directOperate([{ index, analog: { variation, value } }]);
        assert.deepEqual(r.statuses.map((s) => s.statusName), ['SUCCESS']);
        assert.equal(hh.outstation.database.get('analogOutputStatus', index)?.value, value);
      }
      const two = await hh.master.directOperate([{ index: 2, crob: { code: 0x41, count: 1, onTimeMs: 250, offTimeMs: 0 } }, { index: 3, analog: { variation: 2, value: 77 } }]);
      assert.deepEqual(two.statuses.map((s) => [s.group, s.status]), [[12, 0], [41, 0]]);
      const rejected = await hh.master.directOperate([{ index: 10, crob: { code: ControlCode.LATCH_ON, count: 1, onTimeMs: 100, offTimeMs: 100 } }]);
      assert.equal(rejected.success, false);
      assert.deepEqual(rejected.statuses.map((s) => s.statusName), ['NOT_SUPPORTED']);
      assert.ok(rejected.iin.iin2 & Iin2.PARAMETER_ERROR);
      const n = hh.requests.length;
      const badSelect = await hh.master.selectAndOperate([{ index: 11, crob: { code: ControlCode.LATCH_ON, count: 1, onTimeMs: 100, offTimeMs: 100 } }]);
      assert.deepEqual([badSelect.operated, badSelect.statuses[0]?.status], [false, 4]);
      assert.deepEqual(fcs(hh).slice(n), ['SELECT g12v1'], 'no OPERATE after a failed SELECT');
      const badAo = await hh.master.directOperate([{ index: 9, analog: { variation: 1, value: 5 } }]);
      assert.equal(badAo.statuses[0]?.status, 4);
    });

    it('time synchronisation: non-LAN and LAN clear NEED_TIME and set the outstation clock', async () => {
      const offset = 86_400_000;
      h = await startHarness(kind, vectorDatabase(), { needTime: true }, { startupIntegrityPoll: false, timeSyncMode: 'nonlan', now: () => Date.now() + offset });
      const hh = h;
      await waitFor(() => hh.master.state === 'online');
      await hh.master.poll([1]);
      await waitFor(() => !hh.outstation.needTime, 3000, 'automatic non-LAN sync');
      assert.ok(fcs(hh).includes('DELAY_MEASURE'));
      assert.ok(fcs(hh).includes('WRITE g50v1'));
      assert.ok(Math.abs(hh.outstation.time() - (Date.now() + offset)) < 1000);
      hh.outstation.needTime = true;
      await hh.master.timeSync('lan');
      assert.equal(hh.outstation.needTime, false);
      assert.ok(fcs(hh).includes('RECORD_CURRENT_TIME'));
      assert.ok(fcs(hh).includes('WRITE g50v3'));
      assert.ok(Math.abs(hh.outstation.time() - (Date.now() + offset)) < 1000);
    });

    it('1,156-point integrity poll arrives in three confirmed fragments', async () => {
      h = await startHarness(kind, largeDatabase(), {}, { startupIntegrityPoll: false });
      const hh = h;
      await waitFor(() => hh.master.state === 'online');
      const r = await hh.master.integrityPoll();
      assert.equal(r.fragments, 3);
      const m = hh.batches.filter((b) => b.source === 'integrity').flatMap((b) => b.measurements);
      assert.equal(m.length, 1156);
      assert.ok(m.filter((x) => x.type === 'analogInput').every((x) => x.value === 10 * x.index - 1000));
      assert.equal(hh.requests.filter((x) => x.func === FunctionCode.CONFIRM).length, 2);
    });

    it('range scans, missing points (IIN2.2), freeze and restart', async () => {
      h = await startHarness(kind, vectorDatabase(), {}, { startupIntegrityPoll: false });
      const hh = h;
      await waitFor(() => hh.master.state === 'online');
      const r = await hh.master.scanRange(30, 0, 0, 3);
      assert.deepEqual(r.blocks.map((b) => `g${b.header.group}v${b.header.variation}`), ['g30v1', 'g30v2']);
      const missing = await hh.master.scanRange(20, 0, 200, 201);
      assert.ok(missing.iin.iin2 & Iin2.PARAMETER_ERROR);
      assert.ok(hh.errors.some((e) => isEnergyMeshError(e, 'DEVICE_EXCEPTION') && e.details['iin2'] === Iin2.PARAMETER_ERROR));
      hh.outstation.update('counter', 0, 1234567);
      await hh.master.freezeCounters();
      assert.equal(hh.outstation.database.get('frozenCounter', 0)?.value, 1234567);
      await hh.master.freezeCounters({ clear: true });
      assert.equal(hh.outstation.database.get('counter', 0)?.value, 0);
      await hh.master.freezeCounters({ noAck: true });
      const assigned = await hh.master.assignClass([{ pointClass: 1, headers: [{ group: 30, variation: 0, qualifier: 0x00, range: { type: 'startStop', start: 6, stop: 7 } }] }]);
      assert.equal(assigned.iin.iin2, 0);
      assert.deepEqual([6, 7].map((i) => hh.outstation.database.get('analogInput', i)?.pointClass), [1, 1]);
      assert.equal(await hh.master.restart('warm'), 0);
    });
  });
}
