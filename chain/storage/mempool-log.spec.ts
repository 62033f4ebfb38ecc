import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { signTx, tempDir, testAccount } from '../../test/integration/chain/helpers.ts';
import { Chain } from '../execution/chain.ts';
import { parseGenesis, WEI_PER_EB } from '../execution/genesis.ts';
import { MempoolLog, parseMempoolLog } from './mempool-log.ts';

describe('MempoolLog (pending transactions survive a restart)', function () {
  this.timeout(60_000);

  it('reads back appended records and stops at a torn last record', () => {
    const dir = tempDir();
    try {
      const { log, pending } = MempoolLog.open(dir.path);
      assert.equal(pending.length, 0);
      log.append(Uint8Array.of(1, 2, 3));
      log.append(new Uint8Array(300).fill(9));
      log.close();
      // a crash mid-append: a length with only part of its bytes
      appendFileSync(join(dir.path, 'mempool.journal'), Uint8Array.of(0, 0, 1, 0, 7, 7));
      const again = MempoolLog.open(dir.path);
      assert.deepEqual(again.pending, [Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(9)]);
      again.log.rewrite([Uint8Array.of(4)]);
      again.log.append(Uint8Array.of(5));
      again.log.close();
      assert.deepEqual(parseMempoolLog(readFileSync(join(dir.path, 'mempool.journal'))), [Uint8Array.of(4), Uint8Array.of(5)]);
    } finally {
      dir.remove();
    }
  });

  it('a reopened chain has its pending transactions back (a nonce gap too); included ones are pruned', async () => {
    const dir = tempDir();
    const alice = testAccount(1);
    const bob = testAccount(2);
    const genesis = parseGenesis({ chainId: 4242, timestamp: 1_700_000_000, alloc: { [alice.address]: (100n * WEI_PER_EB).toString() } });
    const proposer = testAccount(99).address;
    let chain = await Chain.open({ dataDir: dir.path, genesis, persistMempool: true });
    try {
      const send = (nonce?: bigint): Promise<string> =>
        chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, value: 1n, gasLimit: 21_000n, ...(nonce === undefined ? {} : { nonce }) }));
      const h0 = await send();
      await chain.produceBlock({ timestamp: 1_700_000_001n, coinbase: proposer }); // includes nonce 0
      const h1 = await send(); // nonce 1
      const h2 = await send(); // nonce 2
      const h4 = await send(4n); // waits for nonce 3
      await assert.rejects(send(1n), /already known|underpriced/); // a rejected one is not logged
      await chain.close();

      chain = await Chain.open({ dataDir: dir.path, genesis, persistMempool: true });
      assert.equal(chain.mempool.size, 3);
      for (const h of [h1, h2, h4]) assert.ok(chain.mempool.get(h) !== undefined, h);
      assert.equal(chain.mempool.get(h0), undefined, 'an included transaction is not replayed');
      assert.equal(await chain.pendingNonce(alice.address), 3n);
      const { block } = await chain.produceBlock({ timestamp: 1_700_000_002n, coinbase: proposer });
      assert.equal(block.transactions.length, 2, 'nonces 1 and 2; 4 still waits');
      await chain.close();

      chain = await Chain.open({ dataDir: dir.path, genesis, persistMempool: true });
      assert.deepEqual(chain.mempool.all().map((p) => p.hash), [h4]);
      assert.equal((await chain.getAccount(bob.address)).balance, 3n);
      await chain.close();
      // without the option the pool starts empty (the journal is left alone)
      chain = await Chain.open({ dataDir: dir.path, genesis });
      assert.equal(chain.mempool.size, 0);
      // the log was compacted to the live pool at open
      assert.equal(parseMempoolLog(readFileSync(join(dir.path, 'mempool.journal'))).length, 1);
      assert.ok(statSync(join(dir.path, 'mempool.journal')).size < 200);
    } finally {
      await chain.close();
      dir.remove();
    }
  });
});
