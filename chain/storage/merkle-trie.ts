/**
 * A Merkle Patricia trie (Ethereum yellow paper, appendix D) that hashes lazily: writes change an
 * in-memory node tree and mark the touched path fresh; `commit()` encodes and hashes each fresh node
 * exactly once, bottom-up, hands the new nodes to a sink (the block's write batch) and freezes them.
 * Reads resolve stored nodes on demand and keep them decoded in the tree (a read cache that needs no
 * RLP decoding next time). Used for the state trie, the storage tries and the per-block
 * transactions/receipts tries; the roots are byte-identical to any Ethereum client's.
 *
 * Node grammar (RLP):
 *   leaf      [hexPrefix(path, leaf=1), value]
 *   extension [hexPrefix(path, leaf=0), ref(child)]
 *   branch    [ref(c0) … ref(c15), value | '']
 *   ref(n)    = RLP(n) itself when shorter than 32 bytes (embedded), else the 32-byte keccak(RLP(n))
 *   hexPrefix = flag nibble (2 × leaf + odd length), then a 0 nibble when even, then the path nibbles
 * The root is always referenced by its hash; the empty trie's root is keccak(RLP('')).
 *
 * Frozen nodes (decoded from the store or committed) are never mutated: writes copy the path (copy on
 * write), so a root that was committed stays valid while the next block is being built on it.
 * Error policy: a node missing from the store throws `LOG_CORRUPT` (the store lost data).
 */
import { RLP } from '@ethereumjs/rlp';
import { EnergyMeshError } from '../../core/errors.ts';

/** keccak256 of RLP('') — the root of the empty trie. */
export const EMPTY_TRIE_ROOT = Uint8Array.from(Buffer.from('56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421', 'hex'));

/** A child stored only by hash, not decoded yet. */
interface HashRef {
  readonly kind: 0;
  readonly hash: Uint8Array;
}
interface Leaf {
  readonly kind: 1;
  path: Uint8Array;
  value: Uint8Array;
  frozen: boolean;
  enc?: Uint8Array;
  hash?: Uint8Array;
}
interface Extension {
  readonly kind: 2;
  path: Uint8Array;
  child: Ref;
  frozen: boolean;
  enc?: Uint8Array;
  hash?: Uint8Array;
}
interface Branch {
  readonly kind: 3;
  children: (Ref | undefined)[];
  value: Uint8Array | undefined;
  frozen: boolean;
  enc?: Uint8Array;
  hash?: Uint8Array;
}
type TrieNode = Leaf | Extension | Branch;
type Ref = HashRef | TrieNode;

/** Where the trie reads stored nodes (by hash) and writes new ones. */
export interface TrieNodeStore {
  /** The RLP of the node with this hash, or undefined. */
  load(hash: Uint8Array): Promise<Uint8Array | undefined>;
}
export type TrieNodeSink = (hash: Uint8Array, encoded: Uint8Array) => void;
export type Hasher = (data: Uint8Array) => Uint8Array;

const EMPTY = new Uint8Array(0);
const RLP_EMPTY = Uint8Array.of(0x80);

// ---- RLP (encode only; decoding uses @ethereumjs/rlp) ---------------------------------------------

function lengthBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return out;
}

/** RLP of a byte string. */
export function rlpBytes(b: Uint8Array): Uint8Array {
  if (b.length === 1 && b[0]! < 0x80) return b;
  if (b.length <= 55) {
    const out = new Uint8Array(1 + b.length);
    out[0] = 0x80 + b.length;
    out.set(b, 1);
    return out;
  }
  const lb = lengthBytes(b.length);
  const out = new Uint8Array(1 + lb.length + b.length);
  out[0] = 0xb7 + lb.length;
  out.set(lb, 1);
  out.set(b, 1 + lb.length);
  return out;
}

/** RLP of a list whose items are already RLP-encoded. */
export function rlpList(items: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const it of items) total += it.length;
  let out: Uint8Array;
  let at: number;
  if (total <= 55) {
    out = new Uint8Array(1 + total);
    out[0] = 0xc0 + total;
    at = 1;
  } else {
    const lb = lengthBytes(total);
    out = new Uint8Array(1 + lb.length + total);
    out[0] = 0xf7 + lb.length;
    out.set(lb, 1);
    at = 1 + lb.length;
  }
  for (const it of items) {
    out.set(it, at);
    at += it.length;
  }
  return out;
}

