/**
 * Interval meter-data rules shared by the market modules (ERCOT 15 min, Elexon 30 min, AEMO 5 min).
 *
 * A record is interval meter data when its pointId matches `meterPoints` (and its deviceId
 * `meterDevices`, if given); it is stamped at the end of its interval. Checks, in order:
 *   <prefix>-misaligned-interval   ts is not on an interval boundary          (flag or reject)
 *   <prefix>-incomplete-interval   no numeric value, or quality invalid        (flag or reject)
 *   <prefix>-duplicate-interval    the meter's interval came already           (reject)
 *   <prefix>-out-of-order-interval older than an interval already seen         (reject)
 *   <prefix>-missing-intervals     intervals are missing before this one       (flag)
 * The last interval per meter and point is remembered in memory (a restart forgets it, so the
 * first interval after a restart is never called a gap).
 */
import type { RuleVerdict, TelemetryValidator } from '../../core/compliance/compliance-module.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { MINUTE } from './intervals.ts';
import { Matcher } from './matcher.ts';

export interface IntervalRulesOptions {
  /** Reason-code prefix, e.g. `ercot`. */
  prefix: string;
  intervalMinutes: number;
  meterPoints: readonly string[];
  meterDevices?: readonly string[];
  misaligned: 'flag' | 'reject';
  incomplete: 'flag' | 'reject';
  /** Offset of the interval grid from UTC, minutes (0 for every market here; kept for others). */
  offsetMinutes?: number;
}

/** Recognises a market's interval meter records. */
export class MeterSelector {
  private readonly points: Matcher;
  private readonly devices: Matcher | undefined;

  constructor(meterPoints: readonly string[], meterDevices?: readonly string[]) {
    this.points = new Matcher(meterPoints);
    this.devices = meterDevices && meterDevices.length > 0 ? new Matcher(meterDevices) : undefined;
  }

  isMeter(r: Pick<TelemetryRecord, 'deviceId' | 'pointId'>): boolean {
    return this.points.matches(r.pointId) && (this.devices === undefined || this.devices.matches(r.deviceId));
  }
}

export class IntervalValidator implements TelemetryValidator {
  readonly id: string;
  readonly phase = 'ingest' as const;
  private readonly selector: MeterSelector;
  private readonly ms: number;
  private readonly offset: number;
  private readonly misaligned: RuleVerdict;
  private readonly incomplete: RuleVerdict;
  private readonly duplicate: RuleVerdict;
  private readonly outOfOrder: RuleVerdict;
  private readonly missing: RuleVerdict;
  private readonly last = new Map<string, Map<string, number>>();

  constructor(options: IntervalRulesOptions) {
    this.id = `${options.prefix}-interval-data`;
    this.selector = new MeterSelector(options.meterPoints, options.meterDevices);
    this.ms = options.intervalMinutes * MINUTE;
    this.offset = (options.offsetMinutes ?? 0) * MINUTE;
    const p = options.prefix;
    this.misaligned = Object.freeze({ action: options.misaligned, reason: `${p}-misaligned-interval` });
    this.incomplete = Object.freeze({ action: options.incomplete, reason: `${p}-incomplete-interval` });
    this.duplicate = Object.freeze({ action: 'reject', reason: `${p}-duplicate-interval` });
    this.outOfOrder = Object.freeze({ action: 'reject', reason: `${p}-out-of-order-interval` });
    this.missing = Object.freeze({ action: 'flag', reason: `${p}-missing-intervals` });
  }

  check(r: TelemetryRecord): RuleVerdict | undefined {
    if (!this.selector.isMeter(r)) return undefined;
    const ms = this.ms;
    if ((((r.ts + this.offset) % ms) + ms) % ms !== 0) return this.misaligned;
    let byPoint = this.last.get(r.deviceId);
    if (!byPoint) this.last.set(r.deviceId, (byPoint = new Map()));
    const prev = byPoint.get(r.pointId);
    if (prev !== undefined) {
      if (r.ts === prev) return this.duplicate;
      if (r.ts < prev) return this.outOfOrder;
    }
    byPoint.set(r.pointId, r.ts);
    if (typeof r.value !== 'number' || r.quality.status === 'invalid') return this.incomplete;
    if (prev !== undefined && r.ts > prev + ms) return this.missing;
    return undefined;
  }
}

/** Interval ends in (from, to] for which `records` of one meter hold no numeric value. */
export function missingIntervalEnds(records: readonly TelemetryRecord[], from: number, to: number, intervalMinutes: number): number[] {
  const ms = intervalMinutes * MINUTE;
  const have = new Set<number>();
  for (const r of records) if (typeof r.value === 'number' && r.quality.status !== 'invalid') have.add(r.ts);
  const out: number[] = [];
  for (let t = Math.ceil((from + 1) / ms) * ms; t <= to; t += ms) if (!have.has(t)) out.push(t);
  return out;
}

/** Groups records by `deviceId` then `pointId`, each group sorted by ts. */
export function groupByMeter(records: readonly TelemetryRecord[]): Map<string, Map<string, TelemetryRecord[]>> {
  const out = new Map<string, Map<string, TelemetryRecord[]>>();
  for (const r of records) {
    let d = out.get(r.deviceId);
    if (!d) out.set(r.deviceId, (d = new Map()));
    let p = d.get(r.pointId);
    if (!p) d.set(r.pointId, (p = []));
    p.push(r);
  }
  for (const d of out.values()) for (const list of d.values()) list.sort((a, b) => a.ts - b.ts);
  return out;
}

/** One CSV cell (RFC 4180 quoting when needed). */
export function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
