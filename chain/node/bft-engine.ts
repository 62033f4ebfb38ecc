/**
 * The consensus of one height as a pure state machine (Tendermint-style prevote/precommit with
 * locking; "The latest gossip on BFT consensus", Buchman–Kwon–Milosevic 2018), stake-weighted.
 * No I/O, no timers, no signatures: the node feeds it verified inputs and carries out the actions it
 * returns (sign and gossip a vote, build a proposal, arm a timer, commit a block).
 *
 * quorum   = votes holding ≥ 2/3 of the height's active stake (the certificate rule of certificate.ts)
 * skip     = messages of a higher round from validators holding > 1/3 → jump to that round
 *
 * Rules, round r (step propose → prevote → precommit):
 *  - start(r): if we are the proposer: re-propose the valid block (validHash, validRound) if any, else a new one.
 *  - proposal(r, B, vr = −1), step propose: prevote B if B is valid and (not locked or locked on B), else nil.
 *  - proposal(r, B, vr ≥ 0) with a quorum of prevotes for B in vr < r, step propose: prevote B if valid and
 *    (lockedRound ≤ vr or locked on B), else nil.  (A lock is released only by a newer polka.)
 *  - quorum of prevotes for valid B in r (first time), step ≥ prevote: validHash = B, validRound = r; if in
 *    step prevote: lock on B (lockedRound = r) and precommit B.
 *  - quorum of prevotes for nil in r, step prevote: precommit nil.
 *  - any quorum of prevotes (precommits) in r: arm the prevote (precommit) timeout; it precommits nil
 *    (starts round r + 1) when it fires in the same round and step.
 *  - propose timeout in step propose: prevote nil.
 *  - quorum of precommits for B in any round and B is known valid: decide B (commit with those precommits).
 * Safety: an honest validator precommits B in r only after a polka for B in r and locks on it; it
 * prevotes another block later only after a polka for that block in a round ≥ its lock — so two
 * quorums of precommits for different blocks at one height would need > 1/3 of the stake to break the
 * rules. A validator never signs two different votes of one kind in one round (the node's sign-state
 * file enforces it across restarts too).
 */
import { NIL_HASH, type VoteKind } from '../p2p/gossip-codec.ts';
import type { ValidatorStake, Vote } from '../consensus/certificate.ts';

export type Step = 'propose' | 'prevote' | 'precommit';

export type BftAction =
  | { type: 'propose'; round: number; validRound: number; blockHash?: string }
  | { type: 'vote'; kind: VoteKind; round: number; blockHash: string }
  | { type: 'timeout'; step: Step; round: number }
  | { type: 'decide'; round: number; blockHash: string; votes: Vote[] }
  /** A quorum precommitted a block we do not have (or could not verify): fetch it from peers. */
  | { type: 'need-block'; round: number; blockHash: string };

export interface BftEngineOptions {
  height: bigint;
  validators: readonly ValidatorStake[];
  proposerOf: (round: number) => string;
  /** The local validators (none for a full node). They vote in lockstep. */
  local: readonly string[];
  /** Lock restored after a restart. */
  locked?: { round: number; blockHash: string };
}

interface Proposal {
  blockHash: string;
  validRound: number;
}

export class BftEngine {
  readonly height: bigint;
  round = 0;
  step: Step = 'propose';
  lockedRound = -1;
  lockedHash: string | undefined;
  validRound = -1;
  validHash: string | undefined;
  decided: string | undefined;

  private readonly stake = new Map<string, bigint>();
  private readonly total: bigint;
  private readonly local: Set<string>;
  private readonly proposerOf: (round: number) => string;
  private readonly proposals = new Map<number, Proposal>();
  private readonly valid = new Set<string>();
  private readonly invalid = new Set<string>();
  /** round → validator → {hash, signature} */
  private readonly prevotes = new Map<number, Map<string, { hash: string; signature: string }>>();
  private readonly precommits = new Map<number, Map<string, { hash: string; signature: string }>>();
  private readonly fired = new Set<string>();
  private actions: BftAction[] = [];
  private started = false;

