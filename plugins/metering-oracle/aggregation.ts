/**
 * Interval aggregation of the metering oracle: telemetry samples of a meter → export/import Wh per
 * settlement interval (docs/settlement.md, "Units and time"). Pure: no I/O, no clock, no logging; the
 * state is plain JSON so the plugin can persist it after every bus batch. Exported for reuse (the
 * settlement benchmark aggregates 10,000 households with it).
 *
 * Two kinds of meter channel:
 * - an **energy counter** (import or export register, Wh or kWh): the increment between two consecutive
 *   good samples is the counter difference (rollover at `rolloverAt` detected, a reset counted from zero
 *   and flagged estimated) and is apportioned to the intervals the span covers, linearly in time;
 * - a **signed power** point (W or kW; `positive` says whether a positive value is import or export):
 *   integrated with the trapezoid rule between consecutive good samples, split at interval boundaries
 *   (power interpolated linearly) and at zero crossings (so import and export are separated exactly).
 *   Samples more than `maxGapMs` apart are not integrated across: that time stays uncovered.
 *
 * Quality: only `good` and `uncertain` values count (uncertain ones flag the interval estimated); an
 * `invalid` sample or a non-number is skipped, so the time around it is a gap unless the neighbours
 * bridge it. Samples older than or equal to the channel's last one (duplicates, redeliveries,
 * out-of-order) are ignored.
 *
 * Finality: interval `i` (`[i·L, (i+1)·L)`) is finalized when the watermark (the caller's notion of
 * "now": the receive time of the stream, or the wall clock when the stream is idle) reaches
 * `(i+1)·L + cutoff`. Finalized intervals are emitted in order with no gap (an interval with no data at
 * all is emitted as 0 Wh flagged incomplete), so the MeterRegistry never sees a gap. Energy that later
 * falls into an already finalized interval is **late**: counted (Wh and records) and reported, never
 * re-attested; the meter's next reading carries the `FLAG_LATE` bit.
 */

/** Reading flags (docs/settlement.md, MeterRegistry.Reading.flags). */
export const FLAG_ESTIMATED = 1;
export const FLAG_INCOMPLETE = 2;
export const FLAG_LATE = 4;

export type ChannelName = 'import' | 'export' | 'power';

/** How a meter's telemetry is read. */
export interface MeterSpec {
  /** Energy counter registers (either or both). Unit factor: Wh per register unit (1 for Wh, 1000 for kWh). */
  import?: CounterSpec;
  export?: CounterSpec;
  /** A signed power point instead of counters. */
  power?: PowerSpec;
}

export interface CounterSpec {
  deviceId: string;
  pointId: string;
  /** Wh per unit of the register (Wh: 1, kWh: 1000). */
  whPerUnit: number;
  /** The register wraps to 0 at this value (register units), e.g. 4294967296 or 1e6 kWh. */
  rolloverAt?: number;
  /** Increments implying more than this average power (W) are implausible: dropped, flagged estimated. */
  maxPowerW?: number;
}

export interface PowerSpec {
  deviceId: string;
  pointId: string;
  /** W per unit of the point (W: 1, kW: 1000). */
  wPerUnit: number;
  /** Whether a positive value is import (consumption, the metering convention) or export. */
  positive: 'import' | 'export';
}

export interface AggregationOptions {
  intervalSeconds: number;
  /** A reading is final this long after its interval ends. */
  cutoffMs: number;
  /** Power samples further apart than this are not integrated across (a gap). */
  maxGapMs: number;
}

/** Where a record came from: its identity and its bus position. */
export interface SourceRef {
  deviceId: string;
  pointId: string;
  seq: number;
  partition: number;
  offset: number;
}

/** The records of one point (and bus partition) a reading was computed from. */
export interface LineageEntry {
  deviceId: string;
  pointId: string;
  partition: number;
  seqFirst: number;
  seqLast: number;
  count: number;
  offsetFirst: number;
  offsetLast: number;
}

interface ChannelState {
  ts: number;
  value: number;
  ref: SourceRef;
}

interface OpenInterval {
  exportWh: number;
  importWh: number;
  /** Covered time per channel, ms. */
  covered: Partial<Record<ChannelName, number>>;
  estimated: boolean;
  lineage: LineageEntry[];
}

