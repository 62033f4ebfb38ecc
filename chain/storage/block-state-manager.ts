/**
 * The EVM's state (ethereumjs `StateManagerInterface`) with every write of a block buffered and the
 * Merkle Patricia roots computed once, at the end of the block (`getStateRoot`):
 *
 * - reads go overlay (this block's writes) → clean caches (committed accounts and slots) → the tries
 *   (`MerkleTrie`, which keeps decoded nodes in memory, so a hot path is decoded once);
 * - writes go to the overlay only, journaled for the EVM's checkpoint/commit/revert (call frames and
 *   transactions); nothing touches a trie during execution;
 * - `getStateRoot` applies each touched contract's slot writes to its storage trie, then the touched
 *   accounts to the account trie, and commits each trie once: every new node is encoded and hashed a
 *   single time and handed to the store (`TrieOverlay`, drained into the block's atomic batch).
 *
 * The tries are the ones every Ethereum client builds (secure tries: keys keccak(address) and
 * keccak(slot), values RLP(account) and RLP(unpadded value); code under 'c' ‖ codeHash), so roots match
 * ethereumjs' `MerkleStateManager` and the stored nodes stay readable by it (past-state reads).
 *
 * Semantics follow ethereumjs' state manager: an account that is deleted loses its storage; storage
 * writes require the account to exist; `clearStorage` empties the storage (and creates the account).
 * One difference inside a block: an account's `storageRoot` is brought up to date at the end of the
 * block, not after each transaction (the EVM only compares it with the empty root, for EIP-7610, and
 * since Spurious Dragon no account can gain storage without a nonce or code).
 *
 * Not safe for concurrent use (the chain serialises all access through its lock).
 */
import type { AccountFields, StateManagerInterface } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { Account, createAccountFromRLP, KECCAK256_NULL, KECCAK256_RLP, unpadBytes, type Address } from '@ethereumjs/util';
import { EnergyMeshError } from '../../core/errors.ts';
import { EMPTY_TRIE_ROOT, MerkleTrie, rlpBytes, type Hasher, type TrieNodeSink } from './merkle-trie.ts';

/** Where nodes and code are read and new ones buffered (`TrieOverlay`). */
export interface StateStore {
  loadNode(hash: Uint8Array): Promise<Uint8Array | undefined>;
  putNode(hash: Uint8Array, encoded: Uint8Array): void;
  loadCode(codeHash: Uint8Array): Promise<Uint8Array | undefined>;
  putCode(codeHash: Uint8Array, code: Uint8Array): void;
}

export interface BlockStateManagerOptions {
  store: StateStore;
  hash: Hasher;
  /** Root to start from (default: the empty trie). */
  root?: Uint8Array;
  /** Decoded trie nodes kept in memory before the caches are dropped (default 1,000,000). */
  maxResidentNodes?: number;
}

const EMPTY: Uint8Array = new Uint8Array(0);

interface AccountEntry {
  address: Uint8Array;
  /** null: deleted / absent. */
  account: Account | null;
}

interface SlotEntry {
  key: Uint8Array;
  /** Unpadded; empty = zero (deleted). */
  value: Uint8Array;
}

interface StorageEntry {
  address: Uint8Array;
  /** The committed storage no longer counts (account deleted or storage cleared this block). */
  cleared: boolean;
  slots: Map<string, SlotEntry>;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function copyAccount(a: Account): Account {
  return new Account(a.nonce, a.balance, a.storageRoot, a.codeHash);
}

function sameAccount(a: Account, b: Account): boolean {
  return a.nonce === b.nonce && a.balance === b.balance && equalBytes(a.storageRoot, b.storageRoot) && equalBytes(a.codeHash, b.codeHash);
}

/** A state root with its decoded account trie and the storage tries loaded so far. */
interface TrieSet {
  root: Uint8Array;
  accountTrie: MerkleTrie;
  storageTries: Map<string, MerkleTrie>;
}

/** How many computed-but-abandoned states `setStateRoot` can resume without re-reading (rounds of one height). */
const RETAINED_STATES = 4;

/** See the file comment. */
export class BlockStateManager implements StateManagerInterface {
  private readonly store: StateStore;
  private readonly hash: Hasher;
  private readonly sink: TrieNodeSink;
  private readonly maxResident: number;
  private accountTrie: MerkleTrie;
  private committedRoot: Uint8Array;

