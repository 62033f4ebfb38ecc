/**
 * Typed clients of the settlement contracts (docs/settlement.md) over ethers v6, for the oracle, market and
 * dispatch services: one small class per contract with the calls the services need, the EIP-712 reading
 * batch digest and signing helpers, and custom-error decoding (`decodeContractError` → `{ name, args }`).
 *
 * Error policy: a reverted call or transaction is thrown as `EnergyMeshError('SETTLEMENT_REVERTED')` whose
 * message names the custom error (`placeOrder reverted: GateClosed(5901234)`) and whose details carry
 * `{ error: { name, args } }`; other failures (network, nonce) are rethrown unchanged.
 */
import {
  AbiCoder,
  Contract,
  Interface,
  TypedDataEncoder,
  getAddress,
  keccak256,
  toUtf8Bytes,
  type BaseWallet,
  type ContractRunner,
  type TransactionReceipt,
  type ContractTransactionResponse,
  type EventLog,
  type Log,
} from 'ethers';
import { waitForReceipt } from './wait-receipt.ts';
import { EnergyMeshError } from '../../core/errors.ts';
import type { SettlementAddresses } from '../../plugins/settlement/settlement-api.ts';
import { loadArtifact, type ContractName } from './artifacts.ts';

/** 1 Wh in EB wei (1 EB = 1 kWh). */
export const WEI_PER_WH = 10n ** 15n;
/** `lastInterval` of a meter with no reading yet. */
export const NO_INTERVAL = 2n ** 64n - 1n;

export const READING_FLAG_ESTIMATED = 1;
export const READING_FLAG_INCOMPLETE = 2;
export const READING_FLAG_LATE_CORRECTION_REFUSED = 4;

/** A meter's reading of one interval (MeterRegistry.Reading). */
export interface Reading {
  meterId: string;
  interval: bigint;
  exportWh: bigint;
  importWh: bigint;
  flags: number;
}

/** A fill of a settlement batch (EnergyMarket.Fill). */
export interface Fill {
  orderId: bigint;
  amountWh: bigint;
}

export type OrderStatus = 'none' | 'open' | 'cancelled';

export interface OrderState {
  orderId: bigint;
  owner: string;
  interval: bigint;
  isSell: boolean;
  amountWh: bigint;
  limitPrice: bigint;
  status: OrderStatus;
}

/** An order as announced by `OrderPlaced` (what the clearing is recomputed from). */
export interface PlacedOrder {
  orderId: bigint;
  interval: bigint;
  owner: string;
  isSell: boolean;
  amountWh: bigint;
  limitPrice: bigint;
  blockNumber: number;
  transactionHash: string;
}

export interface MarketParameters {
  treasury: string;
  feeBps: number;
  discountBps: number;
  discountThreshold: bigint;
  gateClosureSeconds: number;
  settlementDeadlineSeconds: number;
}

export type IntervalStatus = 'open' | 'settled' | 'expired';

export interface IntervalState {
  orderCount: number;
  status: IntervalStatus;
  price: bigint;
  volumeWh: bigint;
}

export interface IncentiveEvent {
  eventId: bigint;
  area: string;
  startInterval: bigint;
  endInterval: bigint;
  enrolmentDeadline: bigint;
  targetKw: bigint;
  operator: string;
  direction: 'up' | 'down';
  baselineDays: number;
  rewardPerKwh: bigint;
  pool: bigint;
}

export interface DecodedError {
  name: string;
  args: unknown[];
}

// ---- ids and EIP-712 ----

/** The pseudonymous meter id: keccak256(utf8(siteId + "/" + deviceId)). */
export function meterIdOf(siteId: string, deviceId: string): string {
  return keccak256(toUtf8Bytes(`${siteId}/${deviceId}`));
}

/** The interval index of a unix time (s). */
export function intervalOf(unixSeconds: number | bigint, intervalSeconds: number | bigint): bigint {
  return BigInt(unixSeconds) / BigInt(intervalSeconds);
}

