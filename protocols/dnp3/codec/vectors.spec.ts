/**
 * The reference captures (../shared/vectors/dnp3, opendnp3 3.1.2) decoded by our codec: every frame
 * of each pcap decodes to the values the vectors README lists, and our encoder rebuilds the same bytes.
 */
import { strict as assert } from 'node:assert';
import type { Apdu, IndexedObject } from './apdu.ts';
import { decodeApdu, encodeApdu } from './apdu.ts';
import { FunctionCode } from './app-header.ts';
import { crcDnp } from './crc.ts';
import { encodeLinkFrame } from './link-frame.ts';
import { startStopHeader, allObjectsHeader } from './object-header.ts';
import type { PointValue } from './object-library.ts';
import { DoubleBit } from './object-library.ts';
import { classHeaders, classReadRequest, clearRestartRequest, commandBlocks, confirmRequest, readRequest, request, writeTimeRequest } from './requests.ts';
import { decodeStream } from '../testing/decode-stream.ts';
import type { VectorName } from '../testing/vectors.ts';
import { VECTOR_NAMES, hex, loadVectorFrames, loadVectorStreams, toHex, vectorsAvailable } from '../testing/vectors.ts';

const T0 = 1704164645678;

function decoded(name: VectorName): { m: Apdu[]; o: Apdu[]; mFrags: Uint8Array[]; oFrags: Uint8Array[] } {
  const s = loadVectorStreams(name);
  const m = decodeStream(s.master);
  const o = decodeStream(s.outstation);
  assert.deepEqual([...m.errors, ...o.errors], []);
  return { m: m.apdus, o: o.apdus, mFrags: m.fragments, oFrags: o.fragments };
}

function at<T>(arr: readonly T[], i: number): T {
  const v = arr[i];
  assert.ok(v !== undefined, `missing element ${i}`);
  return v;
}

function points(a: Apdu, group: number, variation: number): { index: number; p: PointValue }[] {
  const out: { index: number; p: PointValue }[] = [];
  for (const b of a.blocks) {
    if (b.header.group !== group || b.header.variation !== variation) continue;
    for (const o of b.objects) if (o.value.kind === 'point') out.push({ index: o.index, p: o.value });
  }
  return out;
}

function headerList(a: Apdu): string[] {
  return a.blocks.map((b) => {
    const r = b.header.range;
    const range = r.type === 'startStop' ? `${r.start}-${r.stop}` : r.type === 'count' ? `#${r.count}` : 'all';
    return `g${b.header.group}v${b.header.variation} q${b.header.qualifier.toString(16).padStart(2, '0')} ${range}`;
  });
}

const iinHex = (a: Apdu): string => toHex(Uint8Array.of(a.iin?.iin1 ?? -1, a.iin?.iin2 ?? -1));
const ctl = (frag: Uint8Array): string => toHex(frag.subarray(0, 1)).toUpperCase();

