/**
 * A 4-validator EMPoS network as 4 processes on 127.0.0.1 (500 ms blocks, 1 s round timeouts): finality
 * with certificates that verify, an ethers transaction final on every node, crash (kill -9) and restart,
 * one validator down (the chain goes on), two down (halt without a fork, resume when one returns), a late
 * full node syncing, junk and badly signed gossip rejected, the validators that were down penalised for their
 * offline time, and a validator that double-signs slashed 5 % and removed on the evidence a node submits by
 * itself. Epochs of 12 blocks (genesis epochSeconds 6 at 500 ms): each epoch's schedule carries the
 * performance‰ of the epoch before (the validator that was down scores below 1000); a governance change of
 * blockTimeMs changes every node's pace but not the epochs; a validator that stakes mid-epoch is not
 * charged offline before its first epoch. One network is shared by the steps, in order.
 */
import { strict as assert } from 'node:assert';
import { JsonRpcProvider, Wallet, parseEther, type TransactionReceipt } from 'ethers';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { verifyCertificate, ValidatorKey, type FinalityCertificate } from '../../../chain/consensus/certificate.ts';
import { readKeystore } from '../../../chain/node/keystore.ts';
import { P2pNetwork } from '../../../chain/p2p/p2p-network.ts';
import { encodeTransactions, encodeVote, voteMessageDigest } from '../../../chain/p2p/gossip-codec.ts';
import { PARAMS, STAKING_ADDRESS, stakingInterface } from '../../../chain/system/system-contract.ts';
import { TestNetwork, rpc, waitFor } from './net-helpers.ts';

const STAKE = 32_000n * 10n ** 18n;
const EPOCH_BLOCKS = 12;
const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

interface RpcSchedule {
  epoch: string;
  firstHeight: string;
  epochBlocks: string;
  active: string[];
  candidates: { address: string; stake: string; performancePermille: number }[];
}

interface RpcFinality {
  blockTimeMs: number;
  blockTimeSource: string;
}

interface RpcCert {
  number: string;
  blockHash: string;
  round: number;
  votes: { validator: string; signature: string }[];
}

const fromRpc = (c: RpcCert): FinalityCertificate => ({ ...c, number: BigInt(c.number) });

async function blockHash(url: string, n: number): Promise<string | undefined> {
  const b = await rpc<{ hash: string; stateRoot: string } | null>(url, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, false]);
  return b === null ? undefined : `${b.hash}/${b.stateRoot}`;
}