/** The interval of an order id (`interval << 24 | sequence`). */
export function intervalOfOrder(orderId: bigint): bigint {
  return orderId >> 24n;
}

const READING_TUPLE = 'tuple(bytes32 meterId,uint64 interval,uint64 exportWh,uint64 importWh,uint16 flags)[]';

/** `keccak256(abi.encode(readings))`. */
export function readingsHash(readings: readonly Reading[]): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode([READING_TUPLE], [readings.map(readingTuple)]));
}

function readingTuple(r: Reading): [string, bigint, bigint, bigint, number] {
  return [r.meterId, r.interval, r.exportWh, r.importWh, r.flags];
}

const READING_BATCH_TYPES = { ReadingBatch: [{ name: 'readingsHash', type: 'bytes32' }, { name: 'chainId', type: 'uint256' }] };

function registryDomain(chainId: bigint, registryAddress: string): { name: string; version: string; chainId: bigint; verifyingContract: string } {
  return { name: 'EnergyMesh MeterRegistry', version: '1', chainId, verifyingContract: getAddress(registryAddress) };
}

/** The EIP-712 digest the oracles sign for a batch of readings. */
export function readingBatchDigest(chainId: bigint, registryAddress: string, readings: readonly Reading[]): string {
  return TypedDataEncoder.hash(registryDomain(chainId, registryAddress), READING_BATCH_TYPES, { readingsHash: readingsHash(readings), chainId });
}

/** One oracle's signature of a batch. */
export async function signReadingBatch(wallet: BaseWallet, chainId: bigint, registryAddress: string, readings: readonly Reading[]): Promise<string> {
  return wallet.signTypedData(registryDomain(chainId, registryAddress), READING_BATCH_TYPES, { readingsHash: readingsHash(readings), chainId });
}

/** The signatures of several oracles, ordered by ascending signer address as the registry requires. */
export async function attestReadings(wallets: readonly BaseWallet[], chainId: bigint, registryAddress: string, readings: readonly Reading[]): Promise<string[]> {
  const sorted = [...wallets].sort((x, y) => (BigInt(x.address) < BigInt(y.address) ? -1 : 1));
  return Promise.all(sorted.map((w) => signReadingBatch(w, chainId, registryAddress, readings)));
}

// ---- errors ----

let errorInterface: Interface | undefined;

/** One interface with every custom error of the suite (errors bubble up from called contracts). */
function allErrors(): Interface {
  if (errorInterface === undefined) {
    const names: ContractName[] = ['EnergyLedger', 'MeterRegistry', 'EnergyMarket', 'BalancingIncentives', 'MeshCoin', 'MeshGovernor', 'Multisig', 'VestingWallet', 'TimelockController'];
    const seen = new Set<string>();
    const fragments: unknown[] = [];
    for (const n of names) {
      for (const f of loadArtifact(n).abi as { type: string; name: string; inputs: { type: string }[] }[]) {
        if (f.type !== 'error') continue;
        const sig = `${f.name}(${f.inputs.map((i) => i.type).join(',')})`;
        if (seen.has(sig)) continue;
        seen.add(sig);
        fragments.push(f);
      }
    }
    errorInterface = new Interface(fragments as never[]);
  }
  return errorInterface;
}

function findRevertData(e: unknown, depth = 0): string | undefined {
  if (depth > 6 || typeof e !== 'object' || e === null) return undefined;
  const o = e as Record<string, unknown>;
  const data = o.data;
  if (typeof data === 'string' && /^0x[0-9a-fA-F]{8,}$/.test(data)) return data;
  for (const key of ['info', 'error', 'cause', 'receipt', 'revert']) {
    const found = findRevertData(o[key], depth + 1);
    if (found !== undefined) return found;
  }
  if (typeof data === 'object') return findRevertData(data, depth + 1);
  return undefined;
}

