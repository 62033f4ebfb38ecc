/**
 * The database the Merkle Patricia state trie writes through (the ethereumjs `DB` interface). Writes stay
 * in memory (`pending`) until the block that produced them commits: `ChainDb.commitBlock` drains them into
 * the same atomic LevelDB batch as the block and the head pointer. Reads look in pending, then a bounded
 * cache of recently used nodes, then LevelDB. Nodes are content-addressed and never deleted (no pruning),
 * so an abandoned block's leftover nodes are harmless. Serves both ethereumjs' trie (the `DB` interface,
 * used for reads of past states) and our `MerkleTrie`/`BlockStateManager` (`loadNode`/`putNode`, same keys).
 */
import type { BatchDBOp, DB } from '@ethereumjs/util';

type Value = string | Uint8Array;

function toBytes(value: Value): Uint8Array {
  return typeof value === 'string' ? Uint8Array.from(Buffer.from(value, 'hex')) : value;
}

/** Hex of 'c': the key prefix of contract code (ethereumjs' CODEHASH_PREFIX). */
const CODE_PREFIX = '63';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export class TrieOverlay implements DB<string, Value> {
  private pending = new Map<string, Uint8Array>();
  private readonly cache = new Map<string, Uint8Array>();
  private readonly cacheLimit: number;
  private readonly load: (key: string) => Promise<Uint8Array | undefined>;

  constructor(load: (key: string) => Promise<Uint8Array | undefined>, cacheLimit = 200_000) {
    this.load = load;
    this.cacheLimit = cacheLimit;
  }

  async get(key: string): Promise<Value | undefined> {
    const p = this.pending.get(key);
    if (p !== undefined) return p;
    const c = this.cache.get(key);
    if (c !== undefined) return c;
    const v = await this.load(key);
    if (v !== undefined) this.remember(key, v);
    return v;
  }

  async put(key: string, value: Value): Promise<void> {
    this.pending.set(key, toBytes(value));
  }

  /** Nodes are shared between historical roots, so a delete is ignored (no pruning). */
  async del(_key: string): Promise<void> {}

  async batch(ops: BatchDBOp<string, Value>[]): Promise<void> {
    for (const op of ops) if (op.type === 'put') this.pending.set(op.key, toBytes(op.value));
  }

  shallowCopy(): DB<string, Value> {
    return this;
  }

  async open(): Promise<void> {}

  /** A trie node by hash (the `TrieNodeStore` of `MerkleTrie`). */
  async loadNode(hash: Uint8Array): Promise<Uint8Array | undefined> {
    const v = await this.get(hex(hash));
    return v === undefined ? undefined : toBytes(v);
  }

  /** Buffers a new trie node for the block's batch. */
  putNode(hash: Uint8Array, encoded: Uint8Array): void {
    this.pending.set(hex(hash), encoded);
  }

  /** Contract code by code hash (stored under 'c' ‖ hash, as ethereumjs' state manager does). */
  async loadCode(codeHash: Uint8Array): Promise<Uint8Array | undefined> {
    const v = await this.get(CODE_PREFIX + hex(codeHash));
    return v === undefined ? undefined : toBytes(v);
  }

  putCode(codeHash: Uint8Array, code: Uint8Array): void {
    this.pending.set(CODE_PREFIX + hex(codeHash), code);
  }

  /** Takes the writes since the last commit (to be written in the block's batch). */
  drainPending(): Map<string, Uint8Array> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  /** Puts back drained writes after a failed store write. */
  restorePending(nodes: Map<string, Uint8Array>): void {
    for (const [k, v] of nodes) if (!this.pending.has(k)) this.pending.set(k, v);
  }

  /** Moves committed nodes into the read cache. */
  markPersisted(nodes: Map<string, Uint8Array>): void {
    for (const [k, v] of nodes) this.remember(k, v);
  }

  private remember(key: string, value: Uint8Array): void {
    if (this.cache.size >= this.cacheLimit) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(key, value);
  }
}
