/**
 * The validator registry of EMPoS as pure state: bonded stake, unbonding, slashing, and the choice of the
 * active set. Amounts are wei (bigint); every operation returns what moved so supply accounting can be
 * checked exactly (bonded + unbonding + slashed + withdrawn = everything ever bonded).
 *
 * Rules (genesis parameters, defaults from the design): minimum stake 32,000 EB; at most
 * `maxValidators` active; slashing `offlineSlashBpsPerDay` (0.1 %/day) pro rata to the time offline, and
 * `equivocationSlashBps` (5 %) plus removal for double-signing; governance may slash up to 100 %.
 * Errors: invalid operations throw `INVALID_ARGUMENT`.
 */
import { EnergyMeshError } from '../../core/errors.ts';
import type { ConsensusParams } from '../execution/genesis.ts';

export type ValidatorStatus = 'active' | 'candidate' | 'removed';

export interface ValidatorRecord {
  address: string;
  /** Bonded stake (slashable, counts for voting when active). */
  stake: bigint;
  status: ValidatorStatus;
  /** Stake leaving: amount and unix seconds when it may be withdrawn. Still slashable until then. */
  unbonding: { amount: bigint; releaseAt: number }[];
  /** Share of expected votes signed in the last epoch, in parts per 1,000 (default 1,000). */
  performancePermille: number;
}

export interface SlashRecord {
  address: string;
  amount: bigint;
  reason: 'offline' | 'equivocation' | 'governance';
  at: number;
}

function invalid(message: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('INVALID_ARGUMENT', message, { details });
}

export class ValidatorSet {
  private readonly records = new Map<string, ValidatorRecord>();
  readonly slashes: SlashRecord[] = [];
  /** Total slashed so far (burned). */
  slashedTotal = 0n;

  constructor(private readonly params: Pick<ConsensusParams, 'minStake' | 'maxValidators' | 'offlineSlashBpsPerDay' | 'equivocationSlashBps' | 'unbondingSeconds'>) {}

  /** Genesis validators: bonded and active. */
  static fromGenesis(params: ValidatorSet['params'], validators: readonly { address: string; stake: bigint }[]): ValidatorSet {
    const set = new ValidatorSet(params);
    for (const v of validators) set.bond(v.address, v.stake);
    set.electActive();
    return set;
  }

  get(address: string): ValidatorRecord | undefined {
    return this.records.get(address.toLowerCase());
  }

  all(): ValidatorRecord[] {
    return [...this.records.values()];
  }

  active(): ValidatorRecord[] {
    return this.all().filter((v) => v.status === 'active');
  }

  totalActiveStake(): bigint {
    return this.active().reduce((a, v) => a + v.stake, 0n);
  }

  /** Adds stake; a new validator needs at least the minimum stake and waits for the next election. */
  bond(address: string, amount: bigint): ValidatorRecord {
    if (amount <= 0n) throw invalid('bond amount must be positive');
    const key = address.toLowerCase();
    const rec = this.records.get(key);
    if (rec?.status === 'removed') throw invalid('a removed validator cannot bond again', { address: key });
    if (rec === undefined) {
      if (amount < this.params.minStake) throw invalid('stake below the minimum', { address: key, min: this.params.minStake.toString() });
      const created: ValidatorRecord = { address: key, stake: amount, status: 'candidate', unbonding: [], performancePermille: 1000 };
      this.records.set(key, created);
      return created;
    }
    rec.stake += amount;
    return rec;
  }

  /**
   * Starts unbonding `amount` (released after the unbonding period). Unbonding below the minimum leaves
   * the active set at the next election (the whole stake must then unbond).
   */
  unbond(address: string, amount: bigint, now: number): void {
    const rec = this.get(address);
    if (rec === undefined) throw invalid('unknown validator', { address });
    if (amount <= 0n || amount > rec.stake) throw invalid('unbond amount must be positive and at most the stake');
    const rest = rec.stake - amount;
    if (rest > 0n && rest < this.params.minStake) throw invalid('remaining stake would be below the minimum: unbond all or less');
    rec.stake = rest;
    rec.unbonding.push({ amount, releaseAt: now + this.params.unbondingSeconds });
    if (rest === 0n && rec.status === 'active') rec.status = 'candidate';
  }

