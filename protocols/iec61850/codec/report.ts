/**
 * IEC 61850-8-1 mappings carried in MMS Data: Quality (IEC 61850-7-3 §6.2), TimeStamp, and the report format of
 * IEC 61850-8-1 §17.2.3 (InformationReport with vmd-specific variable list name `RPT`).
 *
 *   Quality  ::= BIT STRING (13): validity(0-1: 00 good, 01 invalid, 11 questionable), overflow(2), outOfRange(3),
 *                badReference(4), oscillatory(5), failure(6), oldData(7), inconsistent(8), inaccurate(9),
 *                source(10: substituted), test(11), operatorBlocked(12)
 *   Report   ::= RptID, OptFlds BIT STRING(10) [, SeqNum][, TimeOfEntry][, DatSet][, BufOvfl][, EntryID][, ConfRev]
 *                [, SubSeqNum, MoreSegmentsFollow], Inclusion BIT STRING(n), [data-reference × k], value × k, [reason × k]
 *   OptFlds  ::= reserved(0) seqNum(1) timeStamp(2) reasonCode(3) dataSet(4) dataRef(5) bufOvfl(6) entryID(7) confRev(8) segmentation(9)
 *   Reason   ::= BIT STRING: reserved(0) dchg(1) qchg(2) dupd(3) integrity(4) gi(5) application-trigger(6)
 *
 * Error policy: throws FRAME_MALFORMED when the access results do not follow the format.
 */
import { bitAt, bitStringFromBools, malformed } from './ber.ts';
import type { BitString } from './ber.ts';
import { binaryTimeToMs } from './mms-data.ts';
import type { AccessResult, BinaryTime, MmsData } from './mms-data.ts';
import type { InformationReport } from './mms-pdu.ts';

export type Validity = 'good' | 'invalid' | 'reserved' | 'questionable';

export interface Quality61850 {
  validity: Validity;
  overflow: boolean;
  outOfRange: boolean;
  badReference: boolean;
  oscillatory: boolean;
  failure: boolean;
  oldData: boolean;
  inconsistent: boolean;
  inaccurate: boolean;
  substituted: boolean;
  test: boolean;
  operatorBlocked: boolean;
  /** The bits as received, e.g. 0x0000 for good (bit 0 = 0x1000... MSB-first over 13 bits). */
  raw: number;
}

const VALIDITY: Validity[] = ['good', 'invalid', 'reserved', 'questionable'];

export function decodeQuality(b: BitString): Quality61850 {
  let raw = 0;
  for (let i = 0; i < 13; i++) raw = (raw << 1) | (bitAt(b, i) ? 1 : 0);
  return {
    validity: VALIDITY[(bitAt(b, 0) ? 2 : 0) | (bitAt(b, 1) ? 1 : 0)] as Validity,
    overflow: bitAt(b, 2),
    outOfRange: bitAt(b, 3),
    badReference: bitAt(b, 4),
    oscillatory: bitAt(b, 5),
    failure: bitAt(b, 6),
    oldData: bitAt(b, 7),
    inconsistent: bitAt(b, 8),
    inaccurate: bitAt(b, 9),
    substituted: bitAt(b, 10),
    test: bitAt(b, 11),
    operatorBlocked: bitAt(b, 12),
    raw,
  };
}

export function encodeQuality(q: Partial<Quality61850> = {}): BitString {
  const v = VALIDITY.indexOf(q.validity ?? 'good');
  return bitStringFromBools([
    (v & 2) !== 0, (v & 1) !== 0, !!q.overflow, !!q.outOfRange, !!q.badReference, !!q.oscillatory, !!q.failure, !!q.oldData,
    !!q.inconsistent, !!q.inaccurate, !!q.substituted, !!q.test, !!q.operatorBlocked,
  ]);
}

/** TimeQuality octet flags. */
export interface TimeQuality {
  leapSecondsKnown: boolean;
  clockFailure: boolean;
  clockNotSynchronized: boolean;
  /** Number of significant fraction bits (31 = unspecified). */
  accuracy: number;
}

