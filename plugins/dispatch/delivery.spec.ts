import assert from 'node:assert/strict';
import { averageKw, baselineOf, deliveredOf, deliveryOf, liveResponse, rewardOf, type IntervalEnergy } from './delivery.ts';

const S = 900; // 15-min intervals: 96 a day
const PER_DAY = 96n;
const E = (exportWh: number, importWh: number): IntervalEnergy => ({ exportWh: BigInt(exportWh), importWh: BigInt(importWh) });

describe('balancing delivery arithmetic (mirrors BalancingIncentives)', () => {
  const i = 2_000_000n;

  it('averages the same interval of the previous days, skipping days without a reading, floor division', () => {
    const readings = new Map<bigint, IntervalEnergy>([
      [i - PER_DAY, E(100, 400)],
      [i - 2n * PER_DAY, E(101, 300)],
      // day 3 missing
      [i - 4n * PER_DAY, E(100, 201)],
      [i - 11n * PER_DAY, E(9999, 9999)], // beyond 10 days
    ]);
    assert.deepEqual(baselineOf(readings, i, 10, S), { exportWh: 100n, importWh: 300n, found: 3 });
    assert.deepEqual(baselineOf(new Map(), i, 10, S), { exportWh: 0n, importWh: 0n, found: 0 }, 'no history: baseline 0');
    assert.deepEqual(baselineOf(readings, 50n, 10, S), { exportWh: 0n, importWh: 0n, found: 0 }, 'no day before the first');
  });

  it('counts more export or less import for up-events, the opposite for down-events, never negative', () => {
    const base = E(100, 300);
    assert.equal(deliveredOf('up', E(150, 250), base), 100n);
    assert.equal(deliveredOf('up', E(50, 350), base), 0n);
    assert.equal(deliveredOf('down', E(50, 350), base), 100n);
    assert.equal(deliveredOf('down', E(150, 250), base), 0n);
  });

  it('sums the window and refuses a missing reading like the contract', () => {
    const readings = new Map<bigint, IntervalEnergy>([
      [i - PER_DAY, E(0, 1000)],
      [i + 1n - PER_DAY, E(0, 1000)],
      [i, E(200, 0)], // battery discharging: import 1000 → 0 and 200 Wh export: 1200 delivered
      [i + 1n, E(0, 500)], // 500 delivered
    ]);
    assert.equal(deliveryOf(readings, { startInterval: i, endInterval: i + 2n, direction: 'up', baselineDays: 10 }, S), 1700n);
    assert.throws(() => deliveryOf(readings, { startInterval: i, endInterval: i + 3n, direction: 'up', baselineDays: 10 }, S), /MissingReading\(2000002\)/);
  });

  it('pays delivered × rate / 1000 (floor), capped by the pool', () => {
    const rate = 5n * 10n ** 17n; // 0.5 EB per kWh
    assert.deepEqual(rewardOf(1700n, rate, 10n ** 18n), { rewardWei: 850n * 10n ** 15n, poolLeftWei: 150n * 10n ** 15n });
    assert.deepEqual(rewardOf(3000n, rate, 10n ** 18n), { rewardWei: 10n ** 18n, poolLeftWei: 0n });
    assert.equal(rewardOf(1n, 999n, 10n ** 18n).rewardWei, 0n, 'floor');
  });

  it('reports the live response against the baseline and the target', () => {
    assert.equal(averageKw(E(0, 1000), S), -4);
    const r = liveResponse('up', 1, -4, 10);
    assert.deepEqual(r, { measuredKw: 1, baselineKw: -4, deliveredKw: 5, targetKw: 10, ratio: 0.5 });
    assert.equal(liveResponse('down', 1, -4, 10).deliveredKw, -5);
  });
});
