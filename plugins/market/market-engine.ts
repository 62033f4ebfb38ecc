/**
 * The market service's logic, independent of the kernel: order intake (bounds, interval, compliance,
 * then the chain), automatic orders from DER policies, and the per-interval loop — at gate closure read
 * the interval's orders from the chain, clear them (clearing.ts), submit `settleInterval` as one batch,
 * publish the result on `<prefix>.settlements`.
 *
 * State: the chain is the record. Which intervals have orders and which are settled is read from the
 * market's events at every tick (market-chain.ts), so a restart never settles an interval twice (and the
 * contract refuses a second settlement anyway). Two small files in the plugin's data dir add what the
 * chain cannot know: `orders.jsonl` (which account, principal or policy placed each order) and
 * `published.json` (the last interval published on the bus; publication is at least once).
 *
 * Error policy: a bad request throws INVALID_ARGUMENT (HTTP 400) before anything is sent; a compliance
 * rejection throws COMPLIANCE_VIOLATION (409) naming each module's reason; a refusal by the contract
 * (GateClosed, InsufficientEB, ...) throws INVALID_ARGUMENT with the contract's error — the transaction
 * reverted, so nothing was applied. In the loop a failure degrades the plugin with the reason and is
 * retried at the next tick.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Signer } from 'ethers';
import { EnergyMeshError, errorMessage, isEnergyMeshError } from '../../core/errors.ts';
import type { Logger } from '../../core/logging/logger.ts';
import type { ComplianceTrade } from '../../core/compliance/compliance-module.ts';
import type { TradeCheck } from '../../core/compliance/compliance-manager.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { paymentFor, UINT128_MAX, UINT64_MAX, type ClearingResult, type Side } from './clearing.ts';
import { evaluatePolicy, type DerPolicy } from './der-policy.ts';
import type { MarketChain } from './market-chain.ts';
import { verifyInterval, type Verification } from './recompute.ts';

/** An order as the API receives it (after schema validation: strings for big integers). */
export interface OrderInput {
  account: string;
  side: Side;
  amountWh: string | number;
  /** MC wei per kWh (decimal integer string). */
  limitPrice?: string;
  /** MC per kWh (decimal string, up to 18 decimals). */
  limitPriceMc?: string;
  /** Interval index; default: the next interval still open. */
  interval?: number | string;
}

export interface Principal {
  id: string;
  name: string;
  role: string;
}

/** What the service records about an order it placed (orders.jsonl). */
export interface OrderMeta {
  orderId: string;
  interval: string;
  account: string;
  /** `api:<principal id>` or `policy:<policy id>`. */
  source: string;
  by?: string;
  basis?: string;
  txHash: string;
  at: number;
}

export interface OrderView {
  orderId: string;
  interval: string;
  side: Side;
  owner: string;
  amountWh: string;
  limitPrice: string;
  status: 'open' | 'cancelled' | 'filled' | 'partially-filled' | 'unfilled' | 'closed';
  filledWh?: string;
  account?: string;
  source?: string;
  txHash?: string;
}

export interface SettlementResult {
  interval: string;
  deliveryStart: string;
  deliveryEnd: string;
  price: string;
  volumeWh: string;
  fills: { orderId: string; side: Side; owner: string; amountWh: string; mcAmount: string }[];
  txHash?: string;
  blockNumber?: number;
}

export interface MarketEngineOptions {
  chain: MarketChain;
  /** The SETTLER_ROLE signer. */
  settler: Signer;
  /** A managed account's signer (SettlementService.account). */
  account(name: string): Promise<Signer>;
  /** Accounts the API may place orders for (policies' accounts are added). */
  accounts: readonly string[];
  checkTrade(trade: ComplianceTrade): TradeCheck;
  latestValue(deviceId: string, pointId: string): TelemetryRecord | undefined;
  /** Publishes a result on `<prefix>.settlements`. */
  publish(result: SettlementResult): Promise<void>;
  health: { up(): void; degraded(reason: string): void; current(): { state: string; reason?: string } };
  logger: Logger;
  dataDir: string;
  policies?: readonly DerPolicy[];
  /** Orders may be placed at most this many intervals ahead of the next open one (default 96). */
  maxIntervalsAhead?: number;
  /** Compliance price limits are per MWh in a fiat currency: the rate used to convert MC (absent: prices go as MC per MWh, no currency). */
  referencePrice?: { currency: string; unitsPerMc: number };
  /** Fills one settlement transaction may carry (default MAX_FILLS_PER_SETTLEMENT). */
  maxFillsPerSettlement?: number;
  /** Orders per releaseOrders transaction (default 200). */
  releaseBatch?: number;
  /** Wall clock, epoch ms (tests). */
  now?: () => number;
}

