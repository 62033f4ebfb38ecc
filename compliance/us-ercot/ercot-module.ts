/**
 * us-ercot: 15-minute settlement intervals, alignment and completeness of interval meter data,
 * export of interval data as CSV. Pure rules; see README.md for the sources.
 */
import type { ComplianceExport, ComplianceModule, ExportInput } from '../../core/compliance/compliance-module.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { csvCell, groupByMeter, IntervalValidator, MeterSelector } from '../engine/interval-rules.ts';
import { MINUTE } from '../engine/intervals.ts';

export interface ErcotConfig {
  /** Globs of point ids that carry interval energy (kWh per interval, stamped at interval end). */
  meterPoints?: string[];
  /** Globs of device ids that are settlement meters (every device if absent). */
  meterDevices?: string[];
  /** Resolution of the meter data; must divide 15 (default 15). */
  meterIntervalMinutes?: 1 | 5 | 15;
  misaligned?: 'flag' | 'reject';
  incomplete?: 'flag' | 'reject';
  market?: { priceCap?: number; priceFloor?: number; gateClosureMinutes?: number };
}

export const ERCOT_DEFAULTS = {
  meterPoints: ['energy-interval-*'],
  meterIntervalMinutes: 15,
  misaligned: 'reject',
  incomplete: 'flag',
  priceCap: 5000,
  priceFloor: -250,
  gateClosureMinutes: 60,
} as const;

/** Interval data CSV: one row per meter, point and interval in the period, missing ones included. */
class IntervalCsvExport implements ComplianceExport {
  readonly id = 'interval-csv';
  readonly title = 'ERCOT interval meter data (15-minute settlement intervals, CSV)';
  readonly mediaType = 'text/csv';
  readonly fileExtension = 'csv';

  constructor(
    private readonly selector: MeterSelector,
    private readonly intervalMinutes: number,
  ) {}

  produce(input: ExportInput): string {
    const ms = this.intervalMinutes * MINUTE;
    const rows = ['device_id,point_id,interval_start_utc,interval_end_utc,value,unit,status'];
    const meters = groupByMeter(input.records.filter((r) => this.selector.isMeter(r) && r.ts > input.from && r.ts <= input.to));
    for (const [deviceId, points] of [...meters].sort((a, b) => cmp(a[0], b[0]))) {
      for (const [pointId, list] of [...points].sort((a, b) => cmp(a[0], b[0]))) {
        const byEnd = new Map<number, TelemetryRecord>();
        for (const r of list) if (r.ts % ms === 0) byEnd.set(r.ts, r);
        const unit = list[0]?.unit ?? 'kWh';
        for (let end = Math.ceil((input.from + 1) / ms) * ms; end <= input.to; end += ms) {
          const r = byEnd.get(end);
          const status = !r || typeof r.value !== 'number' || r.quality.status === 'invalid' ? 'M' : r.quality.status === 'good' ? 'A' : 'E';
          rows.push([deviceId, pointId, iso(end - ms), iso(end), status === 'M' ? '' : (r?.value as number), unit, status].map(csvCell).join(','));
        }
      }
    }
    return `${rows.join('\r\n')}\r\n`;
  }
}

/** Builds the us-ercot module from its (validated) config. */
export function createErcotModule(config: ErcotConfig = {}): ComplianceModule {
  const meterPoints = config.meterPoints ?? [...ERCOT_DEFAULTS.meterPoints];
  const intervalMinutes = config.meterIntervalMinutes ?? ERCOT_DEFAULTS.meterIntervalMinutes;
  const selector = new MeterSelector(meterPoints, config.meterDevices);
  return {
    id: 'us-ercot',
    jurisdiction: 'US-TX',
    title: 'ERCOT: 15-minute settlement intervals, interval meter data alignment and completeness, interval data export',
    regulation: 'ERCOT Nodal Protocols Section 9 (Settlement) and Section 10 (Metering); PUCT 16 TAC §25.505 (offer cap and floor)',
    order: 50,
    market: {
      settlementIntervalMinutes: 15,
      gateClosureMinutes: config.market?.gateClosureMinutes ?? ERCOT_DEFAULTS.gateClosureMinutes,
      priceCap: config.market?.priceCap ?? ERCOT_DEFAULTS.priceCap,
      priceFloor: config.market?.priceFloor ?? ERCOT_DEFAULTS.priceFloor,
      currency: 'USD',
      timeZone: 'America/Chicago',
    },
    telemetryValidators: [
      new IntervalValidator({
        prefix: 'ercot',
        intervalMinutes,
        meterPoints,
        ...(config.meterDevices ? { meterDevices: config.meterDevices } : {}),
        misaligned: config.misaligned ?? ERCOT_DEFAULTS.misaligned,
        incomplete: config.incomplete ?? ERCOT_DEFAULTS.incomplete,
      }),
    ],
    exports: [new IntervalCsvExport(selector, intervalMinutes)],
  };
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