// ---- paths ----------------------------------------------------------------------------------------

/** The nibbles of a key. */
export function toNibbles(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    out[2 * i] = key[i]! >> 4;
    out[2 * i + 1] = key[i]! & 15;
  }
  return out;
}

function hexPrefix(path: Uint8Array, leaf: boolean): Uint8Array {
  const odd = path.length % 2;
  const out = new Uint8Array(1 + (path.length >> 1));
  let i = 0;
  if (odd === 1) {
    out[0] = ((leaf ? 2 : 0) + 1) * 16 + path[0]!;
    i = 1;
  } else {
    out[0] = (leaf ? 2 : 0) * 16;
  }
  for (let o = 1; i < path.length; i += 2, o++) out[o] = path[i]! * 16 + path[i + 1]!;
  return out;
}

function fromHexPrefix(b: Uint8Array): { path: Uint8Array; leaf: boolean } {
  const flag = b[0]! >> 4;
  const odd = (flag & 1) === 1;
  const path = new Uint8Array((b.length - 1) * 2 + (odd ? 1 : 0));
  let o = 0;
  if (odd) path[o++] = b[0]! & 15;
  for (let i = 1; i < b.length; i++) {
    path[o++] = b[i]! >> 4;
    path[o++] = b[i]! & 15;
  }
  return { path, leaf: flag >= 2 };
}

function commonPrefix(a: Uint8Array, b: Uint8Array, bStart: number): number {
  const n = Math.min(a.length, b.length - bStart);
  let i = 0;
  while (i < n && a[i] === b[bStart + i]) i++;
  return i;
}

