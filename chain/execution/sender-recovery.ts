/**
 * Sender recovery (secp256k1 public-key recovery, the most expensive step of admitting a transaction) on
 * worker threads, so that it runs on another core while the main thread executes blocks and serves RPC.
 *
 * Requests made in one turn of the event loop go to a worker as ONE message (97 bytes each: message hash,
 * r ‖ s, recovery id) and come back as one (65 bytes each: ok flag, 64-byte public key), so a JSON-RPC
 * batch of 200 `eth_sendRawTransaction` costs two messages, not 400. Workers answer in order; a worker
 * that dies fails its pending requests, which the caller then recovers inline (same result, same thread
 * as before). The worker is a few lines of CommonJS around the same native libsecp256k1 binding the main
 * thread uses (`crypto.ts`); it has no other dependency.
 *
 * Off by default (`ChainOptions.senderThreads`, default 0): measured on the 2-core reference host it was
 * slower, not faster — a client that awaits each batch leaves the main thread idle for the worker's round
 * trip, and the worker's messages and second heap cost more CPU than the ~8 % of recovery it takes over
 * (JSON-RPC, 12,000 transfers: 1,214–1,265 tx/s with one worker, 1,471–1,528 inline; `npm run bench --
 * chain`). It is kept as an option for hosts with idle cores, where admission bursts overlap block
 * execution; `suggestedSenderThreads()` is what such a host could use.
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** What one recovery needs: the signed message hash, r ‖ s (64 bytes) and the recovery id (0 or 1). */
export interface RecoveryInput {
  msgHash: Uint8Array;
  signature: Uint8Array;
  recid: number;
}

const REQUEST_BYTES = 97;
const RESPONSE_BYTES = 65;
/** A batch is sent at the end of the event-loop turn, or at once when it reaches this size. */
const MAX_BATCH = 512;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const lib = require(workerData.bindings);
parentPort.on('message', (req) => {
  const n = Math.floor(req.length / ${REQUEST_BYTES});
  const out = new Uint8Array(n * ${RESPONSE_BYTES});
  for (let i = 0; i < n; i++) {
    const o = i * ${REQUEST_BYTES};
    try {
      const pub = lib.ecdsaRecover(req.subarray(o + 32, o + 96), req[o + 96], req.subarray(o, o + 32), false);
      out[i * ${RESPONSE_BYTES}] = 1;
      out.set(pub.subarray(1), i * ${RESPONSE_BYTES} + 1);
    } catch {}
  }
  parentPort.postMessage(out, [out.buffer]);
});
`;

/** Worker threads a host with idle cores could give sender recovery: one less than the cores, at most 2. */
export function suggestedSenderThreads(): number {
  return Math.max(0, Math.min(2, availableParallelism() - 1));
}

interface Pending {
  resolve(pub: Uint8Array | undefined): void;
  reject(e: Error): void;
}

class RecoveryWorker {
  private readonly worker: Worker;
  /** Batches sent and not answered, in order. */
  private readonly inFlight: Pending[][] = [];
  private dead: Error | undefined;

  constructor(bindings: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bindings } });
    this.worker.unref();
    this.worker.on('message', (out: Uint8Array) => {
      const batch = this.inFlight.shift();
      if (batch === undefined) return;
      batch.forEach((p, i) => {
        const o = i * RESPONSE_BYTES;
        p.resolve(out[o] === 1 ? out.slice(o + 1, o + RESPONSE_BYTES) : undefined);
      });
    });
    const fail = (e: Error): void => {
      this.dead ??= e;
      for (const batch of this.inFlight.splice(0)) for (const p of batch) p.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`sender recovery worker exited (${code})`)));
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  get load(): number {
    return this.inFlight.length;
  }

  send(items: readonly RecoveryInput[], pending: Pending[]): void {
    if (this.dead !== undefined) {
      for (const p of pending) p.reject(this.dead);
      return;
    }
    const req = new Uint8Array(items.length * REQUEST_BYTES);
    items.forEach((it, i) => {
      const o = i * REQUEST_BYTES;
      req.set(it.msgHash, o);
      req.set(it.signature, o + 32);
      req[o + 96] = it.recid;
    });
    this.inFlight.push(pending);
    this.worker.postMessage(req, [req.buffer]);
  }

  async terminate(): Promise<void> {
    this.dead ??= new Error('sender recovery closed');
    for (const batch of this.inFlight.splice(0)) for (const p of batch) p.reject(this.dead);
    await this.worker.terminate();
  }
}

export class SenderRecovery {
  private readonly workers: RecoveryWorker[];
  private queue: RecoveryInput[] = [];
  private waiting: Pending[] = [];
  private scheduled = false;
  private next = 0;
  /** Recoveries answered by the workers, and the messages (batches) they came in (for tests and status). */
  recovered = 0;
  batches = 0;

  private constructor(workers: RecoveryWorker[]) {
    this.workers = workers;
  }

  /** A pool of `threads` workers; undefined when `threads` is 0 or the native binding is missing. */
  static create(threads: number): SenderRecovery | undefined {
    if (threads <= 0) return undefined;
    let bindings: string;
    try {
      bindings = createRequire(import.meta.url).resolve('secp256k1/bindings');
    } catch {
      return undefined;
    }
    return new SenderRecovery(Array.from({ length: threads }, () => new RecoveryWorker(bindings)));
  }

  /** The 64-byte public key, or undefined for a signature that recovers nothing. Rejects when the worker failed. */
  recover(input: RecoveryInput): Promise<Uint8Array | undefined> {
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.queue.push(input);
      this.waiting.push({
        resolve: (pub) => {
          this.recovered++;
          resolve(pub);
        },
        reject,
      });
      if (this.queue.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const items = this.queue;
    const pending = this.waiting;
    this.queue = [];
    this.waiting = [];
    const alive = this.workers.filter((w) => w.alive);
    if (alive.length === 0) {
      for (const p of pending) p.reject(new Error('no sender recovery worker'));
      return;
    }
    // the least busy worker, round-robin among equals
    this.next = (this.next + 1) % alive.length;
    let pick = alive[this.next]!;
    for (const w of alive) if (w.load < pick.load) pick = w;
    this.batches++;
    pick.send(items, pending);
  }

  async close(): Promise<void> {
    this.flush();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
