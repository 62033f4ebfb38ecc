/**
 * The execution layer of an EMPoS node: EVM execution (ethereumjs VM, Cancun), the Merkle Patricia
 * state on the crash-consistent `ChainDb`, block building from the mempool, receipts and logs, and the
 * read side the JSON-RPC server uses (blocks, receipts, logs, calls, gas estimation).
 *
 * Performance choices (see chain/README.md for figures): native secp256k1 sender recovery, done once at
 * mempool admission and cached in the frozen transaction; state changes kept in the state manager's
 * account/storage caches across the whole block and flushed into the trie once (`getStateRoot`) at the end
 * of the block instead of per transaction; trie nodes held in memory until the block's single atomic batch;
 * transactions run with `runTx` directly (no `buildBlock`, whose per-transaction work degrades on big blocks).
 *
 * Error policy: input errors throw `INVALID_ARGUMENT` with `details.rpcMessage` (geth's wording); a
 * transaction that fails while building a block is dropped from the pool and the block goes on; a store
 * failure resets the state to the head and rethrows. All state access is serialised through one lock.
 */
import { Block, createBlock, createBlockFromRLP, createBlockHeader, createBlockHeaderFromBytesArray, type HeaderData } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { createMPT, LeafMPTNode } from '@ethereumjs/mpt';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { MerkleStateManager } from '@ethereumjs/statemanager';
import { createTx, createTxFromBlockBodyData, createTxFromRLP, TransactionType, type TypedTransaction } from '@ethereumjs/tx';
import { RLP } from '@ethereumjs/rlp';
import {
  Account,
  Address,
  bytesToHex,
  createAccountFromRLP,
  createAddressFromString,
  hexToBytes,
  KECCAK256_RLP,
  type PrefixedHexString,
} from '@ethereumjs/util';
import { createVM, encodeReceipt, runTx, type TxReceipt, type VM } from '@ethereumjs/vm';
import type { EVMMockBlockchainInterface } from '@ethereumjs/evm';
import { EnergyMeshError } from '../../core/errors.ts';
import { BlockStateManager } from '../storage/block-state-manager.ts';
import { ChainDb } from '../storage/chain-db.ts';
import { MempoolLog } from '../storage/mempool-log.ts';
import { orderedTrieRoot as trieRootOf } from '../storage/merkle-trie.ts';
import { createChainCommon } from './chain-common.ts';
import { freezeWithPublicKey, freezeWithSender, initChainCrypto, keccak256, recoveryInputOf, sharedTxCommon } from './crypto.ts';
import { SenderRecovery } from './sender-recovery.ts';
import type { Genesis } from './genesis.ts';
import { installJumpAnalysisCache } from './jump-analysis-cache.ts';
import { creditBlockFees, encodeBlockStart, installStakingContract, readMinBaseFee, reclaimPriorityFee, systemCall } from '../system/system-contract.ts';
import { Mempool, txError, type MempoolOptions } from './mempool.ts';
import {
  decodeStoredReceipts,
  encodeStoredReceipts,
  logsBloom,
  type IndexedLog,
  type StoredReceipt,
} from './receipts.ts';

/** Largest accepted raw transaction (geth's txMaxSize). */
export const MAX_TX_BYTES = 128 * 1024;
const ZERO32 = new Uint8Array(32);
const EXTRA_DATA = new TextEncoder().encode('EMPoS');

export interface ChainOptions {
  dataDir: string;
  genesis: Genesis;
  /** Native secp256k1 and WASM keccak (default true; false measures the pure-JS path). */
  nativeCrypto?: boolean;
  mempool?: Partial<MempoolOptions>;
  /** Most transactions per block (default: as many as fit the gas limit). */
  maxTxsPerBlock?: number;
  /**
   * Keep pending transactions across restarts in `dataDir/mempool.journal` (default false). A wallet
   * resuming after a restart must then take its nonce from the pool (`pending`), as with geth's journal.
   */
  persistMempool?: boolean;
  /**
   * The signers of block `number`'s finality certificate, for the offline penalties the staking contract
   * applies at the start of block `number + 1` (a block-start system call). Undefined (or no hook): not
   * known, no penalty. Must answer the same on every validator (from the certificate the block carries).
   */
  signersOf?: (number: bigint) => Promise<readonly string[] | undefined> | readonly string[] | undefined;
  /**
   * The validators expected to vote on block `number` (its epoch's active set). With it the contract is
   * told exactly who was absent (voters − signers); without it, every validator active in the contract
   * (since before block `number`) that did not sign is absent.
   */
  votersOf?: (number: bigint) => Promise<readonly string[] | undefined> | readonly string[] | undefined;
  /**
   * Worker threads recovering transaction senders off the main thread (`sender-recovery.ts`); default 0
   * (inline: measured faster on 2 cores), ignored without native crypto.
   */
  senderThreads?: number;
}

export interface ProduceOptions {
  /** Unix seconds (raised to the parent's if earlier). */
  timestamp: bigint;
  /** The proposer: gets the block reward and the priority fees. */
  coinbase: string;
  /** Returns the seal (proposer signature, certificate) stored with the block. */
  seal?: (hash: Uint8Array) => Uint8Array;
  /** Header extraData (≤ 32 bytes; default 'EMPoS'). */
  extraData?: Uint8Array;
  /** Signers of the parent's finality certificate (offline penalties); default `ChainOptions.signersOf`. */
  parentSigners?: readonly string[];
  /** The parent's voting set (with `parentSigners`); default `ChainOptions.votersOf`. */
  parentVoters?: readonly string[];
  /**
   * Stop adding transactions once building has taken this long (ms): in the validator network every
   * validator re-executes the block before voting, so a block must be verifiable within a round whatever
   * the backlog and the gas limit (the rest waits for the next block).
   */
  budgetMs?: number;
}

/** A committed block with what the node keeps beside it. */
export interface CommittedBlock {
  block: Block;
  receipts: StoredReceipt[];
  /** Transactions dropped while building (invalid at execution time). */
  dropped: { hash: string; reason: string }[];
}

export interface CallRequest {
  from?: string;
  to?: string | null;
  data?: string;
  value?: bigint;
  gas?: bigint;
  gasPrice?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
}

export interface CallResult {
  returnValue: Uint8Array;
  gasUsed: bigint;
  /** Set when the call reverted or failed. */
  error?: { message: string; data: Uint8Array };
}

