/**
 * au-aemo: 5-minute settlement, interval meter data checks, and meter data export in NEM12
 * (AEMO "Meter Data File Format Specification NEM12 & NEM13"). Pure rules; see README.md.
 */
import type { ComplianceExport, ComplianceModule, ExportInput } from '../../core/compliance/compliance-module.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { IntervalValidator } from '../engine/interval-rules.ts';
import { compactDate, compactDateTime, DAY, MINUTE } from '../engine/intervals.ts';
import { writeNem12 } from '../engine/nem12.ts';
import type { Nem12DataStream, Nem12Day, Nem12Quality } from '../engine/nem12.ts';

/** NEM time: AEST, UTC+10 all year (the NEM does not observe daylight saving). */
export const NEM_TIME_OFFSET_MINUTES = 600;

export interface Nem12MeterConfig {
  deviceId: string;
  /** The point holding the interval energy (default: the module's first meter point pattern match). */
  pointId: string;
  nmi: string;
  nmiConfiguration: string;
  registerId: string;
  nmiSuffix: string;
  mdmDataStreamIdentifier: string;
  meterSerialNumber: string;
  uom: string;
}

export interface AemoConfig {
  meterPoints?: string[];
  meterDevices?: string[];
  /** Resolution of the meter data and the NEM12 IntervalLength (default 5). */
  meterIntervalMinutes?: 5 | 15 | 30;
  misaligned?: 'flag' | 'reject';
  incomplete?: 'flag' | 'reject';
  market?: { priceCap?: number; priceFloor?: number };
  nem12?: {
    fromParticipant: string;
    toParticipant: string;
    meters: Nem12MeterConfig[];
    /** Two-digit method written with E / S qualities (site-specific; default 52 and 53). */
    estimationMethod?: string;
    substitutionMethod?: string;
    /** Reason code written for N (null) days and runs. */
    nullReasonCode?: string;
    b2b?: { transCode: string; retServiceOrder?: string };
  };
}

export const AEMO_DEFAULTS = {
  meterPoints: ['energy-interval-*'],
  meterIntervalMinutes: 5,
  misaligned: 'reject',
  incomplete: 'flag',
  /** Market price cap and floor, AUD/MWh (the cap is set per financial year; configure it). */
  priceCap: 20_300,
  priceFloor: -1000,
} as const;

/** NEM12 quality of one interval from the record's normalized quality (missing: N). */
export function nem12Quality(r: TelemetryRecord | undefined): Nem12Quality {
  if (!r || typeof r.value !== 'number' || r.quality.status === 'invalid') return 'N';
  if (r.quality.status === 'good') return 'A';
  return r.quality.flags.includes('substituted') ? 'S' : 'E';
}

/** Builds NEM12 data streams from interval records: one 300 row per NEM-time day in [from, to). */
export function nem12Streams(records: readonly TelemetryRecord[], meters: readonly Nem12MeterConfig[], intervalMinutes: 5 | 15 | 30, from: number, to: number, now: number, methods: { E: string; S: string; nullReason?: string }): Nem12DataStream[] {
  const ms = intervalMinutes * MINUTE;
  const n = 1440 / intervalMinutes;
  const off = NEM_TIME_OFFSET_MINUTES * MINUTE;
  // NEM-time day boundaries covering the period
  const firstDay = Math.floor((from + off) / DAY) * DAY - off;
  const streams: Nem12DataStream[] = [];
  for (const m of meters) {
    const byEnd = new Map<number, TelemetryRecord>();
    for (const r of records) if (r.deviceId === m.deviceId && r.pointId === m.pointId && r.ts % ms === 0) byEnd.set(r.ts, r);
    const days: Nem12Day[] = [];
    for (let dayStart = firstDay; dayStart < to; dayStart += DAY) {
      const values: (number | null)[] = new Array(n);
      const quality: Nem12Quality[] = new Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        const end = dayStart + (i + 1) * ms;
        const r = end > from && end <= to ? byEnd.get(end) : undefined;
        const q = nem12Quality(r);
        quality[i] = q;
        values[i] = q === 'N' ? null : Math.max(0, r?.value as number);
        if (r) any = true;
      }
      if (!any) continue;
      const qs = new Set(quality);
      const method = qs.has('S') && !qs.has('E') ? methods.S : methods.E;
      days.push({ date: compactDate(dayStart, NEM_TIME_OFFSET_MINUTES), values, quality, method, ...(qs.has('N') && methods.nullReason ? { reasonCode: methods.nullReason } : {}), updateDateTime: compactDateTime(now, NEM_TIME_OFFSET_MINUTES, true) });
    }
    streams.push({ nmi: m.nmi, nmiConfiguration: m.nmiConfiguration, registerId: m.registerId, nmiSuffix: m.nmiSuffix, mdmDataStreamIdentifier: m.mdmDataStreamIdentifier, meterSerialNumber: m.meterSerialNumber, uom: m.uom, intervalLength: intervalMinutes, days });
  }
  return streams;
}

