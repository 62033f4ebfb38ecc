/**
 * Test harness for the settlement contracts: an embedded ChainNode with 100 ms blocks, funded wallets, the
 * suite deployed by `deploySettlement`, a clock that can jump forward, and revert assertions by custom error.
 *
 * Time travel: the embedded node stamps blocks (and eth_call/estimateGas) with `Date.now()`, so the harness
 * offsets `Date.now` while a suite runs (restored in `stop()`); `advanceTo(t)` moves the clock and waits for a
 * block stamped ≥ t. Mocha's own timing uses `new Date()`, which the offset does not touch.
 */
import assert from 'node:assert/strict';
import { JsonRpcProvider, Wallet, type Contract, type ContractTransactionReceipt } from 'ethers';
import { ChainNode } from '../../../chain/node/chain-node.ts';
import { WEI_PER_EB } from '../../../chain/execution/genesis.ts';
import { deploySettlement, type DeploySettlementOptions } from '../../../chain/contracts/deploy.ts';
import { settlementClients, settlementError, type DecodedError, type SettlementClients } from '../../../chain/contracts/client.ts';
import { isEnergyMeshError } from '../../../core/errors.ts';
import type { SettlementAddresses } from '../../../plugins/settlement/settlement-api.ts';
import { tempDir, testAccount } from '../chain/helpers.ts';

export const CHAIN_ID = 4343n;
export const EB = WEI_PER_EB;
export const MC = 10n ** 18n;

const realNow = Date.now.bind(Date);
let offsetMs = 0;

/** Names of the funded test wallets. */
export const WALLETS = ['deployer', 'submitter', 'operator', 'utility', 'owner1', 'owner2', 'owner3', 'alice', 'bob', 'carol', 'dave', 'erin'] as const;
export type WalletName = (typeof WALLETS)[number];

/** The address of a test wallet (known before the harness starts). */
export function walletAddress(name: WalletName): string {
  return testAccount(100 + WALLETS.indexOf(name)).address;
}

export interface Harness {
  node: ChainNode;
  provider: JsonRpcProvider;
  wallets: Record<WalletName, Wallet>;
  /** The extra funded wallets (options.extraAccounts). */
  extra: Wallet[];
  /** Unconnected oracle keys (3 of them; threshold 2 unless changed). */
  oracles: Wallet[];
  addresses: SettlementAddresses;
  /** Clients connected as each wallet. */
  as(name: WalletName): SettlementClients;
  /** Unix seconds of the latest block. */
  now(): Promise<number>;
  /** Moves the clock to `unixSeconds` (never back) and waits for a block stamped at or after it. */
  advanceTo(unixSeconds: number): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<DeploySettlementOptions, 'oracles' | 'multisigOwners'>> {
  /** EB (whole) given to each wallet in the genesis (default 1,000,000). */
  fundEb?: bigint;
  /** Extra funded wallets (`Harness.extra`), e.g. many traders for the gas figures. */
  extraAccounts?: number;
}

/** Starts a node, funds the wallets and deploys the suite. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  offsetMs = 0;
  Date.now = () => realNow() + offsetMs;
  const dir = tempDir('settlement-contracts-');
  const keys = WALLETS.map((_, i) => testAccount(100 + i));
  const fund = ((options.fundEb ?? 1_000_000n) * EB).toString();
  const extraKeys = Array.from({ length: options.extraAccounts ?? 0 }, (_, i) => testAccount(1000 + i));
  const node = new ChainNode({
    dataDir: dir.path,
    validatorKey: testAccount(99).keyHex,
    blockTimeMs: 100,
    rpc: { port: 0 },
    genesis: { chainId: Number(CHAIN_ID), alloc: Object.fromEntries([...keys, ...extraKeys].map((k) => [k.address, fund])) },
  });
  await node.start();
  const provider = new JsonRpcProvider(node.rpcUrl, Number(CHAIN_ID), { pollingInterval: 50, cacheTimeout: -1, staticNetwork: true });
  const wallets = Object.fromEntries(WALLETS.map((n, i) => [n, new Wallet(keys[i]!.keyHex, provider)])) as Record<WalletName, Wallet>;
  const extra = extraKeys.map((k) => new Wallet(k.keyHex, provider));
  const oracles = [0, 1, 2].map((i) => new Wallet(testAccount(200 + i).keyHex));
  const w = wallets;
  const { extraAccounts: _extra, fundEb: _fund, ...deployOptions } = options;
  const addresses = await deploySettlement(w.deployer, {
    intervalSeconds: 300,
    oracleThreshold: 2,
    multisigThreshold: 2,
    registrar: w.submitter.address,
    settler: w.submitter.address,
    operator: w.operator.address,
    utility: w.utility.address,
    reserveWei: 10_000n * EB,
    governance: { votingDelayBlocks: 1, votingPeriodBlocks: 40, timelockDelaySeconds: 3600, proposalThreshold: 0n },
    ...deployOptions,
    oracles: oracles.map((o) => o.address),
    multisigOwners: [w.owner1.address, w.owner2.address, w.owner3.address],
  });

  const clients = new Map<WalletName, SettlementClients>();
  const now = async (): Promise<number> => (await provider.getBlock('latest'))!.timestamp;
  return {
    node,
    provider,
    wallets,
    extra,
    oracles,
    addresses,
    as(name) {
      let c = clients.get(name);
      if (c === undefined) {
        c = settlementClients(addresses, wallets[name]);
        clients.set(name, c);
      }
      return c;
    },
    now,
    async advanceTo(unixSeconds) {
      const target = unixSeconds * 1000 - realNow();
      if (target > offsetMs) offsetMs = target;
      while ((await now()) < unixSeconds) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      provider.destroy();
      await node.stop();
      dir.remove();
      Date.now = realNow;
      offsetMs = 0;
    },
  };
}

/** Sends `method` on a raw contract and waits for the receipt; reverts become SETTLEMENT_REVERTED. */
export async function send(contract: Contract, method: string, args: unknown[] = [], overrides: { value?: bigint; gasLimit?: bigint } = {}): Promise<ContractTransactionReceipt> {
  try {
    const tx: unknown = await contract.getFunction(method).send(...args, overrides);
    const receipt = await (tx as { wait(): Promise<ContractTransactionReceipt | null> }).wait();
    assert.ok(receipt !== null && receipt.status === 1);
    return receipt;
  } catch (e) {
    throw settlementError(method, e);
  }
}

/** Reads `method` on a raw contract. */
export async function read<T>(contract: Contract, method: string, ...args: unknown[]): Promise<T> {
  try {
    const r: unknown = await contract.getFunction(method).staticCall(...args);
    return r as T;
  } catch (e) {
    throw settlementError(method, e);
  }
}

/** Asserts `p` rejects with the custom error `name` (and `args` when given). */
export async function expectRevert(p: Promise<unknown>, name: string, args?: unknown[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isEnergyMeshError(e, 'SETTLEMENT_REVERTED'), `expected SETTLEMENT_REVERTED, got ${String(e)}`);
    const d = e.details.error as DecodedError | undefined;
    assert.ok(d !== undefined, `no custom error decoded: ${e.message}`);
    assert.equal(d.name, name, e.message);
    if (args !== undefined) assert.deepEqual(d.args, args);
    return true;
  });
}

