import assert from 'node:assert/strict';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { validateNem12 } from '../engine/nem12.ts';
import { createAemoModule } from './aemo-module.ts';
import type { AemoConfig } from './aemo-module.ts';

const MIN = 60_000;
/** 00:00 NEM time (UTC+10) on 24 Nov 2026. */
const NEM_DAY = Date.UTC(2026, 10, 23, 14, 0);

const config: AemoConfig = {
  nem12: {
    fromParticipant: 'EMESHMDP',
    toParticipant: 'RETAILER1',
    b2b: { transCode: 'A', retServiceOrder: 'SO12345' },
    meters: [
      { deviceId: 'site-7-meter', pointId: 'energy-interval-import', nmi: 'NCCC123456', nmiConfiguration: 'E1B1', registerId: '1', nmiSuffix: 'E1', mdmDataStreamIdentifier: 'N1', meterSerialNumber: 'MS778899', uom: 'KWH' },
      { deviceId: 'site-7-meter', pointId: 'energy-interval-export', nmi: 'NCCC123456', nmiConfiguration: 'E1B1', registerId: '2', nmiSuffix: 'B1', mdmDataStreamIdentifier: 'N2', meterSerialNumber: 'MS778899', uom: 'KWH' },
    ],
  },
};

function iv(pointId: string, ts: number, value: number | null, status: 'good' | 'uncertain' | 'invalid' = 'good'): TelemetryRecord {
  return { deviceId: 'site-7-meter', pointId, ts, receivedAt: ts + 500, value, quality: { status, flags: [] }, protocol: 'dlms', seq: 1, unit: 'kWh' };
}

/** Two NEM days: day 1 complete and actual; day 2 with estimates and a gap. */
function twoDays(): TelemetryRecord[] {
  const out: TelemetryRecord[] = [];
  for (let i = 1; i <= 288; i++) {
    out.push(iv('energy-interval-import', NEM_DAY + i * 5 * MIN, 0.012 * (i % 7)));
    out.push(iv('energy-interval-export', NEM_DAY + i * 5 * MIN, i > 80 && i < 200 ? 0.2 : 0));
  }
  for (let i = 1; i <= 288; i++) {
    if (i >= 100 && i < 110) continue; // ten missing intervals
    out.push(iv('energy-interval-import', NEM_DAY + 288 * 5 * MIN + i * 5 * MIN, 0.01, i > 200 ? 'uncertain' : 'good'));
  }
  return out;
}

describe('au-aemo', () => {
  it('declares 5-minute settlement with the NEM price cap and floor', () => {
    assert.deepEqual(createAemoModule().market, { settlementIntervalMinutes: 5, priceCap: 20_300, priceFloor: -1000, currency: 'AUD', timeZone: 'Australia/Brisbane' });
  });

  it('validates 5-minute alignment of interval data', () => {
    const v = createAemoModule().telemetryValidators?.[0];
    assert.equal(v?.check(iv('energy-interval-import', NEM_DAY + 5 * MIN, 0.1), { now: 0 }), undefined);
    assert.equal(v?.check(iv('energy-interval-import', NEM_DAY + 12 * MIN, 0.1), { now: 0 })?.reason, 'aemo-misaligned-interval');
  });

  it('exports NEM12 that validates against the format structure', () => {
    const m = createAemoModule(config);
    const x = m.exports?.find((e) => e.id === 'nem12');
    assert.ok(x);
    const text = x.produce({ records: twoDays(), from: NEM_DAY, to: NEM_DAY + 2 * 86_400_000, now: Date.UTC(2026, 10, 26, 0, 0) });
    assert.deepEqual(validateNem12(text), []);
    const lines = text.trimEnd().split('\r\n');
    const types = lines.map((l) => l.split(',')[0]);
    // 100, [200, 300, 300, 400..., 500], [200, 300, 500], 900
    assert.equal(types[0], '100');
    assert.equal(types.at(-1), '900');
    assert.deepEqual(lines[0]?.split(','), ['100', 'NEM12', '202611261000', 'EMESHMDP', 'RETAILER1']);
    assert.deepEqual(lines[1]?.split(','), ['200', 'NCCC123456', 'E1B1', '1', 'E1', 'N1', 'MS778899', 'KWH', '5', '']);
    const d1 = lines[2]?.split(',') ?? [];
    assert.equal(d1.length, 288 + 7, '300 record: 288 five-minute intervals + 7 fields');
    assert.equal(d1[1], '20261124');
    assert.equal(d1[2 + 288], 'A');
    assert.equal(d1[2], '0.012', 'interval 1 ends 00:05 NEM time');
    const d2 = lines[3]?.split(',') ?? [];
    assert.equal(d2[1], '20261125');
    assert.equal(d2[2 + 288], 'V', 'mixed qualities make a V day');
    const events = lines.slice(4, 7).map((l) => l.split(','));
    assert.deepEqual(
      events.map((e) => e.slice(0, 4)),
      [
        ['400', '1', '99', 'A'],
        ['400', '100', '109', 'N'],
        ['400', '110', '200', 'A'],
      ],
    );
    assert.deepEqual(lines[7]?.split(',').slice(0, 4), ['400', '201', '288', 'E52']);
    assert.deepEqual(lines[8]?.split(',').slice(0, 3), ['500', 'A', 'SO12345']);
    assert.equal(types.filter((t) => t === '200').length, 2);
    assert.deepEqual(types, ['100', '200', '300', '300', '400', '400', '400', '400', '500', '200', '300', '500', '900']);
  });

  it('the NEM12 validator catches broken structure', () => {
    const text = createAemoModule(config).exports?.[0]?.produce({ records: twoDays(), from: NEM_DAY, to: NEM_DAY + 2 * 86_400_000, now: 0 }) ?? '';
    const lines = text.trimEnd().split('\r\n');
    const problems = (ls: string[]): string => validateNem12(ls.join('\r\n')).map((p) => `${p.line}: ${p.message}`).join('\n');
    // one interval value short
    const short = [...lines];
    short[2] = (short[2] as string).replace(/^300,(\d{8}),[^,]*,/, '300,$1,');
    assert.match(problems(short), /^3: record 300 has 294 fields, expected 295/m);
    // 900 not last / missing
    assert.match(problems(lines.slice(0, -1)), /does not end with a 900/);
    // a 300 before any 200
    assert.match(problems([lines[0] as string, lines[2] as string, ...lines.slice(1)]), /record 300 may not follow 100/);
    // a gap in the 400 records of a V day
    assert.match(problems(lines.filter((_, i) => i !== 5)), /StartInterval 110 should be 100/);
    // a bad quality flag
    const q = [...lines];
    q[2] = (q[2] as string).replace(/,A,,,/, ',X,,,');
    assert.match(problems(q), /QualityMethod X/);
    // an interval length that does not fit 288
    const len = [...lines];
    len[1] = (len[1] as string).replace(',KWH,5,', ',KWH,15,');
    assert.match(problems(len), /expected 103 \(96 intervals\)/);
  });
});
