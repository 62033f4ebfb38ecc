/**
 * The market's clearing rule (docs/settlement.md, "Clearing rule"): a uniform-price double auction per
 * settlement interval, as a pure, deterministic function over bigint quantities. The market service
 * runs it at gate closure; `recompute.ts` runs it again from the chain's events so anyone can check a
 * settled interval.
 *
 *   bids: limit price descending, then order id ascending
 *   asks: limit price ascending,  then order id ascending
 *   walk both books while best bid ≥ best ask, matching min(remaining bid, remaining ask)
 *   price = floor((last matched bid's limit + last matched ask's limit) / 2)
 *   fills: what each order matched in the walk (only the marginal orders can be partial), ascending id
 *
 * The walk matches the maximum volume a uniform price allows (bids are non-increasing and asks
 * non-decreasing along it, so once a pair does not cross no later pair does). Every matched bid's limit
 * is ≥ the last matched bid's ≥ price, every matched ask's ≤ the last matched ask's ≤ price, which is what
 * `EnergyMarket.settleInterval` checks (`PriceAboveBid`, `PriceBelowAsk`).
 *
 * Error policy: malformed input (zero or negative amount or price, duplicate id, value beyond the
 * contract's integer widths) throws INVALID_ARGUMENT; the function never returns a partial result.
 */
import { EnergyMeshError } from '../../core/errors.ts';

/** `uint64` (order ids, amounts in Wh, intervals). */
export const UINT64_MAX = (1n << 64n) - 1n;
/** `uint128` (prices). */
export const UINT128_MAX = (1n << 128n) - 1n;

export type Side = 'buy' | 'sell';

/** An order as the clearing sees it (cancelled orders are left out by the caller). */
export interface ClearingOrder {
  id: bigint;
  side: Side;
  /** Energy in Wh (> 0, ≤ uint64). */
  amountWh: bigint;
  /** MC wei per kWh (> 0, ≤ uint128): the most a buyer pays, the least a seller takes. */
  limitPrice: bigint;
}

export interface ClearingFill {
  orderId: bigint;
  amountWh: bigint;
}

export interface ClearingResult {
  /** The uniform price, MC wei per kWh; 0 when nothing crosses. */
  price: bigint;
  /** Energy matched (= sold = bought), Wh. */
  volumeWh: bigint;
  /** Every order with a non-zero fill, ascending order id (buys and sells mixed). */
  fills: ClearingFill[];
  /** The last matched bid and ask (their limits set the price); absent when nothing crosses. */
  marginalBid?: bigint;
  marginalAsk?: bigint;
}

/**
 * MC wei for `amountWh` at `price` (MC wei per kWh), as EnergyMarket.settleInterval moves it: a seller
 * receives `floor(amountWh × price / 1000)`, a buyer pays `ceil(amountWh × price / 1000)` (plus the fee);
 * the rounding dust goes to the treasury, so MC is conserved exactly.
 */
export function paymentFor(amountWh: bigint, price: bigint, side: Side = 'sell'): bigint {
  const x = amountWh * price;
  return side === 'sell' ? x / 1000n : (x + 999n) / 1000n;
}

/** Checks one order's fields; throws INVALID_ARGUMENT naming the order and the field. */
export function validateOrder(o: ClearingOrder): void {
  const bad = (field: string, why: string): never => {
    throw new EnergyMeshError('INVALID_ARGUMENT', `order ${String(o.id)}: ${field} ${why}`, { details: { orderId: String(o.id), field } });
  };
  if (typeof o.id !== 'bigint' || o.id < 0n || o.id > UINT64_MAX) bad('id', 'must be a uint64');
  if (o.side !== 'buy' && o.side !== 'sell') bad('side', 'must be buy or sell');
  if (typeof o.amountWh !== 'bigint' || o.amountWh <= 0n || o.amountWh > UINT64_MAX) bad('amountWh', 'must be between 1 and 2^64-1');
  if (typeof o.limitPrice !== 'bigint' || o.limitPrice <= 0n || o.limitPrice > UINT128_MAX) bad('limitPrice', 'must be between 1 and 2^128-1');
}

function byId(a: { id: bigint }, b: { id: bigint }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Clears one interval's live orders (see the file comment). Input order is irrelevant. */
export function clear(orders: readonly ClearingOrder[]): ClearingResult {
  const seen = new Set<bigint>();
  for (const o of orders) {
    validateOrder(o);
    if (seen.has(o.id)) throw new EnergyMeshError('INVALID_ARGUMENT', `order ${String(o.id)} appears twice`, { details: { orderId: String(o.id) } });
    seen.add(o.id);
  }
  const bids = orders.filter((o) => o.side === 'buy').sort((a, b) => (a.limitPrice > b.limitPrice ? -1 : a.limitPrice < b.limitPrice ? 1 : byId(a, b)));
  const asks = orders.filter((o) => o.side === 'sell').sort((a, b) => (a.limitPrice < b.limitPrice ? -1 : a.limitPrice > b.limitPrice ? 1 : byId(a, b)));

  const filled = new Map<bigint, bigint>();
  let i = 0;
  let j = 0;
  let bidLeft = bids[0]?.amountWh ?? 0n;
  let askLeft = asks[0]?.amountWh ?? 0n;
  let volume = 0n;
  let lastBid: ClearingOrder | undefined;
  let lastAsk: ClearingOrder | undefined;
  while (i < bids.length && j < asks.length) {
    const bid = bids[i] as ClearingOrder;
    const ask = asks[j] as ClearingOrder;
    if (bid.limitPrice < ask.limitPrice) break;
    const q = bidLeft < askLeft ? bidLeft : askLeft;
    filled.set(bid.id, (filled.get(bid.id) ?? 0n) + q);
    filled.set(ask.id, (filled.get(ask.id) ?? 0n) + q);
    volume += q;
    lastBid = bid;
    lastAsk = ask;
    bidLeft -= q;
    askLeft -= q;
    if (bidLeft === 0n) bidLeft = bids[++i]?.amountWh ?? 0n;
    if (askLeft === 0n) askLeft = asks[++j]?.amountWh ?? 0n;
  }
  if (lastBid === undefined || lastAsk === undefined) return { price: 0n, volumeWh: 0n, fills: [] };
  const fills = [...filled].map(([orderId, amountWh]) => ({ orderId, amountWh })).sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
  return { price: (lastBid.limitPrice + lastAsk.limitPrice) / 2n, volumeWh: volume, fills, marginalBid: lastBid.id, marginalAsk: lastAsk.id };
}