const DIGITS = /^[0-9]+$/;
/** 128 KiB (the pool's and JSON-RPC's transaction size) / 64 bytes per ABI-encoded fill, with room for the rest. */
export const MAX_FILLS_PER_SETTLEMENT = 2_000;
/** Measured on EnergyMarket.settleInterval (bench/settlement.bench.ts: ~35,100 gas per fill), with a margin. */
const SETTLE_GAS_PER_FILL = 40_000n;
const SETTLE_BASE_GAS = 150_000n;
const MC_DECIMAL = /^(0|[1-9][0-9]{0,20})(\.[0-9]{1,18})?$/;

function bad(message: string, field?: string): never {
  throw new EnergyMeshError('INVALID_ARGUMENT', message, { details: field ? { field } : {} });
}

/** Parses a non-negative decimal integer (number or string) within `max`, naming the field when it is not. */
export function parseUint(value: unknown, field: string, max: bigint, min = 1n): bigint {
  let v: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) bad(`${field} must be an integer (send large values as a decimal string)`, field);
    v = BigInt(value);
  } else if (typeof value === 'string' && DIGITS.test(value) && value.length <= 80) v = BigInt(value);
  else bad(`${field} must be a decimal integer`, field);
  if (v < min) bad(`${field} must be at least ${min}`, field);
  if (v > max) bad(`${field} must be at most ${max}`, field);
  return v;
}

/** MC (decimal string, ≤ 18 decimals) to MC wei. */
export function mcToWei(text: string, field = 'limitPriceMc'): bigint {
  if (!MC_DECIMAL.test(text)) bad(`${field} must be a decimal number of MC with at most 18 decimals, e.g. "0.25"`, field);
  const [whole = '0', frac = ''] = text.split('.');
  return BigInt(whole) * 10n ** 18n + BigInt(frac.padEnd(18, '0'));
}

export class MarketEngine {
  private readonly o: MarketEngineOptions;
  private readonly now: () => number;
  private readonly metaFile: string;
  private readonly publishedFile: string;
  private readonly meta = new Map<string, OrderMeta>();
  private lastPublished: bigint | undefined;
  private readonly allowed: Set<string>;
  /** (policy, side, interval) already handled. */
  private readonly policyDone = new Set<string>();
  /** (policy, interval, side) → when a refused policy order may be tried again (epoch ms). */
  private readonly policyRetryAt = new Map<string, number>();
  private ticking: Promise<void> | undefined;
  /** Settled intervals whose unfilled orders are all released. */
  private readonly releasedDone = new Set<bigint>();
  private lastTickError: string | undefined;

  constructor(options: MarketEngineOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    mkdirSync(options.dataDir, { recursive: true });
    this.metaFile = join(options.dataDir, 'orders.jsonl');
    this.publishedFile = join(options.dataDir, 'published.json');
    this.allowed = new Set([...options.accounts, ...(options.policies ?? []).map((p) => p.account)]);
    if (existsSync(this.metaFile)) {
      for (const line of readFileSync(this.metaFile, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const m = JSON.parse(line) as OrderMeta;
          this.meta.set(m.orderId, m);
          if (m.source.startsWith('policy:')) for (const side of ['buy', 'sell']) this.policyDone.add(`${m.source.slice(7)}|${m.interval}|${side}`);
        } catch {
          options.logger.warn({ file: this.metaFile }, 'skipping a torn line of the order log');
        }
      }
    }
    if (existsSync(this.publishedFile)) {
      const p = JSON.parse(readFileSync(this.publishedFile, 'utf8')) as { lastPublished?: string };
      if (p.lastPublished !== undefined) this.lastPublished = BigInt(p.lastPublished);
    }
  }

  get intervalSeconds(): number {
    return this.o.chain.intervalSeconds;
  }

  /** The first interval whose gate is still open at chain time `t` (unix s). */
  async nextOpenInterval(t?: number): Promise<bigint> {
    // the next block is stamped no earlier than the wall clock: a head older than now must not make a
    // closed interval look open
    const now = Math.max(t ?? (await this.o.chain.headTime()), Math.floor(this.now() / 1000) + 1);
    const gate = await this.o.chain.gateClosureSeconds();
    // interval i is closed when now >= i*len - gate
    return BigInt(Math.floor((now + gate) / this.intervalSeconds)) + 1n;
  }

