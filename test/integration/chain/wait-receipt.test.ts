/**
 * waitForReceipt against the embedded node: returns the receipt of a mined transaction; a provider
 * destroyed while a transaction waits rejects the wait itself — no unhandled rejection (which ethers'
 * tx.wait() could raise there and which ends a Node 20 process).
 */
import assert from 'node:assert/strict';
import { JsonRpcProvider, Wallet } from 'ethers';
import { ChainNode } from '../../../chain/node/chain-node.ts';
import { waitForReceipt } from '../../../chain/contracts/wait-receipt.ts';
import { tempDir, testAccount } from './helpers.ts';

const EB = 10n ** 18n;

describe('waitForReceipt', function () {
  this.timeout(30_000);
  const dir = tempDir('em-wait-receipt-');
  const alice = testAccount(11);
  let node: ChainNode;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    node = new ChainNode({ dataDir: dir.path, validatorKey: testAccount(12).keyHex, blockTimeMs: 100, rpc: { port: 0 }, genesis: { chainId: 4244, alloc: { [alice.address]: (100n * EB).toString() } } });
    await node.start();
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await node.stop();
    dir.remove();
  });

  it('returns the receipt of a mined transaction, polling at the provider interval', async () => {
    const provider = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
    try {
      const wallet = new Wallet(alice.keyHex, provider);
      const tx = await wallet.sendTransaction({ to: testAccount(13).address, value: EB });
      const receipt = await waitForReceipt(tx);
      assert.equal(receipt.hash, tx.hash);
      assert.equal(receipt.status, 1);
      assert.ok(receipt.blockNumber >= 1);
      assert.equal(await provider.getBalance(testAccount(13).address), EB);
    } finally {
      provider.destroy();
    }
  });

  it('rejects when the provider is destroyed while waiting, and leaves no unhandled rejection', async () => {
    const provider = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
    const wallet = new Wallet(alice.keyHex, provider);
    // a nonce gap: the pool keeps it, no block includes it
    const nonce = await provider.getTransactionCount(alice.address, 'pending');
    const tx = await wallet.sendTransaction({ to: testAccount(13).address, value: 1n, nonce: nonce + 5 });
    const waiting = waitForReceipt(tx);
    await new Promise((r) => setTimeout(r, 300));
    provider.destroy();
    await assert.rejects(waiting, /destroyed/);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(unhandled, []);
  });

  it('stops when its signal aborts', async () => {
    const provider = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
    try {
      const controller = new AbortController();
      const waiting = waitForReceipt({ hash: `0x${'ab'.repeat(32)}`, provider }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(waiting, (e: unknown) => e instanceof Error && /stopped waiting/.test(e.message));
    } finally {
      provider.destroy();
    }
  });
});
