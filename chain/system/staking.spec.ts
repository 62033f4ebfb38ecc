import assert from 'node:assert/strict';
import { bytesToHex } from '@ethereumjs/util';
import { signTx, tempDir, testAccount, type TestAccount } from '../../test/integration/chain/helpers.ts';
import { ValidatorKey, voteDigest } from '../consensus/certificate.ts';
import { Chain, revertMessage } from '../execution/chain.ts';
import { parseGenesis, WEI_PER_EB } from '../execution/genesis.ts';
import { checkSupply } from './supply.ts';
import { MIN_BASE_FEE_SLOT, PARAMS, STAKING_ADDRESS, SYSTEM_ADDRESS, stakingInterface } from './system-contract.ts';
import { activeValidators, offlineClock, pendingFees, proposals, slashRecords, stakingAccounting, stakingParams, validators } from './validator-registry.ts';

const EB = WEI_PER_EB;
const ACC = 10n ** 36n;

describe('EMPoS staking system contract (on the Chain)', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let chain: Chain;
  let t: bigint;
  const [a, b, c] = [testAccount(0), testAccount(1), testAccount(2)];
  let alice: TestAccount;
  let dave: TestAccount;
  const proposer = testAccount(50).address;

  const genesisFile = () => ({
    chainId: 4242,
    alloc: Object.fromEntries([a, b, c, testAccount(10), testAccount(11)].map((x) => [x.address, (100_000n * EB).toString()])),
    validators: [
      { address: a.address, stake: (32_000n * EB).toString() },
      { address: b.address, stake: (32_000n * EB).toString() },
      { address: c.address, stake: (64_000n * EB).toString() },
    ],
    consensus: { unbondingSeconds: 100, votingPeriodSeconds: 1000 },
  });

  beforeEach(async () => {
    dir = tempDir();
    chain = await Chain.open({ dataDir: dir.path, genesis: parseGenesis(genesisFile()) });
    // ahead of the wall clock, so eth_call (next block at max(now, parent + 1)) sees the parent's time + 1
    t = BigInt(Math.floor(Date.now() / 1000)) + 864_000n;
    for (const x of [a, b, c]) x.nonce = 0n;
    alice = testAccount(10);
    dave = testAccount(11);
  });

  afterEach(async () => {
    await chain.close();
    dir.remove();
  });

  const produce = (parentSigners?: string[], dt = 5n) => chain.produceBlock({ timestamp: (t += dt), coinbase: proposer, ...(parentSigners ? { parentSigners } : {}) });
  const data = (fn: string, args: unknown[] = []) => stakingInterface.encodeFunctionData(fn, args);

  /** Sends one call to the staking contract in its own block; returns the receipt and the fee paid. */
  async function send(from: TestAccount, fn: string, args: unknown[] = [], value = 0n): Promise<{ status: number; fee: bigint }> {
    await chain.submitRawTransaction(signTx(chain.common, from, { to: STAKING_ADDRESS, data: Uint8Array.from(Buffer.from(data(fn, args).slice(2), 'hex')), value, gasLimit: 1_000_000n }));
    const { receipts } = await produce();
    const r = receipts[0]!;
    return { status: r.status, fee: BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice) };
  }

  /** The revert message of a call (eth_call semantics). */
  async function revertOf(from: TestAccount, fn: string, args: unknown[] = [], value = 0n): Promise<string> {
    const res = await chain.call({ from: from.address, to: STAKING_ADDRESS, data: data(fn, args), value });
    assert.ok(res.error !== undefined, `${fn} should revert`);
    return revertMessage(res.error.data);
  }

  async function assertSupply(): Promise<void> {
    const s = await checkSupply(chain);
    assert.equal(s.unexplained, 0n, 'Σ balances = genesis supply + rewards');
    assert.equal(s.contractDifference, 0n, 'contract balance = staked + unbonding + unclaimed fees + burned');
    assert.ok(s.ok);
  }

  it('installs the contract at genesis with the genesis validators and parameters', async () => {
    assert.ok((await chain.getCode(STAKING_ADDRESS)).length > 1000);
    assert.equal((await chain.getAccount(STAKING_ADDRESS)).balance, 128_000n * EB, 'the stakes are the contract balance');
    assert.equal((await chain.getAccount(SYSTEM_ADDRESS)).nonce, 0n, 'no trace of the system caller');
    assert.deepEqual(
      (await activeValidators(chain, 0n)).map((v) => [v.address, v.stake]),
      [a, b, c].map((x) => [x.address, x === c ? 64_000n * EB : 32_000n * EB]).sort((x, y) => ((x[0] as string) < (y[0] as string) ? -1 : 1)),
    );
    const params = await stakingParams(chain);
    assert.equal(params.minStake, 32_000n * EB);
    assert.equal(params.unbondingSeconds, 100n);
    assert.equal(params.offlineSlashBpsPerDay, 10n);
    assert.equal(params.equivocationSlashBps, 500n);
    assert.equal(params.maxValidators, 1000n);
    assert.equal(params.blockTimeMs, 5000n);
    await produce();
    await assertSupply();
    assert.equal((await checkSupply(chain)).genesisSupply, 500_000n * EB + 128_000n * EB);
  });

  it('stakes, unstakes into the unbonding queue and withdraws after the unbonding period, to the wei', async () => {
    const start = (await chain.getAccount(dave.address)).balance;
    assert.equal(await revertOf(dave, 'stake', [], 31_999n * EB), 'execution reverted: EMPoS: stake below minimum');
    const s1 = await send(dave, 'stake', [], 40_000n * EB);
    assert.equal(s1.status, 1);
    assert.equal((await chain.getAccount(dave.address)).balance, start - 40_000n * EB - s1.fee);
    let me = (await validators(chain)).find((v) => v.address === dave.address)!;
    assert.equal(me.stake, 40_000n * EB);
    assert.equal(me.status, 'active');
    assert.ok((await activeValidators(chain)).some((v) => v.address === dave.address));

    assert.equal(await revertOf(dave, 'unstake', [10_000n * EB]), 'execution reverted: EMPoS: remaining stake below minimum');
    const s2 = await send(dave, 'unstake', [40_000n * EB]);
    assert.equal(s2.status, 1);
    me = (await validators(chain)).find((v) => v.address === dave.address)!;
    assert.equal(me.stake, 0n);
    assert.equal(me.unbonding, 40_000n * EB);
    assert.equal(me.status, 'inactive');
    assert.ok(!(await activeValidators(chain)).some((v) => v.address === dave.address));
    const releaseAt = t + 100n;
    assert.equal(await revertOf(dave, 'withdraw'), 'execution reverted: EMPoS: nothing to withdraw');
    const early = await send(dave, 'withdraw');
    assert.equal(early.status, 0, 'withdraw before the release time fails');
    t = releaseAt - 5n; // the next block is at the release time
    const s3 = await send(dave, 'withdraw');
    assert.equal(s3.status, 1);
    assert.equal((await chain.getAccount(dave.address)).balance, start - s1.fee - s2.fee - early.fee - s3.fee);
    assert.equal((await validators(chain)).find((v) => v.address === dave.address)!.unbonding, 0n);
    await assertSupply();
  });

  it('slashes 5 % and removes a double-signing validator on evidence anyone submits; refuses replayed and forged evidence', async () => {
    const keyB = new ValidatorKey(b.keyHex);
    const h1 = bytesToHex(new Uint8Array(32).fill(1));
    const h2 = bytesToHex(new Uint8Array(32).fill(2));
    const sig = (k: ValidatorKey, h: string, number = 7n, round = 1) => k.sign(voteDigest(4242n, number, round, h));
    const evidence = [b.address, 7n, 1n, h1, sig(keyB, h1), h2, sig(keyB, h2)];
    // the contract computes the same digest as consensus/certificate.ts
    const onChain = await chain.call({ to: STAKING_ADDRESS, data: data('voteDigest', [7n, 1n, h1]) });
    assert.equal(bytesToHex(onChain.returnValue), bytesToHex(voteDigest(4242n, 7n, 1, h1)));

    assert.equal(await revertOf(alice, 'submitEvidence', [b.address, 7n, 1n, h1, sig(keyB, h1), h1, sig(keyB, h1)]), 'execution reverted: EMPoS: votes for the same block');
    const forged = [c.address, 7n, 1n, h1, sig(keyB, h1), h2, sig(new ValidatorKey(c.keyHex), h2)];
    assert.equal(await revertOf(alice, 'submitEvidence', forged), 'execution reverted: EMPoS: invalid evidence');
    const otherRound = [b.address, 7n, 1n, h1, sig(keyB, h1), h2, sig(keyB, h2, 7n, 2)];
    assert.equal(await revertOf(alice, 'submitEvidence', otherRound), 'execution reverted: EMPoS: invalid evidence');

    const burnedBefore = (await stakingAccounting(chain)).burned;
    const r = await send(alice, 'submitEvidence', evidence);
    assert.equal(r.status, 1);
    const vb = (await validators(chain)).find((v) => v.address === b.address)!;
    assert.equal(vb.status, 'removed');
    assert.equal(vb.stake, 32_000n * EB - 1_600n * EB, '5 % of 32,000 EB');
    assert.equal(vb.slashed, 1_600n * EB);
    assert.equal((await stakingAccounting(chain)).burned - burnedBefore, 1_600n * EB);
    assert.ok(!(await activeValidators(chain)).some((v) => v.address === b.address), 'removed from the active set');
    const rec = (await slashRecords(chain)).at(-1)!;
    assert.deepEqual([rec.validator, rec.reason, rec.amount], [b.address, 'equivocation', 1_600n * EB]);

    assert.equal(await revertOf(alice, 'submitEvidence', evidence), 'execution reverted: EMPoS: evidence already submitted');
    const again = [b.address, 8n, 0n, h1, sig(keyB, h1, 8n, 0), h2, sig(keyB, h2, 8n, 0)];
    assert.equal(await revertOf(alice, 'submitEvidence', again), 'execution reverted: EMPoS: validator already removed');
    assert.equal(await revertOf(b, 'stake', [], 32_000n * EB), 'execution reverted: EMPoS: validator removed');
    await assertSupply();
  });

  it('penalises a validator absent from the parent certificate by exactly 0.1 %/day pro rata to the time', async () => {
    await produce();
    const before = (await validators(chain)).find((v) => v.address === c.address)!.stake;
    await produce([a.address, b.address], 10n); // c did not sign the parent: 10 s offline
    const after1 = (await validators(chain)).find((v) => v.address === c.address)!;
    const expected1 = (before * 10n * 10n) / (10_000n * 86_400n);
    assert.equal(before - after1.stake, expected1);
    assert.equal(after1.offlineSeconds, 10);
    await produce([a.address, b.address], 11n); // a round change (c was the proposer): 2 slots + latency, still charged in full
    const after2 = (await validators(chain)).find((v) => v.address === c.address)!;
    assert.equal(after1.stake - after2.stake, (after1.stake * 10n * 11n) / (10_000n * 86_400n));
    assert.equal(after2.offlineSeconds, 21);
    // the signers lost nothing; consecutive offline blocks make one record
    assert.equal((await validators(chain)).find((v) => v.address === a.address)!.stake, 32_000n * EB);
    const recs = (await slashRecords(chain)).filter((r) => r.reason === 'offline');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.amount, before - after2.stake);
    assert.equal(recs[0]!.toBlock - recs[0]!.fromBlock, 1n);
    await produce(); // unknown signers: no penalty
    assert.equal((await validators(chain)).find((v) => v.address === c.address)!.stake, after2.stake);
    await produce([a.address, b.address, c.address], 60n); // everyone signed
    assert.equal((await validators(chain)).find((v) => v.address === c.address)!.stake, after2.stake);
    // a validator that joined in the previous block could not sign it: not charged for it, only afterwards
    await send(dave, 'stake', [], 32_000n * EB);
    await produce([a.address, b.address, c.address], 15n);
    assert.equal((await validators(chain)).find((v) => v.address === dave.address)!.stake, 32_000n * EB);
    await produce([a.address, b.address, c.address], 15n);
    assert.equal((await validators(chain)).find((v) => v.address === dave.address)!.stake, 32_000n * EB - (32_000n * EB * 10n * 15n) / (10_000n * 86_400n));
    await assertSupply();
  });

  it('charges a long gap between two blocks (a stalled network) at most the cap, on both paths, with offlineSeconds on the same clock', async () => {
    const stakeOf = async (x: TestAccount) => (await validators(chain)).find((v) => v.address === x.address)!;
    const clock0 = await offlineClock(chain);
    assert.equal(clock0.capSeconds, 20n, '4 slots of the 5 s block time');
    await produce(); // block 1 (no certificate); from here the clock runs
    const start = await offlineClock(chain);
    const c0 = await stakeOf(c);
    // a and c were down, nobody could make a block for an hour; c is back first and the first block after the
    // stall is signed by b and c: a is charged 20 s for that block, not the hour; c, equally down, nothing
    await produce([b.address, c.address], 3_600n);
    const a1 = await stakeOf(a);
    assert.equal(32_000n * EB - a1.stake, (32_000n * EB * 10n * 20n) / (10_000n * 86_400n), 'the cap, not the whole stall');
    assert.equal(a1.offlineSeconds, 20);
    assert.deepEqual([(await stakeOf(c)).stake, (await stakeOf(c)).offlineSeconds], [c0.stake, 0]);
    // the LIST_ABSENT path (voting set known) caps the same way; a proposer's timestamp 15 s ahead of an
    // ordinary 5 s interval (20 s) is within the cap, 21 s is not
    const voters = [a.address, b.address, c.address];
    await chain.produceBlock({ timestamp: (t += 21n), coinbase: proposer, parentSigners: [a.address, b.address], parentVoters: voters });
    const c2 = await stakeOf(c);
    assert.equal(c0.stake - c2.stake, (c0.stake * 10n * 20n) / (10_000n * 86_400n));
    await chain.produceBlock({ timestamp: (t += 86_400n * 30n), coinbase: proposer, parentSigners: [a.address, b.address], parentVoters: voters });
    const c3 = await stakeOf(c);
    assert.equal(c2.stake - c3.stake, (c2.stake * 10n * 20n) / (10_000n * 86_400n), 'a month-long stall: still one block’s cap');
    assert.equal(c3.offlineSeconds, 40);
    await produce([a.address, b.address, c.address], 7n); // everyone signed: the clock runs, nobody is charged
    const end = await offlineClock(chain);
    assert.equal(end.chargeableSeconds - start.chargeableSeconds, 20n + 20n + 20n + 7n, 'Σ min(dt, cap) over the blocks');
    // performance over the interval (what the schedule computes): never below 0, a stall does not wreck it
    for (const x of [a, b, c]) {
      const off = BigInt((await stakeOf(x)).offlineSeconds);
      assert.ok(off <= end.chargeableSeconds - start.chargeableSeconds);
    }
    const recs = (await slashRecords(chain)).filter((r) => r.reason === 'offline');
    assert.equal(recs.reduce((s2, r) => s2 + r.amount, 0n), 32_000n * EB - a1.stake + c0.stake - c3.stake);
    await assertSupply();
  });

  it('derives the cap from the governed block time, and counts offline seconds even when the offline slash is governed to 0', async () => {
    const govern = async (param: number, value: bigint, id: bigint) => {
      await send(a, 'propose', [param, value]);
      await send(a, 'vote', [id, true]);
      await send(c, 'vote', [id, true]); // 96k of 128k > 2/3
    };
    await govern(PARAMS.blockTimeMs, 500n, 0n);
    assert.equal((await offlineClock(chain)).capSeconds, 4n, 'sub-second blocks: 4 slots of 1 s (the round-timeout base)');
    await govern(PARAMS.blockTimeMs, 12_345n, 1n);
    assert.equal((await offlineClock(chain)).capSeconds, 50n, 'ceil(4 × 12.345 s)');
    await govern(PARAMS.blockTimeMs, 1_000n, 2n);
    const b0 = (await validators(chain)).find((v) => v.address === b.address)!;
    await produce([a.address, c.address], 600n);
    const b1 = (await validators(chain)).find((v) => v.address === b.address)!;
    assert.equal(b0.stake - b1.stake, (b0.stake * 10n * 4n) / (10_000n * 86_400n));
    assert.equal(b1.offlineSeconds - b0.offlineSeconds, 4);
    await govern(PARAMS.offlineSlashBpsPerDay, 0n, 3n);
    await produce([a.address, c.address], 3n);
    const b2 = (await validators(chain)).find((v) => v.address === b.address)!;
    assert.equal(b2.stake, b1.stake, 'no slash at rate 0');
    assert.equal(b2.offlineSeconds - b1.offlineSeconds, 3, 'but the absence still counts for performance');
    await assertSupply();
  });

  it('with the voting set known (votersOf), charges exactly the absentees and not validators outside that set', async () => {
    await send(dave, 'stake', [], 32_000n * EB); // active in the contract, not in this epoch's voting set
    const voters = [a.address, b.address, c.address];
    const stakeOf = async (x: TestAccount) => (await validators(chain)).find((v) => v.address === x.address)!.stake;
    const before = await stakeOf(c);
    await chain.produceBlock({ timestamp: (t += 15n), coinbase: proposer, parentSigners: [a.address, b.address], parentVoters: voters });
    assert.equal(before - (await stakeOf(c)), (before * 10n * 15n) / (10_000n * 86_400n));
    await chain.produceBlock({ timestamp: (t += 100n), coinbase: proposer, parentSigners: voters, parentVoters: voters });
    await chain.produceBlock({ timestamp: (t += 100n), coinbase: proposer, parentSigners: voters, parentVoters: voters });
    assert.equal(await stakeOf(dave), 32_000n * EB, 'not a voter yet: never charged');
    assert.equal(await stakeOf(a), 32_000n * EB);
    await assertSupply();
  });

  it('passes a parameter change with more than 2/3 of the stake and rejects one with 1/3 against', async () => {
    assert.equal(await revertOf(alice, 'propose', [PARAMS.minStake, 50_000n * EB]), 'execution reverted: EMPoS: not an active validator');
    assert.equal(await revertOf(a, 'propose', [PARAMS.maxValidators, 0n]), 'execution reverted: EMPoS: maxValidators out of range');
    await send(a, 'propose', [PARAMS.minStake, 50_000n * EB]);
    await send(a, 'vote', [0n, true]); // 32k of 128k
    assert.equal((await proposals(chain))[0]!.state, 'open');
    await send(b, 'vote', [0n, true]); // 64k = 1/2: not enough
    assert.equal((await proposals(chain))[0]!.state, 'open');
    assert.equal((await stakingParams(chain)).minStake, 32_000n * EB);
    await send(c, 'vote', [0n, true]); // 128k > 2/3
    const p0 = (await proposals(chain))[0]!;
    assert.deepEqual([p0.state, p0.param, p0.value, p0.yes], ['executed', 'minStake', 50_000n * EB, 128_000n * EB]);
    assert.equal((await stakingParams(chain)).minStake, 50_000n * EB);
    assert.equal(await revertOf(dave, 'stake', [], 40_000n * EB), 'execution reverted: EMPoS: stake below minimum');

    await send(c, 'propose', [PARAMS.blockTimeMs, 1000n]);
    await send(c, 'vote', [1n, true]); // 64k = 1/2
    await send(a, 'vote', [1n, false]); // 32k = 1/4 against: still open
    assert.equal((await proposals(chain))[1]!.state, 'open');
    await send(b, 'vote', [1n, false]); // 64k = 1/2 against ≥ 1/3: can never pass
    assert.equal((await proposals(chain))[1]!.state, 'rejected');
    assert.equal((await stakingParams(chain)).blockTimeMs, 5000n);
    assert.equal(await revertOf(c, 'vote', [1n, true]), 'execution reverted: EMPoS: voting closed');

    // governance slashing of a malicious validator: 100 % burns everything and removes it
    await send(a, 'proposeSlash', [b.address, 10_000n]);
    await send(a, 'vote', [2n, true]);
    await send(c, 'vote', [2n, true]); // 96k of 128k
    const vb = (await validators(chain)).find((v) => v.address === b.address)!;
    assert.deepEqual([vb.stake, vb.status, vb.slashed], [0n, 'removed', 32_000n * EB]);
    assert.equal((await slashRecords(chain)).at(-1)!.reason, 'governance');
    // a proposal nobody votes on expires
    await send(a, 'propose', [PARAMS.unbondingSeconds, 10n]);
    t += 1001n;
    await produce();
    assert.equal((await proposals(chain))[3]!.state, 'expired');
    await assertSupply();
  });

  it('applies a governed minBaseFee as the floor of the EIP-1559 base fee, on import too', async () => {
    const floor = 2_000_000_000n;
    await send(a, 'propose', [PARAMS.minBaseFee, floor]);
    await send(a, 'vote', [0n, true]);
    await send(c, 'vote', [0n, true]);
    assert.equal((await stakingParams(chain)).minBaseFee, floor);
    assert.equal(BigInt(bytesToHex(await chain.getStorageAt(STAKING_ADDRESS, new Uint8Array([Number(MIN_BASE_FEE_SLOT)])))), floor, 'the slot the chain reads');
    assert.equal(chain.nextBaseFee(), floor);
    const { block } = await produce();
    assert.equal(block.header.baseFeePerGas, floor, 'without the floor the base fee would fall below 1 gwei in empty blocks');
    assert.ok(block.header.calcNextBaseFee() < floor);
    assert.equal((await produce()).block.header.baseFeePerGas, floor);
    const otherDir = tempDir();
    const other = await Chain.open({ dataDir: otherDir.path, genesis: parseGenesis(genesisFile()) });
    try {
      for (let n = 1n; n <= chain.head.header.number; n++) await other.importBlock((await chain.getBlockByNumber(n))!);
      assert.equal(bytesToHex(other.head.header.stateRoot), bytesToHex(chain.head.header.stateRoot));
      assert.equal(other.nextBaseFee(), floor);
    } finally {
      await other.close();
      otherDir.remove();
    }
  });

  it('shares every fee of a block among the active validators pro rata to stake, exactly to the wei', async () => {
    const proposerBefore = (await chain.getAccount(proposer)).balance;
    for (let i = 0; i < 3; i++) await chain.submitRawTransaction(signTx(chain.common, alice, { to: dave.address, value: 1n, gasLimit: 21_000n, maxPriorityFeePerGas: BigInt(i + 1) * 1_000_000_007n } as Parameters<typeof signTx>[2]));
    const { receipts } = await produce();
    assert.equal(receipts.length, 3);
    const fees = receipts.reduce((s, r) => s + BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice), 0n);
    assert.equal((await chain.getAccount(proposer)).balance - proposerBefore, 2n * EB, 'the proposer gets the block reward only');
    const acct = await stakingAccounting(chain);
    assert.equal(acct.feesReceived, fees);
    const total = 128_000n * EB;
    const acc = (fees * ACC) / total;
    const expected = new Map([[a.address, (32_000n * EB * acc) / ACC], [b.address, (32_000n * EB * acc) / ACC], [c.address, (64_000n * EB * acc) / ACC]]);
    let sum = 0n;
    for (const [addr, want] of expected) {
      const got = await pendingFees(chain, addr);
      assert.equal(got, want);
      sum += got;
    }
    assert.ok(fees - sum >= 0n && fees - sum <= 3n, 'at most 1 wei of rounding per validator stays in the pool');
    assert.equal((await checkSupply(chain)).feeDust, fees - sum);

    // claiming pays exactly the share (the claim's own fee is shared in its block, after the claim)
    const before = (await chain.getAccount(c.address)).balance;
    const claim = await send(c, 'claimFees');
    assert.equal(claim.status, 1);
    assert.equal((await chain.getAccount(c.address)).balance, before + expected.get(c.address)! - claim.fee);
    assert.equal((await stakingAccounting(chain)).feesClaimed, expected.get(c.address)!);
    await assertSupply();
  });

  it('stays deterministic: a second node importing the blocks with the same certificate signers reaches the same state roots', async () => {
    const signersOf = (n: bigint) => (n % 2n === 0n ? [a.address, c.address] : undefined);
    await chain.close();
    dir.remove();
    dir = tempDir();
    chain = await Chain.open({ dataDir: dir.path, genesis: parseGenesis(genesisFile()), signersOf });
    const otherDir = tempDir();
    const other = await Chain.open({ dataDir: otherDir.path, genesis: parseGenesis(genesisFile()), signersOf });
    try {
      await send(dave, 'stake', [], 32_000n * EB);
      await send(a, 'propose', [PARAMS.maxValidators, 10n]);
      await produce(undefined, 60n);
      await produce(undefined, 60n);
      for (let n = 1n; n <= chain.head.header.number; n++) await other.importBlock((await chain.getBlockByNumber(n))!);
      assert.equal(bytesToHex(other.head.header.stateRoot), bytesToHex(chain.head.header.stateRoot));
      assert.ok((await slashRecords(other)).some((r) => r.validator === b.address && r.reason === 'offline'), 'b missed blocks');
      const tampered = tempDir();
      const liar = await Chain.open({ dataDir: tampered.path, genesis: parseGenesis(genesisFile()), signersOf: () => [a.address, b.address, c.address, dave.address] });
      try {
        let refused = false;
        for (let n = 1n; n <= chain.head.header.number && !refused; n++) {
          await liar.importBlock((await chain.getBlockByNumber(n))!).catch(() => (refused = true));
        }
        assert.ok(refused, 'different signers → different penalties → state root mismatch');
      } finally {
        await liar.close();
        tampered.remove();
      }
      await assertSupply();
    } finally {
      await other.close();
      otherDir.remove();
    }
  });

  it('keeps the total supply exact through a mixed sequence', async () => {
    await send(dave, 'stake', [], 50_000n * EB);
    await produce([a.address, b.address, dave.address], 600n); // c offline 10 min
    await send(alice, 'stake', [], 32_000n * EB);
    await send(dave, 'unstake', [50_000n * EB]);
    const keyA = new ValidatorKey(a.keyHex);
    const h1 = bytesToHex(new Uint8Array(32).fill(9));
    const h2 = bytesToHex(new Uint8Array(32).fill(8));
    await send(c, 'submitEvidence', [a.address, 3n, 0n, h1, keyA.sign(voteDigest(4242n, 3n, 0, h1)), h2, keyA.sign(voteDigest(4242n, 3n, 0, h2))]);
    await send(b, 'claimFees');
    t += 100n;
    await send(dave, 'withdraw');
    await send(c, 'claimFees');
    const s = await checkSupply(chain);
    assert.equal(s.unexplained, 0n);
    assert.equal(s.contractDifference, 0n);
    assert.equal(s.staking.burned, (await slashRecords(chain)).reduce((x, r) => x + r.amount, 0n));
    assert.ok(s.staking.burned > 1_600n * EB);
    assert.equal(s.circulating, s.genesisSupply + s.rewards - s.staking.burned - s.staking.totalStaked - s.staking.totalUnbonding - (s.staking.feesReceived - s.staking.feesClaimed));
    assert.ok(s.ok);
  });
});
