import assert from 'node:assert/strict';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { createErcotModule } from './ercot-module.ts';

const MIN = 60_000;
const DAY0 = Date.UTC(2026, 10, 24, 6, 0); // 00:00 CST

function idr(ts: number, value: number | null, over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    deviceId: 'esiid-10443720000123456',
    pointId: 'energy-interval-kwh',
    ts,
    receivedAt: ts + 2000,
    value,
    quality: { status: 'good', flags: [] },
    protocol: 'modbus',
    seq: 1,
    unit: 'kWh',
    ...over,
  };
}

describe('us-ercot', () => {
  const check = (m: ReturnType<typeof createErcotModule>, r: TelemetryRecord): string | undefined => {
    const v = m.telemetryValidators?.[0]?.check(r, { now: r.ts });
    return v ? `${v.action}:${v.reason}` : undefined;
  };

  it('declares 15-minute settlement with the ERCOT offer cap and floor', () => {
    const m = createErcotModule();
    assert.deepEqual(m.market, { settlementIntervalMinutes: 15, gateClosureMinutes: 60, priceCap: 5000, priceFloor: -250, currency: 'USD', timeZone: 'America/Chicago' });
  });

  it('passes aligned complete intervals, rejects misaligned and duplicate ones, flags gaps and incomplete ones', () => {
    const m = createErcotModule();
    assert.equal(check(m, idr(DAY0 + 15 * MIN, 1.2)), undefined, 'aligned: pass');
    assert.equal(check(m, idr(DAY0 + 30 * MIN, 1.3)), undefined, 'next interval: pass');
    assert.equal(check(m, idr(DAY0 + 37 * MIN, 1.3)), 'reject:ercot-misaligned-interval');
    assert.equal(check(m, idr(DAY0 + 30 * MIN, 1.3)), 'reject:ercot-duplicate-interval');
    assert.equal(check(m, idr(DAY0 + 15 * MIN, 1.3)), 'reject:ercot-out-of-order-interval');
    assert.equal(check(m, idr(DAY0 + 75 * MIN, 1.1)), 'flag:ercot-missing-intervals', '45 and 60 missing');
    assert.equal(check(m, idr(DAY0 + 90 * MIN, null, { quality: { status: 'invalid', flags: ['comm-lost'] } })), 'flag:ercot-incomplete-interval');
    assert.equal(check(m, idr(DAY0 + 7 * MIN, 5, { pointId: 'voltage-a' })), undefined, 'not a meter point: not checked');
  });

  it('can flag misaligned data instead of rejecting it', () => {
    const m = createErcotModule({ misaligned: 'flag' });
    assert.equal(check(m, idr(DAY0 + 7 * MIN, 1)), 'flag:ercot-misaligned-interval');
  });

  it('exports interval data as CSV with every interval of the period, missing ones marked M', () => {
    const m = createErcotModule();
    const x = m.exports?.find((e) => e.id === 'interval-csv');
    assert.ok(x);
    const records = [idr(DAY0 + 15 * MIN, 1.25), idr(DAY0 + 45 * MIN, 0.5, { quality: { status: 'uncertain', flags: ['substituted'] } }), idr(DAY0 + 10 * MIN, 9, { pointId: 'power-kw' })];
    const csv = x.produce({ records, from: DAY0, to: DAY0 + 60 * MIN, now: DAY0 + 2 * 60 * MIN });
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'device_id,point_id,interval_start_utc,interval_end_utc,value,unit,status');
    assert.deepEqual(lines.slice(1), [
      'esiid-10443720000123456,energy-interval-kwh,2026-11-24T06:00:00.000Z,2026-11-24T06:15:00.000Z,1.25,kWh,A',
      'esiid-10443720000123456,energy-interval-kwh,2026-11-24T06:15:00.000Z,2026-11-24T06:30:00.000Z,,kWh,M',
      'esiid-10443720000123456,energy-interval-kwh,2026-11-24T06:30:00.000Z,2026-11-24T06:45:00.000Z,0.5,kWh,E',
      'esiid-10443720000123456,energy-interval-kwh,2026-11-24T06:45:00.000Z,2026-11-24T07:00:00.000Z,,kWh,M',
    ]);
  });
});
