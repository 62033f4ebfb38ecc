/**
 * An in-memory MarketChain for tests of the service's logic: it keeps orders and settlements the way
 * the EnergyMarket contract does and refuses what the contract refuses (GateClosed, InvalidOrder,
 * IntervalAlreadySettled, FillExceedsOrder, PriceBelowAsk/PriceAboveBid, EnergyNotConserved,
 * FillsNotAscending) with SETTLEMENT_REVERTED, the way EthersMarketChain reports a revert. Escrow and
 * balances are not modelled (the integration tests check those on the real contracts).
 */
import type { Signer } from 'ethers';
import { EnergyMeshError } from '../../core/errors.ts';
import { paymentFor, type ClearingFill } from './clearing.ts';
import type { MarketChain, OrderRequest, TxOutcome } from './market-chain.ts';
import type { IntervalEvents, PlacedEvent } from './recompute.ts';

export class MemoryMarketChain implements MarketChain {
  readonly intervalSeconds: number;
  /** Chain time, unix seconds (tests move it). */
  time: number;
  gate = 0;
  /** When set, the next settleInterval throws this reason. */
  failNextSettle: string | undefined;
  readonly settleCalls: bigint[] = [];
  private nextId = 0n;
  private block = 0;
  private readonly placed: PlacedEvent[] = [];
  private readonly cancelled = new Set<bigint>();
  private readonly released = new Set<bigint>();
  private readonly settled = new Map<bigint, { price: bigint; volumeWh: bigint; fills: { orderId: bigint; amountWh: bigint; mcAmount: bigint }[]; txHash: string; blockNumber: number }>();

  constructor(intervalSeconds = 300, time = 1_800_000_000) {
    this.intervalSeconds = intervalSeconds;
    this.time = time;
  }

  gateClosureSeconds(): Promise<number> {
    return Promise.resolve(this.gate);
  }

  headTime(): Promise<number> {
    return Promise.resolve(this.time);
  }

  /** The block gas limit the chain reports (tests lower it). */
  gasLimit = 30_000_000n;

  blockGasLimit(): Promise<bigint> {
    return Promise.resolve(this.gasLimit);
  }

  ensureAllowance(): Promise<void> {
    return Promise.resolve();
  }

  async placeOrder(owner: Signer, order: OrderRequest): Promise<TxOutcome & { orderId: bigint }> {
    if (this.time >= Number(order.interval) * this.intervalSeconds - this.gate) throw revert(`GateClosed(${order.interval})`);
    if (order.amountWh === 0n || order.limitPrice === 0n) throw revert('InvalidOrder(zero)');
    const orderId = this.nextId++;
    this.placed.push({ orderId, interval: order.interval, owner: await owner.getAddress(), isSell: order.isSell, amountWh: order.amountWh, limitPrice: order.limitPrice });
    return { ...this.tx(), orderId };
  }

  cancelOrder(_owner: Signer, orderId: bigint): Promise<TxOutcome> {
    const p = this.placed.find((x) => x.orderId === orderId);
    if (p === undefined) return Promise.reject(revert(`UnknownOrder(${orderId})`));
    if (this.time >= Number(p.interval) * this.intervalSeconds - this.gate) return Promise.reject(revert(`GateClosed(${p.interval})`));
    this.cancelled.add(orderId);
    return Promise.resolve(this.tx());
  }

  releaseOrders(_signer: Signer, orderIds: readonly bigint[]): Promise<TxOutcome> {
    for (const id of orderIds) {
      const p = this.placed.find((x) => x.orderId === id);
      if (p === undefined || this.cancelled.has(id) || this.released.has(id)) continue;
      if (!this.settled.has(p.interval)) return Promise.reject(revert(`IntervalNotClosed(${p.interval})`));
      if (this.settled.get(p.interval)?.fills.some((f) => f.orderId === id)) continue; // closed by its fill
      this.released.add(id);
    }
    return Promise.resolve(this.tx());
  }

  settleInterval(_settler: Signer, interval: bigint, price: bigint, fills: readonly ClearingFill[]): Promise<TxOutcome> {
    this.settleCalls.push(interval);
    const fail = (r: string): Promise<TxOutcome> => Promise.reject(revert(r));
    if (this.failNextSettle !== undefined) {
      const r = this.failNextSettle;
      this.failNextSettle = undefined;
      return fail(r);
    }
    if (this.settled.has(interval)) return fail(`IntervalAlreadySettled(${interval})`);
    if (this.time < Number(interval) * this.intervalSeconds - this.gate) return fail(`GateNotClosed(${interval})`);
    let sold = 0n;
    let bought = 0n;
    let last = -1n;
    for (const f of fills) {
      const p = this.placed.find((x) => x.orderId === f.orderId);
      if (f.orderId <= last) return fail('FillsNotAscending()');
      last = f.orderId;
      if (p === undefined || p.interval !== interval) return fail(`OrderNotInInterval(${f.orderId})`);
      if (this.cancelled.has(f.orderId)) return fail(`OrderCancelled(${f.orderId})`);
      if (f.amountWh > p.amountWh) return fail(`FillExceedsOrder(${f.orderId}, ${f.amountWh}, ${p.amountWh})`);
      if (p.isSell && p.limitPrice > price) return fail(`PriceBelowAsk(${f.orderId})`);
      if (!p.isSell && p.limitPrice < price) return fail(`PriceAboveBid(${f.orderId})`);
      if (p.isSell) sold += f.amountWh;
      else bought += f.amountWh;
    }
    if (sold !== bought) return fail(`EnergyNotConserved(${sold}, ${bought})`);
    const out = this.tx();
    this.settled.set(interval, { price, volumeWh: sold, fills: fills.map((f) => ({ ...f, mcAmount: paymentFor(f.amountWh, price, this.placed.find((x) => x.orderId === f.orderId)?.isSell ? 'sell' : 'buy') })), txHash: out.txHash, blockNumber: out.blockNumber });
    return Promise.resolve(out);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  intervalEvents(interval: bigint): IntervalEvents {
    const s = this.settled.get(interval);
    return {
      interval,
      placed: this.placed.filter((p) => p.interval === interval),
      cancelled: [...this.cancelled].filter((id) => this.placed.find((p) => p.orderId === id)?.interval === interval),
      ...(s ? { settled: { interval, price: s.price, volumeWh: s.volumeWh, fillCount: BigInt(s.fills.length), txHash: s.txHash, blockNumber: s.blockNumber } } : {}),
      filled: s?.fills ?? [],
      released: [...this.released].filter((id) => this.placed.find((p) => p.orderId === id)?.interval === interval),
    };
  }

  intervalsWithOrders(): bigint[] {
    return [...new Set(this.placed.map((p) => p.interval))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  settledIntervals(): bigint[] {
    return [...this.settled.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  close(): void {}

  private tx(): TxOutcome {
    this.block++;
    return { txHash: `0x${this.block.toString(16).padStart(64, '0')}`, blockNumber: this.block, gasUsed: 21_000n };
  }
}

function revert(reason: string): EnergyMeshError {
  return new EnergyMeshError('SETTLEMENT_REVERTED', `the market contract refused: ${reason}`, { details: { reason } });
}