  constructor(o: BftEngineOptions) {
    this.height = o.height;
    for (const v of o.validators) this.stake.set(v.address.toLowerCase(), v.stake);
    this.total = o.validators.reduce((a, v) => a + v.stake, 0n);
    this.local = new Set(o.local.map((a) => a.toLowerCase()).filter((a) => this.stake.has(a)));
    this.proposerOf = o.proposerOf;
    if (o.locked !== undefined) {
      this.lockedRound = o.locked.round;
      this.lockedHash = o.locked.blockHash;
    }
  }

  get isValidator(): boolean {
    return this.local.size > 0;
  }

  isValidatorAddress(a: string): boolean {
    return this.stake.has(a.toLowerCase());
  }

  /** Starts round `round` (0 at the height's start, or the round a restarted node last signed in). */
  start(round = 0): BftAction[] {
    this.started = true;
    this.startRound(round);
    return this.process();
  }

  /** A proposal of `round` whose block the node checked (signatures, parent certificate, re-execution). */
  onProposal(round: number, blockHash: string, validRound: number, valid: boolean): BftAction[] {
    const h = blockHash.toLowerCase();
    if (valid) this.valid.add(h);
    else this.invalid.add(h);
    if (!this.proposals.has(round)) this.proposals.set(round, { blockHash: h, validRound });
    return this.process();
  }

  /** The node learned (by sync or a later proposal) that `blockHash` is valid. */
  onBlockValid(blockHash: string): BftAction[] {
    this.valid.add(blockHash.toLowerCase());
    return this.process();
  }

  /**
   * A vote with a verified signature by an active validator. Returns the conflicting earlier vote when
   * the validator already voted differently in this round and kind (equivocation); the new one is not counted.
   */
  onVote(kind: VoteKind, round: number, validator: string, blockHash: string, signature: string): { actions: BftAction[]; conflict?: { blockHash: string; signature: string } } {
    const who = validator.toLowerCase();
    if (!this.stake.has(who)) return { actions: [] };
    const book = kind === 'prevote' ? this.prevotes : this.precommits;
    let votes = book.get(round);
    if (votes === undefined) {
      votes = new Map();
      book.set(round, votes);
    }
    const prev = votes.get(who);
    const h = blockHash.toLowerCase();
    if (prev !== undefined) {
      if (prev.hash === h) return { actions: [] };
      return { actions: [], conflict: { blockHash: prev.hash, signature: prev.signature } };
    }
    votes.set(who, { hash: h, signature });
    return { actions: this.process() };
  }

  onTimeout(step: Step, round: number): BftAction[] {
    if (round !== this.round || this.decided !== undefined) return [];
    if (step === 'propose' && this.step === 'propose') this.vote('prevote', NIL_HASH);
    else if (step === 'prevote' && this.step === 'prevote') this.vote('precommit', NIL_HASH);
    else if (step === 'precommit') this.startRound(round + 1);
    return this.process();
  }

  /** The precommits for `blockHash` in `round` (the certificate's votes). */
  precommitsFor(round: number, blockHash: string): Vote[] {
    const votes = this.precommits.get(round);
    if (votes === undefined) return [];
    return [...votes].filter(([, v]) => v.hash === blockHash.toLowerCase()).map(([validator, v]) => ({ validator, signature: v.signature }));
  }

  // ---------------------------------------------------------------------------------------------

  private drain(): BftAction[] {
    const out = this.actions;
    this.actions = [];
    return out;
  }

  private weight(votes: Map<string, { hash: string }> | undefined, hash?: string): bigint {
    if (votes === undefined) return 0n;
    let w = 0n;
    for (const [who, v] of votes) if (hash === undefined || v.hash === hash) w += this.stake.get(who) ?? 0n;
    return w;
  }

  private quorum(w: bigint): boolean {
    return this.total > 0n && w * 3n >= this.total * 2n;
  }

  private once(key: string): boolean {
    if (this.fired.has(key)) return false;
    this.fired.add(key);
    return true;
  }

