/**
 * The market service's view of the EnergyMarket contract (docs/settlement.md): place and cancel orders,
 * read an interval's orders and its settlement back from the chain's events, submit `settleInterval`.
 * `MarketChain` is the seam: `EthersMarketChain` talks to any JSON-RPC endpoint; tests of the service's
 * logic use an in-memory implementation.
 *
 * Reading: one incremental scan of the market's logs (`eth_getLogs` in block ranges, halved when the
 * node refuses a range as too large) keeps an index interval → orders, cancellations and settlement;
 * The ABI is the compiled EnergyMarket artifact (chain/contracts/artifacts), reverts are decoded with
 * chain/contracts/client.ts. `Filled` events are tied to their interval through the settlement transaction they are in. Nothing is
 * kept on disk: after a restart the index is rebuilt from the chain, so what was settled is known from
 * the chain alone.
 *
 * Error policy: a refusal by the contract (custom error) throws SETTLEMENT_REVERTED with the error's name
 * and arguments in the message and `details.reason`; transport failures are retriable.
 */
import { Contract, Interface, MaxUint256, isError, type Log, type Provider, type Signer, type TransactionResponse } from 'ethers';
import { waitForReceipt } from '../../chain/contracts/wait-receipt.ts';
import { EnergyMeshError, errorMessage } from '../../core/errors.ts';
import { loadArtifact } from '../../chain/contracts/artifacts.ts';
import { decodeContractError } from '../../chain/contracts/client.ts';
import type { ClearingFill } from './clearing.ts';
import type { IntervalEvents, PlacedEvent } from './recompute.ts';

export interface OrderRequest {
  interval: bigint;
  isSell: boolean;
  amountWh: bigint;
  limitPrice: bigint;
}

export interface TxOutcome {
  txHash: string;
  blockNumber: number;
  gasUsed: bigint;
}

export interface MarketChain {
  /** Settlement interval length, seconds. */
  readonly intervalSeconds: number;
  /** Seconds before an interval's start at which its gate closes. */
  gateClosureSeconds(): Promise<number>;
  /** The latest block's timestamp, unix seconds (the contract's notion of now). */
  headTime(): Promise<number>;
  /** Places an order from `owner` (escrow handled by the contract); resolves once it is in a block. */
  placeOrder(owner: Signer, order: OrderRequest): Promise<TxOutcome & { orderId: bigint }>;
  cancelOrder(owner: Signer, orderId: bigint): Promise<TxOutcome>;
  /** Lets the market escrow up to `mcWei` of `owner`'s MC for buy orders (approves when the allowance is short). */
  ensureAllowance(owner: Signer, mcWei: bigint): Promise<void>;
  /** Returns the escrow of open orders of a settled or expired interval (anyone may). */
  releaseOrders(signer: Signer, orderIds: readonly bigint[]): Promise<TxOutcome>;
  /** Settles an interval (the caller holds SETTLER_ROLE). */
  settleInterval(settler: Signer, interval: bigint, price: bigint, fills: readonly ClearingFill[]): Promise<TxOutcome>;
  /** Reads new blocks into the index. */
  sync(): Promise<void>;
  /** The interval's events as indexed (call `sync()` first for the latest). */
  intervalEvents(interval: bigint): IntervalEvents;
  /** Intervals with at least one order, ascending. */
  intervalsWithOrders(): bigint[];
  /** Intervals settled on chain, ascending. */
  settledIntervals(): bigint[];
  /** The block gas limit of the latest block. */
  blockGasLimit(): Promise<bigint>;
  close(): void;
}

const ERC20_ABI = ['function allowance(address owner, address spender) view returns (uint256)', 'function approve(address spender, uint256 amount) returns (bool)'];