export interface LogFilter {
  fromBlock: bigint;
  toBlock: bigint;
  addresses?: string[];
  /** Per position: null = any, else one of the listed topics. */
  topics?: (string[] | null)[];
  blockHash?: string;
}

/** A transaction located in a block or the pool. */
export interface TxLookup {
  tx: TypedTransaction;
  sender: string;
  block?: { number: bigint; hash: string; index: number; baseFee: bigint };
}

/** A transaction to execute with its recovered sender. */
interface Candidate {
  tx: TypedTransaction;
  sender: string;
  hash: string;
}

interface Execution {
  included: Candidate[];
  txReceipts: TxReceipt[];
  stored: StoredReceipt[];
  dropped: { hash: string; reason: string }[];
  gasUsed: bigint;
  /** Every fee paid in the block (base fee + priority fee): the validators' fee pool. */
  fees: bigint;
}

/** A block executed on the head without committing (`buildProposal`/`verifyBlock`). */
interface Prepared {
  block: Block;
  receipts: StoredReceipt[];
  included: Candidate[];
}

/** Admission errors that make a transaction invalid everywhere (not a pool rule of this node's view). */
const INVALID_TX = /^rlp:|invalid sender|v, r, s|chain id|type not supported|oversized|intrinsic gas|exceeds block gas limit/;

/** Proposals kept for `importBlock` (a few rounds' worth at one height). */
const MAX_PREPARED = 8;

class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function hexAddr(a: Address): string {
  return a.toString().toLowerCase();
}

function toAddress(s: string, field: string): Address {
  if (!/^0x[0-9a-fA-F]{40}$/.test(s)) throw txError(`invalid address in ${field}`);
  return createAddressFromString(s);
}

export class Chain {
  readonly common: Common;
  readonly genesis: Genesis;
  readonly mempool: Mempool;
  private readonly db: ChainDb;
  private readonly vm: VM;
  private readonly state: BlockStateManager;
  /** The Common of decoded transactions (shared: see `sharedTxCommon`). */
  private readonly txCommon: Common;
  /** Pending transactions' log in the data dir (set once replayed at open). */
  private mempoolLog: MempoolLog | undefined;
  private readonly lock = new Lock();
  private headBlock: Block;
  private readonly recentHashes: Map<bigint, Uint8Array>;
  private readonly maxTxsPerBlock: number;
  private readonly signersOf: ChainOptions['signersOf'];
  private readonly votersOf: ChainOptions['votersOf'];
  /** The staking contract's `minBaseFee` in the head state (governed base-fee floor). */
  private minBaseFee = 0n;
  /**
   * Blocks executed without committing (a proposal built or verified before it is final), by hash: when
   * one becomes final on the same parent, `importBlock` commits the kept result instead of executing the
   * block again (its hash commits to the state root, so the result is the block's). Bounded.
   */
  private readonly prepared = new Map<string, Prepared>();
  /** Blocks executed (built, verified or imported) and blocks committed from a kept execution. */
  readonly stats = { executedBlocks: 0, committedPrepared: 0 };
  /** Sender recovery on worker threads (undefined: inline). */
  private readonly senders: SenderRecovery | undefined;
  private closed = false;

  private constructor(parts: { common: Common; genesis: Genesis; db: ChainDb; vm: VM; state: BlockStateManager; head: Block; options: ChainOptions; recent: Map<bigint, Uint8Array> }) {
    this.recentHashes = parts.recent;
    this.common = parts.common;
    this.genesis = parts.genesis;
    this.db = parts.db;
    this.vm = parts.vm;
    this.state = parts.state;
    this.headBlock = parts.head;
    this.mempool = new Mempool(parts.options.mempool);
    this.txCommon = sharedTxCommon(parts.common);
    this.maxTxsPerBlock = parts.options.maxTxsPerBlock ?? Number.MAX_SAFE_INTEGER;
    this.signersOf = parts.options.signersOf;
    this.votersOf = parts.options.votersOf;
    const native = parts.options.nativeCrypto ?? true;
    this.senders = native ? SenderRecovery.create(parts.options.senderThreads ?? 0) : undefined;
  }

