import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import {
  bitStringContent, bitStringFromBools, bitStringToBools, decodeBitString, decodeInt, decodeIntBig, decodeOid, fromHex, hex,
  intContent, oidContent, readSingle, readTlv, tlv, CONTEXT,
} from './ber.ts';
import { decodeData, decodeDataBytes, encodeData, utcTimeFromMs, utcTimeToMs, binaryTimeFromMs, binaryTimeToMs } from './mms-data.ts';
import type { MmsData } from './mms-data.ts';
import { decodeGooseFrame, encodeGooseFrame } from './goose.ts';
import type { GooseMessage } from './goose.ts';
import { buildReport, parseReport, decodeQuality, encodeQuality } from './report.ts';

describe('BER codec', () => {
  it('encodes minimal two\'s complement integers and decodes them back', () => {
    const cases: [number | bigint, string][] = [[0, '00'], [127, '7f'], [128, '0080'], [-1, 'ff'], [-128, '80'], [-129, 'ff7f'], [65000, '00fde8'], [2n ** 63n, '008000000000000000']];
    for (const [n, h] of cases) {
      assert.equal(hex(intContent(n)), h);
      assert.equal(decodeIntBig(fromHex(h)), BigInt(n));
    }
    assert.equal(decodeInt(fromHex('ff7f')), -129);
    assert.throws(() => decodeInt(fromHex('7fffffffffffffff')), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
  });

  it('uses minimal definite lengths and high tag numbers', () => {
    assert.equal(hex(tlv(CONTEXT, false, 3, new Uint8Array(127))).slice(0, 4), '837f');
    assert.equal(hex(tlv(CONTEXT, false, 3, new Uint8Array(128))).slice(0, 6), '838180');
    assert.equal(hex(tlv(CONTEXT, false, 3, new Uint8Array(300))).slice(0, 8), '8382012c');
    assert.equal(hex(tlv(CONTEXT, true, 77, new Uint8Array(0))), 'bf4d00');
    const t = readTlv(fromHex('bf4d00'));
    assert.deepEqual([t.cls, t.constructed, t.tag, t.size], [CONTEXT, true, 77, 3]);
    assert.throws(() => readSingle(fromHex('830201')), (e: unknown) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
    assert.throws(() => readSingle(fromHex('83010102')), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
  });

  it('bit strings keep their length (unused bits) and OIDs round-trip', () => {
    const b = bitStringFromBools([false, true, true, true, true, false, true, false, true, false]);
    assert.equal(hex(bitStringContent(b)), '067a80');
    assert.deepEqual(bitStringToBools(decodeBitString(fromHex('067a80'))), bitStringToBools(b));
    assert.throws(() => decodeBitString(fromHex('08ff')), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
    for (const oid of ['1.0.9506.2.3', '2.2.1.0.1', '1.1.1.999.1', '2.999.3']) assert.equal(decodeOid(oidContent(oid)), oid);
  });

  it('MMS Data round-trips every type, and times convert to epoch ms', () => {
    const all: MmsData[] = [
      { type: 'boolean', value: true }, { type: 'integer', value: -5 }, { type: 'unsigned', value: 4294967295 }, { type: 'integer', value: 2n ** 70n },
      { type: 'float', value: 0.5 }, { type: 'float', value: 1e300, double: true }, { type: 'octet-string', value: Uint8Array.of(1, 2) },
      { type: 'visible-string', value: 'abc' }, { type: 'mms-string', value: 'Grüße' }, { type: 'generalized-time', value: '20240102030405.000Z' },
      { type: 'binary-time', value: { msOfDay: 1000 } }, { type: 'binary-time', value: { msOfDay: 1000, days: 15668 } },
      { type: 'utc-time', value: { seconds: 1795000000, fraction: 0x483126, quality: 0xa0 } }, { type: 'bcd', value: 42 }, { type: 'objId', value: '1.2.3' },
      { type: 'bit-string', value: encodeQuality({ validity: 'questionable', test: true }) },
      { type: 'array', value: [{ type: 'structure', value: [{ type: 'boolean', value: false }] }] },
    ];
    for (const d of all) assert.deepEqual(decodeData(readTlv(encodeData(d))), d);
    assert.equal(hex(encodeData({ type: 'float', value: 1.5 })), '8705083fc00000');
    const ms = Date.UTC(2026, 10, 24, 4, 32, 32, 282);
    assert.equal(utcTimeToMs(utcTimeFromMs(ms)), ms);
    assert.equal(binaryTimeToMs(binaryTimeFromMs(ms)), ms);
    assert.equal(new Date(binaryTimeToMs({ msOfDay: 0, days: 0 })).toISOString(), '1984-01-01T00:00:00.000Z');
    assert.throws(() => decodeDataBytes(fromHex('910401020304')), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
  });

  it('quality bits decode per IEC 61850-7-3', () => {
    const q = decodeQuality(encodeQuality({ validity: 'invalid', overflow: true, oldData: true, substituted: true, operatorBlocked: true }));
    assert.deepEqual([q.validity, q.overflow, q.oldData, q.substituted, q.operatorBlocked, q.test], ['invalid', true, true, true, true, false]);
    assert.equal(hex(bitStringContent(encodeQuality({ validity: 'invalid' }))), '034000');
  });

  it('reports built by the simulator parse back (all optional fields, dataRef, reasons)', () => {
    const results = buildReport({
      rptId: 'r', optFlds: ['seqNum', 'timeStamp', 'reasonCode', 'dataSet', 'dataRef', 'bufOvfl', 'entryId', 'confRev'], seqNum: 7, timeOfEntry: { msOfDay: 5, days: 1 },
      dataSet: 'LD/LLN0$DS', bufOvfl: true, entryId: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 9), confRev: 3, members: 5,
      entries: [{ index: 3, reference: 'LD/X$ST$a', value: { type: 'boolean', value: true }, reasons: ['data-change', 'quality-change'] }, { index: 1, reference: 'LD/X$ST$b', value: { type: 'integer', value: 2 }, reasons: ['integrity'] }],
    });
    const r = parseReport(results);
    assert.deepEqual([r.rptId, r.seqNum, r.dataSet, r.bufOvfl, hex(r.entryId as Uint8Array), r.confRev, r.inclusion.bits], ['r', 7, 'LD/LLN0$DS', true, '0000000000000009', 3, 5]);
    assert.deepEqual(r.entries.map((e) => [e.index, e.reference, e.reasons]), [[1, 'LD/X$ST$b', ['integrity']], [3, 'LD/X$ST$a', ['data-change', 'quality-change']]]);
    assert.throws(() => parseReport(results.slice(0, -1)), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
  });

  it('GOOSE frames with and without a VLAN tag round-trip', () => {
    const m: GooseMessage = {
      dst: '01:0c:cd:01:00:02', src: '02:00:00:00:00:01', appId: 0x3001, gocbRef: 'IEDLD/LLN0$GO$g', timeAllowedToLive: 2000, datSet: 'IEDLD/LLN0$ds', goId: 'g',
      t: { seconds: 1, fraction: 2, quality: 0x0a }, stNum: 3, sqNum: 4, simulation: false, confRev: 1, ndsCom: false, numDatSetEntries: 1, allData: [{ type: 'boolean', value: true }],
    };
    assert.deepEqual(decodeGooseFrame(encodeGooseFrame(m)), m);
    const tagged = { ...m, vlan: { priority: 4, id: 5 } };
    assert.deepEqual(decodeGooseFrame(encodeGooseFrame(tagged)), tagged);
    assert.throws(() => decodeGooseFrame(encodeGooseFrame(m).subarray(0, 30)), (e: unknown) => isEnergyMeshError(e, 'FRAME_TRUNCATED'));
  });
});
