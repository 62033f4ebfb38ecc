/**
 * Settlement-interval arithmetic shared by the market modules (pure, no I/O).
 *
 * Convention: an interval meter reading is time-stamped at the END of its interval (the way
 * NEM12, ERCOT and Elexon interval data count: interval 1 of a day ends at 00:05 / 00:15 / 00:30).
 *
 * GB settlement days follow Europe/London civil time (BSC Section X, Annex X-1): a Settlement Day
 * runs from 00:00 to 24:00 local time, so it has 48 half-hour periods, 46 on the day clocks go
 * forward and 50 on the day they go back. UK summer time (the Summer Time Order 2002, the EU
 * harmonised rule) starts on the last Sunday of March at 01:00 UTC and ends on the last Sunday of
 * October at 01:00 UTC; computed here without a time-zone database.
 */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Whether `ts` (epoch ms) falls on a boundary of `minutes`-long intervals (counted from the epoch in UTC). */
export function isAligned(ts: number, minutes: number, offsetMinutes = 0): boolean {
  const ms = minutes * MINUTE;
  return (((ts + offsetMinutes * MINUTE) % ms) + ms) % ms === 0;
}

/** The end of the interval that contains `ts` (ts on a boundary is its own end). */
export function intervalEndOf(ts: number, minutes: number): number {
  const ms = minutes * MINUTE;
  return Math.ceil(ts / ms) * ms;
}

/** `YYYYMMDD` of `ts` in a fixed UTC offset (AEMO NEM time is UTC+10 all year). */
export function compactDate(ts: number, offsetMinutes = 0): string {
  return new Date(ts + offsetMinutes * MINUTE).toISOString().slice(0, 10).replace(/-/g, '');
}

/** `YYYYMMDDhhmm` (length 12) or `YYYYMMDDhhmmss` (length 14) of `ts` in a fixed UTC offset. */
export function compactDateTime(ts: number, offsetMinutes = 0, seconds = false): string {
  const s = new Date(ts + offsetMinutes * MINUTE).toISOString();
  return s.slice(0, seconds ? 19 : 16).replace(/[-:T]/g, '');
}

// ---------------------------------------------------------------------------------------------
// GB settlement periods

/** UK civil offset from UTC at `ts`: 60 in British Summer Time, else 0 (minutes). */
export function ukOffsetMinutes(ts: number): number {
  const year = new Date(ts).getUTCFullYear();
  const start = lastSundayUtc(year, 2) + HOUR; // last Sunday of March, 01:00 UTC
  const end = lastSundayUtc(year, 9) + HOUR; // last Sunday of October, 01:00 UTC
  return ts >= start && ts < end ? 60 : 0;
}

function lastSundayUtc(year: number, month: number): number {
  const lastDay = Date.UTC(year, month + 1, 0);
  const dow = new Date(lastDay).getUTCDay();
  return lastDay - dow * DAY;
}

/** The UTC instant of 00:00 UK local time on the given calendar date (month 0-based). */
export function ukDayStart(year: number, month: number, day: number): number {
  const midnightUtc = Date.UTC(year, month, day);
  return ukOffsetMinutes(midnightUtc - HOUR) === 60 ? midnightUtc - HOUR : midnightUtc;
}

export interface SettlementPeriodRef {
  /** `YYYY-MM-DD`, the UK local settlement day. */
  settlementDate: string;
  /** 1-based. */
  period: number;
  /** Periods in that settlement day: 48, or 46 / 50 on clock-change days. */
  periodsInDay: number;
  /** UTC start and end of the period, epoch ms. */
  start: number;
  end: number;
}

/** The GB settlement period that contains the instant `ts`. */
export function gbSettlementPeriod(ts: number): SettlementPeriodRef {
  const local = new Date(ts + ukOffsetMinutes(ts) * MINUTE);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth();
  const d = local.getUTCDate();
  const dayStart = ukDayStart(y, m, d);
  const nextStart = ukDayStart(y, m, d + 1);
  const period = Math.floor((ts - dayStart) / (30 * MINUTE)) + 1;
  const start = dayStart + (period - 1) * 30 * MINUTE;
  return {
    settlementDate: `${y}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`,
    period,
    periodsInDay: (nextStart - dayStart) / (30 * MINUTE),
    start,
    end: start + 30 * MINUTE,
  };
}

/** The GB settlement period of a reading time-stamped at the end of its interval. */
export function gbSettlementPeriodEndingAt(ts: number): SettlementPeriodRef {
  return gbSettlementPeriod(ts - 1);
}

/** Number of settlement periods in the GB settlement day `YYYY-MM-DD`. */
export function gbPeriodsInDay(date: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return (ukDayStart(y, m - 1, d + 1) - ukDayStart(y, m - 1, d)) / (30 * MINUTE);
}