  /** Opens the chain in `dataDir`, writing the genesis block on first use; reopens at the last committed block. */
  static async open(options: ChainOptions): Promise<Chain> {
    await initChainCrypto();
    await installJumpAnalysisCache();
    const common = createChainCommon(options.genesis.chainId, options.nativeCrypto ?? true);
    const db = await ChainDb.open(options.dataDir);
    try {
      // Writes buffered per block, roots computed once per block (chain/storage/block-state-manager.ts).
      const state = new BlockStateManager({ store: db.trie, hash: common.customCrypto.keccak256 ?? keccak_256 });
      const recent = new Map<bigint, Uint8Array>();
      const blockchain: EVMMockBlockchainInterface = {
        getBlock: async (n: number) => {
          const h = recent.get(BigInt(n));
          return { hash: () => h ?? ZERO32 };
        },
        putBlock: async () => {},
        shallowCopy() {
          return this;
        },
      };
      const vm = await createVM({ common, stateManager: state, blockchain });
      let head: Block;
      const headNumber = await db.head();
      if (headNumber === undefined) {
        head = await Chain.writeGenesis(options.genesis, common, state, db, vm);
      } else {
        const rlp = await db.blockRlp(headNumber);
        if (rlp === undefined) throw new EnergyMeshError('LOG_CORRUPT', `chain store has head ${headNumber} but no block`);
        head = Chain.decodeBlock(rlp, common);
        const genesisRlp = await db.blockRlp(0n);
        const expected = Chain.genesisBlock(options.genesis, common, genesisRlp === undefined ? undefined : Chain.decodeBlock(genesisRlp, common).header.stateRoot);
        const stored = await db.genesisHash();
        if (stored === undefined || bytesToHex(stored) !== bytesToHex(expected.hash())) {
          throw new EnergyMeshError('CONFIG_INVALID', 'the chain store was created with a different genesis', {
            details: { dataDir: options.dataDir },
          });
        }
        await state.setStateRoot(head.header.stateRoot);
      }
      const chain = new Chain({ common, genesis: options.genesis, db, vm, state, head, options, recent });
      await chain.refreshSystemParams();
      for (let n = head.header.number, i = 0; n >= 0n && i < 256; n--, i++) {
        const b = n === head.header.number ? head : Chain.decodeBlock((await db.blockRlp(n)) ?? new Uint8Array(), common);
        recent.set(n, b.hash());
      }
      if (options.persistMempool === true) await chain.restoreMempool(options.dataDir);
      return chain;
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  private static decodeBlock(rlp: Uint8Array, common: Common): Block {
    return createBlockFromRLP(rlp, { common, freeze: true });
  }

  /**
   * Decodes a block received from another node (a proposal, a synced block): the transactions on the
   * shared transaction Common (ethereumjs' block decoder builds a Common per transaction: the most
   * expensive part of decoding a big block) and, with `recoverSenders`, every sender recovered once
   * (native secp256k1) and cached for execution. A transaction with an invalid signature is kept
   * unfrozen-sender: `importBlock` refuses the block naming it. Throws `INVALID_ARGUMENT` for malformed
   * bytes; the hash, roots and everything else are checked by `verifyBlock`/`importBlock`.
   */
  /** `decodeBlock` with the senders recovered on the worker threads (one message for the block). */
  async decodeBlockAsync(rlp: Uint8Array): Promise<Block> {
    const block = this.decodeBlock(rlp, false, false);
    await Promise.all(block.transactions.filter((tx) => !Object.isFrozen(tx)).map((tx) => this.recoverSender(tx)));
    return block;
  }

  decodeBlock(rlp: Uint8Array, recoverSenders = true, freezeTxs = true): Block {
    try {
      const values = RLP.decode(rlp) as unknown;
      if (!Array.isArray(values) || values.length !== 4) throw new Error(`a block has 4 fields, got ${Array.isArray(values) ? values.length : 'bytes'}`);
      const [headerData, txsData, uncles, withdrawals] = values as unknown[];
      if (!Array.isArray(headerData) || !Array.isArray(txsData) || !Array.isArray(uncles) || !Array.isArray(withdrawals)) throw new Error('a block field is not a list');
      if (uncles.length > 0 || withdrawals.length > 0) throw new Error('uncles and withdrawals must be empty');
      const header = createBlockHeaderFromBytesArray(headerData as Uint8Array[], { common: this.common, freeze: true });
      const transactions = (txsData as Parameters<typeof createTxFromBlockBodyData>[0][]).map((data) => {
        // A transaction this node already admitted (gossip reaches the pool before the block): the pooled
        // object, decoded and with its sender recovered once. Same hash = same signed bytes.
        const raw = data instanceof Uint8Array ? data : RLP.encode(data);
        const pooled = this.mempool.get(bytesToHex(keccak256(raw)))?.tx;
        if (pooled !== undefined) return pooled;
        const tx = createTxFromBlockBodyData(data, { common: this.txCommon, freeze: false });
        if (recoverSenders) {
          try {
            freezeWithSender(tx);
          } catch {
            Object.freeze(tx);
          }
        } else if (freezeTxs) {
          Object.freeze(tx);
        }
        return tx;
      });
      return new Block(header, transactions, [], [], { common: this.common, freeze: true });
    } catch (e) {
      throw txError('rlp: invalid block', { cause: e instanceof Error ? e.message : String(e) });
    }
  }

  private static genesisBlock(genesis: Genesis, common: Common, stateRoot: Uint8Array | undefined): Block {
    return createBlock(
      {
        header: {
          number: 0n,
          timestamp: genesis.timestamp,
          gasLimit: genesis.gasLimit,
          baseFeePerGas: genesis.baseFeePerGas,
          extraData: EXTRA_DATA,
          stateRoot: stateRoot ?? KECCAK256_RLP,
          difficulty: 0n,
          nonce: new Uint8Array(8),
          withdrawalsRoot: KECCAK256_RLP,
          parentBeaconBlockRoot: ZERO32,
          blobGasUsed: 0n,
          excessBlobGas: 0n,
        },
        withdrawals: [],
      },
      { common, freeze: true },
    );
  }

  private static async writeGenesis(genesis: Genesis, common: Common, state: BlockStateManager, db: ChainDb, vm: VM): Promise<Block> {
    for (const [address, balance] of genesis.alloc) {
      await state.putAccount(createAddressFromString(address), new Account(0n, balance));
    }
    // The EMPoS staking system contract with the genesis validators' stakes (chain/system).
    await installStakingContract(vm, genesis, Chain.genesisBlock(genesis, common, undefined));
    const stateRoot = await state.getStateRoot();
    const block = Chain.genesisBlock(genesis, common, stateRoot);
    await db.commitBlock({
      number: 0n,
      hash: block.hash(),
      block: block.serialize(),
      receipts: encodeStoredReceipts({ receipts: [] }),
      txHashes: [],
    });
    return block;
  }

  get head(): Block {
    return this.headBlock;
  }

  get chainId(): bigint {
    return this.genesis.chainId;
  }

  /** Base fee of the next block (EIP-1559 from the head, at least the governed `minBaseFee`). */
  nextBaseFee(): bigint {
    return this.baseFeeAfter(this.headBlock);
  }

  /** EIP-1559 base fee after `parent` (the head), floored at the staking contract's `minBaseFee` of the head state. */
  private baseFeeAfter(parent: Block): bigint {
    const fee = parent.header.calcNextBaseFee();
    return fee < this.minBaseFee ? this.minBaseFee : fee;
  }

  /** Re-reads the governed parameters the chain applies from the head state (after each committed block). */
  private async refreshSystemParams(): Promise<void> {
    this.minBaseFee = await readMinBaseFee(this.state);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lock.run(async () => {
      this.mempoolLog?.close();
      await this.db.close();
    });
    await this.senders?.close();
  }

  /** Transactions whose sender a worker recovered (the rest were recovered inline). */
  get sendersRecoveredOffThread(): number {
    return this.senders?.recovered ?? 0;
  }

  /**
   * Recovers an unfrozen transaction's sender — on a worker thread when there is one — caches it and
   * freezes the transaction. An invalid signature leaves it without a sender (admission or import says so).
   */
  private async recoverSender(tx: TypedTransaction): Promise<void> {
    const input = this.senders === undefined ? undefined : recoveryInputOf(tx);
    if (input !== undefined) {
      const publicKey = await this.senders!.recover(input).catch(() => undefined);
      if (publicKey !== undefined && !Object.isFrozen(tx)) {
        freezeWithPublicKey(tx, publicKey);
        return;
      }
    }
    try {
      freezeWithSender(tx);
    } catch {
      Object.freeze(tx);
    }
  }

  /** Replays the pending-transaction log through admission (included or now invalid ones drop out), then compacts it. */
  private async restoreMempool(dataDir: string): Promise<void> {
    const { log, pending } = MempoolLog.open(dataDir);
    for (const raw of pending) {
      try {
        await this.submitRawTransaction(raw);
      } catch {
        // included by a block since, or no longer valid
      }
    }
    this.mempoolLog = log;
    log.rewrite(this.mempool.all().map((p) => p.tx.serialize()));
  }

  /** After a block: rewrites the log with the pool once dead records outnumber live ones. */
  private pruneMempoolLog(): void {
    const log = this.mempoolLog;
    if (log === undefined || log.size <= 2 * this.mempool.size + 256) return;
    log.rewrite(this.mempool.all().map((p) => p.tx.serialize()));
  }

  // ---------------------------------------------------------------------------------------------
  // Transactions in

  /**
   * Decodes, verifies and pools a raw signed transaction; returns its hash. Throws `INVALID_ARGUMENT`
   * (with `details.rpcMessage`) for malformed bytes, a wrong chain id, a bad signature, unsupported type,
   * oversize data and every pool rule.
   */
  async submitRawTransaction(raw: Uint8Array): Promise<string> {
    if (raw.length > MAX_TX_BYTES) throw txError('oversized data', { size: raw.length, max: MAX_TX_BYTES });
    let tx: TypedTransaction;
    try {
      tx = createTxFromRLP(raw, { common: this.txCommon, freeze: false });
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e);
      if (/chain ?id/i.test(m)) throw txError('invalid chain id for signer', { cause: m });
      throw txError('rlp: invalid transaction', { cause: m });
    }
    // sender recovered once (off the main thread when possible), cached for runTx; an unsigned or badly
    // signed transaction is frozen without one and submitTransaction says which
    await this.recoverSender(tx);
    return this.submitTransaction(tx);
  }

  /**
   * Admits a batch of raw transactions from a peer (a gossip message): each one as `submitRawTransaction`,
   * recoveries in one worker message. `invalid` counts transactions no honest node would relay (malformed,
   * badly signed, wrong chain, oversize…) — the peer is to be penalised; `refused` the pool's rules
   * (already known, nonce, funds, price), which depend on the node's view and are not the peer's fault.
   */
  async admitRawTransactions(raws: readonly Uint8Array[]): Promise<{ admitted: string[]; refused: number; invalid: number }> {
    const outcomes = await Promise.all(
      raws.map((raw) =>
        this.submitRawTransaction(raw).then(
          (hash) => ({ hash }),
          (e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }),
        ),
      ),
    );
    const out = { admitted: [] as string[], refused: 0, invalid: 0 };
    for (const o of outcomes) {
      if ('hash' in o) out.admitted.push(o.hash);
      else if (INVALID_TX.test(o.error)) out.invalid++;
      else out.refused++;
    }
    return out;
  }