  // Clean state (as of `committedRoot`).
  private readonly baseAccounts = new Map<string, Account | null>();
  private readonly baseSlots = new Map<string, Map<string, Uint8Array>>();
  private readonly storageTries = new Map<string, MerkleTrie>();
  private readonly codeCache = new Map<string, Uint8Array>();

  /** The tries as they were before the last `getStateRoot` (a dry-run or failed block goes back to them). */
  private parent: TrieSet | undefined;
  /**
   * The tries of recently computed blocks that went back to their parent (dry runs: a proposal built or
   * verified before it is final), by state root — `setStateRoot` to one of them (the block became final)
   * resumes from the decoded tries instead of re-reading them. Bounded; dropped with the caches.
   */
  private readonly retained = new Map<string, TrieSet>();

  // This block's writes.
  private accounts = new Map<string, AccountEntry>();
  private storage = new Map<string, StorageEntry>();
  private dirtyCode = new Map<string, Uint8Array>();
  private journal: (() => void)[] = [];
  private readonly checkpoints: number[] = [];
  private original = new Map<string, Uint8Array>();

  readonly originalStorageCache: { get(address: Address, key: Uint8Array): Promise<Uint8Array>; clear(): void };

  constructor(options: BlockStateManagerOptions) {
    this.store = options.store;
    this.hash = options.hash;
    this.maxResident = options.maxResidentNodes ?? 1_000_000;
    this.sink = (h, enc) => this.store.putNode(h, enc);
    this.committedRoot = options.root ?? EMPTY_TRIE_ROOT;
    this.accountTrie = this.newTrie(this.committedRoot);
    // EIP-2200/2929 "original value": the value at the start of the transaction, cached on first use.
    this.originalStorageCache = {
      get: async (address, key) => {
        const k = hex(address.bytes) + hex(key);
        const v = this.original.get(k);
        if (v !== undefined) return v;
        const value = await this.getStorage(address, key);
        this.original.set(k, value);
        return value;
      },
      clear: () => {
        this.original = new Map();
      },
    };
  }

  private newTrie(root: Uint8Array): MerkleTrie {
    return new MerkleTrie({ hash: this.hash, root, store: { load: (h) => this.store.loadNode(h) } });
  }

  // ---- accounts -----------------------------------------------------------------------------------

  private async baseAccount(address: Uint8Array, k: string): Promise<Account | null> {
    const cached = this.baseAccounts.get(k);
    if (cached !== undefined) return cached;
    const rlp = await this.accountTrie.get(this.hash(address));
    const account = rlp === undefined ? null : createAccountFromRLP(rlp);
    this.baseAccounts.set(k, account);
    return account;
  }

  private async current(address: Uint8Array, k: string): Promise<Account | null> {
    const e = this.accounts.get(k);
    if (e !== undefined) return e.account;
    return this.baseAccount(address, k);
  }

  async getAccount(address: Address): Promise<Account | undefined> {
    const a = await this.current(address.bytes, hex(address.bytes));
    return a === null ? undefined : copyAccount(a);
  }

  private setAccount(address: Uint8Array, k: string, account: Account | null): void {
    if (this.checkpoints.length > 0) {
      const prev = this.accounts.get(k);
      this.journal.push(() => {
        if (prev === undefined) this.accounts.delete(k);
        else this.accounts.set(k, prev);
      });
    }
    this.accounts.set(k, { address, account });
  }

  private setStorageEntry(k: string, entry: StorageEntry): void {
    if (this.checkpoints.length > 0) {
      const prev = this.storage.get(k);
      this.journal.push(() => {
        if (prev === undefined) this.storage.delete(k);
        else this.storage.set(k, prev);
      });
    }
    this.storage.set(k, entry);
  }

  async putAccount(address: Address, account?: Account): Promise<void> {
    if (account === undefined) {
      await this.deleteAccount(address);
      return;
    }
    this.setAccount(address.bytes, hex(address.bytes), copyAccount(account));
  }

  async deleteAccount(address: Address): Promise<void> {
    const k = hex(address.bytes);
    this.setAccount(address.bytes, k, null);
    this.setStorageEntry(k, { address: address.bytes, cleared: true, slots: new Map() });
  }