/** The persisted state of one meter. */
export interface MeterAggregationState {
  /** The first interval not finalized yet (undefined until the first sample or a chain position). */
  next?: number;
  open: Record<string, OpenInterval>;
  channels: Partial<Record<ChannelName, ChannelState>>;
  /** Rounding remainders carried so that the sum of readings follows the measured energy. */
  residualExportWh: number;
  residualImportWh: number;
  /** Late data arrived since the last finalized reading (sets FLAG_LATE on the next one). */
  lateSinceLast: boolean;
}

/** A reading final at the cut-off, before signing. */
export interface FinalReading {
  interval: number;
  exportWh: number;
  importWh: number;
  flags: number;
  /** Covered fraction of the interval per channel (0..1). */
  coverage: Partial<Record<ChannelName, number>>;
  lineage: LineageEntry[];
}

/** What applying one record did (for metrics and events). */
export interface ApplyOutcome {
  kind: 'counted' | 'ignored-quality' | 'ignored-order' | 'ignored-point' | 'first' | 'late' | 'partly-late';
  /** Energy that fell into finalized intervals (not attested). */
  lateWh: number;
  /** A counter went backwards (reset) or wrapped (rollover). */
  counterEvent?: 'reset' | 'rollover' | 'implausible';
}

/** The index of the interval holding `tsMs`. */
export function intervalIndex(tsMs: number, intervalSeconds: number): number {
  return Math.floor(tsMs / (intervalSeconds * 1000));
}

/**
 * The increment of an energy counter from `prev` to `cur` (register units). A decrease is a rollover
 * when the register wraps at `rolloverAt` and the wrapped increment is less than half the register
 * range; otherwise a reset: the counter restarted from zero, so the increment is `cur`.
 */
export function counterIncrement(prev: number, cur: number, rolloverAt?: number): { increment: number; kind: 'normal' | 'rollover' | 'reset' } {
  if (cur >= prev) return { increment: cur - prev, kind: 'normal' };
  if (rolloverAt !== undefined && rolloverAt > 0 && prev <= rolloverAt) {
    const wrapped = rolloverAt - prev + cur;
    if (wrapped < rolloverAt / 2) return { increment: wrapped, kind: 'rollover' };
  }
  return { increment: cur, kind: 'reset' };
}

/**
 * Trapezoid integral of a signed power between (t1, w1) and (t2, w2), in Wh, split at the zero crossing:
 * `positive` is the part above zero, `negative` the magnitude of the part below.
 */
export function trapezoidWh(t1: number, w1: number, t2: number, w2: number): { positive: number; negative: number } {
  const dt = t2 - t1;
  if (dt <= 0) return { positive: 0, negative: 0 };
  const toWh = 7_200_000; // W·ms → Wh, with the trapezoid's halving
  if (w1 >= 0 && w2 >= 0) return { positive: ((w1 + w2) * dt) / toWh, negative: 0 };
  if (w1 <= 0 && w2 <= 0) return { positive: 0, negative: ((-w1 - w2) * dt) / toWh };
  const tc = (dt * Math.abs(w1)) / (Math.abs(w1) + Math.abs(w2)); // time from t1 to the crossing
  const a = (Math.abs(w1) * tc) / toWh;
  const b = (Math.abs(w2) * (dt - tc)) / toWh;
  return w1 > 0 ? { positive: a, negative: b } : { positive: b, negative: a };
}

/** A new, empty meter state; `next` set when the chain already holds readings (last + 1). */
export function newMeterState(next?: number): MeterAggregationState {
  return { ...(next === undefined ? {} : { next }), open: {}, channels: {}, residualExportWh: 0, residualImportWh: 0, lateSinceLast: false };
}

/** Which channel of `spec` a point feeds, if any. */
export function channelOf(spec: MeterSpec, deviceId: string, pointId: string): ChannelName | undefined {
  if (spec.power && spec.power.deviceId === deviceId && spec.power.pointId === pointId) return 'power';
  if (spec.import && spec.import.deviceId === deviceId && spec.import.pointId === pointId) return 'import';
  if (spec.export && spec.export.deviceId === deviceId && spec.export.pointId === pointId) return 'export';
  return undefined;
}

