import assert from 'node:assert/strict';
import {
  FLAG_ESTIMATED,
  FLAG_INCOMPLETE,
  FLAG_LATE,
  applySample,
  counterIncrement,
  finalizeUpTo,
  intervalIndex,
  newMeterState,
  pieces,
  trapezoidWh,
  type AggregationOptions,
  type MeterSpec,
  type SourceRef,
} from './aggregation.ts';

const L = 900_000; // 15 min
const opts: AggregationOptions = { intervalSeconds: 900, cutoffMs: 60_000, maxGapMs: 120_000 };
const I0 = 1_900_000; // an interval index; t(i) is its start in ms
const t = (i: number, s = 0): number => i * L + s * 1000;

const counters: MeterSpec = {
  import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1000 },
  export: { deviceId: 'm', pointId: 'exp', whPerUnit: 1000 },
};
const power: MeterSpec = { power: { deviceId: 'm', pointId: 'p', wPerUnit: 1000, positive: 'import' } };

let seq = 0;
function ref(pointId: string): SourceRef {
  seq++;
  return { deviceId: 'm', pointId, seq, partition: 0, offset: 1000 + seq };
}

describe('metering oracle aggregation', () => {
  beforeEach(() => {
    seq = 0;
  });

  it('indexes intervals and cuts spans at their boundaries', () => {
    assert.equal(intervalIndex(t(I0), 900), I0);
    assert.equal(intervalIndex(t(I0 + 1) - 1, 900), I0);
    assert.deepEqual(pieces(t(I0, 600), t(I0 + 2, 100), L), [
      [I0, t(I0, 600), t(I0 + 1)],
      [I0 + 1, t(I0 + 1), t(I0 + 2)],
      [I0 + 2, t(I0 + 2), t(I0 + 2, 100)],
    ]);
  });

  it('differences counters: normal, rollover at the register range, reset counted from zero', () => {
    assert.deepEqual(counterIncrement(10, 15), { increment: 5, kind: 'normal' });
    assert.deepEqual(counterIncrement(65_530, 4, 65_536), { increment: 10, kind: 'rollover' });
    assert.deepEqual(counterIncrement(500, 3, 65_536), { increment: 3, kind: 'reset' }, 'a drop far from the top is a reset');
    assert.deepEqual(counterIncrement(500, 3), { increment: 3, kind: 'reset' });
  });

  it('integrates a trapezoid and splits it at the zero crossing', () => {
    assert.deepEqual(trapezoidWh(0, 1000, 3_600_000, 1000), { positive: 1000, negative: 0 });
    const e = trapezoidWh(0, 1000, 3_600_000, -1000); // crosses zero half way
    assert.ok(Math.abs(e.positive - 250) < 1e-9 && Math.abs(e.negative - 250) < 1e-9, JSON.stringify(e));
  });

  it('turns kWh counter samples into exact Wh per interval, apportioned linearly across a boundary', () => {
    const s = newMeterState();
    for (const [sec, imp, exp] of [
      [0, 100, 50],
      [450, 100.4, 50.1],
      [900, 100.9, 50.3],
      [1350, 101.0, 50.3],
      [1800, 101.2, 50.3],
    ] as const) {
      applySample(s, counters, 'import', { ts: t(I0, sec), value: imp, quality: 'good' }, ref('imp'), opts);
      applySample(s, counters, 'export', { ts: t(I0, sec), value: exp, quality: 'good' }, ref('exp'), opts);
    }
    const out = finalizeUpTo(s, counters, t(I0 + 2) + 60_000, opts);
    assert.deepEqual(
      out.map((r) => [r.interval, r.importWh, r.exportWh, r.flags]),
      [
        [I0, 900, 300, 0],
        [I0 + 1, 300, 0, 0],
      ],
    );
    // lineage: 3 records per point for the first interval (0, 450, 900 s), bus offsets included
    const imp = out[0]!.lineage.find((l) => l.pointId === 'imp')!;
    assert.equal(imp.count, 3);
    assert.equal(imp.seqLast - imp.seqFirst, 4, 'seq range of the import records (exports interleaved)');
    assert.equal(imp.offsetFirst, 1001);
  });

  it('counts a rollover and flags a reset estimated', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1, rolloverAt: 65_536 } };
    const s = newMeterState();
    applySample(s, spec, 'import', { ts: t(I0), value: 65_000, quality: 'good' }, ref('imp'), opts);
    const o = applySample(s, spec, 'import', { ts: t(I0, 450), value: 100, quality: 'good' }, ref('imp'), opts);
    assert.equal(o.counterEvent, 'rollover');
    applySample(s, spec, 'import', { ts: t(I0, 900), value: 736, quality: 'good' }, ref('imp'), opts);
    const r = applySample(s, spec, 'import', { ts: t(I0, 1350), value: 20, quality: 'good' }, ref('imp'), opts);
    assert.equal(r.counterEvent, 'reset');
    applySample(s, spec, 'import', { ts: t(I0, 1800), value: 50, quality: 'good' }, ref('imp'), opts);
    const out = finalizeUpTo(s, spec, t(I0 + 2, 60), opts);
    assert.equal(out[0]!.importWh, 536 + 100 + 636);
    assert.equal(out[0]!.flags, 0);
    assert.equal(out[1]!.importWh, 20 + 30, 'after a reset the counter counts from zero');
    assert.equal(out[1]!.flags, FLAG_ESTIMATED);
  });

  it('integrates signed power (import positive) with the trapezoid rule into import and export', () => {
    const s = newMeterState();
    // 2 kW import for 7.5 min, then ramps to 2 kW export at the end of the interval
    const samples: [number, number][] = [
      [0, 2],
      [60, 2],
      [120, 2],
      [180, 2],
      [240, 2],
      [300, 2],
      [360, 2],
      [420, 2],
      [450, 2],
      [510, 1],
      [570, 0],
      [630, -1],
      [690, -2],
      [750, -2],
      [810, -2],
      [870, -2],
      [900, -2],
    ];
    for (const [sec, kw] of samples) applySample(s, power, 'power', { ts: t(I0, sec), value: kw, quality: 'good' }, ref('p'), opts);
    const [r] = finalizeUpTo(s, power, t(I0 + 1, 60), opts);
    // import: 2 kW × 450 s = 250 Wh, ramp 2→0 over 120 s = 33.33 Wh; export: ramp 0→2 over 120 s = 33.33, 2 kW × 210 s = 116.67
    assert.equal(r!.importWh, 283);
    assert.equal(r!.exportWh, 150);
    assert.equal(r!.flags, 0);
    assert.equal(r!.coverage.power, 1);
  });

  it('leaves a power gap uncovered and flags the interval incomplete; an interval without data is filled with 0 Wh', () => {
    const s = newMeterState();
    applySample(s, power, 'power', { ts: t(I0), value: 3.6, quality: 'good' }, ref('p'), opts);
    applySample(s, power, 'power', { ts: t(I0, 100), value: 3.6, quality: 'good' }, ref('p'), opts); // 100 Wh
    applySample(s, power, 'power', { ts: t(I0, 500), value: 3.6, quality: 'good' }, ref('p'), opts); // 400 s gap > 120 s: not integrated
    applySample(s, power, 'power', { ts: t(I0, 900), value: 3.6, quality: 'invalid' }, ref('p'), opts); // invalid: skipped
    applySample(s, power, 'power', { ts: t(I0 + 2, 0), value: 3.6, quality: 'good' }, ref('p'), opts); // another gap
    const out = finalizeUpTo(s, power, t(I0 + 3, 60), opts);
    assert.deepEqual(
      out.map((r) => [r.interval, r.importWh, r.flags]),
      [
        [I0, 100, FLAG_INCOMPLETE],
        [I0 + 1, 0, FLAG_INCOMPLETE],
        [I0 + 2, 0, FLAG_INCOMPLETE],
      ],
      'the contract sees every interval, none silently dropped',
    );
    assert.ok(Math.abs(out[0]!.coverage.power! - 100 / 900) < 1e-9);
  });

  it('finalizes only at the cut-off; later data is late (counted, never re-attested) and flags the next reading', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1 } };
    const s = newMeterState();
    applySample(s, spec, 'import', { ts: t(I0), value: 0, quality: 'good' }, ref('imp'), opts);
    applySample(s, spec, 'import', { ts: t(I0, 600), value: 600, quality: 'good' }, ref('imp'), opts);
    assert.deepEqual(finalizeUpTo(s, spec, t(I0 + 1, 59), opts), [], 'not before the cut-off');
    const [r] = finalizeUpTo(s, spec, t(I0 + 1, 60), opts);
    assert.equal(r!.importWh, 600);
    assert.equal(r!.flags, FLAG_INCOMPLETE, 'the last 300 s were not covered at the cut-off');
    // the next sample arrives after the cut-off: 300 of its 600 Wh belong to the finalized interval
    const o = applySample(s, spec, 'import', { ts: t(I0 + 1, 300), value: 1200, quality: 'good' }, ref('imp'), opts);
    assert.equal(o.kind, 'partly-late');
    assert.equal(o.lateWh, 300);
    applySample(s, spec, 'import', { ts: t(I0 + 2), value: 1800, quality: 'good' }, ref('imp'), opts);
    const [r2] = finalizeUpTo(s, spec, t(I0 + 2, 60), opts);
    assert.equal(r2!.interval, I0 + 1);
    assert.equal(r2!.importWh, 900);
    assert.equal(r2!.flags, FLAG_LATE | FLAG_ESTIMATED, 'complete; late data for an earlier interval was refused; a 600 s span split across the boundary');
    // a whole sample for an interval already final
    const late = applySample(s, spec, 'import', { ts: t(I0, 700), value: 5000, quality: 'good' }, ref('imp'), opts);
    assert.equal(late.kind, 'ignored-order', 'older than the last sample of the channel');
  });

  it('counts only good and uncertain values; uncertain ones flag the reading estimated', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1 } };
    const s = newMeterState();
    applySample(s, spec, 'import', { ts: t(I0), value: 0, quality: 'good' }, ref('imp'), opts);
    assert.equal(applySample(s, spec, 'import', { ts: t(I0, 300), value: 99_999, quality: 'invalid' }, ref('imp'), opts).kind, 'ignored-quality');
    assert.equal(applySample(s, spec, 'import', { ts: t(I0, 400), value: 'x', quality: 'good' }, ref('imp'), opts).kind, 'ignored-quality');
    applySample(s, spec, 'import', { ts: t(I0, 450), value: 45, quality: 'uncertain' }, ref('imp'), opts);
    applySample(s, spec, 'import', { ts: t(I0, 900), value: 90, quality: 'good' }, ref('imp'), opts);
    const [r] = finalizeUpTo(s, spec, t(I0 + 1, 60), opts);
    assert.equal(r!.importWh, 90);
    assert.equal(r!.flags, FLAG_ESTIMATED);
  });

  it('ignores redelivered and out-of-order samples (idempotent by time per channel)', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1 } };
    const s = newMeterState();
    const a = ref('imp');
    const b = ref('imp');
    applySample(s, spec, 'import', { ts: t(I0), value: 0, quality: 'good' }, a, opts);
    applySample(s, spec, 'import', { ts: t(I0, 900), value: 10, quality: 'good' }, b, opts);
    assert.equal(applySample(s, spec, 'import', { ts: t(I0, 900), value: 10, quality: 'good' }, b, opts).kind, 'ignored-order');
    const [r] = finalizeUpTo(s, spec, t(I0 + 1, 60), opts);
    assert.equal(r!.importWh, 10);
    assert.equal(r!.lineage[0]!.count, 2);
  });

  it('carries rounding remainders so the sum of readings follows the measured energy', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1 } };
    const s = newMeterState();
    // 1 Wh spread evenly over 3 intervals (sample at the start of the first, end of the third)
    applySample(s, spec, 'import', { ts: t(I0), value: 0, quality: 'good' }, ref('imp'), opts);
    applySample(s, spec, 'import', { ts: t(I0 + 3), value: 1, quality: 'good' }, ref('imp'), opts);
    const out = finalizeUpTo(s, spec, t(I0 + 3, 60), opts);
    assert.equal(out.reduce((a, r) => a + r.importWh, 0), 1);
  });

  it('keeps its state as plain JSON: a restored state continues exactly', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1 } };
    const s = newMeterState();
    applySample(s, spec, 'import', { ts: t(I0), value: 0, quality: 'good' }, ref('imp'), opts);
    applySample(s, spec, 'import', { ts: t(I0, 450), value: 45, quality: 'good' }, ref('imp'), opts);
    const restored = JSON.parse(JSON.stringify(s)) as typeof s;
    applySample(restored, spec, 'import', { ts: t(I0, 900), value: 90, quality: 'good' }, ref('imp'), opts);
    const [r] = finalizeUpTo(restored, spec, t(I0 + 1, 60), opts);
    assert.equal(r!.importWh, 90);
    assert.equal(r!.flags, 0);
  });

  it('starts after the chain position: intervals up to it are late', () => {
    const spec: MeterSpec = { import: { deviceId: 'm', pointId: 'imp', whPerUnit: 1 } };
    const s = newMeterState(I0 + 1);
    assert.equal(applySample(s, spec, 'import', { ts: t(I0, 10), value: 0, quality: 'good' }, ref('imp'), opts).kind, 'late');
    const o = applySample(s, spec, 'import', { ts: t(I0 + 1, 450), value: 90, quality: 'good' }, ref('imp'), opts);
    assert.equal(o.kind, 'partly-late');
    assert.ok(Math.abs(o.lateWh - (90 * 890) / 1340) < 1e-9, String(o.lateWh));
    assert.deepEqual(finalizeUpTo(s, spec, t(I0 + 1, 60), opts), []);
    const [r] = finalizeUpTo(s, spec, t(I0 + 2, 60), opts);
    assert.equal(r!.interval, I0 + 1);
    assert.equal(r!.flags & FLAG_INCOMPLETE, FLAG_INCOMPLETE);
  });
});