/** Gas used by a receipt. */
export function gasOf(r: ContractTransactionReceipt): bigint {
  return r.gasUsed;
}

/** An order as the clearing sees it. */
export interface BookOrder {
  orderId: bigint;
  isSell: boolean;
  amountWh: bigint;
  limitPrice: bigint;
}

/**
 * The clearing rule of docs/settlement.md, written independently of the market service for the tests:
 * bids by price desc then id asc, asks by price asc then id asc, match while best bid ≥ best ask, the price
 * is the floor midpoint of the last matched bid's and ask's limits; fills ascending by id.
 */
export function clear(orders: readonly BookOrder[]): { price: bigint; fills: { orderId: bigint; amountWh: bigint }[] } {
  const bids = orders.filter((o) => !o.isSell).sort((a, b) => (a.limitPrice !== b.limitPrice ? (a.limitPrice > b.limitPrice ? -1 : 1) : a.orderId < b.orderId ? -1 : 1));
  const asks = orders.filter((o) => o.isSell).sort((a, b) => (a.limitPrice !== b.limitPrice ? (a.limitPrice < b.limitPrice ? -1 : 1) : a.orderId < b.orderId ? -1 : 1));
  const filled = new Map<bigint, bigint>();
  let bi = 0;
  let ai = 0;
  let bidLeft = bids[0]?.amountWh ?? 0n;
  let askLeft = asks[0]?.amountWh ?? 0n;
  let lastBid: BookOrder | undefined;
  let lastAsk: BookOrder | undefined;
  while (bi < bids.length && ai < asks.length && bids[bi]!.limitPrice >= asks[ai]!.limitPrice) {
    const q = bidLeft < askLeft ? bidLeft : askLeft;
    const bid = bids[bi]!;
    const ask = asks[ai]!;
    filled.set(bid.orderId, (filled.get(bid.orderId) ?? 0n) + q);
    filled.set(ask.orderId, (filled.get(ask.orderId) ?? 0n) + q);
    lastBid = bid;
    lastAsk = ask;
    bidLeft -= q;
    askLeft -= q;
    if (bidLeft === 0n && ++bi < bids.length) bidLeft = bids[bi]!.amountWh;
    if (askLeft === 0n && ++ai < asks.length) askLeft = asks[ai]!.amountWh;
  }
  if (lastBid === undefined || lastAsk === undefined) return { price: 0n, fills: [] };
  const fills = [...filled].map(([orderId, amountWh]) => ({ orderId, amountWh })).sort((a, b) => (a.orderId < b.orderId ? -1 : 1));
  return { price: (lastBid.limitPrice + lastAsk.limitPrice) / 2n, fills };
}

/** ceil(x / 1000) — what a buyer pays for `fill × price`. */
export function ceil1000(x: bigint): bigint {
  return (x + 999n) / 1000n;
}