function concatNibbles(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// ---- node decoding --------------------------------------------------------------------------------

type Decoded = Uint8Array | Decoded[];

function refFromDecoded(item: Decoded): Ref | undefined {
  if (item instanceof Uint8Array) {
    if (item.length === 0) return undefined;
    if (item.length === 32) return { kind: 0, hash: item };
    throw new EnergyMeshError('LOG_CORRUPT', `trie node reference of ${item.length} bytes`);
  }
  return nodeFromDecoded(item, undefined, undefined);
}

function nodeFromDecoded(items: Decoded[], enc: Uint8Array | undefined, hash: Uint8Array | undefined): TrieNode {
  if (items.length === 17) {
    const children: (Ref | undefined)[] = new Array<Ref | undefined>(16);
    for (let i = 0; i < 16; i++) children[i] = refFromDecoded(items[i]!);
    const v = items[16]!;
    if (!(v instanceof Uint8Array)) throw new EnergyMeshError('LOG_CORRUPT', 'trie branch value is a list');
    return { kind: 3, children, value: v.length === 0 ? undefined : v, frozen: true, enc, hash };
  }
  if (items.length === 2) {
    const p = items[0]!;
    if (!(p instanceof Uint8Array) || p.length === 0) throw new EnergyMeshError('LOG_CORRUPT', 'trie node path is not bytes');
    const { path, leaf } = fromHexPrefix(p);
    if (leaf) {
      const v = items[1]!;
      if (!(v instanceof Uint8Array)) throw new EnergyMeshError('LOG_CORRUPT', 'trie leaf value is a list');
      return { kind: 1, path, value: v, frozen: true, enc, hash };
    }
    const child = refFromDecoded(items[1]!);
    if (child === undefined) throw new EnergyMeshError('LOG_CORRUPT', 'trie extension without child');
    return { kind: 2, path, child, frozen: true, enc, hash };
  }
  throw new EnergyMeshError('LOG_CORRUPT', `trie node with ${items.length} items`);
}

/** Decodes a stored node (its RLP) — exported for tests and tools. */
export function decodeTrieNode(enc: Uint8Array, hash?: Uint8Array): TrieNode {
  const items = RLP.decode(enc) as Decoded;
  if (items instanceof Uint8Array) throw new EnergyMeshError('LOG_CORRUPT', 'trie node is not a list');
  return nodeFromDecoded(items, enc, hash);
}

// ---- the trie -------------------------------------------------------------------------------------

function leaf(path: Uint8Array, value: Uint8Array): Leaf {
  return { kind: 1, path, value, frozen: false };
}
function extension(path: Uint8Array, child: Ref): Extension {
  return { kind: 2, path, child, frozen: false };
}
function emptyBranch(): Branch {
  return { kind: 3, children: new Array<Ref | undefined>(16), value: undefined, frozen: false };
}
function copyBranch(b: Branch): Branch {
  return { kind: 3, children: b.children.slice(), value: b.value, frozen: false };
}

/**
 * Joins `prefix` in front of `child` (used when a branch collapses or an extension's child changes
 * kind): a leaf or extension absorbs the prefix, a branch gets an extension above it.
 */
function joinPath(prefix: Uint8Array, child: TrieNode): TrieNode {
  if (prefix.length === 0) return child;
  if (child.kind === 1) return leaf(concatNibbles(prefix, child.path), child.value);
  if (child.kind === 2) return extension(concatNibbles(prefix, child.path), child.child);
  return extension(prefix, child);
}

export interface MerkleTrieOptions {
  hash: Hasher;
  /** Where stored nodes come from (absent: an in-memory trie, e.g. transactions/receipts). */
  store?: TrieNodeStore;
  /** The root to start from (default: empty). */
  root?: Uint8Array;
}

/**
 * A Merkle Patricia trie over raw keys (callers hash keys themselves for the secure tries).
 * Not safe for concurrent use: callers serialise access (the chain's lock).
 */
export class MerkleTrie {
  private rootRef: Ref | undefined;
  private rootHash: Uint8Array | undefined;
  private readonly hash: Hasher;
  private readonly store: TrieNodeStore | undefined;
  /** Nodes decoded or created since the trie was made (for callers bounding memory). */
  resident = 0;

  constructor(options: MerkleTrieOptions) {
    this.hash = options.hash;
    this.store = options.store;
    this.setRoot(options.root ?? EMPTY_TRIE_ROOT);
  }

  /** Starts from a stored root (drops the in-memory tree). */
  setRoot(root: Uint8Array): void {
    if (root.length !== 32) throw new EnergyMeshError('INVALID_ARGUMENT', 'trie root must be 32 bytes');
    this.rootHash = root;
    this.rootRef = equal(root, EMPTY_TRIE_ROOT) ? undefined : { kind: 0, hash: root };
  }

  /**
   * Another trie on the same committed root, sharing its decoded nodes (they are frozen: changes to
   * either copy their paths). Only on a committed trie.
   */
  fork(): MerkleTrie {
    if (this.rootHash === undefined) throw new EnergyMeshError('INTERNAL', 'fork of a trie with uncommitted changes');
    const t = new MerkleTrie({ hash: this.hash, store: this.store, root: this.rootHash });
    t.rootRef = this.rootRef;
    t.resident = this.resident;
    return t;
  }

  /** True when there are changes not yet committed. */
  get dirty(): boolean {
    return this.rootHash === undefined;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const path = toNibbles(key);
    let pos = 0;
    let node = this.rootRef;
    let parent: TrieNode | undefined;
    let slot = -1;
    for (;;) {
      if (node === undefined) return undefined;
      if (node.kind === 0) {
        node = await this.resolve(node, parent, slot);
      }
      if (node.kind === 1) {
        return node.path.length === path.length - pos && commonPrefix(node.path, path, pos) === node.path.length ? node.value : undefined;
      }
      if (node.kind === 2) {
        if (commonPrefix(node.path, path, pos) !== node.path.length) return undefined;
        pos += node.path.length;
        parent = node;
        slot = -1;
        node = node.child;
        continue;
      }
      if (pos === path.length) return node.value;
      parent = node;
      slot = path[pos]!;
      node = node.children[path[pos++]!];
    }
  }

  /** Sets `key` to `value` (an empty value deletes). */
  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (value.length === 0) {
      await this.del(key);
      return;
    }
    const path = toNibbles(key);
    await this.resolvePath(path, false);
    this.rootRef = this.insert(this.rootRef, path, 0, value);
    this.rootHash = undefined;
  }

  /** `put` for a trie without a store (every node resident): synchronous. */
  putResident(key: Uint8Array, value: Uint8Array): void {
    this.rootRef = this.insert(this.rootRef, toNibbles(key), 0, value);
    this.rootHash = undefined;
  }

  async del(key: Uint8Array): Promise<void> {
    const path = toNibbles(key);
    await this.resolvePath(path, true);
    this.rootRef = this.remove(this.rootRef, path, 0);
    this.rootHash = undefined;
  }

  /**
   * The root hash. Fresh nodes are encoded and hashed once; those referenced by hash (RLP ≥ 32 bytes,
   * and the root) go to `sink` (a store write); all become frozen.
   */
  commit(sink?: TrieNodeSink): Uint8Array {
    if (this.rootHash !== undefined) return this.rootHash;
    const root = this.rootRef;
    if (root === undefined) {
      this.rootHash = EMPTY_TRIE_ROOT;
      return EMPTY_TRIE_ROOT;
    }
    if (root.kind === 0) {
      this.rootHash = root.hash;
      return root.hash;
    }
    const enc = this.encode(root, sink);
    if (root.hash === undefined) {
      root.hash = this.hash(enc);
      sink?.(root.hash, enc);
    }
    this.rootHash = root.hash;
    return root.hash;
  }

  /** The root (commits pending changes without a sink when dirty: use `commit(sink)` to persist). */
  root(): Uint8Array {
    return this.commit();
  }

  // -- internals ------------------------------------------------------------------------------------

  private async resolve(ref: HashRef, parent: TrieNode | undefined, slot: number): Promise<TrieNode> {
    const enc = this.store === undefined ? undefined : await this.store.load(ref.hash);
    if (enc === undefined) {
      throw new EnergyMeshError('LOG_CORRUPT', `missing trie node ${Buffer.from(ref.hash).toString('hex')}`);
    }
    const node = decodeTrieNode(enc, ref.hash);
    this.resident++;
    // Memoise the decoded node in place of its reference (same content: allowed on frozen nodes).
    if (parent === undefined) {
      if (this.rootRef === ref) this.rootRef = node;
    } else if (parent.kind === 2) {
      if (parent.child === ref) parent.child = node;
    } else if (parent.kind === 3) {
      if (parent.children[slot] === ref) parent.children[slot] = node;
    }
    return node;
  }

  /**
   * Decodes every stored node on `path` so that insert/remove can run synchronously; for a delete also
   * the siblings in branches that may collapse (two entries) to be merged with their parent.
   */
  private async resolvePath(path: Uint8Array, forDelete: boolean): Promise<void> {
    let pos = 0;
    let node = this.rootRef;
    let parent: TrieNode | undefined;
    let slot = -1;
    for (;;) {
      if (node === undefined) return;
      if (node.kind === 0) node = await this.resolve(node, parent, slot);
      if (node.kind === 1) return;
      if (node.kind === 2) {
        if (commonPrefix(node.path, path, pos) !== node.path.length) return;
        pos += node.path.length;
        parent = node;
        slot = -1;
        node = node.child;
        continue;
      }
      if (forDelete) {
        let entries = node.value === undefined ? 0 : 1;
        for (const c of node.children) if (c !== undefined) entries++;
        if (entries === 2) {
          for (let i = 0; i < 16; i++) {
            const c = node.children[i];
            if (c !== undefined && c.kind === 0 && i !== path[pos]) await this.resolve(c, node, i);
          }
        }
      }
      if (pos === path.length) return;
      parent = node;
      slot = path[pos]!;
      node = node.children[path[pos++]!];
    }
  }

  private insert(node: Ref | undefined, path: Uint8Array, pos: number, value: Uint8Array): TrieNode {
    if (node === undefined) {
      this.resident++;
      return leaf(path.subarray(pos), value);
    }
    if (node.kind === 0) throw new EnergyMeshError('INTERNAL', 'trie insert reached an unresolved node');
    if (node.kind === 1) {
      const common = commonPrefix(node.path, path, pos);
      const rest = path.length - pos;
      if (common === node.path.length && common === rest) {
        if (!node.frozen) {
          node.value = value;
          return node;
        }
        this.resident++;
        return leaf(node.path, value);
      }
      const b = emptyBranch();
      this.resident += 2;
      if (common === node.path.length) b.value = node.value;
      else b.children[node.path[common]!] = leaf(node.path.subarray(common + 1), node.value);
      if (common === rest) b.value = value;
      else b.children[path[pos + common]!] = leaf(path.subarray(pos + common + 1), value);
      if (common === 0) return b;
      this.resident++;
      return extension(path.subarray(pos, pos + common), b);
    }
    if (node.kind === 2) {
      const common = commonPrefix(node.path, path, pos);
      if (common === node.path.length) {
        const child = this.insert(node.child, path, pos + common, value);
        if (!node.frozen) {
          node.child = child;
          return node;
        }
        this.resident++;
        return extension(node.path, child);
      }
      const b = emptyBranch();
      this.resident += 2;
      const tail = node.path.subarray(common + 1);
      b.children[node.path[common]!] = tail.length === 0 ? node.child : extension(tail, node.child);
      if (pos + common === path.length) b.value = value;
      else b.children[path[pos + common]!] = leaf(path.subarray(pos + common + 1), value);
      if (common === 0) return b;
      this.resident++;
      return extension(node.path.subarray(0, common), b);
    }
    const b = node.frozen ? copyBranch(node) : node;
    if (b !== node) this.resident++;
    if (pos === path.length) b.value = value;
    else b.children[path[pos]!] = this.insert(b.children[path[pos]!], path, pos + 1, value);
    return b;
  }

  /** Removes the key; returns the new subtree (the same node when the key was absent). */
  private remove(node: Ref | undefined, path: Uint8Array, pos: number): Ref | undefined {
    if (node === undefined) return undefined;
    if (node.kind === 0) throw new EnergyMeshError('INTERNAL', 'trie delete reached an unresolved node');
    if (node.kind === 1) {
      const match = node.path.length === path.length - pos && commonPrefix(node.path, path, pos) === node.path.length;
      return match ? undefined : node;
    }
    if (node.kind === 2) {
      if (commonPrefix(node.path, path, pos) !== node.path.length) return node;
      const child = this.remove(node.child, path, pos + node.path.length);
      if (child === node.child) return node;
      if (child === undefined) return undefined;
      if (child.kind === 0) return extension(node.path, child);
      return joinPath(node.path, child);
    }
    let b: Branch;
    if (pos === path.length) {
      if (node.value === undefined) return node;
      b = copyBranch(node);
      b.value = undefined;
    } else {
      const i = path[pos]!;
      const old = node.children[i];
      const child = this.remove(old, path, pos + 1);
      if (child === old) return node;
      b = copyBranch(node);
      b.children[i] = child;
    }
    this.resident++;
    let only = -1;
    let count = b.value === undefined ? 0 : 1;
    for (let i = 0; i < 16; i++) {
      if (b.children[i] !== undefined) {
        count++;
        only = i;
      }
    }
    if (count === 0) return undefined;
    if (count > 1) return b;
    if (only === -1) return leaf(EMPTY, b.value!);
    const c = b.children[only]!;
    if (c.kind === 0) throw new EnergyMeshError('INTERNAL', 'trie collapse reached an unresolved node');
    return joinPath(Uint8Array.of(only), c);
  }

  /** RLP of a node (cached once computed); hashes and sinks fresh children referenced by hash. */
  private encode(node: TrieNode, sink: TrieNodeSink | undefined): Uint8Array {
    if (node.enc !== undefined) return node.enc;
    let enc: Uint8Array;
    if (node.kind === 1) {
      enc = rlpList([rlpBytes(hexPrefix(node.path, true)), rlpBytes(node.value)]);
    } else if (node.kind === 2) {
      enc = rlpList([rlpBytes(hexPrefix(node.path, false)), this.ref(node.child, sink)]);
    } else {
      const items = new Array<Uint8Array>(17);
      for (let i = 0; i < 16; i++) {
        const c = node.children[i];
        items[i] = c === undefined ? RLP_EMPTY : this.ref(c, sink);
      }
      items[16] = node.value === undefined ? RLP_EMPTY : rlpBytes(node.value);
      enc = rlpList(items);
    }
    node.enc = enc;
    node.frozen = true;
    return enc;
  }

  private ref(child: Ref, sink: TrieNodeSink | undefined): Uint8Array {
    if (child.kind === 0) return rlpBytes(child.hash);
    const enc = this.encode(child, sink);
    if (enc.length < 32) return enc;
    if (child.hash === undefined) {
      child.hash = this.hash(enc);
      sink?.(child.hash, enc);
    }
    return rlpBytes(child.hash);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Root of the trie keyed by RLP(index) — the transactions and receipts tries of a block. */
export function orderedTrieRoot(values: readonly Uint8Array[], hash: Hasher): Uint8Array {
  const trie = new MerkleTrie({ hash });
  // Synchronous: an in-memory trie never awaits a store (every node on a path is resident).
  values.forEach((v, i) => trie.putResident(rlpIndex(i), v));
  return trie.commit();
}

function rlpIndex(i: number): Uint8Array {
  if (i === 0) return RLP_EMPTY;
  return rlpBytes(Uint8Array.from(lengthBytes(i)));
}