export interface EthersMarketChainOptions {
  provider: Provider;
  address: string;
  /** The MeshCoin (MC) token, for allowances of buy orders. */
  meshCoin: string;
  intervalSeconds: number;
  /** First block to scan (default 0). */
  fromBlock?: number;
  /** Largest block range per eth_getLogs (default 5,000). */
  maxRange?: number;
}

interface IndexedInterval {
  placed: PlacedEvent[];
  cancelled: bigint[];
  settled?: IntervalEvents['settled'];
  filled: IntervalEvents['filled'];
  released: bigint[];
}

/** A revert as `Name(arg, ...)` (any custom error of the suite, Error(string), Panic); undefined when none. */
export function decodeRevert(e: unknown): string | undefined {
  const d = decodeContractError(e);
  return d === undefined ? undefined : `${d.name}(${d.args.map((a) => (typeof a === 'bigint' ? a.toString() : String(a))).join(', ')})`;
}

export class EthersMarketChain implements MarketChain {
  readonly intervalSeconds: number;
  private readonly provider: Provider;
  private readonly iface: Interface;
  private readonly contract: Contract;
  private readonly address: string;
  private readonly meshCoin: Contract;
  private readonly maxRange: number;
  private scannedTo: number;
  private readonly index = new Map<bigint, IndexedInterval>();
  private readonly orderInterval = new Map<bigint, bigint>();
  private syncing: Promise<void> | undefined;
  private gate: { value: number; at: number } | undefined;

  constructor(options: EthersMarketChainOptions) {
    this.provider = options.provider;
    this.address = options.address;
    this.intervalSeconds = options.intervalSeconds;
    this.iface = new Interface(loadArtifact('EnergyMarket').abi as never[]);
    this.contract = new Contract(options.address, this.iface, options.provider);
    this.meshCoin = new Contract(options.meshCoin, ERC20_ABI, options.provider);
    this.maxRange = options.maxRange ?? 5_000;
    this.scannedTo = (options.fromBlock ?? 0) - 1;
  }

  /** From `parameters()` (governance may change it), cached for 10 s. */
  async gateClosureSeconds(): Promise<number> {
    if (this.gate === undefined || Date.now() - this.gate.at > 10_000) {
      const p = await this.view<{ gateClosureSeconds: bigint }>('parameters');
      this.gate = { value: Number(p.gateClosureSeconds), at: Date.now() };
    }
    return this.gate.value;
  }

  async headTime(): Promise<number> {
    const block = await this.provider.getBlock('latest');
    if (block === null) throw new EnergyMeshError('NOT_CONNECTED', 'the chain returned no latest block', { retriable: true });
    return block.timestamp;
  }

  async blockGasLimit(): Promise<bigint> {
    const block = await this.provider.getBlock('latest');
    return block?.gasLimit ?? 30_000_000n;
  }