class Nem12Export implements ComplianceExport {
  readonly id = 'nem12';
  readonly title = 'AEMO NEM12 interval meter data file';
  readonly mediaType = 'text/csv';
  readonly fileExtension = 'csv';
  constructor(
    private readonly config: NonNullable<AemoConfig['nem12']>,
    private readonly intervalMinutes: 5 | 15 | 30,
  ) {}

  produce(input: ExportInput): string {
    const c = this.config;
    const streams = nem12Streams(input.records, c.meters, this.intervalMinutes, input.from, input.to, input.now, {
      E: c.estimationMethod ?? '52',
      S: c.substitutionMethod ?? '53',
      ...(c.nullReasonCode ? { nullReason: c.nullReasonCode } : {}),
    });
    if (c.b2b) for (const s of streams) s.b2b = { transCode: c.b2b.transCode, ...(c.b2b.retServiceOrder ? { retServiceOrder: c.b2b.retServiceOrder } : {}), readDateTime: compactDateTime(input.to, NEM_TIME_OFFSET_MINUTES, true) };
    return writeNem12({ createdAt: compactDateTime(input.now, NEM_TIME_OFFSET_MINUTES), fromParticipant: c.fromParticipant, toParticipant: c.toParticipant, streams });
  }
}

/** Builds the au-aemo module from its (validated) config. */
export function createAemoModule(config: AemoConfig = {}): ComplianceModule {
  const meterPoints = config.meterPoints ?? [...AEMO_DEFAULTS.meterPoints];
  const intervalMinutes = config.meterIntervalMinutes ?? AEMO_DEFAULTS.meterIntervalMinutes;
  return {
    id: 'au-aemo',
    jurisdiction: 'AU',
    title: 'AEMO National Electricity Market: 5-minute settlement, interval meter data, NEM12 export',
    regulation: 'National Electricity Rules ch. 3 (five-minute settlement, market price cap and floor) and ch. 7 (metering); AEMO Meter Data File Format Specification NEM12 & NEM13',
    order: 50,
    market: {
      settlementIntervalMinutes: 5,
      priceCap: config.market?.priceCap ?? AEMO_DEFAULTS.priceCap,
      priceFloor: config.market?.priceFloor ?? AEMO_DEFAULTS.priceFloor,
      currency: 'AUD',
      timeZone: 'Australia/Brisbane',
    },
    telemetryValidators: [
      new IntervalValidator({
        prefix: 'aemo',
        intervalMinutes,
        meterPoints,
        ...(config.meterDevices ? { meterDevices: config.meterDevices } : {}),
        misaligned: config.misaligned ?? AEMO_DEFAULTS.misaligned,
        incomplete: config.incomplete ?? AEMO_DEFAULTS.incomplete,
      }),
    ],
    exports: config.nem12 ? [new Nem12Export(config.nem12, intervalMinutes)] : [],
  };
}