export function decodeTimeQuality(q: number): TimeQuality {
  return { leapSecondsKnown: (q & 0x80) !== 0, clockFailure: (q & 0x40) !== 0, clockNotSynchronized: (q & 0x20) !== 0, accuracy: q & 0x1f };
}

export const OptFld = { seqNum: 1, timeStamp: 2, reasonCode: 3, dataSet: 4, dataRef: 5, bufOvfl: 6, entryId: 7, confRev: 8, segmentation: 9 } as const;
export type OptFldName = keyof typeof OptFld;

export type ReasonCode = 'data-change' | 'quality-change' | 'data-update' | 'integrity' | 'general-interrogation' | 'application-trigger';
const REASONS: (ReasonCode | undefined)[] = [undefined, 'data-change', 'quality-change', 'data-update', 'integrity', 'general-interrogation', 'application-trigger'];

export function optFlds(names: readonly OptFldName[]): BitString {
  const flags = new Array<boolean>(10).fill(false);
  for (const n of names) flags[OptFld[n]] = true;
  return bitStringFromBools(flags);
}

export const TrgOp = { dchg: 1, qchg: 2, dupd: 3, integrity: 4, gi: 5 } as const;
export type TrgOpName = keyof typeof TrgOp;

export function trgOps(names: readonly TrgOpName[]): BitString {
  const flags = new Array<boolean>(6).fill(false);
  for (const n of names) flags[TrgOp[n]] = true;
  return bitStringFromBools(flags);
}

export function reasonBits(reasons: readonly ReasonCode[]): BitString {
  const flags = new Array<boolean>(6).fill(false);
  for (const r of reasons) {
    const i = REASONS.indexOf(r);
    if (i > 0 && i < 6) flags[i] = true;
  }
  return bitStringFromBools(flags);
}

export interface ReportEntry {
  /** Index of the member in the data set. */
  index: number;
  reference?: string;
  value: MmsData;
  reasons: ReasonCode[];
}

export interface Report {
  rptId: string;
  optFlds: BitString;
  seqNum?: number;
  timeOfEntry?: BinaryTime;
  /** TimeOfEntry in epoch ms. */
  timeOfEntryMs?: number;
  dataSet?: string;
  bufOvfl?: boolean;
  entryId?: Uint8Array;
  confRev?: number;
  subSeqNum?: number;
  moreSegmentsFollow?: boolean;
  inclusion: BitString;
  entries: ReportEntry[];
}

export function isReport(r: InformationReport): boolean {
  return r.spec.type === 'named' && r.spec.name.scope === 'vmd' && r.spec.name.item === 'RPT';
}

function need(list: readonly AccessResult[], i: number, type: MmsData['type'], what: string): MmsData {
  const v = list[i];
  if (v === undefined) throw malformed(`report: missing ${what}`, { index: i });
  if (v.type !== type) throw malformed(`report: ${what} has the wrong type`, { expected: type, got: v.type });
  return v;
}

function num(v: MmsData): number {
  if ((v.type === 'unsigned' || v.type === 'integer') && typeof v.value === 'number') return v.value;
  throw malformed('report: number expected');
}

