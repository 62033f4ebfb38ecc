import assert from 'node:assert/strict';
import { compactDate, compactDateTime, gbPeriodsInDay, gbSettlementPeriod, gbSettlementPeriodEndingAt, isAligned, ukOffsetMinutes } from './intervals.ts';
import { Matcher } from './matcher.ts';

describe('interval arithmetic', () => {
  it('checks alignment to settlement intervals', () => {
    const t = Date.UTC(2026, 10, 24, 6, 15);
    assert.equal(isAligned(t, 15), true);
    assert.equal(isAligned(t, 30), false);
    assert.equal(isAligned(t, 5), true);
    assert.equal(isAligned(t + 1000, 5), false);
  });

  it('formats NEM-time dates (UTC+10)', () => {
    const t = Date.UTC(2026, 10, 24, 14, 5); // 00:05 on the 25th in NEM time
    assert.equal(compactDate(t, 600), '20261125');
    assert.equal(compactDateTime(t, 600), '202611250005');
    assert.equal(compactDateTime(t, 600, true), '20261125000500');
  });

  it('knows UK summer time: last Sunday of March and October at 01:00 UTC', () => {
    assert.equal(ukOffsetMinutes(Date.UTC(2026, 2, 29, 0, 59)), 0);
    assert.equal(ukOffsetMinutes(Date.UTC(2026, 2, 29, 1, 0)), 60);
    assert.equal(ukOffsetMinutes(Date.UTC(2026, 9, 25, 0, 59)), 60);
    assert.equal(ukOffsetMinutes(Date.UTC(2026, 9, 25, 1, 0)), 0);
  });

  it('numbers GB settlement periods 1–48, with 46 and 50 on clock-change days', () => {
    assert.equal(gbPeriodsInDay('2026-11-24'), 48);
    assert.equal(gbPeriodsInDay('2026-03-29'), 46);
    assert.equal(gbPeriodsInDay('2026-10-25'), 50);
    assert.equal(gbPeriodsInDay('2026-07-01'), 48);
    // winter: SP1 starts at 00:00 UTC
    assert.deepEqual([gbSettlementPeriod(Date.UTC(2026, 10, 24, 0, 0)).period, gbSettlementPeriod(Date.UTC(2026, 10, 24, 23, 59)).period], [1, 48]);
    // summer: the settlement day starts at 23:00 UTC the day before
    const summer = gbSettlementPeriod(Date.UTC(2026, 6, 1, 23, 10));
    assert.deepEqual([summer.settlementDate, summer.period], ['2026-07-02', 1]);
    // spring forward: 01:00 UTC is 02:00 BST, period 3 (00:00-00:30, 00:30-01:00 GMT, then 02:00 BST)
    assert.equal(gbSettlementPeriod(Date.UTC(2026, 2, 29, 1, 0)).period, 3);
    assert.equal(gbSettlementPeriod(Date.UTC(2026, 2, 29, 22, 59)).period, 46);
    // autumn: the day runs 23:00 UTC (Sat) to 24:00 UTC (Sun), 25 hours
    const autumnLast = gbSettlementPeriod(Date.UTC(2026, 9, 25, 23, 45));
    assert.deepEqual([autumnLast.settlementDate, autumnLast.period, autumnLast.periodsInDay], ['2026-10-25', 50, 50]);
    // interval ending: the reading stamped 00:30 local belongs to SP1
    assert.equal(gbSettlementPeriodEndingAt(Date.UTC(2026, 10, 24, 0, 30)).period, 1);
    assert.equal(gbSettlementPeriodEndingAt(Date.UTC(2026, 10, 25, 0, 0)).period, 48);
    assert.equal(gbSettlementPeriodEndingAt(Date.UTC(2026, 10, 25, 0, 0)).settlementDate, '2026-11-24');
  });

  it('matches globs and remembers answers', () => {
    const m = new Matcher(['meter-*', 'cust-??']);
    assert.equal(m.matches('meter-1'), true);
    assert.equal(m.matches('xmeter-1'), false);
    assert.equal(m.matches('cust-12'), true);
    assert.equal(m.matches('cust-123'), false);
    assert.equal(new Matcher(['a.b']).matches('axb'), false, 'dots are literal');
    assert.equal(new Matcher([]).matches('anything'), false);
  });
});
