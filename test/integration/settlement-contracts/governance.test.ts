/**
 * MeshCoin supply and genesis distribution, the team's vesting, a governance proposal that changes a market
 * parameter through the timelock, and the Multisig's threshold, revocation and self-administration.
 */
import assert from 'node:assert/strict';
import { Contract, id as keccakId } from 'ethers';
import { loadArtifact } from '../../../chain/contracts/artifacts.ts';
import { TEAM_VESTING_SECONDS } from '../../../chain/contracts/deploy.ts';
import { encodeCall } from '../../../chain/contracts/client.ts';
import { MC, expectRevert, read, send, startHarness, walletAddress, type Harness } from './helpers.ts';

const SUPPLY = 100_000_000n * MC;

describe('settlement contracts: MeshCoin, vesting, governance and Multisig', function () {
  this.timeout(90_000);
  let h: Harness;

  before(async () => {
    h = await startHarness({
      mcDistribution: {
        public: walletAddress('alice'),
        ecosystem: '0x' + '00'.repeat(19) + '02',
        stakingRewards: '0x' + '00'.repeat(19) + '03',
        partnerships: '0x' + '00'.repeat(19) + '04',
        teamBeneficiary: walletAddress('erin'),
      },
    });
  });

  after(async () => {
    await h?.stop();
  });

  it('mints a fixed 100,000,000 MC once, split 30/25/20/15/10 %, with no mint function', async () => {
    const mc = h.as('alice').meshCoin;
    assert.equal(await mc.totalSupply(), SUPPLY);
    assert.equal(await mc.balanceOf(h.wallets.alice.address), (SUPPLY * 30n) / 100n);
    assert.equal(await mc.balanceOf(h.addresses.teamVesting), (SUPPLY * 25n) / 100n);
    assert.equal(await mc.balanceOf('0x' + '00'.repeat(19) + '02'), (SUPPLY * 20n) / 100n);
    assert.equal(await mc.balanceOf('0x' + '00'.repeat(19) + '03'), (SUPPLY * 15n) / 100n);
    assert.equal(await mc.balanceOf('0x' + '00'.repeat(19) + '04'), (SUPPLY * 10n) / 100n);
    assert.equal(mc.contract.interface.getFunction('mint'), null);
    assert.equal(await read<bigint>(mc.contract, 'decimals'), 18n);
    assert.equal(await read<string>(mc.contract, 'symbol'), 'MC');
  });

  it('vests the team share linearly over 4 years to its beneficiary', async () => {
    const vesting = new Contract(h.addresses.teamVesting, loadArtifact('VestingWallet').abi as never[], h.wallets.dave);
    const start = await read<bigint>(vesting, 'start');
    const deployedAt = BigInt(await h.now());
    assert.ok(start <= deployedAt && start > deployedAt - 120n, `vesting starts at the deployment (${start} vs ${deployedAt})`);
    assert.equal(await read<bigint>(vesting, 'duration'), BigInt(TEAM_VESTING_SECONDS));
    assert.equal(await read<string>(vesting, 'owner'), h.wallets.erin.address);
    const share = (SUPPLY * 25n) / 100n;
    await h.advanceTo(Number(start) + 365 * 86_400);
    const r = await send(vesting, 'release(address)', [h.addresses.meshCoin]); // anyone may trigger it
    const t = BigInt((await h.provider.getBlock(r.blockNumber))!.timestamp);
    const expected = (share * (t - start)) / BigInt(TEAM_VESTING_SECONDS);
    const mc = h.as('erin').meshCoin;
    assert.equal(await mc.balanceOf(h.wallets.erin.address), expected);
    assert.equal(await mc.balanceOf(h.addresses.teamVesting), share - expected);
    assert.ok(expected > share / 4n - share / 1000n && expected < share / 4n + share / 1000n, 'about a quarter after one year');
    await h.advanceTo(Number(start) + TEAM_VESTING_SECONDS + 1);
    await send(vesting, 'release(address)', [h.addresses.meshCoin]);
    assert.equal(await mc.balanceOf(h.wallets.erin.address), share);
    assert.equal(await mc.balanceOf(h.addresses.teamVesting), 0n);
  });

  it('changes the market fee by an MC-holder vote executed through the timelock', async () => {
    const market = h.as('alice').market;
    await expectRevert(send(market.contract, 'setFee', [20, 5000, 1000n * MC]), 'AccessControlUnauthorizedAccount');
    await h.as('alice').meshCoin.delegate(h.wallets.alice.address);
    assert.equal(await h.as('alice').meshCoin.getVotes(h.wallets.alice.address), (SUPPLY * 30n) / 100n);
    const gov = new Contract(h.addresses.governor, loadArtifact('MeshGovernor').abi as never[], h.wallets.alice);
    const targets = [h.addresses.market];
    const values = [0n];
    const calldatas = [encodeCall('EnergyMarket', 'setFee', [20, 2500, 500n * MC])];
    const description = 'Raise the market fee to 0.2 %, discount 25 % from 500 MC';
    const descriptionHash = keccakId(description);
    await send(gov, 'propose', [targets, values, calldatas, description]);
    const proposalId = await read<bigint>(gov, 'hashProposal', targets, values, calldatas, descriptionHash);
    const waitBlockAfter = async (block: bigint): Promise<void> => {
      while (BigInt(await h.provider.getBlockNumber()) <= block) await new Promise((r) => setTimeout(r, 50));
    };
    await waitBlockAfter(await read<bigint>(gov, 'proposalSnapshot', proposalId));
    assert.equal(await read<bigint>(gov, 'state', proposalId), 1n); // Active
    await send(gov, 'castVote', [proposalId, 1]);
    await expectRevert(send(gov, 'queue', [targets, values, calldatas, descriptionHash]), 'GovernorUnexpectedProposalState');
    await waitBlockAfter(await read<bigint>(gov, 'proposalDeadline', proposalId));
    assert.equal(await read<bigint>(gov, 'state', proposalId), 4n); // Succeeded
    await send(gov, 'queue', [targets, values, calldatas, descriptionHash]);
    assert.equal(await read<bigint>(gov, 'state', proposalId), 5n); // Queued
    await expectRevert(send(gov, 'execute', [targets, values, calldatas, descriptionHash]), 'TimelockUnexpectedOperationState');
    await h.advanceTo((await h.now()) + 3601);
    await send(gov, 'execute', [targets, values, calldatas, descriptionHash]);
    assert.equal(await read<bigint>(gov, 'state', proposalId), 7n); // Executed
    const p = await market.parameters();
    assert.equal(p.feeBps, 20);
    assert.equal(p.discountBps, 2500);
    assert.equal(p.discountThreshold, 500n * MC);
  });

  it('executes Multisig calls only at threshold, honours revocations and administers itself', async () => {
    const [o1, o2, o3] = [h.as('owner1').multisig, h.as('owner2').multisig, h.as('owner3').multisig];
    assert.equal(await o1.threshold(), 2);
    await expectRevert(send(o1.contract, 'changeThreshold', [3]), 'OnlySelf');
    const id = await o1.submit(h.addresses.multisig, 0n, encodeCall('Multisig', 'changeThreshold', [3]));
    await o2.confirm(id);
    await o2.revoke(id);
    await expectRevert(o2.revoke(id), 'NotConfirmed', [id, h.wallets.owner2.address]);
    await expectRevert(o3.execute(id), 'NotEnoughConfirmations', [id, 1n, 2n]);
    await o3.confirm(id);
    await o3.execute(id);
    assert.equal(await o1.threshold(), 3);
    // a failing call reports the target's error; the transaction stays executable
    const bad = await o1.submit(h.addresses.registry, 0n, encodeCall('MeterRegistry', 'setOracles', [[], 0]));
    await o2.confirm(bad);
    await o3.confirm(bad);
    await expectRevert(o1.execute(bad), 'ExecutionFailed');
    // remove an owner: the threshold may not exceed the remaining owners
    const rm = await o1.submit(h.addresses.multisig, 0n, encodeCall('Multisig', 'removeOwner', [h.wallets.owner3.address]));
    await o2.confirm(rm);
    await o3.confirm(rm);
    await expectRevert(o1.execute(rm), 'ExecutionFailed');
    const add = await o1.submit(h.addresses.multisig, 0n, encodeCall('Multisig', 'addOwner', [h.wallets.dave.address]));
    await o2.confirm(add);
    await o3.confirm(add);
    await o1.execute(add);
    await o1.execute(rm);
    assert.deepEqual((await o1.owners()).sort(), [h.wallets.owner1.address, h.wallets.owner2.address, h.wallets.dave.address].sort());
    await expectRevert(o3.submit(h.addresses.multisig, 0n, '0x'), 'NotOwner', [h.wallets.owner3.address]);
  });
});
