/**
 * The transaction pool. Admission (`add`) checks what the state allows now — nonce not already used,
 * balance covers gas × fee + value, intrinsic gas, block gas limit, size — and throws
 * `INVALID_ARGUMENT` with geth's wording in `details.rpcMessage` (wallets match on it). Transactions with
 * a future nonce wait (queued) until the gap is filled, at most `maxNonceGap` ahead. A same-nonce
 * replacement must raise both fee caps by ≥ 10 %. `executable()` yields, per sender, the run of
 * consecutive nonces from the state nonce, senders in arrival order.
 */
import type { TypedTransaction } from '@ethereumjs/tx';
import { EnergyMeshError } from '../../core/errors.ts';

export interface PooledTx {
  tx: TypedTransaction;
  hash: string;
  sender: string;
  nonce: bigint;
  seq: number;
}

export interface MempoolOptions {
  maxSize: number;
  maxPerSender: number;
  maxNonceGap: bigint;
}

export const DEFAULT_MEMPOOL_OPTIONS: MempoolOptions = { maxSize: 50_000, maxPerSender: 5_000, maxNonceGap: 1024n };

export function txError(rpcMessage: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('INVALID_ARGUMENT', rpcMessage, { details: { rpcMessage, ...details } });
}

function maxFee(tx: TypedTransaction): bigint {
  return 'maxFeePerGas' in tx ? tx.maxFeePerGas : tx.gasPrice;
}

function maxTip(tx: TypedTransaction): bigint {
  return 'maxPriorityFeePerGas' in tx ? tx.maxPriorityFeePerGas : tx.gasPrice;
}

export class Mempool {
  private readonly bySender = new Map<string, Map<bigint, PooledTx>>();
  private readonly byHash = new Map<string, PooledTx>();
  private seq = 0;
  private readonly options: MempoolOptions;

  constructor(options: Partial<MempoolOptions> = {}) {
    this.options = { ...DEFAULT_MEMPOOL_OPTIONS, ...options };
  }

  get size(): number {
    return this.byHash.size;
  }

  get(hash: string): PooledTx | undefined {
    return this.byHash.get(hash);
  }

  /** The nonce after the sender's consecutive pooled transactions (for `getTransactionCount(…, 'pending')`). */
  pendingNonce(sender: string, stateNonce: bigint): bigint {
    const txs = this.bySender.get(sender);
    let n = stateNonce;
    while (txs?.has(n) === true) n++;
    return n;
  }

  /** Admits `tx` (already decoded, signature verified, sender recovered) given the sender's state. */
  add(tx: TypedTransaction, hash: string, sender: string, state: { nonce: bigint; balance: bigint }): PooledTx {
    if (this.byHash.has(hash)) throw txError('already known');
    if (tx.nonce < state.nonce) throw txError('nonce too low', { next: state.nonce.toString(), got: tx.nonce.toString() });
    if (tx.nonce > state.nonce + this.options.maxNonceGap) throw txError('nonce too high', { next: state.nonce.toString() });
    const cost = tx.gasLimit * maxFee(tx) + tx.value;
    if (state.balance < cost) {
      throw txError('insufficient funds for gas * price + value', { have: state.balance.toString(), want: cost.toString() });
    }
    let txs = this.bySender.get(sender);
    const existing = txs?.get(tx.nonce);
    if (existing !== undefined) {
      const bumpOk = (a: bigint, b: bigint): boolean => a * 100n >= b * 110n;
      if (!bumpOk(maxFee(tx), maxFee(existing.tx)) || !bumpOk(maxTip(tx), maxTip(existing.tx))) {
        throw txError('replacement transaction underpriced');
      }
      this.byHash.delete(existing.hash);
    } else {
      if (this.byHash.size >= this.options.maxSize) throw new EnergyMeshError('INVALID_ARGUMENT', 'txpool is full', { retriable: true, details: { rpcMessage: 'txpool is full' } });
      if ((txs?.size ?? 0) >= this.options.maxPerSender) throw txError('account limit exceeded');
    }
    if (txs === undefined) {
      txs = new Map();
      this.bySender.set(sender, txs);
    }
    const pooled: PooledTx = { tx, hash, sender, nonce: tx.nonce, seq: existing?.seq ?? this.seq++ };
    txs.set(tx.nonce, pooled);
    this.byHash.set(hash, pooled);
    return pooled;
  }

  /** Executable transactions: per sender the consecutive nonces from its state nonce; senders by arrival. */
  executable(stateNonce: (sender: string) => Promise<bigint>): Promise<PooledTx[]> {
    return (async () => {
      const runs: PooledTx[][] = [];
      for (const [sender, txs] of this.bySender) {
        const run: PooledTx[] = [];
        let n = await stateNonce(sender);
        for (let p = txs.get(n); p !== undefined; p = txs.get(++n)) run.push(p);
        if (run.length > 0) runs.push(run);
      }
      runs.sort((a, b) => (a[0]?.seq ?? 0) - (b[0]?.seq ?? 0));
      return runs.flat();
    })();
  }

  /** Removes one transaction (included or invalid). */
  remove(hash: string): void {
    const p = this.byHash.get(hash);
    if (p === undefined) return;
    this.byHash.delete(hash);
    const txs = this.bySender.get(p.sender);
    if (txs?.get(p.nonce) === p) txs.delete(p.nonce);
    if (txs?.size === 0) this.bySender.delete(p.sender);
  }

  /** Drops a sender's transactions whose nonce the state has passed. */
  prune(sender: string, stateNonce: bigint): void {
    const txs = this.bySender.get(sender);
    if (txs === undefined) return;
    for (const [nonce, p] of txs) if (nonce < stateNonce) this.remove(p.hash);
  }

  /** Every pooled transaction in arrival order (for the pending-transaction log). */
  all(): PooledTx[] {
    return [...this.byHash.values()].sort((a, b) => a.seq - b.seq);
  }

  senders(): string[] {
    return [...this.bySender.keys()];
  }
}