  async modifyAccountFields(address: Address, fields: AccountFields): Promise<void> {
    const account = (await this.getAccount(address)) ?? new Account();
    if (fields.nonce !== undefined) account.nonce = fields.nonce;
    if (fields.balance !== undefined) account.balance = fields.balance;
    if (fields.storageRoot !== undefined) account.storageRoot = fields.storageRoot;
    if (fields.codeHash !== undefined) account.codeHash = fields.codeHash;
    await this.putAccount(address, account);
  }

  // ---- code ---------------------------------------------------------------------------------------

  async putCode(address: Address, code: Uint8Array): Promise<void> {
    const codeHash = this.hash(code);
    const h = hex(codeHash);
    // Content-addressed: no journal needed (an unreferenced entry is harmless).
    if (code.length > 0 && !this.codeCache.has(h)) this.dirtyCode.set(h, code);
    this.codeCache.set(h, code);
    await this.modifyAccountFields(address, { codeHash });
  }

  async getCode(address: Address): Promise<Uint8Array> {
    const account = await this.current(address.bytes, hex(address.bytes));
    if (account === null || equalBytes(account.codeHash, KECCAK256_NULL)) return EMPTY;
    const h = hex(account.codeHash);
    let code = this.codeCache.get(h);
    if (code === undefined) {
      code = (await this.store.loadCode(account.codeHash)) ?? EMPTY;
      if (this.codeCache.size >= 10_000) this.codeCache.clear();
      this.codeCache.set(h, code);
    }
    return code;
  }

  async getCodeSize(address: Address): Promise<number> {
    return (await this.getCode(address)).length;
  }

  // ---- storage ------------------------------------------------------------------------------------

  private async storageTrie(address: Uint8Array, k: string): Promise<MerkleTrie> {
    let trie = this.storageTries.get(k);
    if (trie === undefined) {
      const account = await this.baseAccount(address, k);
      trie = this.newTrie(account === null ? EMPTY_TRIE_ROOT : account.storageRoot);
      this.storageTries.set(k, trie);
    }
    return trie;
  }

  private async baseSlot(address: Uint8Array, k: string, key: Uint8Array, s: string): Promise<Uint8Array> {
    let slots = this.baseSlots.get(k);
    const cached = slots?.get(s);
    if (cached !== undefined) return cached;
    const account = await this.baseAccount(address, k);
    let value: Uint8Array = EMPTY;
    if (account !== null && !equalBytes(account.storageRoot, KECCAK256_RLP)) {
      const rlp = await (await this.storageTrie(address, k)).get(this.hash(key));
      if (rlp !== undefined) value = RLP.decode(rlp) as Uint8Array;
    }
    if (slots === undefined) {
      slots = new Map();
      this.baseSlots.set(k, slots);
    }
    slots.set(s, value);
    return value;
  }

  async getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> {
    if (key.length !== 32) throw new EnergyMeshError('INVALID_ARGUMENT', 'storage key must be 32 bytes');
    const k = hex(address.bytes);
    const s = hex(key);
    const e = this.storage.get(k);
    if (e !== undefined) {
      const v = e.slots.get(s);
      if (v !== undefined) return v.value;
      if (e.cleared) return EMPTY;
    }
    if ((await this.current(address.bytes, k)) === null) return EMPTY;
    return this.baseSlot(address.bytes, k, key, s);
  }

  async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    if (key.length !== 32) throw new EnergyMeshError('INVALID_ARGUMENT', 'storage key must be 32 bytes');
    if (value.length > 32) throw new EnergyMeshError('INVALID_ARGUMENT', 'storage value cannot be longer than 32 bytes');
    const k = hex(address.bytes);
    if ((await this.current(address.bytes, k)) === null) {
      throw new EnergyMeshError('INVALID_ARGUMENT', 'putStorage() called on a non-existing account');
    }
    let e = this.storage.get(k);
    if (e === undefined) {
      e = { address: address.bytes, cleared: false, slots: new Map() };
      this.setStorageEntry(k, e);
    }
    const s = hex(key);
    const slots = e.slots;
    if (this.checkpoints.length > 0) {
      const prev = slots.get(s);
      this.journal.push(() => {
        if (prev === undefined) slots.delete(s);
        else slots.set(s, prev);
      });
    }
    slots.set(s, { key, value: unpadBytes(value) });
  }