/** The custom error (or `Error(string)`/`Panic(uint256)`) a reverted call carries, if any. */
export function decodeContractError(e: unknown): DecodedError | undefined {
  const data = findRevertData(e);
  if (data === undefined) return undefined;
  try {
    const parsed = allErrors().parseError(data);
    if (parsed !== null) return { name: parsed.name, args: [...parsed.args] };
  } catch {
    // not one of ours: try the standard ones
  }
  const coder = AbiCoder.defaultAbiCoder();
  if (data.startsWith('0x08c379a0')) return { name: 'Error', args: [...coder.decode(['string'], `0x${data.slice(10)}`)] };
  if (data.startsWith('0x4e487b71')) return { name: 'Panic', args: [...coder.decode(['uint256'], `0x${data.slice(10)}`)] };
  return undefined;
}

function formatArg(a: unknown): string {
  return typeof a === 'bigint' ? a.toString() : typeof a === 'string' ? a : JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Wraps a revert as SETTLEMENT_REVERTED naming the custom error; anything else is returned unchanged. */
export function settlementError(action: string, e: unknown): unknown {
  const decoded = decodeContractError(e);
  if (decoded === undefined) {
    const code = (e as { code?: unknown } | null)?.code;
    if (code === 'CALL_EXCEPTION') return new EnergyMeshError('SETTLEMENT_REVERTED', `${action} reverted`, { cause: e });
    return e;
  }
  return new EnergyMeshError('SETTLEMENT_REVERTED', `${action} reverted: ${decoded.name}(${decoded.args.map(formatArg).join(', ')})`, {
    details: { error: decoded },
    cause: e,
  });
}

// ---- base ----

/** Common plumbing: a typed view/transaction over an artifact's ABI. */
abstract class ContractClient {
  readonly contract: Contract;

  constructor(name: ContractName, readonly address: string, runner: ContractRunner) {
    this.contract = new Contract(address, loadArtifact(name).abi as never[], runner);
  }

  protected async view<T>(method: string, ...args: unknown[]): Promise<T> {
    try {
      const result: unknown = await this.contract.getFunction(method).staticCall(...args);
      return result as T;
    } catch (e) {
      throw settlementError(method, e);
    }
  }

  /** Sends a transaction and waits for its receipt (reverts decoded). */
  protected async send(method: string, args: unknown[], overrides: { value?: bigint; gasLimit?: bigint; nonce?: number } = {}): Promise<TransactionReceipt> {
    let tx: ContractTransactionResponse;
    try {
      const sent: unknown = await this.contract.getFunction(method).send(...args, overrides);
      tx = sent as ContractTransactionResponse;
    } catch (e) {
      throw settlementError(method, e);
    }
    let receipt: TransactionReceipt;
    try {
      receipt = await waitForReceipt(tx);
    } catch (e) {
      throw settlementError(method, e);
    }
    if (receipt.status !== 1) throw new EnergyMeshError('SETTLEMENT_REVERTED', `${method} reverted`, { details: { tx: tx.hash } });
    return receipt;
  }

  /** The first log of `event` in a receipt, parsed. */
  protected eventIn(receipt: TransactionReceipt, event: string): unknown[] {
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const parsed = this.contract.interface.parseLog(log);
      if (parsed?.name === event) return [...parsed.args];
    }
    throw new EnergyMeshError('UNEXPECTED_RESPONSE', `no ${event} event in transaction ${receipt.hash}`);
  }

  /** Parsed logs of `event` (indexed filter args optional) between blocks. */
  protected async events(event: string, filterArgs: unknown[], fromBlock: number | string, toBlock: number | string): Promise<EventLog[]> {
    const filter = this.contract.filters[event];
    if (filter === undefined) throw new EnergyMeshError('INTERNAL', `no event ${event}`);
    const logs: (EventLog | Log)[] = await this.contract.queryFilter(filter(...filterArgs), fromBlock, toBlock);
    return logs.filter((l): l is EventLog => 'args' in l);
  }
}

