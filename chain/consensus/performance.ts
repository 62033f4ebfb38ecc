/**
 * Validator performance for the epoch schedule, derived from finalized chain state only (so every node
 * computes the same value): the staking contract's cumulative `offlineSeconds` per validator and its
 * offline clock `chargeableSeconds` (Σ over blocks of min(block interval, the offline-charge cap): the
 * seconds an absentee could be charged — the clock `offlineSeconds` counts on) at two consecutive
 * epoch anchors.
 *
 *   anchor A  = last block of the previous epoch (the one the schedule is seeded from)
 *   anchor A' = A − epoch length (the anchor before), or the genesis when that is ≤ 0
 *   Δoffline  = offlineSeconds(A) − offlineSeconds(A')   (0 when the validator did not exist at A')
 *   Δclock    = chargeableSeconds(A) − chargeableSeconds(A')
 *   performance‰ = floor(1000 × (Δclock − Δoffline) / Δclock), clamped to [0, 1000]; 1000 when Δclock = 0
 *                  or there is no history (epoch 0)
 *
 * On the chargeable clock, not the block timestamps: a validator absent from every certificate scores 0
 * even when blocks come slower than the cap, and a network-wide stall (capped for everyone) moves
 * nobody's score.
 *
 * Integer arithmetic only (bigint); pure, no I/O.
 */

/** Performance in parts per 1,000 over one epoch window (see the module comment). */
export function performancePermille(offlineNow: bigint, offlineBefore: bigint, clockNow: bigint, clockBefore: bigint): number {
  const dt = clockNow - clockBefore;
  if (dt <= 0n) return 1000;
  let dOff = offlineNow - offlineBefore;
  if (dOff <= 0n) return 1000;
  if (dOff > dt) dOff = dt;
  const p = (1000n * (dt - dOff)) / dt;
  return Number(p < 0n ? 0n : p > 1000n ? 1000n : p);
}

/** The anchor before `anchor` (A − epoch length), or undefined when `anchor` is the genesis (no history). */
export function previousAnchor(anchor: bigint, blocksPerEpoch: bigint): bigint | undefined {
  if (anchor <= 0n) return undefined;
  const prev = anchor - blocksPerEpoch;
  return prev < 0n ? 0n : prev;
}
