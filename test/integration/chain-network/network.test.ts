/**
 * A 4-validator EMPoS network as 4 processes on 127.0.0.1 (500 ms blocks, 1 s round timeouts): finality
 * with certificates that verify, an ethers transaction final on every node, crash (kill -9) and restart,
 * one validator down (the chain goes on), two down (halt without a fork, resume when one returns), a late
 * full node syncing, junk and badly signed gossip rejected. One network is shared by the steps, in order.
 */
import { strict as assert } from 'node:assert';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { verifyCertificate, ValidatorKey, type FinalityCertificate } from '../../../chain/consensus/certificate.ts';
import { readKeystore } from '../../../chain/node/keystore.ts';
import { P2pNetwork } from '../../../chain/p2p/p2p-network.ts';
import { encodeVote, voteMessageDigest } from '../../../chain/p2p/gossip-codec.ts';
import { TestNetwork, rpc, waitFor } from './net-helpers.ts';

const STAKE = 32_000n * 10n ** 18n;

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
    net = await TestNetwork.create(4, 500);
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
    const sched = await rpc<{ active: string[]; proposer: string }>(net.nodes[1]!.rpcUrl, 'empos_schedule');
    assert.equal(sched.active.length, 4);
  });

  it('an ethers transaction sent to one node is included and final on all of them', async () => {
    const provider = new JsonRpcProvider(net.nodes[1]!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250 });
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

  it('junk, oversize, wrong-chain and badly signed gossip is rejected and the peer penalised, without a crash', async () => {
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
      const messages: [Parameters<P2pNetwork['publish']>[0], Uint8Array][] = [
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
        return total >= 5 ? n : undefined;
      }, 30_000);
      assert.ok(after.rejected.vote! >= before.rejected.vote! + 2);
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
});