// ---- EnergyLedger ----

export class EnergyLedgerClient extends ContractClient {
  constructor(address: string, runner: ContractRunner) {
    super('EnergyLedger', address, runner);
  }
  balanceOf(account: string): Promise<bigint> {
    return this.view('balanceOf', account);
  }
  lockedOf(account: string): Promise<bigint> {
    return this.view('lockedOf', account);
  }
  deficitOf(account: string): Promise<bigint> {
    return this.view('deficitOf', account);
  }
  reserve(): Promise<bigint> {
    return this.view('reserve');
  }
  totalMinted(): Promise<bigint> {
    return this.view('totalMinted');
  }
  totalBurned(): Promise<bigint> {
    return this.view('totalBurned');
  }
  totalDeficit(): Promise<bigint> {
    return this.view('totalDeficit');
  }
  deposit(wei: bigint): Promise<TransactionReceipt> {
    return this.send('deposit', [], { value: wei });
  }
  depositFor(account: string, wei: bigint): Promise<TransactionReceipt> {
    return this.send('depositFor', [account], { value: wei });
  }
  withdraw(wei: bigint): Promise<TransactionReceipt> {
    return this.send('withdraw', [wei]);
  }
  fundReserve(wei: bigint): Promise<TransactionReceipt> {
    return this.send('fundReserve', [], { value: wei });
  }
  settleDeficit(account: string, wei: bigint): Promise<TransactionReceipt> {
    return this.send('settleDeficit', [account, wei]);
  }
}

// ---- MeterRegistry ----

export class MeterRegistryClient extends ContractClient {
  constructor(address: string, runner: ContractRunner) {
    super('MeterRegistry', address, runner);
  }
  async intervalSeconds(): Promise<number> {
    return Number(await this.view<bigint>('intervalSeconds'));
  }
  registerMeter(meterId: string, owner: string, area: string): Promise<TransactionReceipt> {
    return this.send('registerMeter', [meterId, owner, area]);
  }
  /** Registers many meters of one area in one transaction. */
  registerMeters(meterIds: readonly string[], owners: readonly string[], area: string): Promise<TransactionReceipt> {
    return this.send('registerMeters', [[...meterIds], [...owners], area]);
  }
  async meterOwner(meterId: string): Promise<string | undefined> {
    const owner = await this.view<string>('meterOwner', meterId);
    return BigInt(owner) === 0n ? undefined : owner;
  }
  meterArea(meterId: string): Promise<string> {
    return this.view('meterArea', meterId);
  }
  /** The last attested interval of a meter, undefined when none yet (throws UnknownMeter if unregistered). */
  async lastInterval(meterId: string): Promise<bigint | undefined> {
    const last = await this.view<bigint>('lastInterval', meterId);
    return last === NO_INTERVAL ? undefined : last;
  }
  async readingOf(meterId: string, interval: bigint): Promise<Reading | undefined> {
    const [exists, exportWh, importWh, flags] = await this.view<[boolean, bigint, bigint, bigint]>('readingOf', meterId, interval);
    return exists ? { meterId, interval, exportWh, importWh, flags: Number(flags) } : undefined;
  }
  async oracles(): Promise<string[]> {
    return [...(await this.view<string[]>('oracles'))];
  }
  async threshold(): Promise<number> {
    return Number(await this.view<bigint>('threshold'));
  }
  /** Submits an attested batch (signatures ascending by signer, e.g. from `attestReadings`). */
  submitReadings(readings: readonly Reading[], signatures: readonly string[], overrides: { gasLimit?: bigint; nonce?: number } = {}): Promise<TransactionReceipt> {
    return this.send('submitReadings', [readings.map(readingTuple), [...signatures]], overrides);
  }
  batchDigest(readings: readonly Reading[]): Promise<string> {
    return this.view('batchDigest', readingsHash(readings));
  }
}

