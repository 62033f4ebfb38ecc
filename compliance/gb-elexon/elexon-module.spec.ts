import assert from 'node:assert/strict';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { aggregateHalfHourly, createElexonModule } from './elexon-module.ts';

const MIN = 60_000;

function hh(ts: number, value: number | null, over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    deviceId: 'mpan-1200023305967',
    pointId: 'energy-interval-kwh',
    ts,
    receivedAt: ts + 1000,
    value,
    quality: { status: 'good', flags: [] },
    protocol: 'dlms',
    seq: 1,
    unit: 'kWh',
    ...over,
  };
}

describe('gb-elexon', () => {
  it('declares 30-minute settlement periods in GBP with gate closure an hour ahead', () => {
    assert.deepEqual(createElexonModule().market, { settlementIntervalMinutes: 30, gateClosureMinutes: 60, currency: 'GBP', timeZone: 'Europe/London' });
  });

  it('tags meter records with their settlement date and period (summer time: SP1 ends 23:30 UTC)', () => {
    const m = createElexonModule();
    const t = m.telemetryTransforms?.[0];
    const r = hh(Date.UTC(2026, 6, 1, 23, 30), 0.4);
    const out = t?.apply(r, { now: 0 });
    assert.deepEqual(out?.tags, { settlementDate: '2026-07-02', settlementPeriod: '1' });
    const other = hh(Date.UTC(2026, 6, 1, 23, 30), 230, { pointId: 'voltage-l1' });
    assert.equal(t?.apply(other, { now: 0 }), other, 'not a meter point: untouched');
  });

  it('validates half-hourly alignment and completeness', () => {
    const v = createElexonModule().telemetryValidators?.[0];
    const at = (r: TelemetryRecord): string | undefined => {
      const x = v?.check(r, { now: 0 });
      return x ? `${x.action}:${x.reason}` : undefined;
    };
    const base = Date.UTC(2026, 10, 24, 0, 30);
    assert.equal(at(hh(base, 0.4)), undefined);
    assert.equal(at(hh(base + 15 * MIN, 0.4)), 'reject:elexon-misaligned-interval');
    assert.equal(at(hh(base + 90 * MIN, 0.4)), 'flag:elexon-missing-intervals');
    assert.equal(at(hh(base + 120 * MIN, null)), 'flag:elexon-incomplete-interval');
  });

  it('aggregates 5-minute readings into settlement periods, marking incomplete ones', () => {
    const start = Date.UTC(2026, 10, 24, 0, 0);
    const records: TelemetryRecord[] = [];
    for (let i = 1; i <= 6; i++) records.push(hh(start + i * 5 * MIN, 0.1)); // SP1 complete
    for (let i = 7; i <= 10; i++) records.push(hh(start + i * 5 * MIN, 0.2)); // SP2: 4 of 6
    records.push(hh(start + 10 * 5 * MIN, 0.2)); // a duplicate counts once
    const rows = aggregateHalfHourly(records, 5);
    assert.deepEqual(
      rows.map((r) => [r.settlementDate, r.settlementPeriod, r.value, r.readings, r.expected, r.status]),
      [
        ['2026-11-24', 1, 0.6, 6, 6, 'A'],
        ['2026-11-24', 2, 0.8, 4, 6, 'I'],
      ],
    );
  });

  it('exports half-hourly data on a clock-change day with 50 periods', () => {
    const m = createElexonModule();
    const x = m.exports?.[0];
    assert.equal(x?.id, 'half-hourly-csv');
    const dayStart = Date.UTC(2026, 9, 24, 23, 0); // 00:00 BST on 25 Oct 2026
    const records: TelemetryRecord[] = [];
    for (let i = 1; i <= 50; i++) records.push(hh(dayStart + i * 30 * MIN, 1));
    const csv = x?.produce({ records, from: dayStart, to: dayStart + 25 * 60 * MIN, now: 0 }) ?? '';
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines.length, 51);
    assert.equal(lines[1], 'mpan-1200023305967,energy-interval-kwh,2026-10-25,1,50,1,1,1,A');
    assert.equal(lines[50], 'mpan-1200023305967,energy-interval-kwh,2026-10-25,50,50,1,1,1,A');
  });
});
