/**
 * The EMPoS schedule: epochs, the active set of each epoch drawn by a stake- and performance-weighted
 * random choice seeded from finalized history, and round-robin proposers within the epoch.
 *
 *   epoch(height)        = floor((height − 1) / epochBlocks)     (block 0 is genesis)
 *   seed(e)              = keccak256("EMPoS/epoch/v1" ‖ e (32 BE) ‖ hash of the last block of epoch e−1,
 *                          or the genesis hash for e = 0) — final, so every honest node derives the same seed
 *   weight(v)            = stake × max(performance‰, 100) / 1000
 *   active set           = up to maxValidators drawn without replacement, P ∝ weight (draws from
 *                          keccak256(seed ‖ counter) mod total weight); all of them when fewer
 *   proposer order       = the active set shuffled with the seed (Fisher–Yates)
 *   proposer(h, round)   = order[(h − firstHeight(epoch) + round) mod n]: round-robin; a round change
 *                          passes the turn to the next validator.
 * Pure functions; no I/O.
 */
import { hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import { keccak256 } from '../execution/crypto.ts';
import type { ValidatorRecord } from './validator-set.ts';

export function epochBlocks(epochSeconds: number, blockTimeMs: number): bigint {
  const n = BigInt(Math.floor((epochSeconds * 1000) / blockTimeMs));
  return n < 1n ? 1n : n;
}

/**
 * The epoch length in blocks — consensus-critical, so a function of the genesis only (its `epochSeconds`
 * and `blockTimeMs`): never a node's local block-time option nor the governed block time, which only pace
 * the blocks. Every node of a network derives the same epochs.
 */
export function genesisEpochBlocks(consensus: { epochSeconds: number; blockTimeMs: number }): bigint {
  return epochBlocks(consensus.epochSeconds, consensus.blockTimeMs);
}

export function epochOf(height: bigint, blocksPerEpoch: bigint): bigint {
  return height <= 0n ? 0n : (height - 1n) / blocksPerEpoch;
}

export function firstHeightOf(epoch: bigint, blocksPerEpoch: bigint): bigint {
  return epoch * blocksPerEpoch + 1n;
}

function u256(n: bigint): Uint8Array {
  return hexToBytes(`0x${n.toString(16).padStart(64, '0')}`);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function epochSeed(epoch: bigint, previousFinalHash: string): Uint8Array {
  return keccak256(concat(new TextEncoder().encode('EMPoS/epoch/v1'), u256(epoch), hexToBytes(previousFinalHash as PrefixedHexString)));
}

/** Deterministic stream of 256-bit numbers from a seed. */
class SeededStream {
  private counter = 0n;
  constructor(private readonly seed: Uint8Array) {}
  next(): bigint {
    const h = keccak256(concat(this.seed, u256(this.counter++)));
    let n = 0n;
    for (const b of h) n = (n << 8n) | BigInt(b);
    return n;
  }
}

export function weightOf(v: Pick<ValidatorRecord, 'stake' | 'performancePermille'>): bigint {
  return (v.stake * BigInt(Math.max(v.performancePermille, 100))) / 1000n;
}

/** Draws up to `max` validators without replacement, with probability proportional to their weight. */
export function drawActiveSet(candidates: readonly ValidatorRecord[], max: number, seed: Uint8Array): string[] {
  const sorted = [...candidates].sort((a, b) => a.address.localeCompare(b.address));
  if (sorted.length <= max) return sorted.map((v) => v.address);
  const pool = sorted.map((v) => ({ address: v.address, weight: weightOf(v) }));
  const rng = new SeededStream(seed);
  const chosen: string[] = [];
  let total = pool.reduce((a, p) => a + p.weight, 0n);
  while (chosen.length < max && pool.length > 0 && total > 0n) {
    let r = rng.next() % total;
    const i = pool.findIndex((p) => {
      if (r < p.weight) return true;
      r -= p.weight;
      return false;
    });
    const [picked] = pool.splice(i, 1);
    chosen.push(picked!.address);
    total -= picked!.weight;
  }
  return chosen;
}

/** The epoch's proposer order: the active set shuffled with the seed. */
export function proposerOrder(active: readonly string[], seed: Uint8Array): string[] {
  const order = [...active].sort();
  const rng = new SeededStream(keccak256(concat(new TextEncoder().encode('EMPoS/order/v1'), seed)));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Number(rng.next() % BigInt(i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export interface EpochSchedule {
  epoch: bigint;
  firstHeight: bigint;
  seed: Uint8Array;
  active: string[];
  order: string[];
}

export function buildSchedule(epoch: bigint, blocksPerEpoch: bigint, previousFinalHash: string, candidates: readonly ValidatorRecord[], maxValidators: number): EpochSchedule {
  const seed = epochSeed(epoch, previousFinalHash);
  const active = drawActiveSet(candidates, maxValidators, seed);
  return { epoch, firstHeight: firstHeightOf(epoch, blocksPerEpoch), seed, active, order: proposerOrder(active, seed) };
}

/** The proposer of `height` in `round` (round 0 first; each round change moves to the next). */
export function proposerFor(schedule: EpochSchedule, height: bigint, round: number): string {
  const n = BigInt(schedule.order.length);
  if (n === 0n) throw new RangeError('empty validator set');
  return schedule.order[Number((height - schedule.firstHeight + BigInt(round)) % n)]!;
}

/** Round timeout: the block time doubled per failed round, capped (so an offline proposer is skipped fast). */
export function roundTimeoutMs(blockTimeMs: number, round: number, capMs = 60_000): number {
  return Math.min(capMs, blockTimeMs * 2 ** Math.min(round, 20));
}