// ---- EnergyMarket ----

const INTERVAL_STATUS: readonly IntervalStatus[] = ['open', 'settled', 'expired'];
const ORDER_STATUS: readonly OrderStatus[] = ['none', 'open', 'cancelled'];

export class EnergyMarketClient extends ContractClient {
  constructor(address: string, runner: ContractRunner) {
    super('EnergyMarket', address, runner);
  }
  /** Places an order; returns its id (`interval << 24 | sequence`). */
  async placeOrder(interval: bigint, isSell: boolean, amountWh: bigint, limitPrice: bigint): Promise<{ orderId: bigint; receipt: TransactionReceipt }> {
    const receipt = await this.send('placeOrder', [interval, isSell, amountWh, limitPrice]);
    const [orderId] = this.eventIn(receipt, 'OrderPlaced') as [bigint];
    return { orderId, receipt };
  }
  cancelOrder(orderId: bigint): Promise<TransactionReceipt> {
    return this.send('cancelOrder', [orderId]);
  }
  async order(orderId: bigint): Promise<OrderState> {
    const [owner, interval, isSell, amountWh, limitPrice, status] = await this.view<[string, bigint, boolean, bigint, bigint, bigint]>('order', orderId);
    return { orderId, owner, interval, isSell, amountWh, limitPrice, status: ORDER_STATUS[Number(status)] ?? 'none' };
  }
  async orderIds(interval: bigint): Promise<bigint[]> {
    return [...(await this.view<bigint[]>('orderIds', interval))];
  }
  async intervalState(interval: bigint): Promise<IntervalState> {
    const [orderCount, status, price, volumeWh] = await this.view<[bigint, bigint, bigint, bigint]>('intervalState', interval);
    return { orderCount: Number(orderCount), status: INTERVAL_STATUS[Number(status)] ?? 'open', price, volumeWh };
  }
  /** Unix second at which the interval's gate closes. */
  async gateClosureOf(interval: bigint): Promise<bigint> {
    return this.view('gateClosureOf', interval);
  }
  async parameters(): Promise<MarketParameters> {
    const [treasury, feeBps, discountBps, discountThreshold, gateClosureSeconds, settlementDeadlineSeconds] =
      await this.view<[string, bigint, bigint, bigint, bigint, bigint]>('parameters');
    return { treasury, feeBps: Number(feeBps), discountBps: Number(discountBps), discountThreshold, gateClosureSeconds: Number(gateClosureSeconds), settlementDeadlineSeconds: Number(settlementDeadlineSeconds) };
  }
  /** MC a buy order escrows (payment rounded up plus the fee at `feeBps`). */
  buyEscrow(amountWh: bigint, limitPrice: bigint, feeBps: number): Promise<bigint> {
    return this.view('buyEscrow', amountWh, limitPrice, feeBps);
  }
  /**
   * The interval's orders from the chain's `OrderPlaced` events minus the `OrderCancelled` ones (the input
   * of the clearing; anyone can recompute it). `fromBlock` bounds the log query.
   */
  async ordersOf(interval: bigint, fromBlock: number | string = 0, toBlock: number | string = 'latest'): Promise<{ orders: PlacedOrder[]; cancelled: bigint[] }> {
    const placed = await this.events('OrderPlaced', [null, interval], fromBlock, toBlock);
    const orders = placed.map((l): PlacedOrder => {
      const [orderId, iv, owner, isSell, amountWh, limitPrice] = [...l.args] as [bigint, bigint, string, boolean, bigint, bigint];
      return { orderId, interval: iv, owner, isSell, amountWh, limitPrice, blockNumber: l.blockNumber, transactionHash: l.transactionHash };
    });
    const ids = orders.map((o) => o.orderId);
    const cancelled: bigint[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const logs = await this.events('OrderCancelled', [ids.slice(i, i + 500)], fromBlock, toBlock);
      for (const l of logs) cancelled.push(l.args[0] as bigint);
    }
    cancelled.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    return { orders: orders.filter((o) => !cancelled.includes(o.orderId)).sort((x, y) => (x.orderId < y.orderId ? -1 : 1)), cancelled };
  }
  settleInterval(interval: bigint, price: bigint, fills: readonly Fill[], overrides: { gasLimit?: bigint; nonce?: number } = {}): Promise<TransactionReceipt> {
    return this.send('settleInterval', [interval, price, fills.map((f) => [f.orderId, f.amountWh])], overrides);
  }
  expireInterval(interval: bigint): Promise<TransactionReceipt> {
    return this.send('expireInterval', [interval]);
  }
  /** Returns the escrow of open orders of a settled or expired interval. */
  releaseOrders(orderIds: readonly bigint[]): Promise<TransactionReceipt> {
    return this.send('releaseOrders', [[...orderIds]]);
  }
  /** Fills of a settlement transaction: orderId → (amountWh, mcAmount). */
  fillsIn(receipt: TransactionReceipt): { orderId: bigint; amountWh: bigint; mcAmount: bigint }[] {
    const out: { orderId: bigint; amountWh: bigint; mcAmount: bigint }[] = [];
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const parsed = this.contract.interface.parseLog(log);
      if (parsed?.name === 'Filled') out.push({ orderId: parsed.args[0] as bigint, amountWh: parsed.args[1] as bigint, mcAmount: parsed.args[2] as bigint });
    }
    return out;
  }
}

