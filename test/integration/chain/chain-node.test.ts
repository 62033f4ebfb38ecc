/** The embedded ChainNode: zero config, sub-second blocks, sealed and certified blocks, restart. */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex } from '@ethereumjs/util';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { ChainNode, type SealedBlock } from '../../../chain/node/chain-node.ts';
import { proposalDigest, recoverSigner, verifyCertificate } from '../../../chain/consensus/certificate.ts';
import { GENESIS_SUPPLY_EB, WEI_PER_EB } from '../../../chain/execution/genesis.ts';
import { tempDir, testAccount } from './helpers.ts';

describe('ChainNode (embedded mode)', function () {
  this.timeout(60_000);

  it('runs with zero config: keystore, seed genesis, sub-second sealed and finalized blocks, restart', async () => {
    const dir = tempDir();
    try {
      let node = new ChainNode({ dataDir: dir.path, blockTimeMs: 100, rpc: false });
      await node.start();
      const address = node.validatorAddress;
      const keystore = join(dir.path, 'validator.keystore.json');
      assert.ok(existsSync(keystore));
      assert.equal(statSync(keystore).mode & 0o077, 0, 'keystore readable by the owner only');
      assert.equal((await node.chain.getAccount(address, 0n)).balance, GENESIS_SUPPLY_EB * WEI_PER_EB);
      const blocks: SealedBlock[] = [];
      await new Promise<void>((resolve) => {
        const sub = node.onDidCommitBlock((b) => {
          blocks.push(b);
          if (blocks.length === 3) {
            sub.dispose();
            resolve();
          }
        });
      });
      for (const b of blocks) {
        const hash = bytesToHex(b.block.hash());
        assert.equal(b.block.header.coinbase.toString(), address);
        assert.equal(recoverSigner(proposalDigest(node.chain.chainId, b.block.header.number, hash), b.seal.proposerSignature), address);
        assert.equal(b.seal.certificate.blockHash, hash);
        assert.equal(verifyCertificate(node.chain.chainId, b.seal.certificate, node.validators()).valid, true);
        const stored = await node.seal(b.block.header.number);
        assert.deepEqual(stored, b.seal);
      }
      // the proposer earned the 2 EB block reward per block
      const head = node.chain.head.header.number;
      await node.stop();
      assert.throws(() => node.chain, (e: unknown) => isEnergyMeshError(e, 'NOT_CONNECTED'));

      node = new ChainNode({ dataDir: dir.path, blockTimeMs: 100, rpc: false });
      await node.start();
      try {
        assert.equal(node.validatorAddress, address, 'same key from the keystore');
        assert.ok(node.chain.head.header.number >= head);
        const bal = (await node.chain.getAccount(address)).balance;
        assert.ok(bal >= GENESIS_SUPPLY_EB * WEI_PER_EB + head * 2n * WEI_PER_EB);
      } finally {
        await node.stop();
      }
    } finally {
      dir.remove();
    }
  });

  it('refuses a wrong keystore password and a genesis it cannot run alone', async () => {
    const dir = tempDir();
    try {
      const first = new ChainNode({ dataDir: dir.path, keystorePassword: 'right', rpc: false });
      await first.start();
      await first.stop();
      await assert.rejects(new ChainNode({ dataDir: dir.path, keystorePassword: 'wrong', rpc: false }).start(), (e: unknown) => isEnergyMeshError(e, 'UNAUTHORIZED'));
      const v = [testAccount(1), testAccount(2)];
      const stake = (32_000n * WEI_PER_EB).toString();
      const genesis = { chainId: 9, validators: v.map((a) => ({ address: a.address, stake })) };
      await assert.rejects(
        new ChainNode({ dataDir: join(dir.path, 'b'), validatorKey: v[0]!.keyHex, genesis, rpc: false }).start(),
        (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'),
      );
      await assert.rejects(
        new ChainNode({ dataDir: join(dir.path, 'c'), validatorKey: testAccount(3).keyHex, genesis: { chainId: 9, validators: [{ address: v[0]!.address, stake }] }, rpc: false }).start(),
        (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'),
      );
    } finally {
      dir.remove();
    }
  });
});