  async submitTransaction(tx: TypedTransaction): Promise<string> {
    if (tx.type === TransactionType.BlobEIP4844) throw txError('transaction type not supported');
    if (!tx.isSigned()) throw txError('invalid transaction v, r, s values');
    if (tx.type === TransactionType.Legacy && !tx.supports(155)) throw txError('only replay-protected (EIP-155) transactions allowed over RPC');
    if (tx.common.chainId() !== this.chainId) throw txError('invalid chain id for signer');
    let sender: string;
    try {
      sender = hexAddr(tx.getSenderAddress());
    } catch {
      throw txError('invalid sender');
    }
    if (tx.gasLimit > this.headBlock.header.gasLimit) throw txError('exceeds block gas limit');
    if (tx.gasLimit < tx.getIntrinsicGas()) throw txError('intrinsic gas too low');
    const errors = tx.getValidationErrors();
    if (errors.length > 0) throw txError(`invalid transaction: ${errors.join('; ')}`);
    const hash = bytesToHex(tx.hash());
    return this.lock.run(async () => {
      const account = await this.state.getAccount(createAddressFromString(sender));
      this.mempool.add(tx, hash, sender, { nonce: account?.nonce ?? 0n, balance: account?.balance ?? 0n });
      this.mempoolLog?.append(tx.serialize()); // survives a restart (chain/storage/mempool-log.ts)
      return hash;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Block production

  /**
   * Builds, executes and commits the next block from the pool with `timestamp` (unix seconds; raised to
   * the parent's if earlier) and `coinbase` (the proposer, who gets the block reward and the priority fees).
   * `seal(hash)` returns the proposer signature and certificate stored with the block.
   */
  async produceBlock(opts: ProduceOptions): Promise<CommittedBlock> {
    return this.lock.run(() => this.produceLocked(opts));
  }

  /**
   * Builds and executes the next block from the pool like `produceBlock` but does not commit it: the
   * state goes back to the head and the pool is unchanged (a proposal that becomes final later is
   * committed with `importBlock`). Used by the validator network, where a block is final only with votes.
   */
  async buildProposal(opts: Omit<ProduceOptions, 'seal'>): Promise<CommittedBlock> {
    return this.lock.run(() => this.produceLocked({ ...opts, dryRun: true }));
  }

  /** Checks a proposed block like `importBlock` (re-execution, every root) without committing it. */
  async verifyBlock(block: Block): Promise<CommittedBlock> {
    return this.importBlock(block, undefined, true);
  }

  private headerFor(parent: Block, timestamp: bigint, coinbase: Address, extraData: Uint8Array = EXTRA_DATA): HeaderData {
    return {
      parentHash: parent.hash(),
      number: parent.header.number + 1n,
      timestamp,
      coinbase,
      gasLimit: parent.header.gasLimit,
      baseFeePerGas: this.baseFeeAfter(parent),
      difficulty: 0n,
      nonce: new Uint8Array(8),
      mixHash: parent.hash(),
      extraData,
      withdrawalsRoot: KECCAK256_RLP,
      parentBeaconBlockRoot: ZERO32,
      blobGasUsed: 0n,
      excessBlobGas: 0n,
    };
  }

  private async produceLocked(opts: ProduceOptions & { dryRun?: boolean }): Promise<CommittedBlock> {
    if (this.closed) throw new EnergyMeshError('NOT_CONNECTED', 'chain is closed');
    const parent = this.headBlock;
    // Seconds resolution: with sub-second block times consecutive blocks may share a timestamp (never go back).
    const timestamp = opts.timestamp > parent.header.timestamp ? opts.timestamp : parent.header.timestamp;
    const headerData = this.headerFor(parent, timestamp, toAddress(opts.coinbase, 'coinbase'), opts.extraData);
    const nonces = new Map<string, bigint>();
    const candidates = await this.mempool.executable(async (s) => {
      const a = await this.state.getAccount(createAddressFromString(s));
      const n = a?.nonce ?? 0n;
      nonces.set(s, n);
      return n;
    });
    try {
      const deadline = opts.budgetMs === undefined ? undefined : performance.now() + opts.budgetMs;
      const exec = await this.executeTxs(parent, headerData, candidates, 'build', opts.parentSigners, opts.parentVoters, deadline);
      const result = await this.finishBlock(headerData, exec, opts.seal, undefined, opts.dryRun === true);
      if (opts.dryRun === true) {
        this.keepPrepared({ block: result.block, receipts: result.receipts, included: exec.included });
        await this.state.setStateRoot(parent.header.stateRoot);
        return result;
      }
      for (const p of exec.included) this.mempool.remove(p.hash);
      for (const s of new Set(exec.included.map((p) => p.sender))) {
        this.mempool.prune(s, (nonces.get(s) ?? 0n) + BigInt(exec.included.filter((p) => p.sender === s).length));
      }
      this.pruneMempoolLog();
      return result;
    } catch (e) {
      await this.state.setStateRoot(parent.header.stateRoot);
      throw e;
    }
  }

  /**
   * Imports a block another validator proposed: checks it extends the head, re-executes its transactions
   * and accepts it only when every header field it commits to (state, transactions and receipts roots,
   * bloom, gas used) matches. Throws `INVALID_ARGUMENT` (`details.rpcMessage` says what) and leaves the
   * chain at its head otherwise. Same block in, same state root out: execution is deterministic.
   */
  async importBlock(block: Block, seal?: Uint8Array, dryRun = false): Promise<CommittedBlock> {
    return this.lock.run(async () => {
      if (this.closed) throw new EnergyMeshError('NOT_CONNECTED', 'chain is closed');
      const parent = this.headBlock;
      const h = block.header;
      const fail = (why: string): never => {
        throw txError(`invalid block ${h.number}: ${why}`, { number: h.number.toString() });
      };
      if (h.number !== parent.header.number + 1n) fail(`expected height ${parent.header.number + 1n}`);
      if (bytesToHex(h.parentHash) !== bytesToHex(parent.hash())) fail('parent hash does not match the head');
      if (h.timestamp < parent.header.timestamp) fail('timestamp before the parent');
      // extraData: 'EMPoS' or, in the validator network, the 32-byte commitment to the parent's certificate (checked by consensus).
      const expected = this.headerFor(parent, h.timestamp, h.coinbase, h.extraData.length === 32 ? h.extraData : EXTRA_DATA);
      const built = createBlock({ header: expected }, { common: this.common, freeze: true }).header;
      if (h.gasLimit !== built.gasLimit) fail('gas limit differs from the parent');
      if (h.baseFeePerGas !== built.baseFeePerGas) fail('wrong base fee');
      if (bytesToHex(h.mixHash) !== bytesToHex(built.mixHash) || bytesToHex(h.extraData) !== bytesToHex(built.extraData)) fail('wrong mixHash or extraData');
      if (block.transactions.some((tx) => tx.type === TransactionType.BlobEIP4844)) fail('blob transactions are not allowed');
      const prepared = dryRun ? undefined : this.prepared.get(bytesToHex(block.hash()));
      if (prepared !== undefined) {
        // Executed already when it was built or verified, on this same parent: commit that result.
        try {
          await this.state.setStateRoot(prepared.block.header.stateRoot);
          const result = await this.persist(prepared.block, prepared.receipts, prepared.included, seal === undefined ? undefined : () => seal, []);
          await this.afterImport(prepared.included);
          this.stats.committedPrepared++;
          return result;
        } catch (e) {
          await this.state.setStateRoot(parent.header.stateRoot);
          throw e;
        }
      }
      const candidates: Candidate[] = [];
      for (const tx of block.transactions) {
        let sender: string;
        try {
          sender = hexAddr(tx.getSenderAddress());
        } catch {
          return fail('a transaction has an invalid signature');
        }
        candidates.push({ tx, sender, hash: bytesToHex(tx.hash()) });
      }
      try {
        const exec = await this.executeTxs(parent, expected, candidates, 'import');
        const result = await this.finishBlock(expected, exec, seal === undefined ? undefined : () => seal, block, dryRun);
        if (dryRun) {
          this.keepPrepared({ block: result.block, receipts: result.receipts, included: candidates });
          await this.state.setStateRoot(parent.header.stateRoot);
          return result;
        }
        await this.afterImport(candidates);
        return result;
      } catch (e) {
        await this.state.setStateRoot(parent.header.stateRoot);
        throw e;
      }
    });
  }

  /** The pool after a block another validator made: its transactions out, its senders' older nonces pruned. */
  private async afterImport(included: readonly Candidate[]): Promise<void> {
    for (const c of included) this.mempool.remove(c.hash);
    for (const sender of new Set(included.map((c) => c.sender))) {
      const acc = await this.state.getAccount(createAddressFromString(sender));
      this.mempool.prune(sender, acc?.nonce ?? 0n);
    }
    this.pruneMempoolLog();
  }

  private keepPrepared(p: Prepared): void {
    const key = bytesToHex(p.block.hash());
    this.prepared.delete(key);
    this.prepared.set(key, p);
    if (this.prepared.size > MAX_PREPARED) this.prepared.delete(this.prepared.keys().next().value!);
  }

  /** Runs the candidates in order on the live state. `build` skips and drops what cannot run; `import` fails. */
  private async executeTxs(
    parent: Block,
    headerData: HeaderData,
    candidates: readonly Candidate[],
    mode: 'build' | 'import',
    parentSigners?: readonly string[],
    parentVoters?: readonly string[],
    deadline?: number,
  ): Promise<Execution> {
    this.stats.executedBlocks++;
    const context = createBlock({ header: headerData }, { common: this.common, freeze: true });
    const exec: Execution = { included: [], txReceipts: [], stored: [], dropped: [], gasUsed: 0n, fees: 0n };
    // Block start (system call): offline penalties from the parent's certificate signers.
    const signers = parentSigners ?? (await this.signersOf?.(parent.header.number));
    const voters = signers === undefined ? undefined : (parentVoters ?? (await this.votersOf?.(parent.header.number)));
    await systemCall(this.vm, context, encodeBlockStart(signers, voters));
    const skippedSenders = new Set<string>();
    const baseFee = context.header.baseFeePerGas ?? parent.header.calcNextBaseFee();
    const gasLimit = parent.header.gasLimit;
    let sinceYield = 0;
    for (const p of candidates) {
      // Execution is mostly microtasks (cached state): yield to the event loop now and then so sockets
      // and timers (RPC, keep-alive) are served during a big block.
      if (++sinceYield >= 64) {
        sinceYield = 0;
        if (deadline !== undefined && mode === 'build' && performance.now() > deadline) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (mode === 'build') {
        if (exec.included.length >= this.maxTxsPerBlock) break;
        if (skippedSenders.has(p.sender)) continue;
      }
      const cap = 'maxFeePerGas' in p.tx ? p.tx.maxFeePerGas : p.tx.gasPrice;
      if (cap < baseFee || exec.gasUsed + p.tx.gasLimit > gasLimit) {
        if (mode === 'import') throw txError(`invalid block ${headerData.number}: transaction ${p.hash} does not fit (fee cap or gas limit)`);
        skippedSenders.add(p.sender); // later nonces of this sender must wait too
        continue;
      }
      let result;
      try {
        result = await runTx(this.vm, { tx: p.tx, block: context, skipHardForkValidation: true });
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        if (mode === 'import') throw txError(`invalid block ${headerData.number}: transaction ${p.hash} failed: ${reason}`);
        exec.dropped.push({ hash: p.hash, reason });
        skippedSenders.add(p.sender);
        this.mempool.remove(p.hash);
        continue;
      }
      exec.gasUsed += result.totalGasSpent;
      // Fees go to the validators' pool (system contract), not to the proposer nor burned.
      exec.fees += result.amountSpent;
      await reclaimPriorityFee(this.vm, context.header.coinbase, result.minerValue);
      exec.txReceipts.push({ ...result.receipt, cumulativeBlockGasUsed: exec.gasUsed });
      exec.included.push(p);
      exec.stored.push({
        status: result.execResult.exceptionError === undefined ? 1 : 0,
        type: p.tx.type,
        from: p.sender,
        to: p.tx.to === undefined ? null : hexAddr(p.tx.to),
        cumulativeGasUsed: exec.gasUsed.toString(),
        gasUsed: result.totalGasSpent.toString(),
        effectiveGasPrice: (baseFee + p.tx.getEffectivePriorityFee(baseFee)).toString(),
        contractAddress: result.createdAddress === undefined ? null : hexAddr(result.createdAddress),
        logs: (result.execResult.logs ?? []).map(([address, topics, data]) => ({
          address: bytesToHex(address),
          topics: topics.map((t) => bytesToHex(t)),
          data: bytesToHex(data),
        })),
      });
    }
    // Block end (system call): the block's fees credited to the staking contract and shared by stake.
    await creditBlockFees(this.vm, context, exec.fees);
    return exec;
  }

  /** Pays the block reward, computes the roots, checks them against `expected` (import), commits. */
  private async finishBlock(headerData: HeaderData, exec: Execution, seal: ((hash: Uint8Array) => Uint8Array) | undefined, expected?: Block, dryRun = false): Promise<CommittedBlock> {
    const reward = this.genesis.consensus.blockReward;
    if (reward > 0n) {
      const coinbase = headerData.coinbase as Address;
      const acc = (await this.state.getAccount(coinbase)) ?? new Account();
      acc.balance += reward;
      await this.state.putAccount(coinbase, acc);
    }
    const stateRoot = await this.state.getStateRoot();
    const transactionsTrie = trieRootOf(exec.included.map((p) => p.tx.serialize()), keccak256);
    const receiptTrie = trieRootOf(exec.txReceipts.map((r, i) => encodeReceipt(r, exec.included[i]!.tx.type)), keccak256);
    const bloom = logsBloom(exec.stored.flatMap((r) => r.logs));
    // The block from the executed transaction objects themselves (`createBlock` would rebuild each one).
    const block = new Block(
      createBlockHeader({ ...headerData, stateRoot, transactionsTrie, receiptTrie, logsBloom: bloom, gasUsed: exec.gasUsed }, { common: this.common, freeze: true }),
      exec.included.map((p) => p.tx),
      [],
      [],
      { common: this.common, freeze: true },
    );
    if (expected !== undefined && bytesToHex(block.hash()) !== bytesToHex(expected.hash())) {
      const e = expected.header;
      const what =
        bytesToHex(e.stateRoot) !== bytesToHex(stateRoot) ? 'state root mismatch'
        : bytesToHex(e.receiptTrie) !== bytesToHex(receiptTrie) ? 'receipts root mismatch'
        : bytesToHex(e.transactionsTrie) !== bytesToHex(transactionsTrie) ? 'transactions root mismatch'
        : e.gasUsed !== exec.gasUsed ? 'gas used mismatch'
        : bytesToHex(e.logsBloom) !== bytesToHex(bloom) ? 'bloom mismatch'
        : 'header mismatch';
      throw txError(`invalid block ${e.number}: ${what}`, { number: e.number.toString() });
    }
    if (dryRun) return { block, receipts: exec.stored, dropped: exec.dropped };
    return this.persist(block, exec.stored, exec.included, seal, exec.dropped);
  }

  /** Writes the executed block (the live state is at its state root) and makes it the head. */
  private async persist(block: Block, receipts: StoredReceipt[], included: readonly Candidate[], seal: ((hash: Uint8Array) => Uint8Array) | undefined, dropped: CommittedBlock['dropped']): Promise<CommittedBlock> {
    const hash = block.hash();
    await this.db.commitBlock({
      number: block.header.number,
      hash,
      block: block.serialize(),
      receipts: encodeStoredReceipts({ receipts }),
      seal: seal?.(hash),
      txHashes: included.map((p) => p.tx.hash()),
    });
    this.headBlock = block;
    for (const [key, p] of this.prepared) if (p.block.header.number <= block.header.number) this.prepared.delete(key);
    await this.refreshSystemParams();
    this.recentHashes.set(block.header.number, hash);
    this.recentHashes.delete(block.header.number - 256n);
    return { block, receipts, dropped };
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /**
   * The state to read: the head's (live state) or, for an older block, a read-only view of that block's
   * state root (nodes are never pruned, so every committed state stays readable).
   */
  private async readState(blockNumber: bigint | undefined): Promise<BlockStateManager | MerkleStateManager> {
    if (blockNumber === undefined || blockNumber === this.headBlock.header.number) return this.state;
    const block = await this.getBlockByNumber(blockNumber);
    if (block === undefined) throw txError('header not found', { blockNumber: blockNumber.toString() });
    const trie = await createMPT({ db: this.db.trie, useKeyHashing: true, valueEncoding: 'view', common: this.common, root: block.header.stateRoot });
    return new MerkleStateManager({ trie, common: this.common });
  }

  async getAccount(address: string, blockNumber?: bigint): Promise<{ nonce: bigint; balance: bigint; codeHash: Uint8Array }> {
    const a = toAddress(address, 'address');
    return this.lock.run(async () => {
      const acc = await (await this.readState(blockNumber)).getAccount(a);
      return { nonce: acc?.nonce ?? 0n, balance: acc?.balance ?? 0n, codeHash: acc?.codeHash ?? new Uint8Array() };
    });
  }

  /**
   * Sum of every account balance at `blockNumber` (default: head) — walks the whole state trie, O(accounts);
   * for supply audits (`chain/system/supply.ts`), not for hot paths.
   */
  async totalBalance(blockNumber?: bigint): Promise<bigint> {
    return this.lock.run(async () => {
      const block = blockNumber === undefined ? this.headBlock : await this.getBlockByNumber(blockNumber);
      if (block === undefined) throw txError('header not found', { blockNumber: String(blockNumber) });
      const trie = await createMPT({ db: this.db.trie, useKeyHashing: true, valueEncoding: 'view', common: this.common, root: block.header.stateRoot });
      let sum = 0n;
      await trie.walkAllValueNodes(async (node) => {
        if (node instanceof LeafMPTNode) sum += createAccountFromRLP(node.value()).balance;
      });
      return sum;
    });
  }

  async getCode(address: string, blockNumber?: bigint): Promise<Uint8Array> {
    const a = toAddress(address, 'address');
    return this.lock.run(async () => (await this.readState(blockNumber)).getCode(a));
  }

  async getStorageAt(address: string, slot: Uint8Array, blockNumber?: bigint): Promise<Uint8Array> {
    const a = toAddress(address, 'address');
    const key = new Uint8Array(32);
    key.set(slot.subarray(Math.max(0, slot.length - 32)), 32 - Math.min(32, slot.length));
    return this.lock.run(async () => {
      const v = await (await this.readState(blockNumber)).getStorage(a, key);
      const out = new Uint8Array(32);
      out.set(v, 32 - v.length);
      return out;
    });
  }

  async pendingNonce(address: string): Promise<bigint> {
    const acc = await this.getAccount(address);
    return this.mempool.pendingNonce(address.toLowerCase(), acc.nonce);
  }

  async getBlockByNumber(number: bigint): Promise<Block | undefined> {
    if (number === this.headBlock.header.number) return this.headBlock;
    if (number > this.headBlock.header.number || number < 0n) return undefined;
    const rlp = await this.db.blockRlp(number);
    return rlp === undefined ? undefined : this.decodeBlock(rlp, false);
  }

  async getBlockByHash(hash: Uint8Array): Promise<Block | undefined> {
    const n = await this.db.blockNumberByHash(hash);
    return n === undefined ? undefined : this.getBlockByNumber(n);
  }

  async getReceipts(number: bigint): Promise<StoredReceipt[]> {
    const raw = await this.db.receipts(number);
    return raw === undefined ? [] : decodeStoredReceipts(raw).receipts;
  }

  async getSeal(number: bigint): Promise<Uint8Array | undefined> {
    return this.db.seal(number);
  }

  async getTransaction(hash: string): Promise<TxLookup | undefined> {
    const pooled = this.mempool.get(hash.toLowerCase());
    if (pooled !== undefined) return { tx: pooled.tx, sender: pooled.sender };
    const loc = await this.db.txLocation(hexToBytes(hash as PrefixedHexString));
    if (loc === undefined) return undefined;
    const block = await this.getBlockByNumber(loc.number);
    const tx = block?.transactions[loc.index];
    if (block === undefined || tx === undefined) return undefined;
    const receipts = await this.getReceipts(loc.number);
    return {
      tx,
      sender: receipts[loc.index]?.from ?? hexAddr(tx.getSenderAddress()),
      block: { number: loc.number, hash: bytesToHex(block.hash()), index: loc.index, baseFee: block.header.baseFeePerGas ?? 0n },
    };
  }

  /** Logs matching `filter`, in chain order. */
  async getLogs(filter: LogFilter): Promise<IndexedLog[]> {
    const out: IndexedLog[] = [];
    const addresses = filter.addresses?.map((a) => a.toLowerCase());
    const topics = filter.topics?.map((t) => (t === null ? null : t.map((x) => x.toLowerCase())));
    for (let n = filter.fromBlock; n <= filter.toBlock && n <= this.headBlock.header.number; n++) {
      const block = await this.getBlockByNumber(n);
      if (block === undefined) continue;
      const receipts = await this.getReceipts(n);
      out.push(...matchLogs(block, receipts, addresses, topics));
    }
    return out;
  }

  /** Executes a call against the head state without committing (eth_call). */
  async call(req: CallRequest, blockNumber?: bigint): Promise<CallResult> {
    return this.lock.run(async () => {
      if (blockNumber === undefined || blockNumber === this.headBlock.header.number) {
        return this.callLocked(req, req.gas ?? this.headBlock.header.gasLimit, this.vm, this.headBlock);
      }
      // An older block: a throw-away VM over that block's state root.
      const parent = await this.getBlockByNumber(blockNumber);
      if (parent === undefined) throw txError('header not found');
      const vm = await createVM({ common: this.common, stateManager: await this.readState(blockNumber), blockchain: this.vm.blockchain });
      return this.callLocked(req, req.gas ?? parent.header.gasLimit, vm, parent);
    });
  }

  private async callLocked(req: CallRequest, gasLimit: bigint, vm: VM = this.vm, parent: Block = this.headBlock): Promise<CallResult> {
    const caller = req.from !== undefined ? toAddress(req.from, 'from') : new Address(new Uint8Array(20));
    const to = req.to === undefined || req.to === null ? undefined : toAddress(req.to, 'to');
    const data = req.data === undefined ? new Uint8Array() : hexToBytes(req.data as PrefixedHexString);
    const intrinsic = this.intrinsicGas(to, data);
    if (gasLimit < intrinsic) return { returnValue: new Uint8Array(), gasUsed: gasLimit, error: { message: 'intrinsic gas too low', data: new Uint8Array() } };
    const block = createBlock(
      {
        header: {
          parentHash: parent.hash(),
          number: parent.header.number + 1n,
          timestamp: BigInt(Math.floor(Date.now() / 1000)) > parent.header.timestamp ? BigInt(Math.floor(Date.now() / 1000)) : parent.header.timestamp + 1n,
          gasLimit: parent.header.gasLimit,
          baseFeePerGas: parent.header.calcNextBaseFee(),
          coinbase: new Address(new Uint8Array(20)),
          mixHash: parent.hash(),
        },
      },
      { common: this.common, freeze: true },
    );
    // Price the call like a transaction: SSTORE originals from now (EIP-2200), and a fresh warm set
    // (EIP-2929) with the precompiles, the caller and the callee warm, as runTx does.
    const state = vm.stateManager;
    state.originalStorageCache.clear();
    const journal = vm.evm.journal;
    journal.cleanJournal();
    for (const [precompile] of vm.evm.precompiles) journal.addAlwaysWarmAddress(precompile);
    journal.addAlwaysWarmAddress(caller.toString());
    if (to !== undefined) journal.addAlwaysWarmAddress(to.toString());
    journal.addAlwaysWarmAddress(block.header.coinbase.toString());
    await state.checkpoint();
    try {
      const res = await vm.evm.runCall({
        caller,
        origin: caller,
        to,
        data,
        value: req.value ?? 0n,
        gasLimit: gasLimit - intrinsic,
        gasPrice: 0n,
        block,
        isStatic: false,
      });
      const used = intrinsic + res.execResult.executionGasUsed;
      const err = res.execResult.exceptionError;
      if (err !== undefined) {
        const reverted = err.error === 'revert';
        return {
          returnValue: res.execResult.returnValue,
          gasUsed: used,
          error: { message: reverted ? 'execution reverted' : err.error, data: reverted ? res.execResult.returnValue : new Uint8Array() },
        };
      }
      return { returnValue: res.execResult.returnValue, gasUsed: used };
    } finally {
      journal.cleanJournal();
      await state.revert();
    }
  }

  private intrinsicGas(to: Address | undefined, data: Uint8Array): bigint {
    const tx = createTx({ to, data, gasLimit: 0n }, { common: this.common });
    return tx.getIntrinsicGas();
  }

  /** Smallest gas limit with which the call succeeds (binary search, like geth). Throws when it fails at the cap. */
  async estimateGas(req: CallRequest): Promise<bigint> {
    return this.lock.run(async () => {
      const cap = req.gas ?? this.headBlock.header.gasLimit;
      const first = await this.callLocked(req, cap);
      if (first.error !== undefined) {
        if (first.error.message === 'execution reverted') {
          throw new EnergyMeshError('SETTLEMENT_REVERTED', revertMessage(first.error.data), {
            details: { rpcMessage: revertMessage(first.error.data), revertData: bytesToHex(first.error.data) },
          });
        }
        throw txError(first.error.message === 'out of gas' ? `gas required exceeds allowance (${cap})` : first.error.message);
      }
      let lo = first.gasUsed - 1n;
      let hi = cap;
      // Most calls succeed with gasUsed × 64/63 (the 63/64 rule) — try it before bisecting.
      const guess = (first.gasUsed * 64n) / 63n + 1n;
      if (guess < hi && (await this.callLocked(req, guess)).error === undefined) hi = guess;
      while (hi - lo > 1n) {
        const mid = (lo + hi) / 2n;
        if ((await this.callLocked(req, mid)).error === undefined) hi = mid;
        else lo = mid;
      }
      return hi;
    });
  }
}

/** `execution reverted` plus the reason when the data is an `Error(string)` (selector 0x08c379a0). */
export function revertMessage(data: Uint8Array): string {
  const hex = bytesToHex(data);
  if (!hex.startsWith('0x08c379a0') || data.length < 4 + 64) return 'execution reverted';
  try {
    const body = data.subarray(4);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const offset = Number(view.getBigUint64(24));
    const length = Number(view.getBigUint64(offset + 24));
    const start = offset + 32;
    if (start + length > body.length) return 'execution reverted';
    return `execution reverted: ${new TextDecoder().decode(body.subarray(start, start + length))}`;
  } catch {
    return 'execution reverted';
  }
}

/** Logs of one block that match the address/topic filter. */
export function matchLogs(block: Block, receipts: readonly StoredReceipt[], addresses: string[] | undefined, topics: (string[] | null)[] | undefined): IndexedLog[] {
  const out: IndexedLog[] = [];
  let logIndex = 0;
  const blockHash = bytesToHex(block.hash());
  receipts.forEach((r, txIndex) => {
    for (const log of r.logs) {
      const index = logIndex++;
      if (addresses !== undefined && addresses.length > 0 && !addresses.includes(log.address)) continue;
      if (topics !== undefined) {
        let ok = true;
        topics.forEach((alts, i) => {
          if (alts === null || alts.length === 0) return;
          const t = log.topics[i];
          if (t === undefined || !alts.includes(t)) ok = false;
        });
        if (!ok) continue;
      }
      out.push({
        ...log,
        blockNumber: block.header.number,
        blockHash,
        transactionHash: bytesToHex(block.transactions[txIndex]!.hash()),
        transactionIndex: txIndex,
        logIndex: index,
      });
    }
  });
  return out;
}

