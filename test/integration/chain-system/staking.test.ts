/**
 * The staking system contract end to end: an embedded ChainNode on loopback, the `chain stake | unstake |
 * withdraw | propose | vote` CLI commands (commander, ethers, V3 keystores), ethers v6 calls, and the
 * empos_* JSON-RPC methods.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { Contract, JsonRpcProvider, Wallet } from 'ethers';
import { bytesToHex } from '@ethereumjs/util';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { addStakingCommands, parseEb, parseParamValue } from '../../../chain/cli/staking-commands.ts';
import { ValidatorKey, voteDigest } from '../../../chain/consensus/certificate.ts';
import { WEI_PER_EB } from '../../../chain/execution/genesis.ts';
import { writeKeystore } from '../../../chain/node/keystore.ts';
import { ChainNode } from '../../../chain/node/chain-node.ts';
import { checkSupply } from '../../../chain/system/supply.ts';
import { STAKING_ADDRESS, stakingAbi } from '../../../chain/system/system-contract.ts';
import { activeValidators } from '../../../chain/system/validator-registry.ts';
import { tempDir, testAccount } from '../chain/helpers.ts';

const EB = WEI_PER_EB;
const CHAIN_ID = 4343;
/** Long enough that the early withdraw below runs before the release even on a loaded machine. */
const UNBONDING_SECONDS = 6;

interface RpcValidator { address: string; stake: string; status: string; unbonding: string; pendingFees: string; slashed: string }