describe('EMPoS validator network (4 processes)', function () {
  this.timeout(600_000);
  let net: TestNetwork;
  const providers: JsonRpcProvider[] = [];

  before(async () => {
    net = await TestNetwork.create(4, 500, { epochSeconds: (EPOCH_BLOCKS * 500) / 1000 });
    await net.startAll();
  });

  after(async () => {
    for (const p of providers) p.destroy();
    await net?.close();
  });

  const waitHead = (i: number, atLeast: number, ms = 180_000): Promise<number> =>
    waitFor(`node ${i} at height ${atLeast}`, async () => {
      const h = await net.head(i);
      return h >= atLeast ? h : undefined;
    }, ms);

  it('finalizes blocks on every node with certificates of ≥ 2/3 of the stake that verify, and the child commits to the parent certificate', async () => {
    for (let i = 0; i < 4; i++) await waitHead(i, 3);
    const validators = net.addresses.map((address) => ({ address, stake: STAKE }));
    const chainId = BigInt(await rpc<string>(net.nodes[0]!.rpcUrl, 'eth_chainId'));
    const hashes = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const c = await rpc<{ certificate: RpcCert; parentCertificate?: RpcCert; signers: string[] }>(net.nodes[i]!.rpcUrl, 'empos_certificate', ['0x2']);
      const check = verifyCertificate(chainId, fromRpc(c.certificate), validators);
      assert.ok(check.valid, check.reason);
      assert.ok(check.signedStake * 3n >= check.totalStake * 2n);
      hashes.add((await blockHash(net.nodes[i]!.rpcUrl, 2))!);
      // block 2's header commits to block 1's certificate: the same signers on every node
      assert.ok(c.parentCertificate !== undefined);
      assert.ok(verifyCertificate(chainId, fromRpc(c.parentCertificate), validators).valid);
      const signers1 = (await rpc<{ signers: string[] }>(net.nodes[i]!.rpcUrl, 'empos_certificate', ['0x1'])).signers;
      assert.deepEqual([...signers1].sort(), c.parentCertificate.votes.map((v) => v.validator).sort());
    }
    assert.equal(hashes.size, 1, 'every node has the same block 2');
    const fin = await rpc<{ head: string; finalized: string; mode: string }>(net.nodes[0]!.rpcUrl, 'empos_finality');
    assert.equal(fin.mode, 'node');
    assert.equal(fin.head, fin.finalized);
    assert.equal(await rpc<string>(net.nodes[0]!.rpcUrl, 'net_peerCount'), '0x3');
    const vs = await rpc<{ address: string; status: string }[]>(net.nodes[1]!.rpcUrl, 'empos_validators');
    assert.deepEqual(vs.map((v) => v.address).sort(), [...net.addresses].sort());
    const sched = await rpc<RpcSchedule>(net.nodes[1]!.rpcUrl, 'empos_schedule');
    assert.equal(sched.active.length, 4);
    assert.equal(Number(sched.epochBlocks), EPOCH_BLOCKS);
  });

  it('an ethers transaction sent to one node is included and final on all of them', async () => {
    const provider = new JsonRpcProvider(net.nodes[1]!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
    providers.push(provider);
    const wallet = new Wallet(readKeystore(net.nodes[0]!.key!, ''), provider);
    const to = Wallet.createRandom().address;
    const tx = await wallet.sendTransaction({ to, value: parseEther('1.5') });
    const receipt = await tx.wait(1, 90_000);
    assert.ok(receipt !== null && receipt.status === 1);
    for (let i = 0; i < 4; i++) {
      await waitHead(i, receipt.blockNumber);
      assert.equal(BigInt(await rpc<string>(net.nodes[i]!.rpcUrl, 'eth_getBalance', [to, 'finalized'])), parseEther('1.5'));
      const r = await rpc<{ blockHash: string }>(net.nodes[i]!.rpcUrl, 'eth_getTransactionReceipt', [tx.hash]);
      assert.equal(r.blockHash, receipt.blockHash);
    }
  });

  it('a node killed with SIGKILL mid-block restarts at the same state root and height as the others', async () => {
    await net.stop(3, 'SIGKILL');
    const h = await net.head(0);
    await net.start(3);
    const target = h + 2;
    await waitHead(3, target);
    await waitHead(0, target);
    assert.equal(await blockHash(net.nodes[3]!.rpcUrl, target), await blockHash(net.nodes[0]!.rpcUrl, target));
    assert.equal(await blockHash(net.nodes[3]!.rpcUrl, h), await blockHash(net.nodes[1]!.rpcUrl, h));
  });

  it('with one validator down the chain goes on', async () => {
    await net.stop(3, 'SIGKILL');
    const h = await net.head(0);
    for (let i = 0; i < 3; i++) await waitHead(i, h + 3);
    assert.equal(await blockHash(net.nodes[0]!.rpcUrl, h + 3), await blockHash(net.nodes[2]!.rpcUrl, h + 3));
  });

  it('with two down it halts without finalizing or forking, and resumes when one returns', async () => {
    await net.stop(2, 'SIGKILL');
    // let a block in flight settle, then watch for a while
    await new Promise((r) => setTimeout(r, 3000));
    const h0 = await net.head(0);
    const h1 = await net.head(1);
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(await net.head(0), h0, 'no block finalized with half of the stake');
    assert.equal(await net.head(1), h1);
    const common = Math.min(h0, h1);
    assert.equal(await blockHash(net.nodes[0]!.rpcUrl, common), await blockHash(net.nodes[1]!.rpcUrl, common), 'no fork');
    await net.start(2);
    const target = Math.max(h0, h1) + 2;
    for (const i of [0, 1, 2]) await waitHead(i, target, 240_000);
    assert.equal(await blockHash(net.nodes[2]!.rpcUrl, target), await blockHash(net.nodes[0]!.rpcUrl, target));
  });

  it('a restarted validator and a late full node sync blocks with certificates and follow the chain', async () => {
    const full = await net.addFullNode();
    await Promise.all([net.start(3), net.start(full.index)]);
    const h = await net.head(0);
    await waitHead(3, h + 1, 240_000);
    await waitHead(full.index, h + 1, 240_000);
    assert.equal(await blockHash(full.rpcUrl, h), await blockHash(net.nodes[0]!.rpcUrl, h));
    assert.equal(await blockHash(net.nodes[3]!.rpcUrl, h + 1), await blockHash(net.nodes[1]!.rpcUrl, h + 1));
    const network = await rpc<{ validators: string[] }>(full.rpcUrl, 'empos_network');
    assert.deepEqual(network.validators, []);
  });

  it('junk, oversize, wrong-chain (votes and transactions) and badly signed gossip is rejected and the peer penalised, without a crash', async () => {
    const target = net.nodes[0]!;
    const chainId = BigInt(await rpc<string>(target.rpcUrl, 'eth_chainId'));
    const before = await rpc<{ rejected: Record<string, number>; penalised: number }>(target.rpcUrl, 'empos_network');
    const attacker = new P2pNetwork({
      chainId,
      privateKey: await generateKeyPair('Ed25519'),
      peers: [net.peers[0]!],
      handlers: { validate: () => 'accept', deliver: () => undefined, status: () => ({ head: 0n, finalized: 0n }), blocks: async () => [] },
    });
    await attacker.start();
    try {
      await waitFor('attacker connected', async () => attacker.peerCount > 0);
      await new Promise((r) => setTimeout(r, 1500)); // subscriptions exchanged
      const key = new ValidatorKey(`0x${'42'.repeat(32)}`);
      const forged = { chainId, kind: 'prevote' as const, height: 1n, round: 0, blockHash: `0x${'ab'.repeat(32)}`, validator: net.addresses[1]! };
      // a well-formed transaction batch holding a transaction signed for another chain: not relayed
      const wrongChain = await new Wallet(`0x${'42'.repeat(32)}`).signTransaction({ type: 2, chainId: chainId + 1n, nonce: 0, to: net.addresses[0], gasLimit: 21_000, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, value: 1n });
      const messages: [Parameters<P2pNetwork['publish']>[0], Uint8Array][] = [
        ['tx', encodeTransactions([Buffer.from(wrongChain.slice(2), 'hex')])],
        ['vote', Uint8Array.from([0xde, 0xad, 0xbe, 0xef])],
        ['proposal', new Uint8Array(1000).fill(0xc5)],
        ['commit', Uint8Array.from([0xc0])],
        ['tx', Uint8Array.from([0x02, 0x01])],
        ['vote', encodeVote({ ...forged, signature: key.sign(voteMessageDigest(forged)) })], // signed by a non-validator for a validator
        ['vote', encodeVote({ ...forged, chainId: chainId + 1n, signature: key.sign(voteMessageDigest({ ...forged, chainId: chainId + 1n })) })],
      ];
      for (const [kind, data] of messages) await attacker.publish(kind, data);
      const after = await waitFor('rejections counted', async () => {
        const n = await rpc<{ rejected: Record<string, number>; penalised: number }>(target.rpcUrl, 'empos_network');
        const total = Object.values(n.rejected).reduce((a, b) => a + b, 0) - Object.values(before.rejected).reduce((a, b) => a + b, 0);
        return total >= 7 ? n : undefined;
      }, 30_000);
      assert.ok(after.rejected.vote! >= before.rejected.vote! + 2);
      assert.ok(after.rejected.tx! >= before.rejected.tx! + 2, 'the junk batch and the wrong-chain transaction are rejected');
      assert.ok(after.penalised > before.penalised);
      // an oversize message (over the gossip frame limit: the stream carrying it is dropped)
      await attacker.publish('proposal', new Uint8Array(5 * 1024 * 1024));
    } finally {
      await attacker.stop();
    }
    const h = await net.head(0);
    await waitHead(0, h + 2);
    assert.equal(net.nodes[0]!.child?.exitCode, null, 'the node is still running');
  });

  interface RpcValidator {
    address: string;
    stake: string;
    status: string;
    slashed: string;
    offlineSeconds: string;
  }

  it('the validator that was down while blocks were made was penalised for its offline time (0.1 %/day pro rata)', async () => {
    const vs = await rpc<RpcValidator[]>(net.nodes[0]!.rpcUrl, 'empos_validators');
    const by = (a: string): RpcValidator | undefined => vs.find((v) => v.address.toLowerCase() === a.toLowerCase());
    // validator 3 missed certificates while the other three went on; validator 2 was down only while the
    // chain was halted (no block was made without it), so it owes nothing for that
    for (const i of [3]) {
      const v = by(net.addresses[i]!);
      assert.ok(v !== undefined && BigInt(v.offlineSeconds) > 0n, `validator ${i} was charged offline time`);
      assert.ok(BigInt(v.slashed) > 0n && BigInt(v.stake) < STAKE, `validator ${i} lost stake`);
      // 0.1 %/day of 32,000 EB is 32 EB a day: never more than the time it could have been offline
      assert.ok(BigInt(v.slashed) <= (STAKE * 10n * BigInt(v.offlineSeconds)) / (10_000n * 86_400n) + 1n);
    }
    const slashings = await rpc<{ validator: string; reason: string }[]>(net.nodes[0]!.rpcUrl, 'empos_slashings');
    assert.ok(slashings.some((s) => s.reason === 'offline' && s.validator.toLowerCase() === net.addresses[3]!.toLowerCase()));
  });

  it('schedules each epoch with the performance‰ of the epoch before from finalized offline time: the validator that was down scores below 1000, the same on every node', async () => {
    const url = net.nodes[0]!.rpcUrl;
    // at least two completed epochs after the genesis one (the down time of the tests before is in them)
    const head = await waitHead(0, 2 * EPOCH_BLOCKS + 1);
    // the contract's offline clock (Σ capped block intervals), which offlineSeconds counts on
    const stamp = async (n: number): Promise<bigint> => BigInt((await rpc<{ chargeableSeconds: string }>(url, 'empos_staking', [hex(n)])).chargeableSeconds);
    const offline = async (n: number): Promise<Map<string, bigint>> =>
      new Map((await rpc<RpcValidator[]>(url, 'empos_validators', [hex(n)])).map((v) => [v.address.toLowerCase(), BigInt(v.offlineSeconds)]));
    const down = net.addresses[3]!.toLowerCase();
    let lowest = 1000;
    let epochs = 0;
    // epoch e ≥ 1 is anchored at A = e × L (its last block before it), the window is (A − L, A]
    for (let a = EPOCH_BLOCKS; a <= head; a += EPOCH_BLOCKS) {
      const prev = a - EPOCH_BLOCKS;
      const [tA, tP, oA, oP] = await Promise.all([stamp(a), stamp(prev), offline(a), offline(prev)]);
      const expected = (address: string): number => {
        const dt = tA - tP;
        let d = oA.get(address)! - (oP.get(address) ?? 0n);
        if (dt <= 0n || d <= 0n) return 1000;
        if (d > dt) d = dt;
        return Number((1000n * (dt - d)) / dt);
      };
      const schedules = await Promise.all([0, 1, 2, 3].map((i) => rpc<RpcSchedule>(net.nodes[i]!.rpcUrl, 'empos_schedule', [hex(a + 1)])));
      for (const sc of schedules) assert.deepEqual(sc.candidates, schedules[0]!.candidates, `epoch ${a / EPOCH_BLOCKS}: the same weights on every node`);
      const cands = schedules[0]!.candidates;
      assert.equal(cands.length, 4);
      for (const c of cands) assert.equal(c.performancePermille, expected(c.address), `epoch ${a / EPOCH_BLOCKS}: ${c.address}`);
      lowest = Math.min(lowest, cands.find((c) => c.address === down)!.performancePermille);
      epochs++;
    }
    assert.ok(epochs >= 2, `${epochs} epochs completed`);
    assert.ok(lowest < 1000, `the validator that was down scored ${lowest}‰ in some epoch`);
  });

  it('a validator that precommits two blocks at one height is reported by the nodes themselves: slashed 5 % and removed', async () => {
    const target = net.nodes[0]!;
    const chainId = BigInt(await rpc<string>(target.rpcUrl, 'eth_chainId'));
    const cheat = new ValidatorKey(readKeystore(net.nodes[3]!.key!, ''));
    const cheatAddress = net.addresses[3]!.toLowerCase();
    const stakeBefore = BigInt((await rpc<RpcValidator[]>(target.rpcUrl, 'empos_validators')).find((v) => v.address.toLowerCase() === cheatAddress)!.stake);
    // the cheater's key precommits two different blocks at the height being decided (a node running it
    // with a tampered sign-state would do the same); sent over gossip like any vote
    const sender = new P2pNetwork({
      chainId,
      privateKey: await generateKeyPair('Ed25519'),
      peers: [net.peers[0]!, net.peers[1]!],
      handlers: { validate: () => 'accept', deliver: () => undefined, status: () => ({ head: 0n, finalized: 0n }), blocks: async () => [] },
    });
    await sender.start();
    try {
      await waitFor('sender connected', async () => sender.peerCount > 0);
      await new Promise((r) => setTimeout(r, 1500)); // subscriptions exchanged
      const removed = await waitFor(
        'the double-signer removed on chain',
        async () => {
          const height = BigInt(await net.head(0)) + 1n;
          for (const fill of ['c1', 'c2']) {
            const vote = { chainId, kind: 'precommit' as const, height, round: 0, blockHash: `0x${fill.repeat(32)}`, validator: cheatAddress };
            await sender.publish('vote', encodeVote({ ...vote, signature: cheat.sign(voteMessageDigest(vote)) }));
          }
          await new Promise((r) => setTimeout(r, 1500));
          const v = (await rpc<RpcValidator[]>(target.rpcUrl, 'empos_validators')).find((x) => x.address.toLowerCase() === cheatAddress);
          return v?.status === 'removed' ? v : undefined;
        },
        180_000,
      );
      const slashed = (await rpc<{ validator: string; reason: string; amount: string }[]>(target.rpcUrl, 'empos_slashings')).filter(
        (s) => s.reason === 'equivocation' && s.validator.toLowerCase() === cheatAddress,
      );
      assert.equal(slashed.length, 1, 'slashed once, however many nodes reported it');
      const amount = BigInt(slashed[0]!.amount);
      const atSlash = BigInt(removed.stake) + amount;
      assert.equal(amount, (atSlash * 500n) / 10_000n, 'exactly 5 % of the stake it had');
      assert.ok(atSlash <= stakeBefore);
    } finally {
      await sender.stop();
    }
    // the chain goes on with the three honest validators
    const h = await net.head(0);
    await waitHead(0, h + 2);
  });
  /** Sends a call to the staking contract from `wallet` and waits for its receipt. */
  async function stakingCall(wallet: Wallet, fn: string, args: unknown[] = [], value = 0n): Promise<TransactionReceipt> {
    const tx = await wallet.sendTransaction({ to: STAKING_ADDRESS, data: stakingInterface.encodeFunctionData(fn, args), value });
    const receipt = await tx.wait(1, 90_000);
    assert.ok(receipt !== null && receipt.status === 1, `${fn} mined`);
    return receipt;
  }

  function walletOf(i: number, key?: string): Wallet {
    const provider = new JsonRpcProvider(net.nodes[i]!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
    providers.push(provider);
    return new Wallet(key ?? readKeystore(net.nodes[i]!.key!, ''), provider);
  }

  it('a governance change of blockTimeMs, once executed, changes the pace of every node (not the epochs)', async () => {
    const running = net.nodes.filter((n) => n.child !== undefined);
    for (const n of running) {
      const f = await rpc<RpcFinality>(n.rpcUrl, 'empos_finality');
      assert.deepEqual([f.blockTimeMs, f.blockTimeSource], [500, 'governed']);
    }
    // the nodes sign evidence transactions with their validator keys: let those settle before the keys send
    await waitFor('no pending transactions of validators 0–2', async () => {
      for (const i of [0, 1, 2]) {
        const url = net.nodes[i]!.rpcUrl;
        const [pending, latest] = await Promise.all(['pending', 'latest'].map((tag) => rpc<string>(url, 'eth_getTransactionCount', [net.addresses[i]!, tag])));
        if (pending !== latest) return false;
      }
      return true;
    }, 60_000);
    // validator 3 was removed: 0, 1 and 2 hold the active stake; it executes at the vote that takes "yes"
    // above 2/3 of it (the second or the third, depending on the offline penalties each of them paid)
    const wallets = [0, 1, 2].map((i) => walletOf(i));
    const url = net.nodes[0]!.rpcUrl;
    const proposalOf = async (id: number) => (await rpc<{ state: string; param: string; value: string }[]>(url, 'empos_proposals'))[id]!;
    const id = (await rpc<unknown[]>(url, 'empos_proposals')).length;
    await stakingCall(wallets[0]!, 'propose', [PARAMS.blockTimeMs, 600n]);
    for (const w of wallets) {
      assert.equal((await rpc<RpcFinality>(url, 'empos_finality')).blockTimeMs, 500, 'unchanged while the proposal is open');
      await stakingCall(w, 'vote', [BigInt(id), true]);
      if ((await proposalOf(id)).state !== 'open') break;
    }
    const proposal = await proposalOf(id);
    assert.deepEqual([proposal.state, proposal.param, BigInt(proposal.value)], ['executed', 'blockTimeMs', 600n]);
    for (const n of running) {
      await waitFor(`node ${n.index} paced at 600 ms`, async () => {
        const f = await rpc<RpcFinality>(n.rpcUrl, 'empos_finality');
        return f.blockTimeMs === 600 && f.blockTimeSource === 'governed';
      }, 60_000);
      assert.equal(Number((await rpc<RpcSchedule>(n.rpcUrl, 'empos_schedule')).epochBlocks), EPOCH_BLOCKS, 'the epoch length is the genesis one');
    }
  });

  it('a validator that stakes mid-epoch is not a voter of that epoch and is not charged offline for it; from the next epoch it is', async () => {
    const url = net.nodes[0]!.rpcUrl;
    const funder = walletOf(0);
    const staker = walletOf(0, Wallet.createRandom().privateKey);
    const address = staker.address.toLowerCase();
    const funded = await funder.sendTransaction({ to: staker.address, value: STAKE + parseEther('10') });
    await funded.wait(1, 90_000);
    // stake early in an epoch, so that blocks of the same epoch follow the stake
    await waitFor('the start of an epoch', async () => (await net.head(0)) % EPOCH_BLOCKS <= 2, 60_000, 100);
    const s = (await stakingCall(staker, 'stake', [], STAKE)).blockNumber;
    const anchor = Math.ceil(s / EPOCH_BLOCKS) * EPOCH_BLOCKS; // the last block of the stake's epoch
    assert.ok(anchor - s >= 2, `blocks ${s + 1}..${anchor} of the epoch follow the stake`);
    const active = await rpc<{ address: string }[]>(url, 'empos_activeValidators', [hex(s)]);
    assert.ok(active.some((v) => v.address === address), 'active in the contract from its stake');
    assert.ok(!(await rpc<RpcSchedule>(url, 'empos_schedule', [hex(s)])).active.includes(address), 'not in the epoch\'s voting set');
    // block anchor + 1 charges the absentees of block anchor, the epoch's last: check everything up to there
    await waitHead(0, anchor + 2);
    const span = BigInt((await rpc<{ timestamp: string }>(url, 'eth_getBlockByNumber', [hex(anchor + 1), false])).timestamp) -
      BigInt((await rpc<{ timestamp: string }>(url, 'eth_getBlockByNumber', [hex(s + 1), false])).timestamp);
    assert.ok(span >= 1n, 'time passed between the blocks of the epoch after the stake (a signers-only charge would be > 0)');
    const at = (await rpc<RpcValidator[]>(url, 'empos_validators', [hex(anchor + 1)])).find((v) => v.address.toLowerCase() === address)!;
    assert.equal(BigInt(at.offlineSeconds), 0n, 'not charged for the blocks of its staking epoch');
    assert.equal(BigInt(at.slashed), 0n);
    assert.equal(BigInt(at.stake), STAKE);
    const slashings = await rpc<{ validator: string }[]>(url, 'empos_slashings', [hex(anchor + 1)]);
    assert.ok(!slashings.some((x) => x.validator.toLowerCase() === address));
    // the next epoch's schedule draws it (it never votes: from then on it is an absentee and charged)
    assert.ok((await rpc<RpcSchedule>(url, 'empos_schedule', [hex(anchor + 1)])).active.includes(address));
    await waitFor('the staker charged as an absent voter of its first epoch', async () => {
      const v = (await rpc<RpcValidator[]>(url, 'empos_validators')).find((x) => x.address.toLowerCase() === address);
      return v !== undefined && BigInt(v.offlineSeconds) > 0n;
    }, 120_000);
  });
});