  private startRound(round: number): void {
    if (this.decided !== undefined) return;
    this.round = round;
    this.step = 'propose';
    const proposer = this.proposerOf(round).toLowerCase();
    if (this.local.has(proposer)) {
      this.actions.push(
        this.validHash !== undefined
          ? { type: 'propose', round, validRound: this.validRound, blockHash: this.validHash }
          : { type: 'propose', round, validRound: -1 },
      );
    }
    this.actions.push({ type: 'timeout', step: 'propose', round });
  }

  private vote(kind: VoteKind, hash: string): void {
    if (kind === 'prevote') this.step = 'prevote';
    else this.step = 'precommit';
    if (this.isValidator) this.actions.push({ type: 'vote', kind, round: this.round, blockHash: hash });
  }

  private process(): BftAction[] {
    if (!this.started || this.decided !== undefined) return this.drain();
    for (let guard = 0; guard < 16; guard++) {
      const before = `${this.round}/${this.step}/${this.decided ?? ''}`;
      this.processOnce();
      if (this.decided !== undefined || `${this.round}/${this.step}/${this.decided ?? ''}` === before) break;
    }
    return this.drain();
  }

  private processOnce(): void {
    // decide: a quorum of precommits for a block in any round
    for (const [round, votes] of this.precommits) {
      const hashes = new Set([...votes.values()].map((v) => v.hash));
      for (const h of hashes) {
        if (h === NIL_HASH || !this.quorum(this.weight(votes, h))) continue;
        if (this.valid.has(h)) {
          this.decided = h;
          this.actions.push({ type: 'decide', round, blockHash: h, votes: this.precommitsFor(round, h) });
          return;
        }
        if (this.once(`need/${round}/${h}`)) this.actions.push({ type: 'need-block', round, blockHash: h });
      }
    }
    // round skip: > 1/3 of the stake is in a higher round
    const higher = new Map<number, Set<string>>();
    for (const book of [this.prevotes, this.precommits]) {
      for (const [round, votes] of book) {
        if (round <= this.round) continue;
        const s = higher.get(round) ?? new Set<string>();
        for (const who of votes.keys()) s.add(who);
        higher.set(round, s);
      }
    }
    for (const [round, who] of [...higher].sort((a, b) => b[0] - a[0])) {
      const w = [...who].reduce((a, x) => a + (this.stake.get(x) ?? 0n), 0n);
      if (w * 3n > this.total) {
        this.startRound(round);
        return;
      }
    }
    const r = this.round;
    const proposal = this.proposals.get(r);
    const prevotes = this.prevotes.get(r);
    if (this.step === 'propose' && proposal !== undefined) {
      const h = proposal.blockHash;
      const ok = this.valid.has(h);
      if (!ok && !this.invalid.has(h)) return; // still verifying
      if (proposal.validRound < 0) {
        this.vote('prevote', ok && (this.lockedRound < 0 || this.lockedHash === h) ? h : NIL_HASH);
        return;
      }
      if (proposal.validRound < r && this.quorum(this.weight(this.prevotes.get(proposal.validRound), h))) {
        this.vote('prevote', ok && (this.lockedRound <= proposal.validRound || this.lockedHash === h) ? h : NIL_HASH);
        return;
      }
    }
    if (this.step !== 'propose' && this.quorum(this.weight(prevotes)) && this.once(`tpv/${r}`)) {
      this.actions.push({ type: 'timeout', step: 'prevote', round: r });
    }
    if (proposal !== undefined && this.step !== 'propose' && this.valid.has(proposal.blockHash) && this.quorum(this.weight(prevotes, proposal.blockHash)) && this.once(`polka/${r}`)) {
      this.validHash = proposal.blockHash;
      this.validRound = r;
      if (this.step === 'prevote') {
        this.lockedHash = proposal.blockHash;
        this.lockedRound = r;
        this.vote('precommit', proposal.blockHash);
        return;
      }
    }
    if (this.step === 'prevote' && this.quorum(this.weight(prevotes, NIL_HASH))) {
      this.vote('precommit', NIL_HASH);
      return;
    }
    if (this.quorum(this.weight(this.precommits.get(r))) && this.once(`tpc/${r}`)) {
      this.actions.push({ type: 'timeout', step: 'precommit', round: r });
    }
  }
}