  /** Places an order for a managed account (API). */
  async placeOrder(input: OrderInput, principal: Principal): Promise<OrderView & { complianceFlags: string[] }> {
    if (!this.allowed.has(input.account)) {
      bad(`account ${JSON.stringify(input.account)} is not one this market trades for (configure it under accounts)`, 'account');
    }
    if (input.side !== 'buy' && input.side !== 'sell') bad('side must be buy or sell', 'side');
    const amountWh = parseUint(input.amountWh, 'amountWh', UINT64_MAX);
    if ((input.limitPrice === undefined) === (input.limitPriceMc === undefined)) bad('give exactly one of limitPrice (MC wei per kWh) and limitPriceMc (MC per kWh)', 'limitPrice');
    const limitPrice = input.limitPrice !== undefined ? parseUint(input.limitPrice, 'limitPrice', UINT128_MAX) : mcToWei(input.limitPriceMc as string);
    if (limitPrice <= 0n) bad('limitPriceMc must be above 0', 'limitPriceMc');
    if (limitPrice > UINT128_MAX) bad(`limitPriceMc must be at most ${UINT128_MAX} wei`, 'limitPriceMc');
    // escrow arithmetic must fit the contract's uint256 with room: amount × price
    const open = await this.nextOpenInterval();
    const interval = input.interval === undefined ? open : parseUint(input.interval, 'interval', UINT64_MAX, 0n);
    if (interval < open) {
      bad(`the gate of interval ${interval} is closed (trading closes ${await this.o.chain.gateClosureSeconds()} s before delivery starts); the next open interval is ${open}`, 'interval');
    }
    const ahead = BigInt(this.o.maxIntervalsAhead ?? 96);
    if (interval > open + ahead) bad(`interval ${interval} is more than ${ahead} intervals ahead of the next open one (${open})`, 'interval');
    return this.submit({ account: input.account, side: input.side, amountWh, limitPrice, interval }, `api:${principal.id}`, principal.name);
  }

  /** Cancels an order the service placed (before gate closure). */
  async cancelOrder(orderIdText: string, principal: Principal): Promise<{ orderId: string; cancelled: true; txHash: string }> {
    const orderId = parseUint(orderIdText, 'orderId', UINT64_MAX, 0n);
    const m = this.meta.get(orderId.toString());
    if (m === undefined) bad(`order ${orderId} was not placed through this market service`, 'orderId');
    const signer = await this.o.account(m.account);
    try {
      const out = await this.o.chain.cancelOrder(signer, orderId);
      this.o.logger.info({ orderId: orderId.toString(), by: principal.id }, 'order cancelled');
      return { orderId: orderId.toString(), cancelled: true, txHash: out.txHash };
    } catch (e) {
      throw this.asRequestError(e, 'cancel');
    }
  }

  /** Orders known on chain (with what the service knows about those it placed). */
  async orders(filter: { interval?: bigint; account?: string; limit?: number } = {}): Promise<OrderView[]> {
    await this.o.chain.sync();
    const head = await this.o.chain.headTime();
    const open = await this.nextOpenInterval(head);
    const intervals = filter.interval !== undefined ? [filter.interval] : this.o.chain.intervalsWithOrders();
    const out: OrderView[] = [];
    for (const i of intervals.reverse()) {
      const ev = this.o.chain.intervalEvents(i);
      const cancelled = new Set(ev.cancelled);
      const filled = new Map(ev.filled.map((f) => [f.orderId, f.amountWh]));
      for (const p of [...ev.placed].reverse()) {
        const m = this.meta.get(p.orderId.toString());
        if (filter.account !== undefined && m?.account !== filter.account) continue;
        const f = filled.get(p.orderId) ?? 0n;
        const status: OrderView['status'] = cancelled.has(p.orderId)
          ? 'cancelled'
          : ev.settled !== undefined
            ? f === 0n
              ? 'unfilled'
              : f === p.amountWh
                ? 'filled'
                : 'partially-filled'
            : i >= open
              ? 'open'
              : 'closed';
        out.push({
          orderId: p.orderId.toString(),
          interval: i.toString(),
          side: p.isSell ? 'sell' : 'buy',
          owner: p.owner,
          amountWh: p.amountWh.toString(),
          limitPrice: p.limitPrice.toString(),
          status,
          ...(ev.settled !== undefined ? { filledWh: f.toString() } : {}),
          ...(m ? { account: m.account, source: m.source, txHash: m.txHash } : {}),
        });
        if (out.length >= (filter.limit ?? 1000)) return out;
      }
    }
    return out;
  }

