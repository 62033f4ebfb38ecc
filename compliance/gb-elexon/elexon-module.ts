/**
 * gb-elexon: 30-minute settlement periods (1–48; 46 / 50 on clock-change days), settlement-period
 * tags on meter data, alignment and completeness checks, half-hourly aggregation and export.
 * Pure rules; see README.md for the sources.
 */
import type { ComplianceExport, ComplianceModule, ExportInput, TelemetryTransform } from '../../core/compliance/compliance-module.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { csvCell, IntervalValidator, MeterSelector } from '../engine/interval-rules.ts';
import { gbSettlementPeriodEndingAt } from '../engine/intervals.ts';

export interface ElexonConfig {
  /** Globs of point ids that carry interval energy (kWh per interval, stamped at interval end). */
  meterPoints?: string[];
  meterDevices?: string[];
  /** Resolution of the meter data; must divide 30 (default 30). */
  meterIntervalMinutes?: 1 | 5 | 10 | 15 | 30;
  misaligned?: 'flag' | 'reject';
  incomplete?: 'flag' | 'reject';
  /** Add settlementDate / settlementPeriod tags to meter records (default true). */
  tagSettlementPeriods?: boolean;
  market?: { gateClosureMinutes?: number };
}

export const ELEXON_DEFAULTS = {
  meterPoints: ['energy-interval-*'],
  meterIntervalMinutes: 30,
  misaligned: 'reject',
  incomplete: 'flag',
  gateClosureMinutes: 60,
} as const;

export interface HalfHourlyRow {
  deviceId: string;
  pointId: string;
  settlementDate: string;
  settlementPeriod: number;
  periodsInDay: number;
  /** Sum of the readings in the period. */
  value: number;
  /** Readings summed, and how many make a complete period. */
  readings: number;
  expected: number;
  /** A: all readings actual; E: some not good; I: incomplete. */
  status: 'A' | 'E' | 'I';
}

/**
 * Sums interval readings (stamped at their interval end) into GB settlement periods, per device
 * and point; a period is complete when it holds 30 / intervalMinutes readings.
 */
export function aggregateHalfHourly(records: readonly TelemetryRecord[], intervalMinutes: number): HalfHourlyRow[] {
  const expected = 30 / intervalMinutes;
  const rows = new Map<string, HalfHourlyRow & { seen: Set<number>; uncertain: boolean }>();
  for (const r of records) {
    if (typeof r.value !== 'number' || r.quality.status === 'invalid') continue;
    const sp = gbSettlementPeriodEndingAt(r.ts);
    const key = `${r.deviceId}\u0000${r.pointId}\u0000${sp.start}`;
    let row = rows.get(key);
    if (!row) {
      row = { deviceId: r.deviceId, pointId: r.pointId, settlementDate: sp.settlementDate, settlementPeriod: sp.period, periodsInDay: sp.periodsInDay, value: 0, readings: 0, expected, status: 'A', seen: new Set(), uncertain: false };
      rows.set(key, row);
    }
    if (row.seen.has(r.ts)) continue; // a duplicate reading counts once
    row.seen.add(r.ts);
    row.value += r.value;
    row.readings++;
    if (r.quality.status !== 'good') row.uncertain = true;
  }
  return [...rows.values()]
    .map(({ seen: _seen, uncertain, ...row }) => ({ ...row, value: Math.round(row.value * 1e6) / 1e6, status: row.readings < expected ? ('I' as const) : uncertain ? ('E' as const) : ('A' as const) }))
    .sort((a, b) => cmp(a.deviceId, b.deviceId) || cmp(a.pointId, b.pointId) || cmp(a.settlementDate, b.settlementDate) || a.settlementPeriod - b.settlementPeriod);
}

class SettlementPeriodTags implements TelemetryTransform {
  readonly id = 'elexon-settlement-period-tags';
  readonly phase = 'ingest' as const;
  constructor(private readonly selector: MeterSelector) {}

  apply(r: TelemetryRecord): TelemetryRecord {
    if (!this.selector.isMeter(r)) return r;
    const sp = gbSettlementPeriodEndingAt(r.ts);
    const period = String(sp.period);
    if (r.tags?.settlementPeriod === period && r.tags.settlementDate === sp.settlementDate) return r;
    return { ...r, tags: { ...r.tags, settlementDate: sp.settlementDate, settlementPeriod: period } };
  }
}

class HalfHourlyExport implements ComplianceExport {
  readonly id = 'half-hourly-csv';
  readonly title = 'GB half-hourly metered data by settlement period (CSV)';
  readonly mediaType = 'text/csv';
  readonly fileExtension = 'csv';
  constructor(
    private readonly selector: MeterSelector,
    private readonly intervalMinutes: number,
  ) {}

  produce(input: ExportInput): string {
    const rows = aggregateHalfHourly(
      input.records.filter((r) => this.selector.isMeter(r) && r.ts > input.from && r.ts <= input.to),
      this.intervalMinutes,
    );
    const out = ['device_id,point_id,settlement_date,settlement_period,periods_in_day,value,readings,expected,status'];
    for (const r of rows) out.push([r.deviceId, r.pointId, r.settlementDate, r.settlementPeriod, r.periodsInDay, r.value, r.readings, r.expected, r.status].map(csvCell).join(','));
    return `${out.join('\r\n')}\r\n`;
  }
}

/** Builds the gb-elexon module from its (validated) config. */
export function createElexonModule(config: ElexonConfig = {}): ComplianceModule {
  const meterPoints = config.meterPoints ?? [...ELEXON_DEFAULTS.meterPoints];
  const intervalMinutes = config.meterIntervalMinutes ?? ELEXON_DEFAULTS.meterIntervalMinutes;
  const selector = new MeterSelector(meterPoints, config.meterDevices);
  return {
    id: 'gb-elexon',
    jurisdiction: 'GB',
    title: 'GB Balancing and Settlement Code: 30-minute settlement periods, half-hourly aggregation and export',
    regulation: 'Balancing and Settlement Code (BSC) Section X Annex X-1 (Settlement Day, Settlement Period), BSC Section Q (gate closure), BSCP502 (half-hourly data collection)',
    order: 50,
    market: { settlementIntervalMinutes: 30, gateClosureMinutes: config.market?.gateClosureMinutes ?? ELEXON_DEFAULTS.gateClosureMinutes, currency: 'GBP', timeZone: 'Europe/London' },
    telemetryTransforms: config.tagSettlementPeriods === false ? [] : [new SettlementPeriodTags(selector)],
    telemetryValidators: [
      new IntervalValidator({
        prefix: 'elexon',
        intervalMinutes,
        meterPoints,
        ...(config.meterDevices ? { meterDevices: config.meterDevices } : {}),
        misaligned: config.misaligned ?? ELEXON_DEFAULTS.misaligned,
        incomplete: config.incomplete ?? ELEXON_DEFAULTS.incomplete,
      }),
    ],
    exports: [new HalfHourlyExport(selector, intervalMinutes)],
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