/** The channels a meter needs covered for a complete interval. */
export function channelsOf(spec: MeterSpec): ChannelName[] {
  if (spec.power) return ['power'];
  const out: ChannelName[] = [];
  if (spec.import) out.push('import');
  if (spec.export) out.push('export');
  return out;
}

/** A telemetry value as the aggregator needs it. */
export interface MeterSample {
  ts: number;
  value: unknown;
  quality: 'good' | 'uncertain' | 'invalid';
}

/**
 * Applies one sample of `channel` to the meter's state (mutates `state`). Idempotent for redeliveries:
 * a sample not newer than the channel's last one is ignored.
 */
export function applySample(state: MeterAggregationState, spec: MeterSpec, channel: ChannelName, sample: MeterSample, ref: SourceRef, options: AggregationOptions): ApplyOutcome {
  if (sample.quality === 'invalid' || typeof sample.value !== 'number' || !Number.isFinite(sample.value)) return { kind: 'ignored-quality', lateWh: 0 };
  const value = sample.value;
  const t = sample.ts;
  const L = options.intervalSeconds * 1000;
  const prev = state.channels[channel];
  if (prev !== undefined && t <= prev.ts) return { kind: 'ignored-order', lateWh: 0 };
  if (state.next === undefined) state.next = intervalIndex(t, options.intervalSeconds);
  state.channels[channel] = { ts: t, value, ref };
  if (prev === undefined) {
    const i = intervalIndex(t, options.intervalSeconds);
    if (i < state.next) {
      state.lateSinceLast = true;
      return { kind: 'late', lateWh: 0 };
    }
    addLineage(openOf(state, i), ref);
    return { kind: 'first', lateWh: 0 };
  }
  const uncertain = sample.quality === 'uncertain';
  const firstOpenMs = state.next * L;
  let lateWh = 0;
  let counterEvent: ApplyOutcome['counterEvent'];

  if (channel === 'power') {
    const p = spec.power as PowerSpec;
    const sign = p.positive === 'export' ? 1 : -1; // signed export power
    const w1 = prev.value * p.wPerUnit * sign;
    const w2 = value * p.wPerUnit * sign;
    if (t - prev.ts > options.maxGapMs) {
      // a gap: nothing integrated, the time stays uncovered; the sample still starts the next span
      const i = intervalIndex(t, options.intervalSeconds);
      if (i >= state.next) addLineage(openOf(state, i), ref);
      else state.lateSinceLast = true;
      return { kind: i >= state.next ? 'counted' : 'late', lateWh: 0 };
    }
    const at = (x: number): number => w1 + ((w2 - w1) * (x - prev.ts)) / (t - prev.ts);
    if (prev.ts < firstOpenMs) {
      const end = Math.min(t, firstOpenMs);
      const e = trapezoidWh(prev.ts, w1, end, at(end));
      lateWh += e.positive + e.negative;
    }
    for (const [i, a, b] of pieces(Math.max(prev.ts, firstOpenMs), t, L)) {
      const e = trapezoidWh(a, at(a), b, at(b));
      const acc = openOf(state, i);
      acc.exportWh += e.positive;
      acc.importWh += e.negative;
      acc.covered.power = (acc.covered.power ?? 0) + (b - a);
      if (uncertain) acc.estimated = true;
      addLineage(acc, prev.ref);
      addLineage(acc, ref);
    }
  } else {
    const c = spec[channel] as CounterSpec;
    const inc = counterIncrement(prev.value, value, c.rolloverAt);
    let wh = inc.increment * c.whPerUnit;
    let estimated = uncertain || inc.kind === 'reset';
    if (inc.kind !== 'normal') counterEvent = inc.kind;
    if (c.maxPowerW !== undefined && wh > (c.maxPowerW * (t - prev.ts)) / 3_600_000) {
      wh = 0;
      estimated = true;
      counterEvent = 'implausible';
    }
    // a long span across a boundary: the total is exact, its split between the intervals assumed linear
    if (t - prev.ts > options.maxGapMs && intervalIndex(prev.ts, options.intervalSeconds) !== intervalIndex(t - 1, options.intervalSeconds)) estimated = true;
    const perMs = wh / (t - prev.ts);
    if (prev.ts < firstOpenMs) lateWh += perMs * (Math.min(t, firstOpenMs) - prev.ts);
    for (const [i, a, b] of pieces(Math.max(prev.ts, firstOpenMs), t, L)) {
      const acc = openOf(state, i);
      if (channel === 'export') acc.exportWh += perMs * (b - a);
      else acc.importWh += perMs * (b - a);
      acc.covered[channel] = (acc.covered[channel] ?? 0) + (b - a);
      if (estimated) acc.estimated = true;
      addLineage(acc, prev.ref);
      addLineage(acc, ref);
    }
  }
  const allLate = t <= firstOpenMs;
  if (prev.ts < firstOpenMs) state.lateSinceLast = true;
  return { kind: allLate ? 'late' : prev.ts < firstOpenMs ? 'partly-late' : 'counted', lateWh, ...(counterEvent ? { counterEvent } : {}) };
}