  /** The market's clock and where the loop stands. */
  async intervals(): Promise<Record<string, unknown>> {
    await this.o.chain.sync();
    const head = await this.o.chain.headTime();
    const open = await this.nextOpenInterval(head);
    const settled = new Set(this.o.chain.settledIntervals());
    const pending = this.o.chain.intervalsWithOrders().filter((i) => i < open && !settled.has(i));
    const last = [...settled].pop();
    return {
      intervalSeconds: this.intervalSeconds,
      gateClosureSeconds: await this.o.chain.gateClosureSeconds(),
      chainTime: new Date(head * 1000).toISOString(),
      current: (BigInt(Math.floor(head / this.intervalSeconds))).toString(),
      nextOpen: open.toString(),
      nextGateClosure: new Date((Number(open) * this.intervalSeconds - (await this.o.chain.gateClosureSeconds())) * 1000).toISOString(),
      awaitingSettlement: pending.map(String),
      lastSettled: last?.toString() ?? null,
      health: this.o.health.current(),
    };
  }

  /** A settled interval's result, or undefined. */
  async result(interval: bigint): Promise<SettlementResult | undefined> {
    await this.o.chain.sync();
    return this.resultOf(interval);
  }

  /** The latest settled intervals, newest first. */
  async results(limit = 20): Promise<SettlementResult[]> {
    await this.o.chain.sync();
    return this.o.chain
      .settledIntervals()
      .slice(-limit)
      .reverse()
      .map((i) => this.resultOf(i) as SettlementResult);
  }

  /** Recomputes a settled interval from its on-chain orders and compares (recompute.ts). */
  async verify(interval: bigint): Promise<Verification> {
    await this.o.chain.sync();
    return verifyInterval(this.o.chain.intervalEvents(interval));
  }

