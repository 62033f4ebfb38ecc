/**
 * A small seeded generator of order books for the clearing's property tests and the benchmark
 * (xorshift128+, so a failing case is reproduced from its seed alone). No I/O.
 */
import type { ClearingOrder } from './clearing.ts';

/** A deterministic pseudo-random source. */
export class SeededRandom {
  private s0: bigint;
  private s1: bigint;
  private static readonly MASK = (1n << 64n) - 1n;

  constructor(seed: number) {
    // splitmix64 expands the seed into the two state words (never both zero)
    let x = BigInt(seed) & SeededRandom.MASK;
    const next = (): bigint => {
      x = (x + 0x9e3779b97f4a7c15n) & SeededRandom.MASK;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & SeededRandom.MASK;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & SeededRandom.MASK;
      return z ^ (z >> 31n);
    };
    this.s0 = next();
    this.s1 = next() | 1n;
  }

  /** 64 random bits. */
  next64(): bigint {
    let s1 = this.s0;
    const s0 = this.s1;
    this.s0 = s0;
    s1 = (s1 ^ (s1 << 23n)) & SeededRandom.MASK;
    this.s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return (this.s1 + s0) & SeededRandom.MASK;
  }

  /** Uniform in [lo, hi] (inclusive), bigint. */
  between(lo: bigint, hi: bigint): bigint {
    return lo + (this.next64() % (hi - lo + 1n));
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return Number(this.between(BigInt(lo), BigInt(hi)));
  }

  /** A copy of `items` in a random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const k = this.int(0, i);
      [out[i], out[k]] = [out[k] as T, out[i] as T];
    }
    return out;
  }
}

export interface BookShape {
  /** How many orders (default 1..40). */
  orders?: number;
  /** Limit prices are drawn from this many distinct levels (few levels → many ties). */
  priceLevels?: number;
  /** Price of level 0 and the step between levels, MC wei per kWh. */
  basePrice?: bigint;
  priceStep?: bigint;
  maxAmountWh?: bigint;
  /** First order id (ids are consecutive from it, in a random order in the output). */
  firstId?: bigint;
}

/** A random order book (unique ids, buys and sells mixed, shuffled). */
export function randomBook(rnd: SeededRandom, shape: BookShape = {}): ClearingOrder[] {
  const n = shape.orders ?? rnd.int(1, 40);
  const levels = BigInt(shape.priceLevels ?? rnd.int(1, 12));
  const base = shape.basePrice ?? 100_000_000_000_000_000n; // 0.1 MC per kWh
  const step = shape.priceStep ?? 10_000_000_000_000_000n; // 0.01 MC
  const maxAmount = shape.maxAmountWh ?? 5_000n;
  const first = shape.firstId ?? 0n;
  const out: ClearingOrder[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      id: first + BigInt(i),
      side: rnd.int(0, 1) === 0 ? 'buy' : 'sell',
      amountWh: rnd.between(1n, maxAmount),
      limitPrice: base + rnd.between(0n, levels - 1n) * step + rnd.between(0n, 1n),
    });
  }
  return rnd.shuffle(out);
}