// ---- BalancingIncentives ----

export class BalancingIncentivesClient extends ContractClient {
  constructor(address: string, runner: ContractRunner) {
    super('BalancingIncentives', address, runner);
  }
  /** Publishes an event funded with `poolWei`; returns its id. */
  async createEvent(e: {
    area: string;
    startInterval: bigint;
    endInterval: bigint;
    direction: 'up' | 'down';
    targetKw: bigint;
    rewardPerKwh: bigint;
    enrolmentDeadline: bigint;
    poolWei: bigint;
  }): Promise<{ eventId: bigint; receipt: TransactionReceipt }> {
    const receipt = await this.send(
      'createEvent',
      [e.area, e.startInterval, e.endInterval, e.direction === 'up' ? 0 : 1, e.targetKw, e.rewardPerKwh, e.enrolmentDeadline],
      { value: e.poolWei },
    );
    const [eventId] = this.eventIn(receipt, 'EventCreated') as [bigint];
    return { eventId, receipt };
  }
  async eventOf(eventId: bigint): Promise<IncentiveEvent> {
    const r = await this.view<[string, bigint, bigint, bigint, bigint, string, bigint, bigint, bigint, bigint]>('eventOf', eventId);
    const [area, startInterval, endInterval, enrolmentDeadline, targetKw, operator, direction, baselineDays, rewardPerKwh, pool] = r;
    return { eventId, area, startInterval, endInterval, enrolmentDeadline, targetKw, operator, direction: direction === 0n ? 'up' : 'down', baselineDays: Number(baselineDays), rewardPerKwh, pool };
  }
  enrol(eventId: bigint, meterId: string): Promise<TransactionReceipt> {
    return this.send('enrol', [eventId, meterId]);
  }
  async enrolment(eventId: bigint, meterId: string): Promise<'none' | 'enrolled' | 'settled'> {
    const s = Number(await this.view<bigint>('enrolment', eventId, meterId));
    return s === 0 ? 'none' : s === 1 ? 'enrolled' : 'settled';
  }
  deliveryOf(eventId: bigint, meterId: string): Promise<bigint> {
    return this.view('deliveryOf', eventId, meterId);
  }
  /** Settles one meter; returns the delivered Wh and the reward (wei) from the DeliverySettled event. */
  async settleMeter(eventId: bigint, meterId: string): Promise<{ deliveredWh: bigint; rewardWei: bigint; receipt: TransactionReceipt }> {
    const receipt = await this.send('settleMeter', [eventId, meterId]);
    const [, , deliveredWh, rewardWei] = this.eventIn(receipt, 'DeliverySettled') as [bigint, string, bigint, bigint];
    return { deliveredWh, rewardWei, receipt };
  }
  settle(eventId: bigint, meterIds: readonly string[]): Promise<TransactionReceipt> {
    return this.send('settle', [eventId, [...meterIds]]);
  }
  reclaim(eventId: bigint): Promise<TransactionReceipt> {
    return this.send('reclaim', [eventId]);
  }
}