describe('EMPoS staking through the CLI, ethers and empos_* (embedded node)', function () {
  this.timeout(60_000);
  const dir = tempDir('empos-staking-');
  const validator = testAccount(60);
  const staker = testAccount(61);
  const carol = testAccount(62);
  const alice = testAccount(63);
  let node: ChainNode;
  let provider: JsonRpcProvider;
  const lines: string[] = [];
  const keyFile = (name: string, key: string, password = ''): string => {
    const path = join(dir.path, `${name}.keystore.json`);
    writeKeystore(path, key, password, 1 << 10);
    return path;
  };
  let stakerKey: string;
  let validatorKey: string;
  let passwordFile: string;

  /** Runs `chain <args…>` with the staking commands; resolves with the printed JSON. */
  async function cli(...args: string[]): Promise<{ hash: string; status: string; blockNumber: number }> {
    const program = new Command('chain').exitOverride();
    addStakingCommands(program, { out: (l) => lines.push(l) });
    await program.parseAsync(['node', 'chain', ...args, '--rpc', node.rpcUrl]);
    return JSON.parse(lines.at(-1)!) as { hash: string; status: string; blockNumber: number };
  }

  async function feeOf(hash: string): Promise<bigint> {
    const r = (await provider.getTransactionReceipt(hash))!;
    return r.gasUsed * r.gasPrice;
  }

  const rpcValidators = async (): Promise<RpcValidator[]> => (await provider.send('empos_validators', [])) as RpcValidator[];

  before(async () => {
    node = new ChainNode({
      dataDir: dir.path,
      validatorKey: validator.keyHex,
      blockTimeMs: 100,
      rpc: { port: 0 },
      genesis: {
        chainId: CHAIN_ID,
        alloc: Object.fromEntries([validator, staker, carol, alice].map((a) => [a.address, (100_000n * EB).toString()])),
        validators: [{ address: validator.address, stake: (32_000n * EB).toString() }],
        consensus: { unbondingSeconds: UNBONDING_SECONDS, votingPeriodSeconds: 600 },
      },
    });
    await node.start();
    provider = new JsonRpcProvider(node.rpcUrl, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    passwordFile = join(dir.path, 'password.txt');
    writeFileSync(passwordFile, 'correct horse\n');
    stakerKey = keyFile('staker', staker.keyHex, 'correct horse');
    validatorKey = keyFile('validator', validator.keyHex);
  });

  after(async () => {
    provider.destroy();
    await node.stop();
    dir.remove();
  });

  it('parses EB amounts and parameter values; refuses bad arguments before sending anything', async () => {
    assert.equal(parseEb('32000'), 32_000n * EB);
    assert.equal(parseEb('0.5'), EB / 2n);
    assert.equal(parseParamValue('minStake', '50000'), 50_000n * EB, 'minStake is given in EB');
    assert.equal(parseParamValue('blockTimeMs', '1000'), 1000n);
    for (const bad of ['-1', '1e3', '0x10', '1.0000000000000000001']) assert.throws(() => parseEb(bad), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(cli('propose', 'gasLimit', '1', '--key', 'unused.json'), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(cli('vote', '0', 'maybe', '--key', 'unused.json'), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
  });

  it('refuses a stake below the minimum with the contract\'s reason, and a wrong keystore password', async () => {
    await assert.rejects(cli('stake', '31999', '--key', stakerKey, '--password-file', passwordFile), (e: unknown) => {
      assert.ok(isEnergyMeshError(e, 'SETTLEMENT_REVERTED'));
      assert.match(e.message, /EMPoS: stake below minimum/);
      return true;
    });
    await assert.rejects(cli('stake', '32000', '--key', stakerKey), (e: unknown) => isEnergyMeshError(e, 'UNAUTHORIZED'));
  });

  it('chain stake bonds 32,000 EB: exact balance change, listed active by empos_validators and activeValidators()', async () => {
    const before = await provider.getBalance(staker.address);
    const r = await cli('stake', '32000', '--key', stakerKey, '--password-file', passwordFile);
    assert.equal(r.status, 'success');
    assert.equal(await provider.getBalance(staker.address), before - 32_000n * EB - (await feeOf(r.hash)));
    const me = (await rpcValidators()).find((v) => v.address === staker.address.toLowerCase())!;
    assert.equal(BigInt(me.stake), 32_000n * EB);
    assert.equal(me.status, 'active');
    const active = await activeValidators(node.chain, BigInt(r.blockNumber));
    assert.deepEqual(active.map((v) => v.address).sort(), [validator.address, staker.address].map((a) => a.toLowerCase()).sort());
    assert.deepEqual(await activeValidators(node.chain, BigInt(r.blockNumber - 1)), [{ address: validator.address.toLowerCase(), stake: 32_000n * EB }], 'the set at the previous block');
  });

  it('chain propose / vote: a parameter changes once more than 2/3 of the active stake voted for it', async () => {
    await assert.rejects(cli('propose', 'minBaseFee', '7', '--key', keyFile('alice', alice.keyHex)), /EMPoS: not an active validator/);
    await cli('propose', 'minBaseFee', '7', '--key', validatorKey);
    const [p0] = (await provider.send('empos_proposals', [])) as { id: string; param: string; value: string; state: string; yes: string }[];
    assert.deepEqual([p0!.id, p0!.param, p0!.value, p0!.state], ['0x0', 'minBaseFee', '0x7', 'open']);
    await cli('vote', '0', 'yes', '--key', validatorKey); // 1/2 of the stake
    assert.equal(((await provider.send('empos_proposals', [])) as { state: string }[])[0]!.state, 'open');
    assert.equal(((await provider.send('empos_params', [])) as { minBaseFee: string }).minBaseFee, '0x0');
    await cli('vote', '0', 'yes', '--key', stakerKey, '--password-file', passwordFile); // all of it
    const after = ((await provider.send('empos_proposals', [])) as { state: string; yes: string }[])[0]!;
    assert.equal(after.state, 'executed');
    assert.equal(BigInt(after.yes), 64_000n * EB);
    assert.equal(((await provider.send('empos_params', [])) as { minBaseFee: string }).minBaseFee, '0x7');
  });

  it('slashes 5 % and removes a double-signer on evidence sent by anyone with ethers; replay and forgery refused', async () => {
    const carolWallet = new Wallet(carol.keyHex, provider);
    const aliceWallet = new Wallet(alice.keyHex, provider);
    await (await (new Contract(STAKING_ADDRESS, stakingAbi, carolWallet).getFunction('stake'))({ value: 40_000n * EB })).wait();
    const key = new ValidatorKey(carol.keyHex);
    const h1 = bytesToHex(new Uint8Array(32).fill(0xaa));
    const h2 = bytesToHex(new Uint8Array(32).fill(0xbb));
    const sig = (h: string) => key.sign(voteDigest(BigInt(CHAIN_ID), 12n, 0, h));
    const staking = new Contract(STAKING_ADDRESS, stakingAbi, aliceWallet);
    const submit = staking.getFunction('submitEvidence');
    await assert.rejects(submit(carol.address, 12n, 0n, h1, sig(h1), h2, new ValidatorKey(alice.keyHex).sign(voteDigest(BigInt(CHAIN_ID), 12n, 0, h2))), /EMPoS: invalid evidence/);
    const receipt = await (await submit(carol.address, 12n, 0n, h1, sig(h1), h2, sig(h2))).wait();
    assert.equal(receipt?.status, 1);
    await assert.rejects(submit(carol.address, 12n, 0n, h1, sig(h1), h2, sig(h2)), /EMPoS: evidence already submitted/);
    const slashings = (await provider.send('empos_slashings', [])) as { validator: string; reason: string; amount: string }[];
    assert.deepEqual(slashings.map((s) => [s.validator, s.reason, BigInt(s.amount)]), [[carol.address.toLowerCase(), 'equivocation', 2_000n * EB]]);
    const c = (await rpcValidators()).find((v) => v.address === carol.address.toLowerCase())!;
    assert.deepEqual([c.status, BigInt(c.stake), BigInt(c.slashed)], ['removed', 38_000n * EB, 2_000n * EB]);
    assert.ok(!(await activeValidators(node.chain)).some((v) => v.address === carol.address.toLowerCase()));
  });

  it('chain unstake then chain withdraw after the unbonding period, to the wei', async () => {
    const before = await provider.getBalance(staker.address);
    const u = await cli('unstake', '32000', '--key', stakerKey, '--password-file', passwordFile);
    const me = (await rpcValidators()).find((v) => v.address === staker.address.toLowerCase())!;
    assert.deepEqual([BigInt(me.stake), BigInt(me.unbonding), me.status], [0n, 32_000n * EB, 'inactive']);
    const releaseAt = (await provider.getBlock(u.blockNumber))!.timestamp + UNBONDING_SECONDS;
    try {
      await cli('withdraw', '--key', stakerKey, '--password-file', passwordFile);
      assert.fail('withdraw before the release time must be refused');
    } catch (e) {
      assert.ok(isEnergyMeshError(e, 'SETTLEMENT_REVERTED'));
      assert.match(e.message, /EMPoS: nothing to withdraw/);
    }
    // wait for a block past the release time (the chain's clock, not ours)
    while ((await provider.getBlock('latest'))!.timestamp < releaseAt) await new Promise((r) => setTimeout(r, 100));
    const w = await cli('withdraw', '--key', stakerKey, '--password-file', passwordFile);
    assert.equal(await provider.getBalance(staker.address), before - (await feeOf(u.hash)) - (await feeOf(w.hash)) + 32_000n * EB);
    assert.equal(BigInt((await rpcValidators()).find((v) => v.address === staker.address.toLowerCase())!.unbonding), 0n);
  });

  it('keeps the books: fee shares and the total supply add up exactly', async () => {
    const staking = (await provider.send('empos_staking', [])) as Record<string, string>;
    assert.ok(BigInt(staking.feesReceived!) > 0n, 'the transactions paid fees into the pool');
    const pending = (await rpcValidators()).reduce((a, v) => a + BigInt(v.pendingFees), 0n);
    const unclaimed = BigInt(staking.feesReceived!) - BigInt(staking.feesClaimed!);
    assert.ok(unclaimed - pending >= 0n && unclaimed - pending <= 3n, 'at most 1 wei of rounding per validator');
    // the offline clock: 4 slots of the genesis' 5 s block time per block, Σ min(dt, cap) from block 2
    const head = await provider.getBlockNumber();
    const at = (await provider.send('empos_staking', [`0x${head.toString(16)}`])) as Record<string, string>;
    assert.equal(BigInt(at.offlineChargeCapSeconds!), 20n);
    const times: number[] = [];
    for (let n = 1; n <= head; n++) times.push((await provider.getBlock(n))!.timestamp);
    const expected = times.slice(1).reduce((sum, ts, i) => sum + Math.min(ts - times[i]!, 20), 0);
    assert.equal(BigInt(at.chargeableSeconds!), BigInt(expected));
    assert.ok(expected > 0, 'the test ran for seconds');
    const s = await checkSupply(node.chain);
    assert.equal(s.unexplained, 0n);
    assert.equal(s.contractDifference, 0n);
    assert.equal(s.staking.burned, 2_000n * EB);
    assert.equal(s.rewards, 2n * EB * s.blockNumber);
    assert.ok(s.ok);
  });
});