  /** Releases matured unbonding entries; returns the amount withdrawn. */
  withdraw(address: string, now: number): bigint {
    const rec = this.get(address);
    if (rec === undefined) return 0n;
    let out = 0n;
    rec.unbonding = rec.unbonding.filter((u) => {
      if (u.releaseAt <= now) {
        out += u.amount;
        return false;
      }
      return true;
    });
    return out;
  }

  private slash(rec: ValidatorRecord, bps: bigint, denominator: bigint, reason: SlashRecord['reason'], at: number): bigint {
    // Bonded stake first, then unbonding entries (still at stake until released).
    let amount = (rec.stake * bps) / denominator;
    rec.stake -= amount;
    for (const u of rec.unbonding) {
      const cut = (u.amount * bps) / denominator;
      u.amount -= cut;
      amount += cut;
    }
    this.slashedTotal += amount;
    this.slashes.push({ address: rec.address, amount, reason, at });
    return amount;
  }

  /** Offline penalty: `offlineSlashBpsPerDay` per day, pro rata to `offlineSeconds`. */
  slashOffline(address: string, offlineSeconds: number, at: number): bigint {
    const rec = this.get(address);
    if (rec === undefined || offlineSeconds <= 0) return 0n;
    return this.slash(rec, BigInt(this.params.offlineSlashBpsPerDay) * BigInt(Math.floor(offlineSeconds)), 10_000n * 86_400n, 'offline', at);
  }

  /** Equivocation: `equivocationSlashBps` of the stake and removal from the set for good. */
  slashEquivocation(address: string, at: number): bigint {
    const rec = this.get(address);
    if (rec === undefined || rec.status === 'removed') return 0n;
    const amount = this.slash(rec, BigInt(this.params.equivocationSlashBps), 10_000n, 'equivocation', at);
    rec.status = 'removed';
    return amount;
  }

  /** Governance slashing of a malicious proposer, up to 100 % (`bps` ≤ 10,000). */
  slashByGovernance(address: string, bps: number, at: number): bigint {
    const rec = this.get(address);
    if (rec === undefined) throw invalid('unknown validator', { address });
    if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) throw invalid('governance slash must be 0..10,000 bps');
    const amount = this.slash(rec, BigInt(bps), 10_000n, 'governance', at);
    if (bps === 10_000) rec.status = 'removed';
    return amount;
  }

  setPerformance(address: string, permille: number): void {
    const rec = this.get(address);
    if (rec !== undefined) rec.performancePermille = Math.max(0, Math.min(1000, Math.round(permille)));
  }

  /** Candidates for the next election: not removed, stake ≥ minimum. */
  eligible(): ValidatorRecord[] {
    return this.all().filter((v) => v.status !== 'removed' && v.stake >= this.params.minStake);
  }

  /**
   * Makes `chosen` (addresses) the active set; every other eligible validator becomes a candidate.
   * Without `chosen`, all eligible validators up to the cap by stake (ties by address).
   */
  electActive(chosen?: readonly string[]): void {
    const pick = new Set(
      (chosen ?? this.eligible()
        .sort((a, b) => (a.stake === b.stake ? a.address.localeCompare(b.address) : a.stake > b.stake ? -1 : 1))
        .slice(0, this.params.maxValidators)
        .map((v) => v.address)).map((a) => a.toLowerCase()),
    );
    for (const v of this.records.values()) {
      if (v.status === 'removed') continue;
      v.status = pick.has(v.address) && v.stake >= this.params.minStake ? 'active' : 'candidate';
    }
  }
}
