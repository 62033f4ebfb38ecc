import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../core/errors.ts';
import { DEFAULT_CONSENSUS, WEI_PER_EB } from '../execution/genesis.ts';
import { ValidatorKey, verifyCertificate, voteDigest } from './certificate.ts';
import { buildSchedule, drawActiveSet, epochBlocks, epochOf, firstHeightOf, proposerFor, proposerOrder, roundTimeoutMs } from './schedule.ts';
import { ValidatorSet } from './validator-set.ts';
import { VoteCollector, verifyEquivocation, type SignedVote } from './vote-collector.ts';

const MIN = DEFAULT_CONSENSUS.minStake;
const CHAIN = 99n;
const HASH_A = `0x${'aa'.repeat(32)}`;
const HASH_B = `0x${'bb'.repeat(32)}`;
const addr = (i: number): string => `0x${i.toString(16).padStart(40, '0')}`;

describe('EMPoS validator set', () => {
  const params = { ...DEFAULT_CONSENSUS, maxValidators: 3, unbondingSeconds: 100 };

  it('bonds with the minimum stake, elects the cap by stake, unbonds and withdraws after the period', () => {
    const set = ValidatorSet.fromGenesis(params, [1, 2, 3, 4].map((i) => ({ address: addr(i), stake: MIN * BigInt(i) })));
    assert.deepEqual(set.active().map((v) => v.address).sort(), [addr(2), addr(3), addr(4)]);
    assert.throws(() => set.bond(addr(9), MIN - 1n), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => set.unbond(addr(4), MIN * 4n - 1n, 0), /below the minimum/);
    set.unbond(addr(4), MIN, 1000);
    assert.equal(set.get(addr(4))?.stake, MIN * 3n);
    assert.equal(set.withdraw(addr(4), 1099), 0n, 'not before the unbonding period');
    assert.equal(set.withdraw(addr(4), 1100), MIN);
  });

  it('slashes 0.1 %/day offline pro rata, 5 % plus removal for equivocation, and accounts for every wei', () => {
    const set = ValidatorSet.fromGenesis(params, [1, 2, 3].map((i) => ({ address: addr(i), stake: 100_000n * WEI_PER_EB })));
    const bondedBefore = set.all().reduce((a, v) => a + v.stake, 0n);
    assert.equal(set.slashOffline(addr(1), 86_400, 10), 100n * WEI_PER_EB, '0.1 % of 100,000 EB for one day');
    assert.equal(set.slashOffline(addr(1), 43_200, 11), ((100_000n - 100n) * WEI_PER_EB * 10n * 43_200n) / (10_000n * 86_400n));
    set.unbond(addr(2), 50_000n * WEI_PER_EB, 0);
    const slashed = set.slashEquivocation(addr(2), 12);
    assert.equal(slashed, 5_000n * WEI_PER_EB, '5 % of bonded + unbonding stake');
    assert.equal(set.get(addr(2))?.status, 'removed');
    assert.equal(set.slashEquivocation(addr(2), 13), 0n, 'slashed once');
    assert.throws(() => set.bond(addr(2), MIN));
    set.electActive();
    assert.ok(!set.active().some((v) => v.address === addr(2)));
    assert.equal(set.slashByGovernance(addr(3), 10_000, 14), 100_000n * WEI_PER_EB);
    assert.equal(set.get(addr(3))?.status, 'removed');
    const bondedAfter = set.all().reduce((a, v) => a + v.stake + v.unbonding.reduce((x, u) => x + u.amount, 0n), 0n);
    assert.equal(bondedAfter + set.slashedTotal, bondedBefore, 'supply accounting is exact');
    assert.equal(set.slashes.length, 4);
  });
});

