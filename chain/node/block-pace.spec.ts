import assert from 'node:assert/strict';
import { signTx, tempDir, testAccount } from '../../test/integration/chain/helpers.ts';
import { WEI_PER_EB, type GenesisFile } from '../execution/genesis.ts';
import { PARAMS, STAKING_ADDRESS, stakingInterface } from '../system/system-contract.ts';
import { proposals, stakingParams } from '../system/validator-registry.ts';
import { governedBlockTimeMs } from './block-pace.ts';
import { ChainNode } from './chain-node.ts';

const EB = WEI_PER_EB;

describe('block pace: the governed blockTimeMs (embedded node)', function () {
  this.timeout(60_000);
  const validator = testAccount(0);
  // genesis block time 1 h (the node's own timer never fires during the test); epochs of 10 blocks
  const genesis: GenesisFile = {
    chainId: 4243,
    alloc: { [validator.address]: (100_000n * EB).toString() },
    validators: [{ address: validator.address, stake: (32_000n * EB).toString() }],
    consensus: { blockTimeMs: 3_600_000, epochSeconds: 36_000 },
  };

  it('follows a governance change of blockTimeMs after the block that executes it; the epoch length stays the genesis one; an option overrides locally', async () => {
    const dir = tempDir();
    let node = new ChainNode({ dataDir: dir.path, genesis, validatorKey: validator.keyHex, rpc: false });
    try {
      await node.start();
      assert.equal(node.blockTimeMs, 3_600_000);
      assert.equal(node.blockTimeSource, 'governed', 'read from the contract (the genesis value so far)');
      const call = async (fn: string, args: unknown[]): Promise<void> => {
        const data = Uint8Array.from(Buffer.from(stakingInterface.encodeFunctionData(fn, args).slice(2), 'hex'));
        await node.chain.submitRawTransaction(signTx(node.chain.common, validator, { to: STAKING_ADDRESS, data, gasLimit: 1_000_000n }));
        const sealed = await node.produceOne();
        assert.equal(sealed?.receipts[0]?.status, 1, `${fn} succeeded`);
      };
      await call('propose', [PARAMS.blockTimeMs, 1000n]);
      assert.equal(node.blockTimeMs, 3_600_000, 'an open proposal changes nothing');
      await call('vote', [0n, true]); // 100 % of the stake: executed in this block
      assert.equal((await proposals(node.chain))[0]!.state, 'executed');
      assert.equal((await stakingParams(node.chain)).blockTimeMs, 1000n);
      assert.equal(await governedBlockTimeMs(node.chain), 1000, 'the storage slot read agrees with params()');
      assert.equal(node.blockTimeMs, 1000, 'the pace follows at once');
      assert.equal(node.blockTimeSource, 'governed');
      // the epoch length is consensus-critical: still 36,000 s / 3,600,000 ms = 10 blocks
      while (node.chain.head.header.number < 10n) await node.produceOne();
      assert.equal((await node.schedule(11n))?.firstHeight, 11n);
      assert.equal((await node.schedule(10n))?.epoch, 0n);
      await node.stop();

      // after a restart the governed value is read from the stored head; an option overrides it locally
      node = new ChainNode({ dataDir: dir.path, genesis, validatorKey: validator.keyHex, rpc: false, blockTimeMs: 777 });
      await node.start();
      assert.equal(node.blockTimeMs, 777);
      assert.equal(node.blockTimeSource, 'override');
      assert.equal((await node.schedule(11n))?.firstHeight, 11n, 'the option never changes the epochs');
      await node.stop();
      node = new ChainNode({ dataDir: dir.path, genesis, validatorKey: validator.keyHex, rpc: false });
      await node.start();
      assert.equal(node.blockTimeMs, 1000);
    } finally {
      await node.stop();
      dir.remove();
    }
  });
});
