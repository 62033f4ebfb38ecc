/**
 * MeterRegistry (k-of-n EIP-712 attestations, interval order) and EnergyLedger (mint/burn/deficit, deposits,
 * conservation, pause) through ethers against the embedded chain, with exact balances.
 */
import assert from 'node:assert/strict';
import { Wallet, id as keccakId, keccak256, solidityPacked, type TransactionReceipt } from 'ethers';
import {
  WEI_PER_WH,
  attestReadings,
  encodeCall,
  meterIdOf,
  readingBatchDigest,
  readingsHash,
  signReadingBatch,
  type Reading,
} from '../../../chain/contracts/client.ts';
import { CHAIN_ID, EB, expectRevert, read, send, startHarness, type Harness } from './helpers.ts';

const AREA = keccakId('area/north');
const BURN = '0x000000000000000000000000000000000000dEaD';

describe('settlement contracts: MeterRegistry and EnergyLedger', function () {
  this.timeout(60_000);
  let h: Harness;
  let c0: bigint; // the current interval at the start (5-minute intervals)
  const m1 = meterIdOf('site-a', 'meter-1');
  const m2 = meterIdOf('site-a', 'meter-2');
  const m3 = meterIdOf('site-b', 'meter-3');

  function reading(meterId: string, interval: bigint, exportWh: bigint, importWh: bigint, flags = 0): Reading {
    return { meterId, interval, exportWh, importWh, flags };
  }

  async function submit(readings: Reading[], signers: Wallet[] = h.oracles.slice(0, 2)): Promise<TransactionReceipt> {
    const sigs = await attestReadings(signers, CHAIN_ID, h.addresses.registry, readings);
    return h.as('submitter').registry.submitReadings(readings, sigs);
  }

  before(async () => {
    h = await startHarness();
    c0 = BigInt(await h.now()) / 300n;
    const reg = h.as('submitter').registry;
    await reg.registerMeter(m1, h.wallets.alice.address, AREA);
    await reg.registerMeter(m2, h.wallets.bob.address, AREA);
    await reg.registerMeter(m3, h.wallets.carol.address, AREA);
  });

  after(async () => {
    await h?.stop();
  });

  it('deploys with every role at its final holder and none left with the deployer', async () => {
    const { ledger, registry, market, incentives } = h.as('deployer');
    const admin = '0x' + '00'.repeat(32);
    const deployer = h.wallets.deployer.address;
    for (const c of [ledger.contract, registry.contract, market.contract, incentives.contract]) {
      assert.equal(await read<boolean>(c, 'hasRole', admin, deployer), false);
      assert.equal(await read<boolean>(c, 'hasRole', admin, h.addresses.multisig), true);
    }
    assert.equal(await read<boolean>(ledger.contract, 'hasRole', keccakId('MINTER_ROLE'), h.addresses.registry), true);
    assert.equal(await read<boolean>(ledger.contract, 'hasRole', keccakId('MARKET_ROLE'), h.addresses.market), true);
    assert.equal(await read<boolean>(ledger.contract, 'hasRole', keccakId('PAUSER_ROLE'), h.addresses.multisig), true);
    assert.equal(await read<boolean>(ledger.contract, 'hasRole', keccakId('UTILITY_ROLE'), h.wallets.utility.address), true);
    assert.equal(await read<boolean>(registry.contract, 'hasRole', keccakId('REGISTRAR_ROLE'), h.wallets.submitter.address), true);
    assert.equal(await read<boolean>(registry.contract, 'hasRole', keccakId('ORACLE_ADMIN_ROLE'), h.addresses.multisig), true);
    assert.equal(await read<boolean>(market.contract, 'hasRole', keccakId('SETTLER_ROLE'), h.wallets.submitter.address), true);
    assert.equal(await read<boolean>(market.contract, 'hasRole', keccakId('PARAMETER_ROLE'), h.addresses.timelock), true);
    assert.equal(await read<boolean>(incentives.contract, 'hasRole', keccakId('OPERATOR_ROLE'), h.wallets.operator.address), true);
    assert.equal(await read<boolean>(incentives.contract, 'hasRole', keccakId('PARAMETER_ROLE'), h.addresses.timelock), true);
    assert.equal(await ledger.reserve(), 10_000n * EB);
    assert.equal(await h.provider.getBalance(h.addresses.ledger), 10_000n * EB);
    assert.deepEqual(await registry.oracles(), h.oracles.map((o) => o.address));
    assert.equal(await registry.threshold(), 2);
    assert.equal(await registry.intervalSeconds(), 300);
  });

  it('registers meters by the registrar only, once', async () => {
    const reg = h.as('submitter').registry;
    assert.equal(await reg.meterOwner(m1), h.wallets.alice.address);
    assert.equal(await reg.meterArea(m1), AREA);
    assert.equal(await reg.lastInterval(m1), undefined);
    await expectRevert(reg.registerMeter(m1, h.wallets.bob.address, AREA), 'MeterAlreadyRegistered', [m1]);
    await expectRevert(h.as('alice').registry.registerMeter(meterIdOf('x', 'y'), h.wallets.alice.address, AREA), 'AccessControlUnauthorizedAccount');
    await expectRevert(reg.lastInterval(meterIdOf('x', 'y')), 'UnknownMeter', [meterIdOf('x', 'y')]);
  });

  it('computes the EIP-712 batch digest like the contract', async () => {
    const readings = [reading(m1, c0 - 20n, 1n, 2n, 1), reading(m2, c0 - 20n, 3n, 4n)];
    assert.equal(await h.as('alice').registry.batchDigest(readings), readingBatchDigest(CHAIN_ID, h.addresses.registry, readings));
    assert.equal(await read<string>(h.as('alice').registry.contract, 'readingsHash', readings.map((r) => [r.meterId, r.interval, r.exportWh, r.importWh, r.flags])), readingsHash(readings));
  });

  it('accepts k-of-n attested readings: mint on export, burn on import, deficit when the balance is short', async () => {
    const { ledger, registry } = h.as('alice');
    const i = c0 - 10n;
    const r = await submit([reading(m1, i, 1500n, 0n), reading(m2, i, 200n, 100n)]);
    assert.equal(await ledger.balanceOf(h.wallets.alice.address), 1500n * WEI_PER_WH);
    assert.equal(await ledger.balanceOf(h.wallets.bob.address), 100n * WEI_PER_WH);
    assert.equal(await ledger.reserve(), 10_000n * EB - 1700n * WEI_PER_WH);
    assert.equal(await ledger.totalMinted(), 1700n * WEI_PER_WH);
    assert.equal(await ledger.totalBurned(), 100n * WEI_PER_WH);
    assert.equal(await registry.lastInterval(m1), i);
    assert.deepEqual(await registry.readingOf(m1, i), reading(m1, i, 1500n, 0n));
    assert.equal(await registry.readingOf(m1, i - 1n), undefined);
    const accepted = r.logs.map((l) => registry.contract.interface.parseLog(l)).filter((p) => p?.name === 'ReadingAccepted');
    assert.equal(accepted.length, 2);
    assert.deepEqual([...accepted[0]!.args], [m1, i, 1500n, 0n, 0n]);
    // the ledger's Minted/Burned refs are keccak256(meterId ‖ uint64 interval)
    const ref = keccak256(solidityPacked(['bytes32', 'uint64'], [m2, i]));
    const burned = r.logs.map((l) => ledger.contract.interface.parseLog(l)).find((p) => p?.name === 'Burned');
    assert.deepEqual([...burned!.args], [h.wallets.bob.address, 100n * WEI_PER_WH, 0n, ref]);

    // alice imports 2,000 Wh with 1,500 Wh on her balance: 1,500 burned, 500 Wh of deficit, never negative
    await submit([reading(m1, i + 1n, 0n, 2000n, 2)]);
    assert.equal(await ledger.balanceOf(h.wallets.alice.address), 0n);
    assert.equal(await ledger.deficitOf(h.wallets.alice.address), 500n * WEI_PER_WH);
    assert.equal(await ledger.totalDeficit(), 500n * WEI_PER_WH);
    assert.equal(await ledger.totalBurned(), 1600n * WEI_PER_WH);
    assert.equal(await h.provider.getBalance(BURN), 1600n * WEI_PER_WH);
    assert.equal((await registry.readingOf(m1, i + 1n))?.flags, 2);
  });

  it('refuses bad attestations with their reasons', async () => {
    const i = c0 - 8n;
    const rs = [reading(m1, i, 10n, 0n)];
    const [o0, o1, o2] = h.oracles as [Wallet, Wallet, Wallet];
    const reg = h.as('submitter').registry;
    // below threshold
    await expectRevert(reg.submitReadings(rs, [await signReadingBatch(o0, CHAIN_ID, h.addresses.registry, rs)]), 'NotEnoughSignatures', [1n, 2n]);
    // a key outside the oracle set
    const stranger = Wallet.createRandom();
    const withStranger = await attestReadings([o0, stranger], CHAIN_ID, h.addresses.registry, rs);
    await expectRevert(reg.submitReadings(rs, withStranger), 'UnknownOracle', [stranger.address]);
    // signatures over other readings (tampered amount) recover to other addresses
    const tampered = await attestReadings([o0, o1], CHAIN_ID, h.addresses.registry, [reading(m1, i, 11n, 0n)]);
    await expectRevert(reg.submitReadings(rs, tampered), 'UnknownOracle');
    // signed for another chain id
    const otherChain = await attestReadings([o0, o1], CHAIN_ID + 1n, h.addresses.registry, rs);
    await expectRevert(reg.submitReadings(rs, otherChain), 'UnknownOracle');
    // descending order and a duplicate signer
    const sorted = await attestReadings([o0, o1, o2], CHAIN_ID, h.addresses.registry, rs);
    await expectRevert(reg.submitReadings(rs, [...sorted].reverse()), 'SignersNotAscending');
    await expectRevert(reg.submitReadings(rs, [sorted[0]!, sorted[0]!]), 'SignersNotAscending');
    // a malformed signature
    await expectRevert(reg.submitReadings(rs, [sorted[0]!, '0x1234']), 'ECDSAInvalidSignatureLength');
    // three of three is fine too
    await reg.submitReadings(rs, sorted);
    assert.equal(await reg.lastInterval(m1), i);
  });

  it('refuses replayed, out-of-order, gapped, unended and unknown-meter readings; a batch is atomic', async () => {
    const reg = h.as('submitter').registry;
    const last = (await reg.lastInterval(m1))!;
    await expectRevert(submit([reading(m1, last, 1n, 0n)]), 'ReadingReplayed', [m1, last]);
    await expectRevert(submit([reading(m1, last - 1n, 1n, 0n)]), 'IntervalOutOfOrder', [m1, last - 1n, last]);
    await expectRevert(submit([reading(m1, last + 2n, 1n, 0n)]), 'IntervalGap', [m1, last + 1n, last + 2n]);
    const current = BigInt(await h.now()) / 300n + 1n;
    await expectRevert(submit([reading(m3, current, 1n, 0n)]), 'IntervalNotEnded', [m3, current]);
    const unknown = meterIdOf('nowhere', 'nothing');
    await expectRevert(submit([reading(unknown, last, 1n, 0n)]), 'UnknownMeter', [unknown]);
    // a duplicate inside one batch is a replay; a bad reading after a good one leaves nothing applied
    await expectRevert(submit([reading(m1, last + 1n, 1n, 0n), reading(m1, last + 1n, 1n, 0n)]), 'ReadingReplayed');
    await expectRevert(submit([reading(m2, c0 - 9n, 5n, 0n), reading(m1, last + 3n, 1n, 0n)]), 'IntervalGap');
    assert.equal(await reg.lastInterval(m2), c0 - 10n);
    assert.equal(await h.as('bob').ledger.balanceOf(h.wallets.bob.address), 100n * WEI_PER_WH);
    await expectRevert(reg.submitReadings([], []), 'EmptyBatch');
    // consecutive intervals of one meter in one batch are fine
    await submit([reading(m1, last + 1n, 1n, 0n), reading(m1, last + 2n, 1n, 0n, 1)]);
    assert.equal(await reg.lastInterval(m1), last + 2n);
  });

  it('changes the oracle set only through the Multisig (2 of 3 confirmations)', async () => {
    const newSet = [h.oracles[1]!.address, h.oracles[2]!.address];
    await expectRevert(send(h.as('deployer').registry.contract, 'setOracles', [newSet, 1]), 'AccessControlUnauthorizedAccount');
    const data = encodeCall('MeterRegistry', 'setOracles', [newSet, 1]);
    const ms1 = h.as('owner1').multisig;
    const id = await ms1.submit(h.addresses.registry, 0n, data);
    assert.equal(await ms1.confirmations(id), 1n);
    await expectRevert(ms1.execute(id), 'NotEnoughConfirmations', [id, 1n, 2n]);
    await expectRevert(h.as('alice').multisig.confirm(id), 'NotOwner', [h.wallets.alice.address]);
    await h.as('owner2').multisig.confirm(id);
    await expectRevert(h.as('owner2').multisig.confirm(id), 'AlreadyConfirmed');
    await h.as('owner3').multisig.execute(id);
    await expectRevert(ms1.execute(id), 'AlreadyExecuted', [id]);
    assert.deepEqual(await h.as('alice').registry.oracles(), newSet);
    assert.equal(await h.as('alice').registry.threshold(), 1);
    // the removed key is refused; one remaining key now suffices
    const next = (await h.as('alice').registry.lastInterval(m3)) ?? c0 - 5n;
    const rs = [reading(m3, next, 5n, 0n)];
    await expectRevert(submit(rs, [h.oracles[0]!]), 'UnknownOracle', [h.oracles[0]!.address]);
    await submit(rs, [h.oracles[2]!]);
    assert.equal(await h.as('carol').ledger.balanceOf(h.wallets.carol.address), 5n * WEI_PER_WH);
  });

  it('deposits, withdraws and settles deficits with exact balances', async () => {
    const { ledger } = h.as('dave');
    const dave = h.wallets.dave.address;
    const before = await h.provider.getBalance(dave);
    const r1 = await ledger.deposit(3n * EB);
    const r2 = await ledger.withdraw(EB);
    const gas = r1.gasUsed * r1.gasPrice + r2.gasUsed * r2.gasPrice;
    assert.equal(await ledger.balanceOf(dave), 2n * EB);
    assert.equal(await h.provider.getBalance(dave), before - 2n * EB - gas);
    await expectRevert(ledger.withdraw(3n * EB), 'InsufficientEB', [dave, 3n * EB, 2n * EB]);
    await expectRevert(ledger.deposit(0n), 'ZeroAmount');
    const alice = h.wallets.alice.address;
    await expectRevert(h.as('alice').ledger.settleDeficit(alice, 1n), 'AccessControlUnauthorizedAccount');
    await expectRevert(h.as('utility').ledger.settleDeficit(alice, 501n * WEI_PER_WH), 'InsufficientDeficit', [alice, 501n * WEI_PER_WH, 500n * WEI_PER_WH]);
    await h.as('utility').ledger.settleDeficit(alice, 200n * WEI_PER_WH);
    assert.equal(await ledger.deficitOf(alice), 300n * WEI_PER_WH);
    assert.equal(await ledger.totalDeficit(), 300n * WEI_PER_WH);
    // mint/burn are the registry's alone
    await expectRevert(send(ledger.contract, 'mint', [dave, 1n, keccakId('x')]), 'AccessControlUnauthorizedAccount');
    await expectRevert(send(ledger.contract, 'burn', [dave, 1n, keccakId('x')]), 'AccessControlUnauthorizedAccount');
  });

  it('pauses the ledger (and so readings) through the Multisig only', async () => {
    await expectRevert(send(h.as('deployer').ledger.contract, 'pause'), 'AccessControlUnauthorizedAccount');
    const id = await h.as('owner1').multisig.submit(h.addresses.ledger, 0n, encodeCall('EnergyLedger', 'pause', []));
    await h.as('owner2').multisig.confirm(id);
    await h.as('owner2').multisig.execute(id);
    const next = (await h.as('alice').registry.lastInterval(m3))! + 1n;
    await expectRevert(submit([reading(m3, next, 1n, 0n)], [h.oracles[2]!]), 'EnforcedPause');
    await expectRevert(h.as('dave').ledger.withdraw(1n), 'EnforcedPause');
    const id2 = await h.as('owner3').multisig.submit(h.addresses.ledger, 0n, encodeCall('EnergyLedger', 'unpause', []));
    await h.as('owner1').multisig.confirm(id2);
    await h.as('owner1').multisig.execute(id2);
    await submit([reading(m3, next, 1n, 0n)], [h.oracles[2]!]);
  });

  it('conserves EB: ledger holdings + reserve + burned = everything funded', async () => {
    const { ledger } = h.as('alice');
    const accounts = Object.values(h.wallets).map((w) => w.address);
    let held = 0n;
    for (const a of accounts) held += (await ledger.balanceOf(a)) + (await ledger.lockedOf(a));
    const reserve = await ledger.reserve();
    const burned = await ledger.totalBurned();
    assert.equal(held + reserve, await h.provider.getBalance(h.addresses.ledger));
    assert.equal(burned, await h.provider.getBalance(BURN));
    // funded: the 10,000 EB reserve + dave's net 2 EB deposit
    assert.equal(held + reserve + burned, 10_000n * EB + 2n * EB);
    assert.equal(reserve + (await ledger.totalMinted()), 10_000n * EB);
  });
});