(vectorsAvailable() ? describe : describe.skip)('DNP3 codec against the opendnp3 captures', () => {
  describe('link layer', () => {
    it('CRC-16/DNP of the README example header is 98 81', () => {
      const c = crcDnp(hex('05 64 05 C9 00 04 01 00'));
      assert.equal(c & 0xff, 0x98);
      assert.equal(c >> 8, 0x81);
    });

    for (const name of VECTOR_NAMES) {
      it(`${name}: pcap streams split into exactly the .txt frames, and re-encode byte-identical`, () => {
        const s = loadVectorStreams(name);
        const txt = loadVectorFrames(name);
        const m = decodeStream(s.master);
        const o = decodeStream(s.outstation);
        assert.deepEqual(m.errors, []);
        assert.deepEqual(o.errors, []);
        const expectM = txt.filter((f) => f.from === 'M').map((f) => toHex(f.bytes));
        const expectO = txt.filter((f) => f.from === 'O').map((f) => toHex(f.bytes));
        assert.deepEqual(m.frames.map((f) => toHex(encodeLinkFrame(f))), expectM);
        assert.deepEqual(o.frames.map((f) => toHex(encodeLinkFrame(f))), expectO);
        for (const f of m.frames) assert.deepEqual([f.dir, f.dest, f.src], [true, 1024, 1]);
        for (const f of o.frames) assert.deepEqual([f.dir, f.dest, f.src], [false, 1, 1024]);
      });
      it(`${name}: every APDU re-encodes byte-identical`, () => {
        const d = decoded(name);
        d.m.forEach((a, i) => assert.equal(toHex(encodeApdu(a)), toHex(at(d.mFrags, i))));
        d.o.forEach((a, i) => assert.equal(toHex(encodeApdu(a)), toHex(at(d.oFrags, i))));
      });
    }

    it('01b: link functions and FCB as in the README table', () => {
      const frames = loadVectorFrames('01b_link_reset_raw');
      const ctrls = frames.map((f) => `${f.from}${toHex(f.bytes.subarray(3, 4))}`);
      assert.deepEqual(ctrls, ['Mc9', 'O0b', 'Mc0', 'O00', 'Mf3', 'O00', 'O44', 'Md3', 'O00', 'O44', 'Md3', 'O00', 'Mc4', 'O44']);
    });
  });

  describe('01_link_status_integrity', () => {
    it('integrity request, static response and clear-restart', () => {
      const d = decoded('01_link_status_integrity');
      assert.equal(toHex(at(d.mFrags, 0)), toHex(hex('C0 01 3C 02 06 3C 03 06 3C 04 06 3C 01 06')));
      const r = at(d.o, 0);
      assert.equal(ctl(at(d.oFrags, 0)), 'C0');
      assert.equal(iinHex(r), '8000');
      assert.deepEqual(headerList(r), [
        'g1v2 q00 0-4', 'g1v1 q00 5-7', 'g3v2 q00 0-3', 'g30v1 q00 0-1', 'g30v2 q00 2-3', 'g30v5 q00 4-5', 'g30v3 q00 6-6', 'g30v6 q00 7-7',
        'g20v1 q00 0-1', 'g20v2 q00 2-2', 'g20v5 q00 3-3', 'g21v1 q00 0-0', 'g21v5 q00 1-1', 'g10v2 q00 0-3', 'g40v1 q00 0-0', 'g40v2 q00 1-1', 'g40v3 q00 2-2', 'g40v4 q00 3-3',
      ]);
      assert.deepEqual(points(r, 1, 2).map((x) => [x.p.value, x.p.flags]), [[true, 0x81], [false, 0x01], [true, 0xa1], [false, 0x11], [true, 0x85]]);
      assert.deepEqual(points(r, 1, 1).map((x) => [x.index, x.p.value]), [[5, true], [6, false], [7, true]]);
      assert.deepEqual(points(r, 3, 2).map((x) => [x.p.value, x.p.flags]), [
        [DoubleBit.DETERMINED_ON, 0x81], [DoubleBit.DETERMINED_OFF, 0x41], [DoubleBit.INTERMEDIATE, 0x01], [DoubleBit.INDETERMINATE, 0xc5],
      ]);
      assert.deepEqual(points(r, 30, 1).map((x) => x.p.value), [12345, -100000]);
      assert.deepEqual(points(r, 30, 2).map((x) => [x.p.value, x.p.flags]), [[1234, 0x01], [-42, 0x11]]);
      assert.deepEqual(points(r, 30, 5).map((x) => [x.p.value, x.p.flags]), [[230.5, 0x01], [-1.25, 0x41]]);
      assert.deepEqual(points(r, 30, 3).map((x) => [x.index, x.p.value, x.p.flags]), [[6, 70000, undefined]]);
      assert.deepEqual(points(r, 30, 6).map((x) => x.p.value), [123456.789]);
      assert.deepEqual(points(r, 20, 1).map((x) => x.p.value), [1000000, 4294967295]);
      assert.deepEqual(points(r, 20, 2).map((x) => x.p.value), [65000]);
      assert.deepEqual(points(r, 20, 5).map((x) => x.p.value), [42]);
      assert.deepEqual(points(r, 21, 1).map((x) => x.p.value), [1000000]);
      assert.deepEqual(points(r, 21, 5).map((x) => [x.p.value, x.p.time]), [[4294967295, 1704161045678]]);
      assert.deepEqual(points(r, 10, 2).map((x) => [x.p.value, x.p.flags]), [[false, 0x01], [true, 0x81], [false, 0x01], [true, 0x91]]);
      assert.deepEqual([40, 40, 40, 40].map((g, v) => points(r, g, v + 1)[0]?.p.value), [500, -250, 47.5, 0.125]);
      assert.equal(toHex(at(d.mFrags, 1)), toHex(hex('C1 02 50 01 00 07 07 00')));
      assert.equal(iinHex(at(d.o, 1)), '0000');
      assert.equal(iinHex(at(d.o, 2)), '0000');
      assert.deepEqual(headerList(at(d.o, 2)), headerList(r));
    });
  });

  describe('02_event_polls', () => {
    it('class 1 events with CTO-relative times', () => {
      const d = decoded('02_event_polls');
      const r = at(d.o, 2);
      assert.equal(toHex(at(d.oFrags, 2)), toHex(hex('E2 81 0C 00 02 02 28 02 00 00 00 01 2E DB 20 C8 8C 01 01 00 81 38 DB 20 C8 8C 01 33 01 07 01 42 DB 20 C8 8C 01 02 03 28 02 00 05 00 01 00 00 06 00 81 05 00 04 02 28 01 00 01 00 81 4C DB 20 C8 8C 01 0B 02 28 01 00 01 00 01 88 DB 20 C8 8C 01')));
      assert.ok(r.control.con && r.control.fir && r.control.fin && r.control.seq === 2);
      assert.equal(iinHex(r), '0c00');
      assert.deepEqual(points(r, 2, 2).map((x) => [x.index, x.p.value, x.p.flags, x.p.time]), [[0, false, 1, T0], [1, true, 0x81, T0 + 10]]);
      assert.deepEqual(points(r, 2, 3).map((x) => [x.index, x.p.value, x.p.relativeMs, x.p.time]), [[5, false, 0, T0 + 20], [6, true, 5, T0 + 25]]);
      assert.deepEqual(points(r, 4, 2).map((x) => [x.index, x.p.value, x.p.time]), [[1, DoubleBit.DETERMINED_ON, T0 + 30]]);
      assert.deepEqual(points(r, 11, 2).map((x) => [x.index, x.p.value, x.p.time]), [[1, false, T0 + 90]]);
      assert.equal(toHex(at(d.mFrags, 3)), 'c200');
    });
    it('class 2, class 3 and combined polls', () => {
      const d = decoded('02_event_polls');
      const c2 = at(d.o, 3);
      assert.equal(iinHex(c2), '0800');
      assert.deepEqual(points(c2, 32, 3).map((x) => [x.index, x.p.value, x.p.time]), [[0, 12400, T0 + 40]]);
      assert.deepEqual(points(c2, 32, 4).map((x) => [x.index, x.p.value, x.p.time]), [[2, 1300, T0 + 50]]);
      assert.deepEqual(points(c2, 32, 7).map((x) => [x.index, x.p.value, x.p.time]), [[4, 231.25, T0 + 60]]);
      assert.deepEqual(points(c2, 42, 7).map((x) => [x.index, x.p.value, x.p.time]), [[2, 48, T0 + 100]]);
      const c3 = at(d.o, 4);
      assert.deepEqual(points(c3, 32, 1).map((x) => [x.index, x.p.value, x.p.time]), [[6, 70500, undefined]]);
      assert.deepEqual(points(c3, 22, 5).map((x) => [x.index, x.p.value, x.p.time]), [[0, 1000010, T0 + 80]]);
      const all = at(d.o, 5);
      assert.deepEqual(points(all, 2, 2).map((x) => [x.index, x.p.value, x.p.flags, x.p.time]), [[0, true, 0x81, T0 + 2000]]);
      assert.deepEqual(points(all, 4, 2).map((x) => [x.index, x.p.value, x.p.flags, x.p.time]), [[0, DoubleBit.DETERMINED_OFF, 0x41, T0 + 2010]]);
      assert.deepEqual(points(all, 32, 3).map((x) => [x.index, x.p.value, x.p.flags, x.p.time]), [[0, 12500, 0x21, T0 + 2020]]);
      const empty = at(d.o, 6);
      assert.equal(toHex(at(d.oFrags, 6)), 'c6810000');
      assert.equal(empty.blocks.length, 0);
    });
  });

  describe('03_unsolicited', () => {
    it('null unsolicited, disable/enable, 12-event unsolicited and confirms', () => {
      const d = decoded('03_unsolicited');
      assert.equal(toHex(at(d.oFrags, 0)), 'f0828000');
      assert.equal(at(d.m, 0).func, FunctionCode.DISABLE_UNSOLICITED);
      assert.deepEqual(headerList(at(d.m, 0)), ['g60v2 q06 all', 'g60v3 q06 all', 'g60v4 q06 all']);
      assert.equal(toHex(at(d.mFrags, 1)), 'd000');
      const u = d.o.find((a) => a.func === FunctionCode.UNSOLICITED_RESPONSE && a.control.seq === 1);
      assert.ok(u);
      assert.deepEqual(headerList(u).map((h) => h.split(' ')[0]), ['g2v2', 'g51v1', 'g2v3', 'g4v2', 'g32v3', 'g32v4', 'g32v7', 'g32v1', 'g22v5', 'g11v2', 'g42v7']);
      const count = u.blocks.filter((b) => b.header.group !== 51).reduce((n, b) => n + b.objects.length, 0);
      assert.equal(count, 12);
      assert.ok(d.mFrags.some((f) => toHex(f) === 'd100'));
      const enable2 = at(d.o, d.o.length - 2);
      assert.equal(iinHex(enable2), '0200');
      const last = at(d.o, d.o.length - 1);
      assert.equal(last.control.seq, 2);
      assert.ok(last.control.uns);
      assert.deepEqual(points(last, 2, 2).map((x) => [x.index, x.p.value, x.p.time]), [[2, false, T0 + 5000]]);
      assert.equal(toHex(at(d.mFrags, d.mFrags.length - 1)), 'd200');
    });
  });

  describe('04_controls', () => {
    it('CROB and analog output commands with per-object status', () => {
      const d = decoded('04_controls');
      assert.equal(toHex(at(d.mFrags, 0)), toHex(hex('C0 03 0C 01 28 01 00 00 00 03 01 64 00 00 00 64 00 00 00 00')));
      const crob = at(d.m, 0).blocks[0]?.objects[0] as IndexedObject;
      assert.deepEqual(crob.value, { kind: 'crob', code: 3, count: 1, onTimeMs: 100, offTimeMs: 100, status: 0 });
      assert.equal(iinHex(at(d.o, 1)), '8200');
      const rejected = d.oFrags.find((f) => toHex(f).startsWith('cc81'));
      assert.ok(rejected);
      assert.equal(toHex(rejected), toHex(hex('CC 81 06 04 0C 01 28 01 00 0A 00 03 01 64 00 00 00 64 00 00 00 04')));
      const g41 = d.m.map((a) => a.blocks.find((b) => b.header.group === 41)).filter((b) => b !== undefined);
      assert.deepEqual(g41.slice(0, 4).map((b) => [b.header.variation, b.objects[0]?.index, (b.objects[0]?.value as { value: number }).value]), [
        [1, 0, 1000], [2, 1, -300], [3, 2, 12.5], [4, 3, 0.5],
      ]);
      const statuses = d.o.flatMap((a) => a.blocks.flatMap((b) => b.objects.map((o) => ('status' in o.value ? o.value.status : -1))));
      assert.deepEqual(statuses.filter((s) => s === 4).length, 3);
      const ev = at(d.o, d.o.length - 1);
      const base = 1704164745678;
      assert.deepEqual(points(ev, 11, 2).map((x) => [x.index, x.p.value, x.p.time]), [[0, true, base], [1, false, base + 1000], [2, true, base + 2000]]);
      assert.deepEqual(points(ev, 42, 3).map((x) => [x.index, x.p.value, x.p.time]), [[0, 1000, base + 3000]]);
      assert.deepEqual(points(ev, 42, 4).map((x) => [x.index, x.p.value, x.p.time]), [[1, -300, base + 4000]]);
      assert.deepEqual(points(ev, 42, 7).map((x) => [x.index, x.p.value, x.p.time]), [[2, 12.5, base + 5000]]);
      assert.deepEqual(points(ev, 42, 8).map((x) => [x.index, x.p.value, x.p.time]), [[3, 0.5, base + 6000], [3, 77, base + 7000]]);
    });
  });

  describe('05 time synchronisation', () => {
    it('non-LAN: delay measure answered with g52v2, then WRITE g50v1', () => {
      const d = decoded('05a_timesync_nonlan');
      assert.equal(iinHex(at(d.o, 0)), '9000');
      assert.equal(toHex(at(d.mFrags, 2)), 'c217');
      assert.equal(toHex(at(d.oFrags, 2)), toHex(hex('C2 81 10 00 34 02 07 01 00 00')));
      assert.deepEqual(at(d.o, 2).blocks[0]?.objects[0]?.value, { kind: 'delay', ms: 0 });
      assert.deepEqual(at(d.m, 3).blocks[0]?.objects[0]?.value, { kind: 'time', time: 1795494318162 });
      assert.equal(iinHex(at(d.o, 3)), '0000');
    });
    it('LAN: record current time, then WRITE g50v3', () => {
      const d = decoded('05b_timesync_lan');
      assert.equal(toHex(at(d.mFrags, 2)), 'c218');
      assert.equal(iinHex(at(d.o, 2)), '1000');
      assert.equal(at(d.m, 3).blocks[0]?.header.variation, 3);
      assert.deepEqual(at(d.m, 3).blocks[0]?.objects[0]?.value, { kind: 'time', time: 1795494321571 });
    });
  });

  describe('06_fragmented_integrity', () => {
    it('three fragments with CON, sequence numbers and split point ranges', () => {
      const s = loadVectorStreams('06_fragmented_integrity');
      const o = decodeStream(s.outstation);
      const th = o.frames.map((f) => toHex(f.data.subarray(0, 1)));
      assert.deepEqual(th.slice(0, 21).join(' '), '40 01 02 03 04 05 06 07 88 49 0a 0b 0c 0d 0e 0f 10 91 52 13 94');
      assert.equal(th[21], 'd5');
      assert.deepEqual(o.fragments.slice(0, 3).map((f) => [toHex(f.subarray(0, 1)), f.length]), [['a0', 2047], ['21', 2048], ['42', 706]]);
      const [f1, f2, f3] = [at(o.apdus, 0), at(o.apdus, 1), at(o.apdus, 2)];
      assert.deepEqual(headerList(f1), ['g1v2 q00 0-255', 'g30v1 q01 0-354']);
      assert.deepEqual(headerList(f2), ['g30v1 q01 355-599', 'g20v1 q01 0-160']);
      assert.deepEqual(headerList(f3), ['g20v1 q01 161-299']);
      for (const f of [f1, f2, f3]) assert.equal(iinHex(f), '8000');
      const bi = points(f1, 1, 2);
      assert.equal(bi.length, 256);
      assert.ok(bi.every((x) => x.p.value === (x.index % 3 === 0) && (x.p.flags ?? 0) & 0x01));
      const ai = [...points(f1, 30, 1), ...points(f2, 30, 1)];
      assert.equal(ai.length, 600);
      assert.ok(ai.every((x) => x.p.value === 10 * x.index - 1000));
      const ctr = [...points(f2, 20, 1), ...points(f3, 20, 1)];
      assert.equal(ctr.length, 300);
      assert.ok(ctr.every((x) => x.p.value === 1000 * x.index + 7));
      const m = decodeStream(s.master);
      assert.deepEqual(m.fragments.slice(1, 3).map(toHex), ['c000', 'c100']);
      for (const f of o.frames.slice(0, 8)) assert.equal(f.data.length, 250);
    });
  });

  describe('07_range_reads', () => {
    it('variation 0, qualifiers 0x00/0x01/0x06, forced variation and IIN2.2', () => {
      const d = decoded('07_range_reads');
      assert.equal(toHex(at(d.mFrags, 0)), toHex(hex('C0 01 1E 00 00 00 03')));
      assert.deepEqual(headerList(at(d.o, 0)), ['g30v1 q00 0-1', 'g30v2 q00 2-3']);
      assert.deepEqual(points(at(d.o, 0), 30, 2).map((x) => [x.p.value, x.p.flags]), [[1234, 1], [-42, 0x11]]);
      assert.deepEqual(headerList(at(d.m, 2)), ['g1v2 q01 0-7']);
      assert.deepEqual(headerList(at(d.o, 2)), ['g1v2 q00 0-7']);
      assert.deepEqual(points(at(d.o, 2), 1, 2).map((x) => x.p.flags), [0x81, 0x01, 0xa1, 0x11, 0x85, 0x81, 0x01, 0x81]);
      assert.deepEqual(headerList(at(d.m, 3)), ['g30v5 q06 all']);
      assert.deepEqual(points(at(d.o, 3), 30, 5).map((x) => x.p.value), [12345, -100000, 1234, -42, 230.5, -1.25, 70000, 123456.7890625]);
      assert.equal(iinHex(at(d.o, 4)), '0004');
      assert.equal(at(d.o, 4).blocks.length, 0);
      assert.deepEqual(headerList(at(d.o, 5)), ['g40v1 q00 0-0', 'g40v2 q00 1-1', 'g40v3 q00 2-2', 'g40v4 q00 3-3']);
      assert.deepEqual([1, 2, 3, 4].map((v) => points(at(d.o, 5), 40, v)[0]?.p.value), [500, -250, 47.5, 0.125]);
    });
  });

  describe('our request builders produce the captured master bytes', () => {
    const cases: [string, Apdu, string][] = [
      ['integrity poll', classReadRequest(0, { class0: true, class1: true, class2: true, class3: true }), 'C0 01 3C 02 06 3C 03 06 3C 04 06 3C 01 06'],
      ['class 1 poll', classReadRequest(2, { class1: true }), 'C2 01 3C 02 06'],
      ['clear restart', clearRestartRequest(1), 'C1 02 50 01 00 07 07 00'],
      ['solicited confirm', confirmRequest(2, false), 'C2 00'],
      ['unsolicited confirm', confirmRequest(1, true), 'D1 00'],
      ['CROB select', request(0, FunctionCode.SELECT, commandBlocks([{ index: 0, crob: { code: 3, count: 1, onTimeMs: 100, offTimeMs: 100 } }])), 'C0 03 0C 01 28 01 00 00 00 03 01 64 00 00 00 64 00 00 00 00'],
      ['g41v2 direct operate', request(6, FunctionCode.DIRECT_OPERATE, commandBlocks([{ index: 1, analog: { variation: 2, value: -300 } }])), 'C6 05 29 02 28 01 00 01 00 D4 FE 00'],
      ['two-header operate', request(11, FunctionCode.DIRECT_OPERATE, commandBlocks([{ index: 2, crob: { code: 0x41, count: 1, onTimeMs: 250, offTimeMs: 0 } }, { index: 3, analog: { variation: 2, value: 77 } }])), 'CB 05 0C 01 28 01 00 02 00 41 01 FA 00 00 00 00 00 00 00 00 29 02 28 01 00 03 00 4D 00 00'],
      ['delay measure', request(2, FunctionCode.DELAY_MEASURE), 'C2 17'],
      ['record current time', request(2, FunctionCode.RECORD_CURRENT_TIME), 'C2 18'],
      ['write g50v1', writeTimeRequest(3, 1795494318162, 1), 'C3 02 32 01 07 01 52 10 CD 0B A2 01'],
      ['write g50v3', writeTimeRequest(3, 1795494321571, 3), 'C3 02 32 03 07 01 A3 1D CD 0B A2 01'],
      ['range read g30v0', readRequest(0, [startStopHeader(30, 0, 0, 3)]), 'C0 01 1E 00 00 00 03'],
      ['g30v5 all', readRequest(3, [allObjectsHeader(30, 5)]), 'C3 01 1E 05 06'],
      ['enable unsolicited', request(4, FunctionCode.ENABLE_UNSOLICITED, classHeaders({ class1: true, class2: true, class3: true })), 'C4 14 3C 02 06 3C 03 06 3C 04 06'],
    ];
    for (const [name, apdu, bytes] of cases) {
      it(name, () => {
        assert.equal(toHex(encodeApdu(apdu)), toHex(hex(bytes)));
        assert.deepEqual(decodeApdu(hex(bytes)), decodeApdu(encodeApdu(apdu)));
      });
    }
  });
});
