/**
 * What this node's validators signed at the current height, kept on disk so a restarted validator never
 * signs two different votes of one kind in one round (double-signing is slashed) and keeps its lock.
 * Written (write + fsync + rename) before a vote leaves the process. One small JSON file in the data dir:
 *   { "height": "12", "votes": [{ "round": 0, "kind": "prevote", "blockHash": "0x…", "signature": "0x…" }],
 *     "locked": { "round": 0, "blockHash": "0x…" } }
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { VoteKind } from '../p2p/gossip-codec.ts';

export interface SignedRecord {
  round: number;
  kind: VoteKind;
  validator: string;
  blockHash: string;
  signature: string;
}

interface FileShape {
  height: string;
  votes: SignedRecord[];
  locked?: { round: number; blockHash: string };
}

export class SignState {
  height = 0n;
  votes: SignedRecord[] = [];
  locked: { round: number; blockHash: string } | undefined;

  constructor(private readonly path: string) {
    if (existsSync(path)) {
      try {
        const raw = JSON.parse(readFileSync(path, 'utf8')) as FileShape;
        this.height = BigInt(raw.height);
        this.votes = Array.isArray(raw.votes) ? raw.votes : [];
        this.locked = raw.locked;
      } catch {
        // A torn write cannot happen (rename is atomic); an unreadable file means a fresh start.
      }
    }
  }

  /** Moves to `height`, forgetting the votes of earlier heights. */
  enter(height: bigint): void {
    if (height === this.height) return;
    this.height = height;
    this.votes = [];
    this.locked = undefined;
  }

  /** The vote already signed by `validator` in (round, kind), if any. */
  signed(validator: string, round: number, kind: VoteKind): SignedRecord | undefined {
    return this.votes.find((v) => v.validator === validator && v.round === round && v.kind === kind);
  }

  /** Highest round in which we signed anything at this height (−1 when none). */
  lastRound(): number {
    return this.votes.reduce((a, v) => Math.max(a, v.round), -1);
  }

  /** Adds a signed vote; `persist` false defers the write to a later `save()` (several local validators). */
  record(v: SignedRecord, locked?: { round: number; blockHash: string }, persist = true): void {
    this.votes.push(v);
    if (locked !== undefined) this.locked = locked;
    if (persist) this.save();
  }

  save(): void {
    const body: FileShape = { height: this.height.toString(), votes: this.votes, ...(this.locked !== undefined ? { locked: this.locked } : {}) };
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(body));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