  /** One round of the loop: read the chain, place policy orders, settle closed intervals, publish. */
  tick(): Promise<void> {
    this.ticking ??= this.doTick().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Resolves once no loop round is running (for a clean stop). */
  idle(): Promise<void> {
    return this.ticking ?? Promise.resolve();
  }

  private async doTick(): Promise<void> {
    const problems: string[] = [];
    try {
      await this.o.chain.sync();
      const head = await this.o.chain.headTime();
      const open = await this.nextOpenInterval(head);
      await this.runPolicies(open, problems);
      const settled = new Set(this.o.chain.settledIntervals());
      for (const interval of this.o.chain.intervalsWithOrders()) {
        if (interval >= open || settled.has(interval)) continue;
        try {
          await this.settle(interval);
        } catch (e) {
          problems.push(`settlement of interval ${interval} refused: ${errorMessage(e)}`);
          break; // later intervals wait: settle in order
        }
      }
      await this.o.chain.sync();
      await this.publishSettled();
      await this.releaseUnfilled(problems);
    } catch (e) {
      problems.push(`cannot read the chain: ${errorMessage(e)}`);
    }
    const reason = problems.join('; ');
    if (problems.length > 0) {
      if (reason !== this.lastTickError) this.o.logger.warn({ problems }, 'market loop degraded');
      this.o.health.degraded(reason);
    } else if (this.o.health.current().state !== 'up') this.o.health.up();
    this.lastTickError = problems.length > 0 ? reason : undefined;
  }

  /** Clears and settles one closed interval (one batch). */
  async settle(interval: bigint): Promise<ClearingResult> {
    const ev = this.o.chain.intervalEvents(interval);
    if (ev.settled !== undefined) throw new EnergyMeshError('INVALID_ARGUMENT', `interval ${interval} is already settled`);
    const verification = verifyInterval(ev);
    const r = verification.expected;
    // one batch per interval (the contract settles an interval once): refuse early, with the reason, what cannot fit
    const maxFills = this.o.maxFillsPerSettlement ?? MAX_FILLS_PER_SETTLEMENT;
    if (r.fills.length > maxFills) {
      throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `interval ${interval} clears ${r.fills.length} fills; one settleInterval transaction carries at most ${maxFills} (64 bytes per fill, 128 KiB per transaction in the pool and over JSON-RPC)`, {
        details: { fills: r.fills.length, maxFills },
      });
    }
    const gasNeeded = SETTLE_BASE_GAS + SETTLE_GAS_PER_FILL * BigInt(r.fills.length);
    const gasLimit = await this.o.chain.blockGasLimit();
    if (gasNeeded > gasLimit) {
      throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `interval ${interval} clears ${r.fills.length} fills, about ${gasNeeded} gas, above the block gas limit ${gasLimit}: raise gasLimit in the chain's genesis (chain/README.md)`, {
        details: { fills: r.fills.length, gasNeeded: gasNeeded.toString(), gasLimit: gasLimit.toString() },
      });
    }
    const out = await this.o.chain.settleInterval(this.o.settler, interval, r.price, r.fills);
    this.o.logger.info({ interval: interval.toString(), price: r.price.toString(), volumeWh: r.volumeWh.toString(), fills: r.fills.length, tx: out.txHash, gasUsed: out.gasUsed.toString() }, 'interval settled');
    return r;
  }

  /**
   * Unfilled orders of settled intervals keep their escrow until `releaseOrders` (anyone may call it):
   * the service does it for every settled interval, in batches, after publishing.
   */
  private async releaseUnfilled(problems: string[]): Promise<void> {
    const batch = this.o.releaseBatch ?? 200;
    for (const interval of this.o.chain.settledIntervals()) {
      if (this.releasedDone.has(interval)) continue;
      const ev = this.o.chain.intervalEvents(interval);
      const closed = new Set([...ev.cancelled, ...ev.filled.map((f) => f.orderId), ...(ev.released ?? [])]);
      const open = ev.placed.map((p) => p.orderId).filter((id) => !closed.has(id));
      try {
        for (let i = 0; i < open.length; i += batch) {
          const out = await this.o.chain.releaseOrders(this.o.settler, open.slice(i, i + batch));
          this.o.logger.debug({ interval: interval.toString(), orders: Math.min(batch, open.length - i), tx: out.txHash }, 'unfilled orders released');
        }
        this.releasedDone.add(interval);
      } catch (e) {
        problems.push(`releasing the unfilled orders of interval ${interval} failed: ${errorMessage(e)}`);
        return;
      }
    }
  }

  private resultOf(interval: bigint): SettlementResult | undefined {
    const ev = this.o.chain.intervalEvents(interval);
    const s = ev.settled;
    if (s === undefined) return undefined;
    const byId = new Map(ev.placed.map((p) => [p.orderId, p]));
    const len = BigInt(this.intervalSeconds);
    return {
      interval: interval.toString(),
      deliveryStart: new Date(Number(interval * len) * 1000).toISOString(),
      deliveryEnd: new Date(Number((interval + 1n) * len) * 1000).toISOString(),
      price: s.price.toString(),
      volumeWh: s.volumeWh.toString(),
      fills: ev.filled.map((f) => {
        const p = byId.get(f.orderId);
        return { orderId: f.orderId.toString(), side: p?.isSell ? 'sell' : 'buy', owner: p?.owner ?? '', amountWh: f.amountWh.toString(), mcAmount: f.mcAmount.toString() };
      }),
      ...(s.txHash !== undefined ? { txHash: s.txHash } : {}),
      ...(s.blockNumber !== undefined ? { blockNumber: s.blockNumber } : {}),
    };
  }

  private async publishSettled(): Promise<void> {
    for (const interval of this.o.chain.settledIntervals()) {
      if (this.lastPublished !== undefined && interval <= this.lastPublished) continue;
      const result = this.resultOf(interval);
      if (result === undefined) continue;
      await this.o.publish(result);
      this.lastPublished = interval;
      writeFileSync(`${this.publishedFile}.tmp`, JSON.stringify({ lastPublished: interval.toString() }));
      renameSync(`${this.publishedFile}.tmp`, this.publishedFile);
    }
  }

  /**
   * Places the policies' orders for the next open interval, once per (policy, interval, side). A refused
   * order (no EB minted yet, a gate that just closed, the chain busy) is tried again 15 s later while the
   * interval is still open — never twice once placed.
   */
  private async runPolicies(open: bigint, problems: string[]): Promise<void> {
    const now = this.now();
    for (const policy of this.o.policies ?? []) {
      const prefix = `${policy.id}|${open}|`;
      if (this.policyDone.has(`${prefix}buy`) && this.policyDone.has(`${prefix}sell`)) continue;
      for (const outcome of evaluatePolicy(policy, this.o.latestValue, now, this.intervalSeconds)) {
        if ('skip' in outcome) {
          this.o.logger.debug({ policy: policy.id, interval: open.toString(), why: outcome.skip }, 'policy places no order');
          continue;
        }
        const order = outcome.order;
        const key = `${prefix}${order.side}`;
        if (this.policyDone.has(key) || (this.policyRetryAt.get(key) ?? 0) > now) continue;
        try {
          await this.submit({ account: order.account, side: order.side, amountWh: order.amountWh, limitPrice: order.limitPrice, interval: open }, `policy:${policy.id}`, undefined, order.basis);
          this.policyDone.add(key);
          this.policyRetryAt.delete(key);
        } catch (e) {
          this.policyRetryAt.set(key, now + 15_000);
          problems.push(`policy ${policy.id} could not place its ${order.side} order for interval ${open} (tried again in 15 s): ${errorMessage(e)}`);
        }
      }
    }
    for (const key of this.policyRetryAt.keys()) if (BigInt(key.split('|')[1] ?? '0') < open) this.policyRetryAt.delete(key);
  }

  private complianceTrade(o: { account: string; side: Side; amountWh: bigint; limitPrice: bigint; interval: bigint }, owner: string): ComplianceTrade {
    const len = this.intervalSeconds * 1000;
    // MC wei per kWh → MC per MWh
    const mcPerMwh = Number(o.limitPrice) / 1e15;
    const ref = this.o.referencePrice;
    return {
      id: `order:${o.account}:${o.interval}:${this.now()}`,
      seller: o.side === 'sell' ? owner : 'market',
      buyer: o.side === 'buy' ? owner : 'market',
      deliveryStart: Number(o.interval) * len,
      deliveryEnd: (Number(o.interval) + 1) * len,
      energyWh: Number(o.amountWh),
      price: ref ? mcPerMwh * ref.unitsPerMc : mcPerMwh,
      ...(ref ? { currency: ref.currency } : {}),
      submittedAt: this.now(),
      tags: { side: o.side, account: o.account },
    };
  }

  private async submit(
    o: { account: string; side: Side; amountWh: bigint; limitPrice: bigint; interval: bigint },
    source: string,
    by?: string,
    basis?: string,
  ): Promise<OrderView & { complianceFlags: string[] }> {
    const signer = await this.o.account(o.account);
    const owner = await signer.getAddress();
    const check = this.o.checkTrade(this.complianceTrade(o, owner));
    if (!check.accepted) {
      const reasons = check.verdicts.filter((v) => v.action === 'reject').map((v) => `${v.module}: ${v.reason}`);
      throw new EnergyMeshError('COMPLIANCE_VIOLATION', `order refused by compliance (${reasons.join(', ')})`, { details: { verdicts: check.verdicts } });
    }
    const flags = check.verdicts.filter((v) => v.action === 'flag').map((v) => `${v.module}: ${v.reason}`);
    try {
      if (o.side === 'buy') {
        // escrow = amount × limit / 1000 plus the maximum fee (≤ 100 %): allow twice the payment
        await this.o.chain.ensureAllowance(signer, 2n * paymentFor(o.amountWh, o.limitPrice) + 1n);
      }
      const placed = await this.o.chain.placeOrder(signer, { interval: o.interval, isSell: o.side === 'sell', amountWh: o.amountWh, limitPrice: o.limitPrice });
      const meta: OrderMeta = { orderId: placed.orderId.toString(), interval: o.interval.toString(), account: o.account, source, ...(by ? { by } : {}), ...(basis ? { basis } : {}), txHash: placed.txHash, at: this.now() };
      this.meta.set(meta.orderId, meta);
      appendFileSync(this.metaFile, `${JSON.stringify(meta)}\n`);
      this.o.logger.info({ ...meta }, 'order placed');
      return {
        orderId: meta.orderId,
        interval: meta.interval,
        side: o.side,
        owner,
        amountWh: o.amountWh.toString(),
        limitPrice: o.limitPrice.toString(),
        status: 'open',
        account: o.account,
        source,
        txHash: placed.txHash,
        complianceFlags: flags,
      };
    } catch (e) {
      throw this.asRequestError(e, 'order');
    }
  }

  /** A contract refusal of a request is the caller's problem (400); a transport failure is not. */
  private asRequestError(e: unknown, what: string): unknown {
    if (isEnergyMeshError(e, 'SETTLEMENT_REVERTED')) {
      const reason = typeof e.details.reason === 'string' ? e.details.reason : e.message;
      return new EnergyMeshError('INVALID_ARGUMENT', `the chain refused the ${what}: ${reason}`, { cause: e, details: { reason } });
    }
    return e;
  }
}