describe('EMPoS schedule', () => {
  const candidates = Array.from({ length: 10 }, (_, i) => ({ address: addr(i + 1), stake: MIN * BigInt(i + 1), status: 'candidate' as const, unbonding: [], performancePermille: 1000 }));

  it('maps heights to epochs', () => {
    const n = epochBlocks(DEFAULT_CONSENSUS.epochSeconds, DEFAULT_CONSENSUS.blockTimeMs);
    assert.equal(n, 4608n, '6.4 h of 5 s blocks');
    assert.equal(epochOf(1n, n), 0n);
    assert.equal(epochOf(4608n, n), 0n);
    assert.equal(epochOf(4609n, n), 1n);
    assert.equal(firstHeightOf(1n, n), 4609n);
  });

  it('draws the active set deterministically from the seed, weighted by stake and performance', () => {
    const a = buildSchedule(3n, 100n, HASH_A, candidates, 4);
    const b = buildSchedule(3n, 100n, HASH_A, [...candidates].reverse(), 4);
    assert.deepEqual(a.active, b.active, 'same seed and candidates → same set, whatever the input order');
    assert.deepEqual(a.order, b.order);
    assert.equal(a.active.length, 4);
    const c = buildSchedule(3n, 100n, HASH_B, candidates, 4);
    assert.notDeepEqual(c.seed, a.seed);
    // over many seeds, heavier validators are chosen more often; zero performance is floored, not excluded
    const counts = new Map<string, number>();
    for (let s = 0; s < 300; s++) {
      for (const v of drawActiveSet(candidates, 3, Uint8Array.from([s & 0xff, s >> 8]))) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    assert.ok((counts.get(addr(10)) ?? 0) > 2 * (counts.get(addr(1)) ?? 0), JSON.stringify([...counts]));
    const poor = candidates.map((v) => (v.address === addr(10) ? { ...v, performancePermille: 0 } : v));
    const poorCounts = new Map<string, number>();
    for (let s = 0; s < 300; s++) for (const v of drawActiveSet(poor, 3, Uint8Array.from([s & 0xff, s >> 8]))) poorCounts.set(v, (poorCounts.get(v) ?? 0) + 1);
    assert.ok((poorCounts.get(addr(10)) ?? 0) < (counts.get(addr(10)) ?? 0));
    assert.equal(drawActiveSet(candidates, 20, new Uint8Array(32)).length, 10, 'all of them when fewer than the cap');
  });

  it('rotates proposers round-robin and passes the turn on a round change', () => {
    const s = buildSchedule(0n, 100n, HASH_A, candidates, 4);
    const seen = [0, 1, 2, 3].map((i) => proposerFor(s, s.firstHeight + BigInt(i), 0));
    assert.deepEqual([...seen].sort(), [...s.active].sort(), 'each active validator proposes once per cycle');
    assert.equal(proposerFor(s, s.firstHeight + 4n, 0), seen[0]);
    assert.equal(proposerFor(s, s.firstHeight, 1), seen[1], 'round 1 goes to the next validator');
    assert.deepEqual(proposerOrder(s.active, s.seed), s.order);
    assert.equal(roundTimeoutMs(1000, 0), 1000);
    assert.equal(roundTimeoutMs(1000, 3), 8000);
    assert.equal(roundTimeoutMs(1000, 30), 60_000);
  });
});

describe('EMPoS votes', () => {
  const keys = [1, 2, 3, 4].map((i) => new ValidatorKey(`0x${(i + 100).toString(16).padStart(64, '0')}`));
  const validators = keys.map((k) => ({ address: k.address, stake: MIN }));
  const vote = (k: ValidatorKey, hash: string, round = 0, number = 7n): SignedVote => ({
    validator: k.address,
    number,
    round,
    blockHash: hash,
    signature: k.sign(voteDigest(CHAIN, number, round, hash)),
  });

  it('finalizes at 2/3 of the stake with a verifiable certificate', () => {
    const c = new VoteCollector(CHAIN, 7n, validators);
    assert.deepEqual(c.add(vote(keys[0]!, HASH_A)), { kind: 'counted', signedStake: MIN });
    assert.equal(c.add(vote(keys[0]!, HASH_A)).kind, 'duplicate');
    c.add(vote(keys[1]!, HASH_A));
    assert.equal(c.finalized, undefined, '2 of 4 is not final');
    const third = c.add(vote(keys[2]!, HASH_A));
    assert.ok(third.kind === 'counted' && third.certificate !== undefined);
    assert.equal(verifyCertificate(CHAIN, third.certificate, validators).valid, true);
  });

  it('rejects votes of outsiders, other heights and forged signatures', () => {
    const c = new VoteCollector(CHAIN, 7n, validators);
    const outsider = new ValidatorKey(`0x${'77'.repeat(32)}`);
    assert.deepEqual(c.add(vote(outsider, HASH_A)), { kind: 'rejected', reason: 'not an active validator' });
    assert.deepEqual(c.add(vote(keys[0]!, HASH_A, 0, 8n)), { kind: 'rejected', reason: 'wrong height' });
    assert.deepEqual(c.add({ ...vote(keys[0]!, HASH_A), blockHash: HASH_B }), { kind: 'rejected', reason: 'bad signature' });
  });

  it('turns a double vote into evidence anyone can verify', () => {
    const c = new VoteCollector(CHAIN, 7n, validators);
    c.add(vote(keys[3]!, HASH_A));
    const out = c.add(vote(keys[3]!, HASH_B));
    assert.equal(out.kind, 'equivocation');
    if (out.kind !== 'equivocation') return;
    assert.equal(verifyEquivocation(CHAIN, out.evidence), true);
    assert.equal(verifyEquivocation(CHAIN + 1n, out.evidence), false);
    assert.equal(verifyEquivocation(CHAIN, { ...out.evidence, b: { ...out.evidence.b, round: 1 } }), false);
    assert.equal(verifyEquivocation(CHAIN, { ...out.evidence, b: out.evidence.a }), false, 'same block is not equivocation');
    // votes in different rounds are not equivocation
    assert.equal(c.add(vote(keys[3]!, HASH_B, 1)).kind, 'counted');
  });
});