  async clearStorage(address: Address): Promise<void> {
    const account = (await this.getAccount(address)) ?? new Account();
    account.storageRoot = KECCAK256_RLP;
    await this.putAccount(address, account);
    this.setStorageEntry(hex(address.bytes), { address: address.bytes, cleared: true, slots: new Map() });
  }

  // ---- checkpoints --------------------------------------------------------------------------------

  async checkpoint(): Promise<void> {
    this.checkpoints.push(this.journal.length);
  }

  async commit(): Promise<void> {
    if (this.checkpoints.pop() === undefined) throw new EnergyMeshError('INTERNAL', 'commit without checkpoint');
    if (this.checkpoints.length === 0) this.endOfTransaction();
  }

  async revert(): Promise<void> {
    const mark = this.checkpoints.pop();
    if (mark === undefined) throw new EnergyMeshError('INTERNAL', 'revert without checkpoint');
    for (let i = this.journal.length - 1; i >= mark; i--) this.journal[i]!();
    this.journal.length = mark;
    if (this.checkpoints.length === 0) this.endOfTransaction();
  }

  private endOfTransaction(): void {
    this.journal = [];
    this.original = new Map();
  }

  // ---- roots --------------------------------------------------------------------------------------

  /**
   * Applies the block's writes to the tries and returns the state root; the new nodes and code go to the
   * store (the caller commits them in the block's batch, or resets with `setStateRoot`).
   */
  async getStateRoot(): Promise<Uint8Array> {
    if (this.checkpoints.length > 0) throw new EnergyMeshError('INTERNAL', 'state root requested inside a checkpoint');
    if (this.accounts.size === 0 && this.storage.size === 0 && this.dirtyCode.size === 0) return this.committedRoot;
    this.parent = this.snapshot();
    try {
      return await this.applyBlock();
    } catch (e) {
      // A store failure half-way: back to the parent's tries, the block's writes dropped.
      await this.setStateRoot(this.committedRoot);
      throw e;
    }
  }

  private async applyBlock(): Promise<Uint8Array> {
    // 1. Storage tries: each touched contract's slots, one commit per trie.
    for (const [k, e] of this.storage) {
      const account = await this.current(e.address, k);
      if (account === null) continue; // deleted: its storage goes with it
      let trie: MerkleTrie;
      if (e.cleared) {
        trie = this.newTrie(EMPTY_TRIE_ROOT);
        this.storageTries.set(k, trie);
        this.baseSlots.delete(k);
      } else {
        trie = await this.storageTrie(e.address, k);
      }
      let slots = this.baseSlots.get(k);
      if (slots === undefined) {
        slots = new Map();
        this.baseSlots.set(k, slots);
      }
      for (const [s, slot] of e.slots) {
        if (!e.cleared && slots.get(s) !== undefined && equalBytes(slots.get(s)!, slot.value)) continue; // unchanged
        const hashedKey = this.hash(slot.key);
        if (slot.value.length === 0) await trie.del(hashedKey);
        else await trie.put(hashedKey, rlpBytes(slot.value));
        slots.set(s, slot.value);
      }
      const updated = copyAccount(account);
      updated.storageRoot = trie.commit(this.sink);
      this.accounts.set(k, { address: e.address, account: updated });
    }
    // 2. Accounts.
    for (const [k, e] of this.accounts) {
      const base = await this.baseAccount(e.address, k);
      if (e.account === null) {
        if (base !== null) await this.accountTrie.del(this.hash(e.address));
        this.storageTries.delete(k);
        this.baseSlots.delete(k);
      } else {
        const account = e.account;
        // The storage root is ours to keep: the EVM never sets one (only clearStorage, which records a
        // storage entry), so an account whose storage was not touched keeps the committed root.
        if (!this.storage.has(k)) account.storageRoot = base === null ? KECCAK256_RLP : base.storageRoot;
        if (base === null || !sameAccount(base, account)) await this.accountTrie.put(this.hash(e.address), account.serialize());
      }
      this.baseAccounts.set(k, e.account);
    }
    for (const [h, code] of this.dirtyCode) this.store.putCode(Buffer.from(h, 'hex'), code);
    this.committedRoot = this.accountTrie.commit(this.sink);
    this.accounts = new Map();
    this.storage = new Map();
    this.dirtyCode = new Map();
    this.boundMemory();
    return this.committedRoot;
  }

