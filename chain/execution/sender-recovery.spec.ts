import assert from 'node:assert/strict';
import { createTx, type TypedTransaction } from '@ethereumjs/tx';
import { bytesToHex, type PrefixedHexString } from '@ethereumjs/util';
import { isEnergyMeshError } from '../../core/errors.ts';
import { GWEI, signTx, tempDir, testAccount } from '../../test/integration/chain/helpers.ts';
import { Chain } from './chain.ts';
import { createChainCommon } from './chain-common.ts';
import { initChainCrypto, recoveryInputOf, sharedTxCommon } from './crypto.ts';
import { parseGenesis, WEI_PER_EB } from './genesis.ts';
import { SenderRecovery } from './sender-recovery.ts';

describe('sender recovery on worker threads', function () {
  this.timeout(60_000);

  it('recovers the same public keys as the inline path, in one batch, and nothing for a bad signature', async () => {
    await initChainCrypto();
    const common = sharedTxCommon(createChainCommon(4242n, true));
    const pool = SenderRecovery.create(1);
    assert.ok(pool !== undefined, 'the native binding is available');
    try {
      const txs: TypedTransaction[] = [];
      for (let i = 0; i < 50; i++) {
        const from = testAccount(i + 1);
        txs.push(createTx({ type: 2, nonce: 0n, to: testAccount(99).address as PrefixedHexString, gasLimit: 21_000n, maxFeePerGas: GWEI, maxPriorityFeePerGas: 1n, value: BigInt(i) }, { common }).sign(from.key));
      }
      const keys = await Promise.all(txs.map((tx) => pool.recover(recoveryInputOf(tx)!)));
      keys.forEach((k, i) => assert.equal(bytesToHex(k!), bytesToHex(txs[i]!.getSenderPublicKey())));
      assert.equal(pool.recovered, 50);
      // a signature over another message recovers another key (or none): never the signer's
      const input = recoveryInputOf(txs[0]!)!;
      const wrong = await pool.recover({ ...input, signature: new Uint8Array(64) });
      assert.equal(wrong, undefined);
    } finally {
      await pool.close();
    }
  });

  it('the chain admits through the workers; a bad signature is still refused with its geth-style message', async () => {
    const dir = tempDir();
    const alice = testAccount(1);
    const chain = await Chain.open({ dataDir: dir.path, senderThreads: 1, genesis: parseGenesis({ chainId: 4242, alloc: { [alice.address]: (10n * WEI_PER_EB).toString() } }) });
    try {
      const raws = Array.from({ length: 20 }, (_, i) => signTx(chain.common, alice, { to: testAccount(7).address, value: BigInt(i + 1), gasLimit: 21_000n }));
      await Promise.all(raws.map((raw) => chain.submitRawTransaction(raw)));
      assert.equal(chain.mempool.size, 20);
      assert.ok(chain.sendersRecoveredOffThread >= 20, `recovered off thread: ${chain.sendersRecoveredOffThread}`);
      const { block } = await chain.produceBlock({ timestamp: 1_900_000_000n, coinbase: testAccount(9).address });
      assert.equal(block.transactions.length, 20);
      assert.equal((await chain.getAccount(testAccount(7).address)).balance, 210n);
      // r, s of zero: not a signature
      const bad = signTx(chain.common, alice, { to: testAccount(7).address, value: 1n, gasLimit: 21_000n });
      bad.fill(0, bad.length - 66, bad.length - 1);
      await assert.rejects(chain.submitRawTransaction(bad), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    } finally {
      await chain.close();
      dir.remove();
    }
  });
});
