/** Unit tests of the codec pieces the captures do not exercise: resync, limits, other qualifiers. */
import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { ByteReader } from './byte-reader.ts';
import { ByteWriter } from './byte-writer.ts';
import { decodeApdu, encodeApdu } from './apdu.ts';
import { FunctionCode, iinNames, singleFragment } from './app-header.ts';
import { decodeLinkFrame, encodeLinkFrame, PrimaryFunction } from './link-frame.ts';
import { LinkParser } from './link-parser.ts';
import { QualifierCode, qualifierInfo } from './object-header.ts';
import { TransportReassembler, segmentApdu } from './transport.ts';
import { hex, toHex } from '../testing/vectors.ts';

const frame = (data: Uint8Array): Uint8Array =>
  encodeLinkFrame({ dir: true, prm: true, fcb: false, fcvDfc: false, func: PrimaryFunction.UNCONFIRMED_USER_DATA, dest: 1024, src: 1, data });

describe('DNP3 codec units', () => {
  it('ByteReader refuses to read past the end with FRAME_TRUNCATED', () => {
    const r = new ByteReader(Uint8Array.of(1, 2, 3));
    assert.equal(r.u16(), 0x0201);
    assert.throws(() => r.u16(), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
  });

  it('ByteWriter range-checks and round-trips 48-bit times', () => {
    assert.throws(() => new ByteWriter().u8(256), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'));
    const w = new ByteWriter(1).u48(1795494318162);
    assert.equal(toHex(w.toBytes()), '5210cd0ba201');
    assert.equal(new ByteReader(w.toBytes()).u48(), 1795494318162);
  });

  it('link parser reassembles frames split at every byte boundary', () => {
    const f = frame(new Uint8Array(40).map((_, i) => i));
    for (let cut = 1; cut < f.length; cut++) {
      const p = new LinkParser();
      const a = p.push(f.subarray(0, cut));
      const b = p.push(f.subarray(cut));
      assert.equal(a.frames.length + b.frames.length, 1);
      assert.equal(p.buffered, 0);
    }
  });

  it('link parser resynchronises after garbage, a bad header CRC and a bad block CRC', () => {
    const good = frame(hex('c0c0013c0106'));
    const badHeader = good.slice();
    badHeader[8] = (badHeader[8] ?? 0) ^ 0xff;
    const badBlock = good.slice();
    badBlock[12] = (badBlock[12] ?? 0) ^ 0x01;
    const stream = new Uint8Array([...hex('ff 05 00 64 05 05'), ...badHeader, ...badBlock, ...good, 0x05]);
    const p = new LinkParser();
    const r = p.push(stream);
    assert.equal(r.frames.length, 1);
    assert.equal(toHex(r.frames[0]?.data ?? new Uint8Array()), 'c0c0013c0106');
    assert.ok(r.errors.some((e) => isEnergyMeshError(e, 'CRC_MISMATCH')));
    assert.ok(p.buffered <= 1);
  });

  it('decodeLinkFrame reports truncated and bad-CRC frames with typed errors', () => {
    const good = frame(hex('c0c0013c0106'));
    assert.throws(() => decodeLinkFrame(good.subarray(0, 12)), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
    const bad = good.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0x10;
    assert.throws(() => decodeLinkFrame(bad), (e) => isEnergyMeshError(e, 'CRC_MISMATCH'));
    assert.throws(() => frame(new Uint8Array(251)), (e) => isEnergyMeshError(e, 'FRAME_TOO_LONG'));
  });

  it('transport segments a 600-byte APDU into 249-byte pieces and reassembles it', () => {
    const apdu = new Uint8Array(600).map((_, i) => i & 0xff);
    const { segments, nextSeq } = segmentApdu(apdu, 62);
    assert.deepEqual(segments.map((s) => toHex(s.subarray(0, 1))), ['7e', '3f', '80']);
    assert.equal(nextSeq, 1);
    const t = new TransportReassembler(2048);
    const results = segments.map((s) => t.push(s));
    assert.deepEqual(results[2]?.apdu, apdu);
  });

  it('transport drops fragments on a sequence gap, a missing FIR and a size overrun', () => {
    const { segments } = segmentApdu(new Uint8Array(600), 0);
    const t = new TransportReassembler(2048);
    t.push(segments[0] ?? new Uint8Array());
    assert.ok(isEnergyMeshError(t.push(segments[2] ?? new Uint8Array()).error, 'FRAME_MALFORMED'));
    assert.ok(isEnergyMeshError(t.push(segments[1] ?? new Uint8Array()).error, 'FRAME_MALFORMED'));
    const small = new TransportReassembler(300);
    small.push(segments[0] ?? new Uint8Array());
    assert.ok(isEnergyMeshError(small.push(segments[1] ?? new Uint8Array()).error, 'FRAME_TOO_LONG'));
  });

  it('qualifiers 0x17, 0x08, 0x5B and index-prefixed READ requests round-trip', () => {
    const apdus = [
      'c0 81 00 00 1e 01 17 02 03 01 10 00 00 00 09 01 f0 ff ff ff',
      'c0 01 01 02 17 02 03 09',
      'c0 02 32 01 08 01 00 00 00 00 00 00 00',
      'c0 81 00 00 78 01 5b 01 03 00 aa bb cc',
      'c0 01 01 02 28 02 00 03 00 09 01',
    ];
    for (const h of apdus) assert.equal(toHex(encodeApdu(decodeApdu(hex(h)))), toHex(hex(h)));
    const a = decodeApdu(hex(apdus[0] ?? ''));
    assert.deepEqual(a.blocks[0]?.objects.map((o) => [o.index, o.value.kind === 'point' ? o.value.value : null]), [[3, 16], [9, -16]]);
    assert.deepEqual(decodeApdu(hex(apdus[1] ?? '')).blocks[0]?.indices, [3, 9]);
    assert.equal(qualifierInfo(QualifierCode.FREE_FORMAT_UINT16_SIZE).prefix, 'size');
  });

  it('unknown objects with data are FRAME_MALFORMED with reason objectUnknown; a bad qualifier too', () => {
    assert.throws(() => decodeApdu(hex('c0 81 00 00 63 01 00 00 00 00')), (e) => isEnergyMeshError(e, 'FRAME_MALFORMED') && e.details['reason'] === 'objectUnknown');
    assert.throws(() => decodeApdu(hex('c0 01 01 02 03')), (e) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
    assert.throws(() => decodeApdu(hex('c0 81 00 00 1e 01 00 00 05 01')), (e) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
    // an unknown object in a READ request parses (the outstation answers IIN2.1)
    assert.equal(decodeApdu(hex('c0 01 63 01 06')).blocks[0]?.header.group, 99);
  });

  it('names IIN bits', () => {
    assert.deepEqual(iinNames({ iin1: 0x90, iin2: 0x04 }), ['IIN1.4 NEED_TIME', 'IIN1.7 DEVICE_RESTART', 'IIN2.2 PARAMETER_ERROR']);
    assert.equal(encodeApdu({ control: singleFragment(5), func: FunctionCode.COLD_RESTART, blocks: [] }).length, 2);
  });
});