  private boundMemory(): void {
    let resident = this.accountTrie.resident;
    for (const t of this.storageTries.values()) resident += t.resident;
    let slots = 0;
    for (const m of this.baseSlots.values()) slots += m.size;
    if (resident > this.maxResident || this.baseAccounts.size + slots > this.maxResident) this.dropCaches();
  }

  /** Forks of the committed tries (they share the frozen decoded nodes; later writes copy their paths). */
  private snapshot(): TrieSet {
    const forks = new Map<string, MerkleTrie>();
    for (const [k, t] of this.storageTries) forks.set(k, t.fork());
    return { root: this.committedRoot, accountTrie: this.accountTrie.fork(), storageTries: forks };
  }

  private resume(set: TrieSet): void {
    this.committedRoot = set.root;
    this.accountTrie = set.accountTrie;
    this.storageTries.clear();
    for (const [k, t] of set.storageTries) this.storageTries.set(k, t);
    this.baseAccounts.clear(); // they describe the state left; the tries re-fill them
    this.baseSlots.clear();
  }

  private dropCaches(): void {
    this.retained.clear();
    this.accountTrie = this.newTrie(this.committedRoot);
    this.storageTries.clear();
    this.baseAccounts.clear();
    this.baseSlots.clear();
  }

  /**
   * Moves to `stateRoot`, discarding the block's uncommitted writes (a failed or dry-run block goes back
   * to its parent this way). Throws when the store does not hold that root.
   */
  async setStateRoot(stateRoot: Uint8Array): Promise<void> {
    if (this.checkpoints.length > 0) throw new EnergyMeshError('INTERNAL', 'setStateRoot inside a checkpoint');
    this.accounts = new Map();
    this.storage = new Map();
    this.dirtyCode = new Map();
    this.endOfTransaction();
    const parent = this.parent;
    this.parent = undefined;
    if (parent !== undefined && equalBytes(parent.root, stateRoot)) {
      // Back to the parent of the last computed block: its decoded tries are still in memory, and so are
      // the computed block's (kept in case it becomes final: see `retained`).
      if (!equalBytes(this.committedRoot, parent.root)) this.retain(this.snapshot()); // (not after a failed apply)
      this.resume(parent);
      return;
    }
    // The clean caches always describe `committedRoot`, so they survive `clearCache` on the same root.
    if (equalBytes(stateRoot, this.committedRoot)) return;
    const kept = this.retained.get(hex(stateRoot));
    if (kept !== undefined) {
      // A computed block's state: resume from forks (the retained tries stay as they are for another resume).
      const forks = new Map<string, MerkleTrie>();
      for (const [k, t] of kept.storageTries) forks.set(k, t.fork());
      this.resume({ root: kept.root, accountTrie: kept.accountTrie.fork(), storageTries: forks });
      return;
    }
    if (!(await this.hasStateRoot(stateRoot))) throw new EnergyMeshError('LOG_CORRUPT', 'state trie does not contain the state root');
    this.committedRoot = stateRoot;
    this.dropCaches();
  }

  private retain(set: TrieSet): void {
    const key = hex(set.root);
    this.retained.delete(key);
    this.retained.set(key, set);
    if (this.retained.size > RETAINED_STATES) this.retained.delete(this.retained.keys().next().value!);
  }

  async hasStateRoot(root: Uint8Array): Promise<boolean> {
    return equalBytes(root, EMPTY_TRIE_ROOT) || (await this.store.loadNode(root)) !== undefined;
  }

  getAppliedKey(address: Uint8Array): Uint8Array {
    return this.hash(address);
  }

  clearCaches(): void {
    this.dropCaches();
    this.codeCache.clear();
  }

  /** A manager on the same store at the last committed root (no writes carried over). */
  shallowCopy(): BlockStateManager {
    return new BlockStateManager({ store: this.store, hash: this.hash, root: this.committedRoot, maxResidentNodes: this.maxResident });
  }
}
