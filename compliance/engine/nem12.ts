/**
 * NEM12 interval meter data files (AEMO, "Meter Data File Format Specification NEM12 & NEM13").
 * Our own writer and structural validator, from the public record layout:
 *
 *   100,NEM12,DateTime(12),FromParticipant,ToParticipant                         header, first
 *   200,NMI,NMIConfiguration,RegisterID,NMISuffix,MDMDataStreamIdentifier,
 *       MeterSerialNumber,UOM,IntervalLength,NextScheduledReadDate                 NMI data details
 *   300,IntervalDate(8),IntervalValue1..N,QualityMethod,ReasonCode,
 *       ReasonDescription,UpdateDateTime(14),MSATSLoadDateTime                     one day of intervals
 *   400,StartInterval,EndInterval,QualityMethod,ReasonCode,ReasonDescription       interval events, after a V day
 *   500,TransCode,RetServiceOrder,ReadDateTime,IndexRead                          B2B details
 *   900                                                                          end, last
 *
 * N = 1440 / IntervalLength (288 at 5 min, 96 at 15, 48 at 30). Quality flags: A actual, E
 * forward estimate, F final substitute, S substitute (E/F/S carry a two-digit method), N null,
 * V variable (the day mixes qualities; 400 records then give each run of intervals its quality).
 * Order: 100, then per NMI data stream a 200, its 300s (each V day followed by its 400s), its
 * optional 500s; 900 last. Dates are in NEM time (UTC+10, no daylight saving).
 */

export type Nem12Quality = 'A' | 'E' | 'F' | 'S' | 'N';

export interface Nem12Day {
  /** `YYYYMMDD` in NEM time. */
  date: string;
  /** One per interval; null is written as 0 with quality N. */
  values: (number | null)[];
  /** One per interval. */
  quality: Nem12Quality[];
  /** Two-digit method for E/F/S intervals (per interval or one for the day). */
  method?: string;
  reasonCode?: string;
  reasonDescription?: string;
  /** `YYYYMMDDhhmmss`. */
  updateDateTime: string;
}

export interface Nem12DataStream {
  nmi: string;
  nmiConfiguration: string;
  registerId: string;
  nmiSuffix: string;
  mdmDataStreamIdentifier: string;
  meterSerialNumber: string;
  uom: string;
  intervalLength: 5 | 15 | 30;
  nextScheduledReadDate?: string;
  days: Nem12Day[];
  b2b?: { transCode: string; retServiceOrder?: string; readDateTime?: string; indexRead?: string };
}

export interface Nem12File {
  /** `YYYYMMDDhhmm`. */
  createdAt: string;
  fromParticipant: string;
  toParticipant: string;
  streams: Nem12DataStream[];
}

/** Writes a NEM12 file (CSV, CRLF line ends as is usual for these files). */
export function writeNem12(file: Nem12File): string {
  const lines: string[] = [];
  lines.push(['100', 'NEM12', file.createdAt, file.fromParticipant, file.toParticipant].join(','));
  for (const s of file.streams) {
    const n = 1440 / s.intervalLength;
    lines.push(['200', s.nmi, s.nmiConfiguration, s.registerId, s.nmiSuffix, s.mdmDataStreamIdentifier, s.meterSerialNumber, s.uom, String(s.intervalLength), s.nextScheduledReadDate ?? ''].join(','));
    for (const d of s.days) {
      if (d.values.length !== n || d.quality.length !== n) throw new Error(`NEM12 ${s.nmi} ${d.date}: ${d.values.length} values for ${n} intervals of ${s.intervalLength} min`);
      const values = d.values.map((v, i) => (v === null || d.quality[i] === 'N' ? '0' : formatValue(v)));
      const qualities = new Set(d.quality);
      const qm = (q: Nem12Quality): string => (q === 'A' || q === 'N' ? q : `${q}${d.method ?? '52'}`);
      if (qualities.size === 1) {
        const q = d.quality[0] as Nem12Quality;
        lines.push(['300', d.date, ...values, qm(q), q === 'A' ? '' : (d.reasonCode ?? ''), q === 'A' ? '' : (d.reasonDescription ?? ''), d.updateDateTime, ''].join(','));
      } else {
        lines.push(['300', d.date, ...values, 'V', '', '', d.updateDateTime, ''].join(','));
        let start = 0;
        for (let i = 1; i <= n; i++) {
          if (i === n || d.quality[i] !== d.quality[start]) {
            const q = d.quality[start] as Nem12Quality;
            lines.push(['400', String(start + 1), String(i), qm(q), q === 'A' ? '' : (d.reasonCode ?? ''), q === 'A' ? '' : (d.reasonDescription ?? '')].join(','));
            start = i;
          }
        }
      }
    }
    if (s.b2b) lines.push(['500', s.b2b.transCode, s.b2b.retServiceOrder ?? '', s.b2b.readDateTime ?? '', s.b2b.indexRead ?? ''].join(','));
  }
  lines.push('900');
  return `${lines.join('\r\n')}\r\n`;
}