  async placeOrder(owner: Signer, order: OrderRequest): Promise<TxOutcome & { orderId: bigint }> {
    const outcome = await this.send(owner, 'placeOrder', [order.interval, order.isSell, order.amountWh, order.limitPrice]);
    const placed = outcome.logs.map((l) => this.parse(l)).find((p) => p?.name === 'OrderPlaced');
    if (placed === undefined || placed === null) throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'placeOrder succeeded without an OrderPlaced event', { details: { tx: outcome.txHash } });
    return { txHash: outcome.txHash, blockNumber: outcome.blockNumber, gasUsed: outcome.gasUsed, orderId: placed.args.getValue('orderId') as bigint };
  }

  async cancelOrder(owner: Signer, orderId: bigint): Promise<TxOutcome> {
    const { txHash, blockNumber, gasUsed } = await this.send(owner, 'cancelOrder', [orderId]);
    return { txHash, blockNumber, gasUsed };
  }

  async ensureAllowance(owner: Signer, mcWei: bigint): Promise<void> {
    const holder = await owner.getAddress();
    let allowance: bigint;
    try {
      allowance = (await this.meshCoin.getFunction('allowance')(holder, this.address)) as bigint;
    } catch (e) {
      throw new EnergyMeshError('NOT_CONNECTED', `reading the MC allowance failed: ${errorMessage(e)}`, { retriable: true, cause: e });
    }
    if (allowance >= mcWei) return;
    const token = this.meshCoin.connect(owner) as Contract;
    try {
      const tx = (await token.getFunction('approve')(this.address, MaxUint256)) as TransactionResponse;
      const receipt = await waitForReceipt(tx);
      if (receipt.status !== 1) throw new EnergyMeshError('SETTLEMENT_REVERTED', 'approving MC for the market reverted');
    } catch (e) {
      if (e instanceof EnergyMeshError) throw e;
      throw new EnergyMeshError('NOT_CONNECTED', `approving MC for the market failed: ${errorMessage(e)}`, { retriable: true, cause: e });
    }
  }

  async releaseOrders(signer: Signer, orderIds: readonly bigint[]): Promise<TxOutcome> {
    const { txHash, blockNumber, gasUsed } = await this.send(signer, 'releaseOrders', [[...orderIds]]);
    return { txHash, blockNumber, gasUsed };
  }

  async settleInterval(settler: Signer, interval: bigint, price: bigint, fills: readonly ClearingFill[]): Promise<TxOutcome> {
    const tuple = fills.map((f) => [f.orderId, f.amountWh]);
    const { txHash, blockNumber, gasUsed } = await this.send(settler, 'settleInterval', [interval, price, tuple]);
    return { txHash, blockNumber, gasUsed };
  }

  sync(): Promise<void> {
    this.syncing ??= this.doSync().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  intervalEvents(interval: bigint): IntervalEvents {
    const e = this.index.get(interval);
    return {
      interval,
      placed: [...(e?.placed ?? [])],
      cancelled: [...(e?.cancelled ?? [])],
      ...(e?.settled !== undefined ? { settled: e.settled } : {}),
      filled: [...(e?.filled ?? [])],
      released: [...(e?.released ?? [])],
    };
  }

  intervalsWithOrders(): bigint[] {
    return [...this.index].filter(([, e]) => e.placed.length > 0).map(([i]) => i).sort(cmp);
  }

  settledIntervals(): bigint[] {
    return [...this.index].filter(([, e]) => e.settled !== undefined).map(([i]) => i).sort(cmp);
  }

  close(): void {
    // the provider belongs to the settlement plugin
  }

  private entry(interval: bigint): IndexedInterval {
    let e = this.index.get(interval);
    if (e === undefined) {
      e = { placed: [], cancelled: [], filled: [], released: [] };
      this.index.set(interval, e);
    }
    return e;
  }

  private parse(log: Log): ReturnType<Interface['parseLog']> {
    try {
      return this.iface.parseLog({ topics: [...log.topics], data: log.data });
    } catch {
      return null;
    }
  }

  private async doSync(): Promise<void> {
    const head = await this.provider.getBlockNumber();
    let from = this.scannedTo + 1;
    let range = this.maxRange;
    while (from <= head) {
      const to = Math.min(head, from + range - 1);
      let logs: Log[];
      try {
        logs = await this.provider.getLogs({ address: this.address, fromBlock: from, toBlock: to });
      } catch (e) {
        if (range > 1 && /limit|too many|range|10,?000|-32005/i.test(errorMessage(e))) {
          range = Math.max(1, Math.floor(range / 2));
          continue;
        }
        throw new EnergyMeshError('NOT_CONNECTED', `reading market events failed: ${errorMessage(e)}`, { retriable: true, cause: e });
      }
      this.ingest(logs);
      this.scannedTo = to;
      from = to + 1;
      range = this.maxRange;
    }
  }

  private ingest(logs: readonly Log[]): void {
    // Filled events come before IntervalSettled in the settlement transaction: group by transaction
    const pendingFills = new Map<string, IntervalEvents['filled']>();
    for (const log of logs) {
      const ev = this.parse(log);
      if (ev === null) continue;
      const a = ev.args;
      switch (ev.name) {
        case 'OrderPlaced': {
          const interval = a.getValue('interval') as bigint;
          const orderId = a.getValue('orderId') as bigint;
          this.orderInterval.set(orderId, interval);
          this.entry(interval).placed.push({
            orderId,
            interval,
            owner: a.getValue('owner') as string,
            isSell: a.getValue('isSell') as boolean,
            amountWh: a.getValue('amountWh') as bigint,
            limitPrice: a.getValue('limitPrice') as bigint,
          });
          break;
        }
        case 'OrderCancelled': {
          const orderId = a.getValue('orderId') as bigint;
          const interval = this.orderInterval.get(orderId);
          if (interval !== undefined) this.entry(interval).cancelled.push(orderId);
          break;
        }
        case 'OrderReleased': {
          const orderId = a.getValue('orderId') as bigint;
          const interval = this.orderInterval.get(orderId);
          if (interval !== undefined) this.entry(interval).released.push(orderId);
          break;
        }
        case 'Filled': {
          const list = pendingFills.get(log.transactionHash) ?? [];
          list.push({ orderId: a.getValue('orderId') as bigint, amountWh: a.getValue('amountWh') as bigint, mcAmount: a.getValue('mcAmount') as bigint });
          pendingFills.set(log.transactionHash, list);
          break;
        }
        case 'IntervalSettled': {
          const interval = a.getValue('interval') as bigint;
          const e = this.entry(interval);
          e.settled = {
            interval,
            price: a.getValue('price') as bigint,
            volumeWh: a.getValue('volumeWh') as bigint,
            fillCount: a.getValue('fillCount') as bigint,
            txHash: log.transactionHash,
            blockNumber: log.blockNumber,
          };
          e.filled.push(...(pendingFills.get(log.transactionHash) ?? []));
          pendingFills.delete(log.transactionHash);
          break;
        }
        default:
          break;
      }
    }
    // Filled after IntervalSettled in the same transaction (either order is accepted)
    for (const [tx, fills] of pendingFills) {
      const owner = [...this.index.values()].find((e) => e.settled?.txHash === tx);
      owner?.filled.push(...fills);
    }
  }

  private async view<T>(name: string): Promise<T> {
    try {
      return (await this.contract.getFunction(name)()) as T;
    } catch (e) {
      throw new EnergyMeshError('NOT_CONNECTED', `EnergyMarket.${name}() failed: ${errorMessage(e)}`, { retriable: true, cause: e });
    }
  }

  private async send(signer: Signer, name: string, args: unknown[]): Promise<{ txHash: string; blockNumber: number; gasUsed: bigint; logs: readonly Log[] }> {
    const c = this.contract.connect(signer) as Contract;
    let hash: string | undefined;
    try {
      const tx = (await c.getFunction(name)(...args)) as TransactionResponse;
      hash = tx.hash;
      const receipt = await waitForReceipt(tx);
      if (receipt.status !== 1) throw new EnergyMeshError('SETTLEMENT_REVERTED', `${name} reverted`, { details: { tx: hash } });
      return { txHash: hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, logs: receipt.logs };
    } catch (e) {
      if (e instanceof EnergyMeshError) throw e;
      const reason = decodeRevert(e);
      if (reason !== undefined || isError(e, 'CALL_EXCEPTION')) {
        const why = reason ?? (e as { reason?: string }).reason ?? 'reverted';
        throw new EnergyMeshError('SETTLEMENT_REVERTED', `the market contract refused ${name}: ${why}`, { cause: e, details: { reason: why, ...(hash ? { tx: hash } : {}) } });
      }
      throw new EnergyMeshError('NOT_CONNECTED', `${name} failed: ${errorMessage(e)}`, { retriable: true, cause: e, details: hash ? { tx: hash } : {} });
    }
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
