/**
 * Persistent chain storage on LevelDB (npm `classic-level`). Crash consistency comes from one rule:
 * everything a block changes — its state-trie nodes, the block, its receipts, its seal and the head
 * pointer — is written in ONE atomic, fsynced LevelDB batch (`commitBlock`). LevelDB's write-ahead log
 * replays a batch whole or not at all, so after `kill -9` the store reopens at the last committed block
 * with that block's complete state; nodes of a block that was being built are never referenced.
 *
 * Key schema (utf8 keys, byte values):
 *   t<hex>        state-trie node / contract code (content addressed, never deleted: no pruning)
 *   b<number>     RLP of the block                       h<hash>  block number (8-byte BE)
 *   r<number>     receipts record (JSON)                 x<hash>  tx location: number (8 BE) + index (4 BE)
 *   s<number>     seal: proposer signature + finality certificate (JSON)
 *   H             head block number (8-byte BE)          G        genesis hash (32 bytes)
 */
import { ClassicLevel } from 'classic-level';
import { EnergyMeshError } from '../../core/errors.ts';
import { TrieOverlay } from './trie-overlay.ts';

export interface BlockCommit {
  number: bigint;
  hash: Uint8Array;
  /** RLP of the block. */
  block: Uint8Array;
  receipts: Uint8Array;
  seal?: Uint8Array;
  /** Hashes of the block's transactions, in order. */
  txHashes: Uint8Array[];
}

function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

function readU64(bytes: Uint8Array, offset = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The chain's LevelDB: blocks, receipts, indexes, head pointer and the state-trie nodes. */
export class ChainDb {
  readonly trie: TrieOverlay;
  private readonly level: ClassicLevel<string, Uint8Array>;

  private constructor(level: ClassicLevel<string, Uint8Array>) {
    this.level = level;
    this.trie = new TrieOverlay((key) => this.get(`t${key}`));
  }

  /** Opens (creating if needed) the store in `dir`. */
  static async open(dir: string): Promise<ChainDb> {
    const level = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await level.open();
    } catch (e) {
      throw new EnergyMeshError('INTERNAL', `cannot open chain store at ${dir}`, { cause: e, details: { dir } });
    }
    return new ChainDb(level);
  }

  async close(): Promise<void> {
    await this.level.close();
  }

  private async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.level.get(key)) ?? undefined;
  }

  async head(): Promise<bigint | undefined> {
    const v = await this.get('H');
    return v === undefined ? undefined : readU64(v);
  }

  async genesisHash(): Promise<Uint8Array | undefined> {
    return this.get('G');
  }

  async blockRlp(number: bigint): Promise<Uint8Array | undefined> {
    return this.get(`b${number}`);
  }

  async blockNumberByHash(hash: Uint8Array): Promise<bigint | undefined> {
    const v = await this.get(`h${hex(hash)}`);
    return v === undefined ? undefined : readU64(v);
  }

  async receipts(number: bigint): Promise<Uint8Array | undefined> {
    return this.get(`r${number}`);
  }

  async seal(number: bigint): Promise<Uint8Array | undefined> {
    return this.get(`s${number}`);
  }

  async txLocation(hash: Uint8Array): Promise<{ number: bigint; index: number } | undefined> {
    const v = await this.get(`x${hex(hash)}`);
    if (v === undefined) return undefined;
    return { number: readU64(v), index: new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(8) };
  }

  /**
   * Writes a block with the trie nodes its execution produced and moves the head, atomically and durably.
   * `genesisHash` is written with block 0.
   */
  async commitBlock(commit: BlockCommit): Promise<void> {
    const batch = this.level.batch();
    const trieNodes = this.trie.drainPending();
    for (const [key, value] of trieNodes) batch.put(`t${key}`, value);
    batch.put(`b${commit.number}`, commit.block);
    batch.put(`h${hex(commit.hash)}`, u64(commit.number));
    batch.put(`r${commit.number}`, commit.receipts);
    if (commit.seal !== undefined) batch.put(`s${commit.number}`, commit.seal);
    commit.txHashes.forEach((txHash, index) => {
      const loc = new Uint8Array(12);
      loc.set(u64(commit.number), 0);
      new DataView(loc.buffer).setUint32(8, index);
      batch.put(`x${hex(txHash)}`, loc);
    });
    if (commit.number === 0n) batch.put('G', commit.hash);
    batch.put('H', u64(commit.number));
    try {
      await batch.write({ sync: true });
    } catch (e) {
      this.trie.restorePending(trieNodes);
      throw new EnergyMeshError('INTERNAL', 'chain store write failed', { cause: e, retriable: true });
    }
    this.trie.markPersisted(trieNodes);
  }

  /** Updates the seal (e.g. a finality certificate that completed after the block was stored). */
  async putSeal(number: bigint, seal: Uint8Array): Promise<void> {
    await this.level.put(`s${number}`, seal, { sync: true });
  }
}
