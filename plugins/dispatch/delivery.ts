/**
 * Balancing delivery arithmetic, mirroring BalancingIncentives and MeterRegistry (docs/settlement.md):
 * the baseline of an interval is the floor-average of the meter's attested readings at the same interval
 * on each of the previous `baselineDays` days (days without a reading skipped; none → 0); per interval,
 * delivered Wh = up: max(0, (export − baseExport) + (baseImport − import)), down: the opposite sign; the
 * reward is `delivered × rewardPerKwh / 1000` (floor), capped by what is left in the pool.
 * Pure bigint functions, so dispatch can predict a payout and tests can check the contract against it.
 * Also the live view: delivered kW now against the baseline and the target.
 */

export interface IntervalEnergy {
  exportWh: bigint;
  importWh: bigint;
}

/** The baseline of `interval` from a meter's readings (interval → energy), as `MeterRegistry.baselineOf`. */
export function baselineOf(readings: ReadonlyMap<bigint, IntervalEnergy>, interval: bigint, baselineDays: number, intervalSeconds: number): IntervalEnergy & { found: number } {
  const perDay = BigInt(86_400 / intervalSeconds);
  let sumExport = 0n;
  let sumImport = 0n;
  let found = 0;
  for (let d = 1n; d <= BigInt(baselineDays); d++) {
    if (d * perDay > interval) break;
    const r = readings.get(interval - d * perDay);
    if (r === undefined) continue;
    sumExport += r.exportWh;
    sumImport += r.importWh;
    found++;
  }
  if (found === 0) return { exportWh: 0n, importWh: 0n, found };
  return { exportWh: sumExport / BigInt(found), importWh: sumImport / BigInt(found), found };
}

/** Delivered Wh of one interval against its baseline. */
export function deliveredOf(direction: 'up' | 'down', actual: IntervalEnergy, baseline: IntervalEnergy): bigint {
  let d = actual.exportWh - baseline.exportWh + (baseline.importWh - actual.importWh);
  if (direction === 'down') d = -d;
  return d > 0n ? d : 0n;
}

/**
 * Delivered Wh over `[startInterval, endInterval)`, as `BalancingIncentives.deliveryOf`. Throws naming the
 * first interval without a reading (the contract's MissingReading).
 */
export function deliveryOf(readings: ReadonlyMap<bigint, IntervalEnergy>, e: { startInterval: bigint; endInterval: bigint; direction: 'up' | 'down'; baselineDays: number }, intervalSeconds: number): bigint {
  let total = 0n;
  for (let i = e.startInterval; i < e.endInterval; i++) {
    const actual = readings.get(i);
    if (actual === undefined) throw new RangeError(`MissingReading(${i})`);
    total += deliveredOf(e.direction, actual, baselineOf(readings, i, e.baselineDays, intervalSeconds));
  }
  return total;
}

/** The reward of a delivery and the pool left, settling meters in order as the contract does. */
export function rewardOf(deliveredWh: bigint, rewardPerKwh: bigint, poolWei: bigint): { rewardWei: bigint; poolLeftWei: bigint } {
  let reward = (deliveredWh * rewardPerKwh) / 1000n;
  if (reward > poolWei) reward = poolWei;
  return { rewardWei: reward, poolLeftWei: poolWei - reward };
}

/** The live response of an event: kW (net export positive) measured, expected from the baseline, delivered. */
export interface LiveResponse {
  measuredKw: number;
  baselineKw: number;
  deliveredKw: number;
  targetKw: number;
  /** delivered / target (0 when the target is 0). */
  ratio: number;
}

/**
 * `measuredNetExportKw` and `baselineNetExportKw` are sums over the enrolled meters (export − import);
 * up-events deliver more net export than the baseline, down-events less.
 */
export function liveResponse(direction: 'up' | 'down', measuredNetExportKw: number, baselineNetExportKw: number, targetKw: number): LiveResponse {
  const raw = measuredNetExportKw - baselineNetExportKw;
  const deliveredKw = direction === 'up' ? raw : -raw;
  return { measuredKw: measuredNetExportKw, baselineKw: baselineNetExportKw, deliveredKw, targetKw, ratio: targetKw > 0 ? deliveredKw / targetKw : 0 };
}

/** Average net export kW of an interval's energy (Wh over the interval length). */
export function averageKw(e: IntervalEnergy, intervalSeconds: number): number {
  return (Number(e.exportWh - e.importWh) * 3600) / intervalSeconds / 1000;
}