// ---- MeshCoin ----

export class MeshCoinClient extends ContractClient {
  constructor(address: string, runner: ContractRunner) {
    super('MeshCoin', address, runner);
  }
  balanceOf(account: string): Promise<bigint> {
    return this.view('balanceOf', account);
  }
  totalSupply(): Promise<bigint> {
    return this.view('totalSupply');
  }
  allowance(owner: string, spender: string): Promise<bigint> {
    return this.view('allowance', owner, spender);
  }
  getVotes(account: string): Promise<bigint> {
    return this.view('getVotes', account);
  }
  approve(spender: string, amount: bigint): Promise<TransactionReceipt> {
    return this.send('approve', [spender, amount]);
  }
  transfer(to: string, amount: bigint): Promise<TransactionReceipt> {
    return this.send('transfer', [to, amount]);
  }
  delegate(to: string): Promise<TransactionReceipt> {
    return this.send('delegate', [to]);
  }
}

// ---- Multisig ----

export class MultisigClient extends ContractClient {
  constructor(address: string, runner: ContractRunner) {
    super('Multisig', address, runner);
  }
  /** Submits (and confirms for the caller) a call; returns its id. */
  async submit(to: string, value: bigint, data: string): Promise<bigint> {
    const receipt = await this.send('submit', [to, value, data]);
    const [id] = this.eventIn(receipt, 'Submitted') as [bigint];
    return id;
  }
  confirm(id: bigint): Promise<TransactionReceipt> {
    return this.send('confirm', [id]);
  }
  revoke(id: bigint): Promise<TransactionReceipt> {
    return this.send('revoke', [id]);
  }
  execute(id: bigint): Promise<TransactionReceipt> {
    return this.send('execute', [id]);
  }
  confirmations(id: bigint): Promise<bigint> {
    return this.view('confirmations', id);
  }
  async threshold(): Promise<number> {
    return Number(await this.view<bigint>('threshold'));
  }
  async owners(): Promise<string[]> {
    return [...(await this.view<string[]>('owners'))];
  }
}

/** ABI-encodes a call to one of the suite's contracts (for Multisig and governance proposals). */
export function encodeCall(name: ContractName, method: string, args: readonly unknown[]): string {
  return new Interface(loadArtifact(name).abi as never[]).encodeFunctionData(method, [...args]);
}

/** Clients of the whole suite over one runner (signer or provider). */
export interface SettlementClients {
  ledger: EnergyLedgerClient;
  registry: MeterRegistryClient;
  market: EnergyMarketClient;
  incentives: BalancingIncentivesClient;
  meshCoin: MeshCoinClient;
  multisig: MultisigClient;
}

export function settlementClients(addresses: SettlementAddresses, runner: ContractRunner): SettlementClients {
  return {
    ledger: new EnergyLedgerClient(addresses.ledger, runner),
    registry: new MeterRegistryClient(addresses.registry, runner),
    market: new EnergyMarketClient(addresses.market, runner),
    incentives: new BalancingIncentivesClient(addresses.incentives, runner),
    meshCoin: new MeshCoinClient(addresses.meshCoin, runner),
    multisig: new MultisigClient(addresses.multisig, runner),
  };
}
