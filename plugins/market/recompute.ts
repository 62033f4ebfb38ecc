/**
 * Independent recomputation of a settled interval (docs/settlement.md: "anyone can recompute from the
 * on-chain orders"): from an interval's `OrderPlaced` / `OrderCancelled` events, run the clearing rule
 * again and compare it with what was settled (`IntervalSettled` and its `Filled` events). Pure: the
 * caller supplies the decoded events (market-chain.ts reads them from any JSON-RPC endpoint).
 *
 * Cancelled orders take no part. Orders of other intervals are ignored. A difference is reported as a
 * sentence naming the order and both values, never thrown.
 */
import { clear, paymentFor, type ClearingOrder, type ClearingResult } from './clearing.ts';
import type { PlacedOrder } from '../../chain/contracts/client.ts';

/** An `OrderPlaced` event as the recomputation needs it (the client's PlacedOrder carries these and more). */
export type PlacedEvent = Pick<PlacedOrder, 'orderId' | 'interval' | 'owner' | 'isSell' | 'amountWh' | 'limitPrice'>;

export interface FilledEvent {
  orderId: bigint;
  amountWh: bigint;
  mcAmount: bigint;
}

export interface SettledEvent {
  interval: bigint;
  price: bigint;
  volumeWh: bigint;
  fillCount: bigint;
  /** The settlement transaction (for the report). */
  txHash?: string;
  blockNumber?: number;
}

/** Everything the chain says about one interval. */
export interface IntervalEvents {
  interval: bigint;
  placed: PlacedEvent[];
  cancelled: bigint[];
  /** Absent when the interval is not settled (yet). */
  settled?: SettledEvent;
  /** The `Filled` events of the settlement transaction. */
  filled: FilledEvent[];
  /** Orders whose escrow was returned after the settlement (`OrderReleased`). */
  released?: bigint[];
}

export interface Verification {
  interval: bigint;
  /** true when settled and equal to the recomputation. */
  ok: boolean;
  settled: boolean;
  /** The recomputed clearing. */
  expected: ClearingResult;
  /** Live (not cancelled) orders it was computed from. */
  orders: ClearingOrder[];
  problems: string[];
}

/** The interval's live orders as the clearing takes them. */
export function liveOrders(events: IntervalEvents): ClearingOrder[] {
  const cancelled = new Set(events.cancelled);
  return events.placed
    .filter((p) => p.interval === events.interval && !cancelled.has(p.orderId))
    .map((p) => ({ id: p.orderId, side: p.isSell ? 'sell' : 'buy', amountWh: p.amountWh, limitPrice: p.limitPrice }));
}

/** Recomputes the interval and compares it with its settlement. */
export function verifyInterval(events: IntervalEvents): Verification {
  const orders = liveOrders(events);
  const expected = clear(orders);
  const problems: string[] = [];
  const s = events.settled;
  if (s === undefined) {
    return { interval: events.interval, ok: false, settled: false, expected, orders, problems: [`interval ${events.interval} is not settled`] };
  }
  if (s.price !== expected.price) problems.push(`price: settled ${s.price}, recomputed ${expected.price}`);
  if (s.volumeWh !== expected.volumeWh) problems.push(`volume: settled ${s.volumeWh} Wh, recomputed ${expected.volumeWh} Wh`);
  if (s.fillCount !== BigInt(expected.fills.length)) problems.push(`fill count: settled ${s.fillCount}, recomputed ${expected.fills.length}`);
  const settledFills = new Map<bigint, FilledEvent>();
  for (const f of events.filled) {
    if (settledFills.has(f.orderId)) problems.push(`order ${f.orderId}: filled twice in the settlement`);
    settledFills.set(f.orderId, f);
  }
  const sideOf = new Map(orders.map((x) => [x.id, x.side]));
  for (const f of expected.fills) {
    const got = settledFills.get(f.orderId);
    if (got === undefined) problems.push(`order ${f.orderId}: recomputed fill ${f.amountWh} Wh, settled none`);
    else {
      if (got.amountWh !== f.amountWh) problems.push(`order ${f.orderId}: settled fill ${got.amountWh} Wh, recomputed ${f.amountWh} Wh`);
      const pay = paymentFor(f.amountWh, expected.price, sideOf.get(f.orderId));
      if (got.mcAmount !== pay) problems.push(`order ${f.orderId}: settled payment ${got.mcAmount} MC wei, recomputed ${pay}`);
      settledFills.delete(f.orderId);
    }
  }
  for (const extra of settledFills.values()) problems.push(`order ${extra.orderId}: settled fill ${extra.amountWh} Wh, recomputed none`);
  return { interval: events.interval, ok: problems.length === 0, settled: true, expected, orders, problems };
}
