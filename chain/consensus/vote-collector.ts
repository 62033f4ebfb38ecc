/**
 * Collects the votes of one height: verifies each against the active set, weighs it by stake, returns
 * the finality certificate once votes for one block hold ≥ 2/3 of the active stake, and turns two
 * different votes of one validator for the same (height, round) into equivocation evidence — which
 * anyone can submit and anyone can verify (`verifyEquivocation`). Pure logic; no I/O, no timers.
 */
import { recoverSigner, voteDigest, type FinalityCertificate, type ValidatorStake, type Vote } from './certificate.ts';

export interface SignedVote extends Vote {
  number: bigint;
  round: number;
  blockHash: string;
}

/** Two conflicting signed votes by one validator: proof of double-signing. */
export interface EquivocationEvidence {
  validator: string;
  a: SignedVote;
  b: SignedVote;
}

export type VoteOutcome =
  | { kind: 'rejected'; reason: string }
  | { kind: 'duplicate' }
  | { kind: 'equivocation'; evidence: EquivocationEvidence }
  | { kind: 'counted'; signedStake: bigint; certificate?: FinalityCertificate };

export function isValidVote(chainId: bigint, v: SignedVote): boolean {
  return recoverSigner(voteDigest(chainId, v.number, v.round, v.blockHash), v.signature) === v.validator.toLowerCase();
}

/** Valid evidence: same validator, same height and round, different blocks, both signatures genuine. */
export function verifyEquivocation(chainId: bigint, e: EquivocationEvidence): boolean {
  const who = e.validator.toLowerCase();
  return (
    e.a.validator.toLowerCase() === who &&
    e.b.validator.toLowerCase() === who &&
    e.a.number === e.b.number &&
    e.a.round === e.b.round &&
    e.a.blockHash.toLowerCase() !== e.b.blockHash.toLowerCase() &&
    isValidVote(chainId, e.a) &&
    isValidVote(chainId, e.b)
  );
}

export class VoteCollector {
  private readonly stake = new Map<string, bigint>();
  private readonly total: bigint;
  /** (round) → validator → vote */
  private readonly byRound = new Map<number, Map<string, SignedVote>>();
  private certificate: FinalityCertificate | undefined;

  constructor(
    private readonly chainId: bigint,
    readonly number: bigint,
    validators: readonly ValidatorStake[],
  ) {
    for (const v of validators) this.stake.set(v.address.toLowerCase(), v.stake);
    this.total = validators.reduce((a, v) => a + v.stake, 0n);
  }

  get finalized(): FinalityCertificate | undefined {
    return this.certificate;
  }

  add(vote: SignedVote): VoteOutcome {
    const who = vote.validator.toLowerCase();
    if (vote.number !== this.number) return { kind: 'rejected', reason: 'wrong height' };
    if (!Number.isInteger(vote.round) || vote.round < 0) return { kind: 'rejected', reason: 'bad round' };
    const stake = this.stake.get(who);
    if (stake === undefined) return { kind: 'rejected', reason: 'not an active validator' };
    if (!isValidVote(this.chainId, vote)) return { kind: 'rejected', reason: 'bad signature' };
    let votes = this.byRound.get(vote.round);
    if (votes === undefined) {
      votes = new Map();
      this.byRound.set(vote.round, votes);
    }
    const previous = votes.get(who);
    if (previous !== undefined) {
      if (previous.blockHash.toLowerCase() === vote.blockHash.toLowerCase()) return { kind: 'duplicate' };
      return { kind: 'equivocation', evidence: { validator: who, a: previous, b: vote } };
    }
    votes.set(who, { ...vote, validator: who });
    const forBlock = [...votes.values()].filter((v) => v.blockHash.toLowerCase() === vote.blockHash.toLowerCase());
    const signedStake = forBlock.reduce((a, v) => a + (this.stake.get(v.validator) ?? 0n), 0n);
    if (this.certificate === undefined && this.total > 0n && signedStake * 3n >= this.total * 2n) {
      this.certificate = {
        number: this.number,
        blockHash: vote.blockHash,
        round: vote.round,
        votes: forBlock.map((v) => ({ validator: v.validator, signature: v.signature })),
      };
      return { kind: 'counted', signedStake, certificate: this.certificate };
    }
    return { kind: 'counted', signedStake };
  }
}
