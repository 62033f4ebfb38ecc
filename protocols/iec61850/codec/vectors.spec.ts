/**
 * Golden vectors: ../shared/vectors/iec61850 (libiec61850 v1.6.0 captures). Every TPKT decodes through
 * COTP/session/presentation/ACSE/MMS to the values the vectors README lists, and our encoder rebuilds each
 * complete TPKT byte for byte.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { hex, bitStringToBools } from './ber.ts';
import { encodeCotp, encodeTpkt } from './cotp.ts';
import { decodeGooseFrame, GooseSubscriber } from './goose.ts';
import type { GooseEvent } from './goose.ts';
import { encodeAccept, encodeConnect, encodeData, encodeReleaseRequest, encodeReleaseResponse } from './iso-stack.ts';
import { binaryTimeToMs, utcTimeToMs } from './mms-data.ts';
import type { AccessResult, MmsData } from './mms-data.ts';
import { encodeMmsPdu } from './mms-pdu.ts';
import type { ConfirmedRequest, ConfirmedResponse, MmsPdu } from './mms-pdu.ts';
import { decodeQuality, decodeTimeQuality, isReport, parseReport } from './report.ts';
import { decodeConversation } from '../testing/conversation.ts';
import type { DecodedMessage } from '../testing/conversation.ts';
import { gooseFrames, readPcap, readVectorText, tpktsFromPcap } from '../testing/pcap.ts';
import { replayGoosePcap } from '../transport/pcap-file.ts';

export const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;

const cache = new Map<string, DecodedMessage[]>();
function conv(name: string): DecodedMessage[] {
  let c = cache.get(name);
  if (!c) {
    c = decodeConversation(tpktsFromPcap(readPcap(`${VECTORS}${name}.pcap`)));
    cache.set(name, c);
  }
  return c;
}

function pdu(name: string, n: number): MmsPdu {
  const m = conv(name)[n - 1]?.mms;
  if (!m) throw new Error(`${name} msg ${n} has no MMS PDU`);
  return m;
}

function req(name: string, n: number): ConfirmedRequest {
  const p = pdu(name, n);
  assert.equal(p.kind, 'confirmed-request', `${name} msg ${n}`);
  return (p as Extract<MmsPdu, { kind: 'confirmed-request' }>).request;
}

function res(name: string, n: number): ConfirmedResponse {
  const p = pdu(name, n);
  assert.equal(p.kind, 'confirmed-response', `${name} msg ${n}`);
  return (p as Extract<MmsPdu, { kind: 'confirmed-response' }>).response;
}

function readResults(name: string, n: number): AccessResult[] {
  const r = res(name, n);
  assert.equal(r.service, 'read');
  return (r as Extract<ConfirmedResponse, { service: 'read' }>).results;
}

function float(d: AccessResult | undefined): number {
  assert.equal(d?.type, 'float');
  return (d as Extract<MmsData, { type: 'float' }>).value;
}
function near(a: number, b: number): void {
  assert.ok(Math.abs(a - b) < 5e-6, `${a} ≈ ${b}`);
}
function struct(d: AccessResult | undefined): MmsData[] {
  assert.equal(d?.type, 'structure');
  return (d as Extract<MmsData, { type: 'structure' }>).value;
}
function val(d: AccessResult | undefined): unknown {
  if (d === undefined) return undefined;
  if (d.type === 'failure') return { failure: d.error };
  if (d.type === 'structure' || d.type === 'array') return d.value.map(val);
  if (d.type === 'bit-string') return hex(d.value.bytes) + '/' + d.value.bits;
  if (d.type === 'octet-string') return hex(d.value);
  if (d.type === 'utc-time') return new Date(utcTimeToMs(d.value)).toISOString() + '/' + d.value.quality.toString(16);
  if (d.type === 'binary-time') return new Date(binaryTimeToMs(d.value)).toISOString();
  if (d.type === 'float') return Math.round(d.value * 1e6) / 1e6;
  return d.value;
}

const MMS_FILES = [
  '01_association_discovery', '02_discovery_small_pdu', '03_read', '04_type_description', '05_dataset', '06_write',
  '07_report_unbuffered', '08_report_buffered', '09_control_normal', '10_control_enhanced', '11_file_services', '12_file_read_segmented',
];

describe('iec61850 vectors (libiec61850 captures)', function () {
  before(function () {
    if (!existsSync(VECTORS)) this.skip();
  });

  describe('every TPKT decodes and re-encodes byte for byte', () => {
    for (const name of MMS_FILES) {
      it(name, () => {
        const tpkts = tpktsFromPcap(readPcap(`${VECTORS}${name}.pcap`));
        // the pcap reassembly agrees with the .pcap.txt lines
        const text = readVectorText(`${VECTORS}${name}.pcap.txt`);
        assert.deepEqual(tpkts.map((t) => t.dir + hex(t.tpkt)), text.map((t) => t.dir + hex(t.bytes)));
        const decoded = decodeConversation(tpkts);
        let rebuilt = 0;
        for (const m of decoded) {
          const orig = hex((tpkts[m.n - 1] as { tpkt: Uint8Array }).tpkt);
          if (m.cotp.type !== 'DT') {
            assert.equal(hex(encodeTpkt(encodeCotp(m.cotp))), orig);
            rebuilt++;
            continue;
          }
          if (!m.cotp.eot || m.cotp.data.length > 8000) continue; // fragments: see the segmentation test
          assert.ok(m.upper, `msg ${m.n} decodes`);
          let upper: Uint8Array;
          const u = m.upper;
          if (u.type === 'data') upper = encodeData(encodeMmsPdu(m.mms as MmsPdu));
          else if (u.type === 'connect') upper = encodeConnect(encodeMmsPdu(m.mms as MmsPdu));
          else if (u.type === 'accept') upper = encodeAccept(encodeMmsPdu(m.mms as MmsPdu));
          else if (u.type === 'release-request') upper = encodeReleaseRequest();
          else if (u.type === 'release-response') upper = encodeReleaseResponse();
          else throw new Error(`unexpected ${u.type}`);
          if (tpkts[m.n - 1]?.tpkt.length === 3667) continue; // last fragment of capture 12
          assert.equal(hex(encodeTpkt(encodeCotp({ type: 'DT', eot: true, data: upper }))), orig, `${name} msg ${m.n}`);
          rebuilt++;
        }
        assert.ok(rebuilt >= decoded.length - 3);
      });
    }
  });

  it('common association: COTP CR/CC, AARQ/AARE, initiate request/response', () => {
    const c = conv('01_association_discovery');
    const cr = c[0]?.cotp;
    assert.ok(cr && cr.type === 'CR');
    assert.equal(cr.dstRef, 0);
    assert.equal(cr.srcRef, 1);
    assert.equal(cr.tpduSize, 8192);
    assert.equal(hex(cr.calledTsel as Uint8Array), '0001');
    const cc = c[1]?.cotp;
    assert.ok(cc && cc.type === 'CC' && cc.dstRef === 1 && cc.srcRef === 1 && cc.tpduSize === 8192);
    const conn = c[2]?.upper;
    assert.ok(conn && conn.type === 'connect');
    assert.equal(conn.aarq.applicationContext, '1.0.9506.2.3');
    assert.deepEqual(conn.aarq.called, { apTitle: '1.1.1.999.1', aeQualifier: 12 });
    assert.deepEqual(conn.aarq.calling, { apTitle: '1.1.1.999', aeQualifier: 12 });
    const ini = pdu('01_association_discovery', 3);
    assert.ok(ini.kind === 'initiate-request');
    assert.equal(ini.localDetail, 65000);
    assert.equal(ini.maxServOutstandingCalling, 5);
    assert.equal(ini.maxServOutstandingCalled, 5);
    assert.equal(ini.dataStructureNestingLevel, 10);
    assert.equal(ini.version, 1);
    assert.equal(ini.parameterCbb.bits, 11);
    assert.equal(hex(ini.parameterCbb.bytes), 'f100');
    assert.equal(ini.servicesSupported.bits, 85);
    assert.equal(hex(ini.servicesSupported.bytes), 'ee1c00000408000079ef18');
    const acc = c[3]?.upper;
    assert.ok(acc && acc.type === 'accept');
    assert.equal(acc.aare.result, 0);
    const ir = pdu('01_association_discovery', 4);
    assert.ok(ir.kind === 'initiate-response');
    assert.equal(ir.localDetail, 65000);
    assert.equal(hex(ir.servicesSupported.bytes), 'ee1c000000000000000118');
    assert.equal(c.at(-2)?.upper?.type, 'release-request');
    assert.equal(c.at(-1)?.upper?.type, 'release-response');
    assert.equal(pdu('01_association_discovery', 13).kind, 'conclude-request');
    assert.equal(pdu('01_association_discovery', 14).kind, 'conclude-response');
    const files = pdu('11_file_services', 4);
    assert.ok(files.kind === 'initiate-response');
    assert.equal(files.localDetail, 1000);
    assert.equal(hex(files.servicesSupported.bytes), 'ee1c00000002000040ed18');
  });

  it('01: identify and GetNameList', () => {
    assert.deepEqual(res('01_association_discovery', 6), { service: 'identify', vendor: 'MZ', model: 'basic io', revision: '1.4.2' });
    assert.deepEqual(req('01_association_discovery', 7), { service: 'getNameList', objectClass: 9, scope: { type: 'vmd' } });
    assert.deepEqual(res('01_association_discovery', 8), { service: 'getNameList', identifiers: ['simpleIOGenericIO'], moreFollows: false });
    const vars = res('01_association_discovery', 10);
    assert.ok(vars.service === 'getNameList');
    assert.equal(vars.identifiers.length, 304);
    assert.equal(vars.identifiers[0], 'GGIO1');
    assert.equal(vars.identifiers.at(-1), 'LPHD1$ST$Proxy$t');
    assert.ok(vars.identifiers.includes('LLN0$BR$Measurements01$EntryID'));
    assert.ok(vars.identifiers.includes('LLN0$RP$EventsRCB01$RptEna'));
    assert.equal(vars.moreFollows, false);
    assert.deepEqual(res('01_association_discovery', 12), { service: 'getNameList', identifiers: ['LLN0$Events', 'LLN0$Events2', 'LLN0$Measurements'], moreFollows: false });
  });

  it('02: paging with continueAfter at max PDU 1000', () => {
    const c = conv('02_discovery_small_pdu');
    const all: string[] = [];
    const sizes: number[] = [];
    const after: (string | undefined)[] = [];
    for (const m of c) {
      if (m.mms?.kind === 'confirmed-request' && m.mms.request.service === 'getNameList' && m.mms.request.objectClass === 0) after.push(m.mms.request.continueAfter);
      if (m.mms?.kind === 'confirmed-response' && m.mms.response.service === 'getNameList' && m.mms.response.identifiers.length > 3) {
        all.push(...m.mms.response.identifiers);
        sizes.push(m.mms.response.identifiers.length);
        const last = sizes.length === 8;
        assert.equal(m.mms.response.moreFollows, !last);
      }
    }
    assert.deepEqual(sizes, [39, 46, 48, 30, 31, 37, 30, 43]);
    assert.deepEqual(after, [undefined, 'GGIO1$CO$SPCSO3$Oper$origin', 'GGIO1$ST$Health', 'LLN0$BR$EventsBRCBPreConf01$ConfRev', 'LLN0$BR$Measurements01$ConfRev', 'LLN0$BR$Measurements03$DatSet', 'LLN0$RP$EventsIndexed02', 'LLN0$RP$EventsRCBPreConf01$OptFlds']);
    const ref = res('01_association_discovery', 10);
    assert.ok(ref.service === 'getNameList');
    assert.deepEqual(all, ref.identifiers);
  });

  it('03: reads incl. quality, UtcTime and per-item errors', () => {
    const r = req('03_read', 5);
    assert.deepEqual(r, { service: 'read', spec: { type: 'list', variables: [{ scope: 'domain', domain: 'simpleIOGenericIO', item: 'GGIO1$MX$AnIn1' }] } });
    const mv = struct(readResults('03_read', 6)[0]);
    near(float(struct(mv[0])[0]), 0.42738);
    const q = mv[1];
    assert.ok(q?.type === 'bit-string');
    assert.equal(q.value.bits, 13);
    assert.equal(decodeQuality(q.value).validity, 'good');
    assert.equal(val(mv[2]), '2026-11-24T04:32:32.282Z/a0');
    near(float(readResults('03_read', 8)[0]), 0.42738);
    assert.equal(val(readResults('03_read', 10)[0]), '0000/13');
    const t = readResults('03_read', 12)[0];
    assert.ok(t?.type === 'utc-time');
    assert.deepEqual(decodeTimeQuality(t.value.quality), { leapSecondsKnown: true, clockFailure: false, clockNotSynchronized: true, accuracy: 0 });
    assert.deepEqual(val(readResults('03_read', 14)[0]), [[0, ''], 0, false, '0000/13', '1970-01-01T00:00:00.000Z/0']);
    assert.equal(val(readResults('03_read', 16)[0]), 1);
    assert.deepEqual(val(readResults('03_read', 18)[0]), ['MZ Automation', '1.3.0', 'libiec61850 server example', '']);
    assert.equal(val(readResults('03_read', 20)[0]), 1);
    assert.deepEqual(val({ type: 'structure', value: readResults('03_read', 22) as MmsData[] }), [0.42738, -0.529836, false, { failure: 10 }]);
    assert.deepEqual(readResults('03_read', 24), [{ type: 'failure', error: 10 }]);
  });

  it('04: type descriptions', () => {
    const r = res('04_type_description', 6);
    assert.ok(r.service === 'getVariableAccessAttributes');
    assert.equal(r.deletable, false);
    assert.deepEqual(r.typeSpec, {
      type: 'structure',
      components: [
        { name: 'mag', spec: { type: 'structure', components: [{ name: 'f', spec: { type: 'float', formatWidth: 32, exponentWidth: 8 } }] } },
        { name: 'q', spec: { type: 'bit-string', size: -13 } },
        { name: 't', spec: { type: 'utc-time' } },
      ],
    });
    const oper = res('04_type_description', 8);
    assert.ok(oper.service === 'getVariableAccessAttributes' && oper.typeSpec.type === 'structure');
    assert.deepEqual(oper.typeSpec.components.map((c) => c.name), ['ctlVal', 'origin', 'ctlNum', 'T', 'Test', 'Check']);
    assert.deepEqual(oper.typeSpec.components[1]?.spec, { type: 'structure', components: [{ name: 'orCat', spec: { type: 'integer', size: 8 } }, { name: 'orIdent', spec: { type: 'octet-string', size: -64 } }] });
    assert.deepEqual(oper.typeSpec.components[5]?.spec, { type: 'bit-string', size: -2 });
    const ln = res('04_type_description', 10);
    assert.ok(ln.service === 'getVariableAccessAttributes' && ln.typeSpec.type === 'structure');
    assert.deepEqual(ln.typeSpec.components.map((c) => c.name), ['MX', 'ST', 'CO', 'CF', 'DC']);
    const st = ln.typeSpec.components[1]?.spec;
    assert.ok(st?.type === 'structure');
    assert.deepEqual(st.components.map((c) => c.name), ['Mod', 'Beh', 'Health', 'SPCSO1', 'SPCSO2', 'SPCSO3', 'SPCSO4', 'Ind1', 'Ind2', 'Ind3', 'Ind4']);
  });

  it('05: named variable lists', () => {
    const a = res('05_dataset', 6);
    assert.ok(a.service === 'getNamedVariableListAttributes');
    assert.equal(a.deletable, false);
    assert.deepEqual(a.variables.map((v) => v.scope === 'domain' && v.item), ['GGIO1$MX$AnIn1$mag$f', 'GGIO1$MX$AnIn1$q', 'GGIO1$MX$AnIn2$mag$f', 'GGIO1$MX$AnIn2$q', 'GGIO1$MX$AnIn3$mag$f', 'GGIO1$MX$AnIn3$q', 'GGIO1$MX$AnIn4$mag$f', 'GGIO1$MX$AnIn4$q']);
    assert.deepEqual(req('05_dataset', 7), { service: 'read', specificationWithResult: true, spec: { type: 'named', name: { scope: 'domain', domain: 'simpleIOGenericIO', item: 'LLN0$Measurements' } } });
    const r = res('05_dataset', 8);
    assert.ok(r.service === 'read');
    assert.deepEqual(r.spec, { type: 'named', name: { scope: 'domain', domain: 'simpleIOGenericIO', item: 'LLN0$Measurements' } });
    assert.deepEqual(r.results.map(val), [0.999574, '0000/13', 0.515501, '0000/13', -0.442521, '0000/13', -0.993691, '0000/13']);
    assert.deepEqual(req('05_dataset', 9), { service: 'defineNamedVariableList', name: { scope: 'domain', domain: 'simpleIOGenericIO', item: 'LLN0$TestDS' }, variables: [{ scope: 'domain', domain: 'simpleIOGenericIO', item: 'GGIO1$MX$AnIn1' }, { scope: 'domain', domain: 'simpleIOGenericIO', item: 'GGIO1$ST$SPCSO1$stVal' }] });
    assert.deepEqual(res('05_dataset', 10), { service: 'defineNamedVariableList' });
    const a2 = res('05_dataset', 12);
    assert.ok(a2.service === 'getNamedVariableListAttributes' && a2.deletable && a2.variables.length === 2);
    assert.deepEqual(readResults('05_dataset', 14).map(val), [[[0.999574], '0000/13', '2026-11-24T04:18:04.186Z/80'], false]);
    assert.deepEqual(req('05_dataset', 15), { service: 'deleteNamedVariableList', scope: 0, names: [{ scope: 'domain', domain: 'simpleIOGenericIO', item: 'LLN0$TestDS' }] });
    assert.deepEqual(res('05_dataset', 16), { service: 'deleteNamedVariableList', matched: 1, deleted: 1 });
  });

  it('06: writes and refusals', () => {
    const w = req('06_write', 5);
    assert.ok(w.service === 'write');
    assert.deepEqual(w.data, [{ type: 'visible-string', value: 'libiec61850.com' }]);
    assert.deepEqual(res('06_write', 6), { service: 'write', results: [{ type: 'success' }] });
    assert.deepEqual(readResults('06_write', 8).map(val), ['libiec61850.com']);
    assert.deepEqual(res('06_write', 10), { service: 'write', results: [{ type: 'failure', error: 3 }] });
    assert.deepEqual(readResults('06_write', 12).map(val), [['libiec61850.com', '', '']]);
    const wf = req('06_write', 13);
    assert.ok(wf.service === 'write');
    assert.deepEqual(wf.data, [{ type: 'float', value: 1.5 }]);
    assert.deepEqual(res('06_write', 14), { service: 'write', results: [{ type: 'failure', error: 3 }] });
    assert.deepEqual(res('06_write', 16), { service: 'write', results: [{ type: 'failure', error: 3 }] });
  });

  it('07: unbuffered reports', () => {
    assert.deepEqual(readResults('07_report_unbuffered', 6).map(val), [[ 'Events1', false, false, 'simpleIOGenericIO/LLN0$Events', 1, '7a80/10', 50, 0, '0c/6', 1000, false ]]);
    const w = req('07_report_unbuffered', 7);
    assert.ok(w.service === 'write' && w.spec.type === 'list');
    assert.deepEqual(w.spec.variables.map((v) => v.item), ['LLN0$RP$EventsRCB01$Resv', 'LLN0$RP$EventsRCB01$TrgOps', 'LLN0$RP$EventsRCB01$IntgPd', 'LLN0$RP$EventsRCB01$RptEna']);
    assert.deepEqual(w.data.map(val), [true, '4c/6', 2000, true]);
    const reports = [11, 18, 19].map((n) => {
      const p = pdu('07_report_unbuffered', n);
      assert.ok(p.kind === 'information-report' && isReport(p.report));
      return parseReport(p.report.results);
    });
    assert.deepEqual(reports.map((r) => [r.rptId, hex(r.optFlds.bytes), r.seqNum, new Date(r.timeOfEntryMs ?? 0).toISOString(), r.dataSet, r.confRev, hex(r.inclusion.bytes)]), [
      ['Events1', '7880', 0, '2026-11-24T04:18:09.761Z', 'simpleIOGenericIO/LLN0$Events', 1, 'f0'],
      ['Events1', '7880', 1, '2026-11-24T04:18:10.119Z', 'simpleIOGenericIO/LLN0$Events', 1, '80'],
      ['Events1', '7880', 2, '2026-11-24T04:18:11.459Z', 'simpleIOGenericIO/LLN0$Events', 1, 'f0'],
    ]);
    assert.deepEqual(reports.map((r) => r.entries.map((e) => [e.index, val(e.value), e.reasons.join()])), [
      [[0, false, 'general-interrogation'], [1, false, 'general-interrogation'], [2, false, 'general-interrogation'], [3, false, 'general-interrogation']],
      [[0, true, 'data-change']],
      [[0, true, 'integrity'], [1, false, 'integrity'], [2, false, 'integrity'], [3, false, 'integrity']],
    ]);
  });

  it('08: buffered reports with dataRef, EntryID and BufOvfl', () => {
    assert.deepEqual(readResults('08_report_buffered', 6).map(val), [['Measurements', false, 'simpleIOGenericIO/LLN0$Measurements', 1, '7b80/10', 50, 0, '04/6', 1000, false, false, '0000000000000000', '1984-01-01T00:00:00.000Z', 0]]);
    const w = req('08_report_buffered', 7);
    assert.ok(w.service === 'write');
    assert.deepEqual(w.data.map(val), ['7f80/10', '44/6', true, true]);
    const rows = [9, 12, 13, 14, 15, 16].map((n) => {
      const p = pdu('08_report_buffered', n);
      assert.ok(p.kind === 'information-report');
      const r = parseReport(p.report.results);
      assert.equal(r.rptId, 'Measurements');
      assert.equal(r.confRev, 1);
      assert.equal(r.dataSet, 'simpleIOGenericIO/LLN0$Measurements');
      return [r.seqNum, new Date(r.timeOfEntryMs ?? 0).toISOString().slice(11, 23), r.bufOvfl, hex(r.entryId ?? new Uint8Array()), hex(r.inclusion.bytes), r.entries.map((e) => val(e.value)), r.entries[0]?.reasons.join(), r.entries[0]?.reference];
    });
    const ref = 'simpleIOGenericIO/GGIO1$MX$AnIn1$mag$f';
    assert.deepEqual(rows, [
      [0, '04:18:15.036', true, '000001a20bc69b7c', 'aa', [0.991665, 0.42738, -0.529836, -0.999923], 'data-change', ref],
      [1, '04:18:15.105', false, '000001a20bc69bc1', 'aa', [0.973848, 0.334988, -0.611858, -0.996165], 'data-change', ref],
      [2, '04:18:15.105', false, '000001a20bc69bc2', 'ff', [0.973848, '0000/13', 0.334988, '0000/13', -0.611858, '0000/13', -0.996165, '0000/13'], 'general-interrogation', ref],
      [3, '04:18:15.236', false, '000001a20bc69c44', 'aa', [0.9463, 0.239249, -0.687766, -0.982453], 'data-change', ref],
      [4, '04:18:15.337', false, '000001a20bc69ca9', 'aa', [0.909297, 0.14112, -0.756802, -0.958924], 'data-change', ref],
      [5, '04:18:15.437', false, '000001a20bc69d0d', 'aa', [0.863209, 0.041581, -0.818277, -0.925815], 'data-change', ref],
    ]);
    const after = struct(readResults('08_report_buffered', 20)[0]).map(val);
    assert.equal(after[6], 6);
    assert.equal(after[11], '000001a20bc69d0d');
    assert.equal(after[12], '2026-11-24T04:18:15.437Z');
    assert.equal(after[13], 10);
  });

  it('09: direct and SBO controls with normal security, LastApplError before the Write response', () => {
    const w = req('09_control_normal', 9);
    assert.ok(w.service === 'write');
    const oper = val(w.data[0]) as unknown[];
    assert.equal(oper[0], true);
    assert.deepEqual(oper[1], [3, hex(Buffer.from('vectors'))]);
    assert.equal(oper[2], 1);
    assert.match(String(oper[3]), /\/0$/);
    assert.deepEqual(oper.slice(4), [false, '00/2']);
    assert.deepEqual(res('09_control_normal', 10), { service: 'write', results: [{ type: 'success' }] });
    assert.deepEqual(readResults('09_control_normal', 12).map(val), [true]);
    const lae = pdu('09_control_normal', 18);
    assert.ok(lae.kind === 'information-report');
    assert.deepEqual(lae.report.spec, { type: 'list', variables: [{ scope: 'vmd', item: 'LastApplError' }] });
    assert.deepEqual(val(lae.report.results[0]), ['simpleIOGenericIO/GGIO1$CO$SPCSO2$Oper', 0, [3, hex(Buffer.from('vectors'))], 0, 18]);
    assert.deepEqual(res('09_control_normal', 19), { service: 'write', results: [{ type: 'failure', error: 3 }] });
    assert.deepEqual(readResults('09_control_normal', 21).map(val), ['simpleIOGenericIO/GGIO1$CO$SPCSO2']);
    assert.deepEqual(res('09_control_normal', 23), { service: 'write', results: [{ type: 'success' }] });
  });

  it('10: enhanced security with CommandTermination + and -', () => {
    const plus = pdu('10_control_enhanced', 11);
    assert.ok(plus.kind === 'information-report');
    assert.deepEqual(plus.report.spec, { type: 'list', variables: [{ scope: 'domain', domain: 'simpleIOGenericIO', item: 'GGIO1$CO$SPCSO3$Oper' }] });
    const plus2 = pdu('10_control_enhanced', 20);
    assert.ok(plus2.kind === 'information-report' && plus2.report.spec.type === 'list');
    assert.equal(plus2.report.spec.variables[0]?.item, 'GGIO1$CO$SPCSO4$Oper');
    const cancel = req('10_control_enhanced', 23);
    assert.ok(cancel.service === 'write' && cancel.spec.type === 'list');
    assert.equal(cancel.spec.variables[0]?.item, 'GGIO1$CO$SPCSO4$Cancel');
    assert.equal(struct(cancel.data[0]).length, 5);
    const minus = pdu('10_control_enhanced', 31);
    assert.ok(minus.kind === 'information-report' && minus.report.spec.type === 'list');
    assert.deepEqual(minus.report.spec.variables.map((v) => v.item), ['LastApplError', 'GGIO1$CO$SPCSO9$Oper']);
    assert.deepEqual(val(minus.report.results[0]), ['simpleIOGenericIO/GGIO1$CO$SPCSO9$Oper', 0, [3, hex(Buffer.from('vectors'))], 1, 0]);
  });

  it('11: file directory, open, read, close and a missing file', () => {
    assert.deepEqual(req('11_file_services', 5), { service: 'fileDirectory' });
    assert.deepEqual(res('11_file_services', 6), {
      service: 'fileDirectory',
      moreFollows: false,
      entries: [{ name: 'test', attributes: { size: 5, lastModified: '20240102030405.000Z' } }, { name: 'notes.txt', attributes: { size: 2418, lastModified: '20240506070809.000Z' } }],
    });
    assert.deepEqual(req('11_file_services', 7), { service: 'fileOpen', fileName: 'notes.txt', initialPosition: 0 });
    assert.deepEqual(res('11_file_services', 8), { service: 'fileOpen', frsmId: 0, attributes: { size: 2418, lastModified: '20240506070809.000Z' } });
    const chunks = [10, 12, 14].map((n) => res('11_file_services', n) as Extract<ConfirmedResponse, { service: 'fileRead' }>);
    assert.deepEqual(chunks.map((c) => [c.data.length, c.moreFollows]), [[980, true], [980, true], [458, false]]);
    assert.equal(Buffer.concat(chunks.map((c) => c.data)).toString('latin1'), readFileSync(`${VECTORS}filestore/notes.txt`, 'latin1'));
    assert.deepEqual(req('11_file_services', 15), { service: 'fileClose', frsmId: 0 });
    assert.deepEqual(res('11_file_services', 16), { service: 'fileClose' });
    assert.deepEqual(pdu('11_file_services', 18), { kind: 'confirmed-error', invokeId: 7, error: { errorClass: 11, code: 7 } });
  });

  it('12: a 20000-byte FileRead reassembled from three COTP DT TPDUs', () => {
    const c = conv('12_file_read_segmented');
    assert.deepEqual([c[7], c[8], c[9]].map((m) => m?.cotp.type === 'DT' && m.cotp.eot), [false, false, true]);
    const r = res('12_file_read_segmented', 10);
    assert.ok(r.service === 'fileRead');
    assert.equal(r.moreFollows, false);
    assert.equal(Buffer.from(r.data).toString('latin1'), readFileSync(`${VECTORS}filestore/big.txt`, 'latin1'));
  });

  it('13: GOOSE publisher frames', () => {
    const frames = gooseFrames(readPcap(`${VECTORS}13_goose_publisher.pcap`)).map((f) => decodeGooseFrame(f.data));
    assert.equal(frames.length, 4);
    const g = frames[0];
    assert.ok(g);
    assert.equal(g.dst, '01:0c:cd:01:00:01');
    assert.deepEqual(g.vlan, { priority: 4, id: 0 });
    assert.equal(g.appId, 0x1000);
    assert.equal(g.gocbRef, 'simpleIOGenericIO/LLN0$GO$gcbAnalogValues');
    assert.equal(g.goId, g.gocbRef);
    assert.equal(g.datSet, 'simpleIOGenericIO/LLN0$AnalogValues');
    assert.equal(g.timeAllowedToLive, 500);
    assert.equal(g.t.quality, 0x0a);
    assert.deepEqual(frames.map((f) => [f.stNum, f.sqNum, f.simulation, f.confRev, f.ndsCom, f.numDatSetEntries]), [[1, 0, false, 1, false, 3], [1, 1, false, 1, false, 3], [1, 2, false, 1, false, 3], [1, 3, false, 1, false, 4]]);
    assert.deepEqual(g.allData.map(val), [1234, '1984-01-01T00:00:00.000Z', 5678]);
    assert.deepEqual(frames[3]?.allData.map(val), [1234, '1984-01-01T00:00:00.000Z', 5678, true]);
  });

  it('14: GOOSE server frames and the subscriber', () => {
    const recs = gooseFrames(readPcap(`${VECTORS}14_goose_server.pcap`));
    assert.equal(recs.length, 23);
    const events: GooseEvent[] = [];
    const sub = new GooseSubscriber((e) => events.push(e));
    for (const r of recs) sub.onFrame(r.data, r.tsMs);
    const msgs = events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
    const ev = msgs.filter((m) => m.goId === 'events');
    const an = msgs.filter((m) => m.goId === 'analog');
    assert.ok(ev.length > 0 && an.length > 0);
    assert.ok(ev.every((m) => m.gocbRef === 'simpleIOGenericIO/LLN0$GO$gcbEvents' && m.confRev === 2 && m.timeAllowedToLive === 3000 && m.allData.length === 8));
    const st2 = ev.find((m) => m.stNum === 2);
    assert.ok(st2);
    const q4 = st2.allData[7];
    assert.ok(q4?.type === 'bit-string');
    assert.equal(decodeQuality(q4.value).validity, 'invalid');
    assert.equal(val(st2.allData[6]), false);
    const st3 = ev.find((m) => m.stNum === 3);
    assert.equal(val(st3?.allData[6]), true);
    assert.equal(st3?.allData[7]?.type === 'bit-string' && decodeQuality(st3.allData[7].value).validity, 'good');
    const firstOf = (st: number): GooseEventMessage | undefined => an.find((m) => m.stNum === st);
    type GooseEventMessage = (typeof an)[number];
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((st) => Math.round(float(struct(struct(firstOf(st)?.allData[0])[0])[0]) * 10) / 10), [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    assert.equal(an[0]?.timeAllowedToLive, 15000);
    assert.ok(an.slice(1).every((m) => m.timeAllowedToLive === 1500));
    const mv = struct(an[0]?.allData[0]);
    assert.ok(mv[2]?.type === 'utc-time' && mv[2].value.quality === 0x8a);
    assert.equal(an[0]?.t.quality, 0x0a);
    assert.ok(events.every((e) => e.type !== 'message' || e.missed === 0));
    sub.checkStale((recs.at(-1)?.tsMs ?? 0) + 20_000);
    assert.equal(events.filter((e) => e.type === 'stale').length, 2);
    assert.deepEqual(bitStringToBools({ bits: 2, bytes: Uint8Array.of(0x40) }), [false, true]);
    // the pcap frame source feeds the same subscriber
    const replay = replayGoosePcap(`${VECTORS}14_goose_server.pcap`);
    assert.equal(replay.filter((e) => e.type === 'message').length, 23);
    assert.equal(replay.filter((e) => e.type === 'message' && e.changed).length, events.filter((e) => e.type === 'message' && e.changed).length);
  });
});