/**
 * Finalizes every interval whose cut-off the watermark has reached, in order and without gaps. Rounds
 * to whole Wh, carrying the remainder to the next interval.
 */
export function finalizeUpTo(state: MeterAggregationState, spec: MeterSpec, watermarkMs: number, options: AggregationOptions): FinalReading[] {
  const out: FinalReading[] = [];
  if (state.next === undefined) return out;
  const L = options.intervalSeconds * 1000;
  const channels = channelsOf(spec);
  for (let i: number = state.next; (i + 1) * L + options.cutoffMs <= watermarkMs; i = state.next) {
    const acc = state.open[String(i)];
    const coverage: Partial<Record<ChannelName, number>> = {};
    let complete = true;
    for (const ch of channels) {
      const covered = acc?.covered[ch] ?? 0;
      coverage[ch] = Math.min(1, covered / L);
      if (covered < L - 1e-6) complete = false;
    }
    const ex = (acc?.exportWh ?? 0) + state.residualExportWh;
    const im = (acc?.importWh ?? 0) + state.residualImportWh;
    const exportWh = Math.max(0, Math.round(ex));
    const importWh = Math.max(0, Math.round(im));
    state.residualExportWh = ex - exportWh;
    state.residualImportWh = im - importWh;
    let flags = 0;
    if (acc?.estimated) flags |= FLAG_ESTIMATED;
    if (!complete) flags |= FLAG_INCOMPLETE;
    if (state.lateSinceLast) flags |= FLAG_LATE;
    state.lateSinceLast = false;
    out.push({ interval: i, exportWh, importWh, flags, coverage, lineage: acc?.lineage ?? [] });
    delete state.open[String(i)];
    state.next = i + 1;
  }
  return out;
}

/** `[interval, from, to]` pieces of `[a, b)` cut at interval boundaries (nothing when b <= a). */
export function pieces(a: number, b: number, intervalMs: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  let x = a;
  while (x < b) {
    const i = Math.floor(x / intervalMs);
    const end = Math.min(b, (i + 1) * intervalMs);
    out.push([i, x, end]);
    x = end;
  }
  return out;
}

function openOf(state: MeterAggregationState, i: number): OpenInterval {
  const key = String(i);
  let acc = state.open[key];
  if (acc === undefined) {
    acc = { exportWh: 0, importWh: 0, covered: {}, estimated: false, lineage: [] };
    state.open[key] = acc;
  }
  return acc;
}

/** Adds a record to an interval's lineage (records of a point arrive in seq order, so ranges grow). */
function addLineage(acc: OpenInterval, ref: SourceRef): void {
  let e: LineageEntry | undefined;
  for (const x of acc.lineage) {
    if (x.deviceId === ref.deviceId && x.pointId === ref.pointId && x.partition === ref.partition) {
      e = x;
      break;
    }
  }
  if (e === undefined) {
    acc.lineage.push({ deviceId: ref.deviceId, pointId: ref.pointId, partition: ref.partition, seqFirst: ref.seq, seqLast: ref.seq, count: 1, offsetFirst: ref.offset, offsetLast: ref.offset });
    return;
  }
  if (ref.seq > e.seqLast) {
    e.seqLast = ref.seq;
    e.offsetLast = Math.max(e.offsetLast, ref.offset);
    e.count++;
  } else if (ref.seq < e.seqFirst) {
    e.seqFirst = ref.seq;
    e.offsetFirst = Math.min(e.offsetFirst, ref.offset);
    e.count++;
  }
}