function formatValue(v: number): string {
  const s = Math.abs(v).toFixed(3);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

export interface Nem12Problem {
  /** 1-based line number. */
  line: number;
  message: string;
}

const FIELDS: Record<string, number> = { '100': 5, '200': 10, '400': 6, '500': 5, '900': 1 };
const DATE8 = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/;
const QM = /^(A|N|V|[EFS]\d\d)$/;

/** Checks a NEM12 file's structure; returns every problem found (empty: valid). */
export function validateNem12(text: string): Nem12Problem[] {
  const problems: Nem12Problem[] = [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const bad = (line: number, message: string): void => {
    problems.push({ line, message });
  };
  if (lines.length === 0) return [{ line: 1, message: 'empty file' }];
  let prev = '';
  let intervals = 0;
  let pendingV: { line: number; next: number } | undefined;
  let lastDate = '';
  let seen900 = false;
  lines.forEach((raw, idx) => {
    const ln = idx + 1;
    const f = raw.split(',');
    const type = f[0] ?? '';
    if (seen900) return bad(ln, `record ${type} after the 900 end record`);
    const allowed: Record<string, string[]> = {
      '': ['100'],
      '100': ['200'],
      '200': ['300'],
      '300': ['300', '400', '500', '200', '900'],
      '400': ['400', '300', '500', '200', '900'],
      '500': ['500', '200', '900'],
    };
    if (!(allowed[prev] ?? []).includes(type)) bad(ln, `record ${type || '(empty)'} may not follow ${prev || 'the start of the file'} (expected ${(allowed[prev] ?? []).join('/')})`);
    if (pendingV && type !== '400') {
      if (pendingV.next <= intervals) bad(ln, `the V day at line ${pendingV.line} has 400 records for intervals 1..${pendingV.next - 1} of ${intervals}`);
      pendingV = undefined;
    }
    const expected = type === '300' ? intervals + 7 : FIELDS[type];
    if (expected === undefined) return bad(ln, `unknown record type ${type}`);
    if (type === '300' && intervals === 0) return bad(ln, '300 record without a valid 200 record before it');
    if (f.length !== expected) bad(ln, `record ${type} has ${f.length} fields, expected ${expected}${type === '300' ? ` (${intervals} intervals)` : ''}`);
    switch (type) {
      case '100':
        if (f[1] !== 'NEM12') bad(ln, `VersionHeader is ${f[1]}, expected NEM12`);
        if (!/^\d{12}$/.test(f[2] ?? '')) bad(ln, `DateTime ${f[2]} is not YYYYMMDDhhmm`);
        if (!f[3] || (f[3] ?? '').length > 10 || !f[4] || (f[4] ?? '').length > 10) bad(ln, 'FromParticipant and ToParticipant are required (at most 10 characters)');
        break;
      case '200': {
        if (!/^[A-Z0-9]{10}$/.test(f[1] ?? '')) bad(ln, `NMI ${f[1]} is not 10 letters or digits`);
        if (!/^[A-Z0-9]{2}$/.test(f[4] ?? '')) bad(ln, `NMISuffix ${f[4]} is not 2 characters`);
        if (!f[7]) bad(ln, 'UOM is required');
        const len = Number(f[8]);
        if (![5, 15, 30].includes(len)) {
          bad(ln, `IntervalLength ${f[8]} is not 5, 15 or 30`);
          intervals = 0;
        } else intervals = 1440 / len;
        if (f[9] && !DATE8.test(f[9])) bad(ln, `NextScheduledReadDate ${f[9]} is not YYYYMMDD`);
        lastDate = '';
        break;
      }
      case '300': {
        const date = f[1] ?? '';
        if (!DATE8.test(date)) bad(ln, `IntervalDate ${date} is not YYYYMMDD`);
        else if (date <= lastDate) bad(ln, `IntervalDate ${date} does not come after ${lastDate}`);
        lastDate = date;
        for (let i = 0; i < intervals; i++) {
          const v = f[2 + i] ?? '';
          if (!/^\d+(\.\d+)?$/.test(v)) {
            bad(ln, `IntervalValue${i + 1} ${JSON.stringify(v)} is not a non-negative number`);
            break;
          }
        }
        const qm = f[2 + intervals] ?? '';
        if (!QM.test(qm)) bad(ln, `QualityMethod ${qm} is not A, N, V or E/F/S with a two-digit method`);
        if (!/^\d{14}$/.test(f[5 + intervals] ?? '')) bad(ln, `UpdateDateTime ${f[5 + intervals]} is not YYYYMMDDhhmmss`);
        if (qm === 'V') {
          if (f[3 + intervals]) bad(ln, 'a V day carries its reason codes in 400 records, not in the 300 record');
          pendingV = { line: ln, next: 1 };
        }
        break;
      }
      case '400': {
        if (prev !== '300' && prev !== '400') break;
        const start = Number(f[1]);
        const end = Number(f[2]);
        const qm = f[3] ?? '';
        if (!pendingV) bad(ln, '400 record after a 300 record whose quality is not V');
        else {
          if (start !== pendingV.next) bad(ln, `StartInterval ${f[1]} should be ${pendingV.next} (the intervals must be covered in order without gaps)`);
          if (!Number.isInteger(end) || end < start || end > intervals) bad(ln, `EndInterval ${f[2]} is not between ${f[1]} and ${intervals}`);
          pendingV.next = end + 1;
        }
        if (!QM.test(qm) || qm === 'V') bad(ln, `QualityMethod ${qm} is not A, N or E/F/S with a two-digit method`);
        break;
      }
      case '500':
        if (!/^[A-Z]$/.test(f[1] ?? '')) bad(ln, `TransCode ${f[1]} is not one letter`);
        if (f[3] && !/^\d{14}$/.test(f[3])) bad(ln, `ReadDateTime ${f[3]} is not YYYYMMDDhhmmss`);
        break;
      case '900':
        seen900 = true;
        break;
    }
    prev = type;
  });
  if (pendingV && pendingV.next <= intervals) bad(lines.length, `the V day at line ${pendingV.line} is not covered by 400 records`);
  if (!seen900) bad(lines.length, 'the file does not end with a 900 record');
  return problems;
}