/** Parses the access results of an `RPT` InformationReport. */
export function parseReport(results: readonly AccessResult[]): Report {
  let i = 0;
  const rptIdData = need(results, i++, 'visible-string', 'RptID');
  const optData = need(results, i++, 'bit-string', 'OptFlds');
  const rptId = rptIdData.type === 'visible-string' ? rptIdData.value : '';
  const opt = optData.type === 'bit-string' ? optData.value : bitStringFromBools([]);
  const has = (f: OptFldName): boolean => bitAt(opt, OptFld[f]);
  const out: Report = { rptId, optFlds: opt, inclusion: bitStringFromBools([]), entries: [] };
  if (has('seqNum')) out.seqNum = num(need(results, i++, 'unsigned', 'SeqNum'));
  if (has('timeStamp')) {
    const t = need(results, i++, 'binary-time', 'TimeOfEntry');
    if (t.type === 'binary-time') {
      out.timeOfEntry = t.value;
      out.timeOfEntryMs = binaryTimeToMs(t.value);
    }
  }
  if (has('dataSet')) {
    const d = need(results, i++, 'visible-string', 'DatSet');
    if (d.type === 'visible-string') out.dataSet = d.value;
  }
  if (has('bufOvfl')) {
    const b = need(results, i++, 'boolean', 'BufOvfl');
    if (b.type === 'boolean') out.bufOvfl = b.value;
  }
  if (has('entryId')) {
    const e = need(results, i++, 'octet-string', 'EntryID');
    if (e.type === 'octet-string') out.entryId = e.value;
  }
  if (has('confRev')) out.confRev = num(need(results, i++, 'unsigned', 'ConfRev'));
  if (has('segmentation')) {
    out.subSeqNum = num(need(results, i++, 'unsigned', 'SubSeqNum'));
    const m = need(results, i++, 'boolean', 'MoreSegmentsFollow');
    if (m.type === 'boolean') out.moreSegmentsFollow = m.value;
  }
  const inc = need(results, i++, 'bit-string', 'Inclusion');
  if (inc.type !== 'bit-string') throw malformed('report: bad inclusion');
  out.inclusion = inc.value;
  const members: number[] = [];
  for (let m = 0; m < inc.value.bits; m++) if (bitAt(inc.value, m)) members.push(m);
  const refs: string[] = [];
  if (has('dataRef')) {
    for (let k = 0; k < members.length; k++) {
      const r = need(results, i++, 'visible-string', 'data-reference');
      if (r.type === 'visible-string') refs.push(r.value);
    }
  }
  const values: MmsData[] = [];
  for (let k = 0; k < members.length; k++) {
    const v = results[i++];
    if (v === undefined) throw malformed('report: missing value', { member: members[k] });
    if (v.type === 'failure') throw malformed('report: failure in a value position');
    values.push(v);
  }
  for (let k = 0; k < members.length; k++) {
    const entry: ReportEntry = { index: members[k] as number, value: values[k] as MmsData, reasons: [] };
    if (refs[k] !== undefined) entry.reference = refs[k];
    if (has('reasonCode')) {
      const r = need(results, i++, 'bit-string', 'reason code');
      if (r.type === 'bit-string') {
        for (let b = 1; b < r.value.bits && b < REASONS.length; b++) if (bitAt(r.value, b)) entry.reasons.push(REASONS[b] as ReasonCode);
      }
    }
    out.entries.push(entry);
  }
  if (i !== results.length) throw malformed('report: extra access results', { used: i, total: results.length });
  return out;
}

/** Builds the access results of an `RPT` InformationReport (used by the simulator). */
export function buildReport(r: Omit<Report, 'optFlds' | 'inclusion' | 'timeOfEntryMs'> & { optFlds: readonly OptFldName[]; members: number }): AccessResult[] {
  const opt = new Set(r.optFlds);
  const out: AccessResult[] = [{ type: 'visible-string', value: r.rptId }, { type: 'bit-string', value: optFlds(r.optFlds) }];
  if (opt.has('seqNum')) out.push({ type: 'unsigned', value: r.seqNum ?? 0 });
  if (opt.has('timeStamp')) out.push({ type: 'binary-time', value: r.timeOfEntry ?? { msOfDay: 0, days: 0 } });
  if (opt.has('dataSet')) out.push({ type: 'visible-string', value: r.dataSet ?? '' });
  if (opt.has('bufOvfl')) out.push({ type: 'boolean', value: r.bufOvfl ?? false });
  if (opt.has('entryId')) out.push({ type: 'octet-string', value: r.entryId ?? new Uint8Array(8) });
  if (opt.has('confRev')) out.push({ type: 'unsigned', value: r.confRev ?? 1 });
  const included = new Set(r.entries.map((e) => e.index));
  out.push({ type: 'bit-string', value: bitStringFromBools(Array.from({ length: r.members }, (_, k) => included.has(k))) });
  const sorted = [...r.entries].sort((a, b) => a.index - b.index);
  if (opt.has('dataRef')) for (const e of sorted) out.push({ type: 'visible-string', value: e.reference ?? '' });
  for (const e of sorted) out.push(e.value);
  if (opt.has('reasonCode')) for (const e of sorted) out.push({ type: 'bit-string', value: reasonBits(e.reasons) });
  return out;
}
