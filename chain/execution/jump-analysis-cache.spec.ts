import assert from 'node:assert/strict';
import { bytesToBigInt, hexToBytes } from '@ethereumjs/util';
import { compileToken } from '../../test/integration/chain/solc.ts';
import { erc20TransferData, signTx, tempDir, testAccount } from '../../test/integration/chain/helpers.ts';
import { Chain } from './chain.ts';
import { parseGenesis, WEI_PER_EB } from './genesis.ts';
import { installJumpAnalysisCache, jumpAnalysisStats } from './jump-analysis-cache.ts';

describe('jump analysis cache (ethereumjs interpreter)', function () {
  this.timeout(60_000);

  it('is installed on this @ethereumjs/evm (fails when an upgrade moves the interpreter or its analysis)', async () => {
    assert.equal(await installJumpAnalysisCache(), true);
  });

  it('analyses a contract once and reuses it for later calls, with the same results', async () => {
    const dir = tempDir();
    const alice = testAccount(1);
    const chain = await Chain.open({ dataDir: dir.path, genesis: parseGenesis({ chainId: 4242, alloc: { [alice.address]: (1000n * WEI_PER_EB).toString() } }) });
    try {
      const { bytecode } = compileToken();
      await chain.submitRawTransaction(signTx(chain.common, alice, { data: hexToBytes(`0x${bytecode.slice(2)}${(10n ** 24n).toString(16).padStart(64, '0')}`), gasLimit: 2_000_000n }));
      let t = 1_800_000_000n;
      const { receipts } = await chain.produceBlock({ timestamp: ++t, coinbase: testAccount(9).address });
      const token = receipts[0]!.contractAddress!;
      const before = { ...jumpAnalysisStats };
      const recipients = [testAccount(20).address, testAccount(21).address, testAccount(22).address];
      for (const [i, to] of recipients.entries()) await chain.submitRawTransaction(signTx(chain.common, alice, { to: token, data: erc20TransferData(to, BigInt(i + 1)) }));
      const block = await chain.produceBlock({ timestamp: ++t, coinbase: testAccount(9).address });
      assert.deepEqual(block.receipts.map((r) => r.status), [1, 1, 1]);
      // the token's runtime code: analysed at most once, reused for the other transfers
      assert.ok(jumpAnalysisStats.analysed - before.analysed <= 1, `analysed ${jumpAnalysisStats.analysed - before.analysed} times`);
      assert.ok(jumpAnalysisStats.reused - before.reused >= 2, `reused ${jumpAnalysisStats.reused - before.reused} times`);
      for (const [i, to] of recipients.entries()) {
        const r = await chain.call({ to: token, data: `0x70a08231${to.slice(2).toLowerCase().padStart(64, '0')}` });
        assert.equal(bytesToBigInt(r.returnValue), BigInt(i + 1));
      }
    } finally {
      await chain.close();
      dir.remove();
    }
  });
});
