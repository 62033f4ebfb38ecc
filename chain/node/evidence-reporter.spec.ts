import assert from 'node:assert/strict';
import { bytesToHex } from '@ethereumjs/util';
import { isEnergyMeshError } from '../../core/errors.ts';
import { tempDir, testAccount } from '../../test/integration/chain/helpers.ts';
import { ValidatorKey, voteDigest } from '../consensus/certificate.ts';
import { verifyEquivocation, type EquivocationEvidence } from '../consensus/vote-collector.ts';
import { Chain } from '../execution/chain.ts';
import { parseGenesis, WEI_PER_EB } from '../execution/genesis.ts';
import { activeValidators, slashRecords, validators } from '../system/validator-registry.ts';
import { submitEvidence } from './evidence-reporter.ts';

const EB = WEI_PER_EB;

describe('evidence reporter: a node turns observed double-signing into the slashing transaction', function () {
  this.timeout(60_000);
  const [a, b, c] = [testAccount(0), testAccount(1), testAccount(2)];
  let dir: ReturnType<typeof tempDir>;
  let chain: Chain;

  beforeEach(async () => {
    dir = tempDir();
    chain = await Chain.open({
      dataDir: dir.path,
      genesis: parseGenesis({
        chainId: 4243,
        alloc: Object.fromEntries([a, b, c].map((x) => [x.address, (1_000n * EB).toString()])),
        validators: [a, b, c].map((x) => ({ address: x.address, stake: (32_000n * EB).toString() })),
      }),
    });
  });
  afterEach(async () => {
    await chain.close();
    dir.remove();
  });

  it('b precommitted two blocks at one height and round: a reports it, b is slashed 5 % and removed', async () => {
    const keyB = new ValidatorKey(b.keyHex);
    const h1 = bytesToHex(new Uint8Array(32).fill(1));
    const h2 = bytesToHex(new Uint8Array(32).fill(2));
    const vote = (hash: string) => ({ validator: b.address, number: 5n, round: 0, blockHash: hash, signature: keyB.sign(voteDigest(4243n, 5n, 0, hash)) });
    const evidence: EquivocationEvidence = { validator: b.address, a: vote(h1), b: vote(h2) };
    assert.ok(verifyEquivocation(4243n, evidence), 'the evidence verifies off chain');

    const before = (await chain.getAccount(a.address)).balance;
    const { hash } = await submitEvidence(chain, a.keyHex, evidence);
    const { receipts } = await chain.produceBlock({ timestamp: BigInt(Math.floor(Date.now() / 1000)) + 5n, coinbase: c.address });
    assert.equal(receipts.length, 1);
    assert.equal(receipts[0]?.status, 1, `evidence transaction ${hash} succeeded`);
    assert.ok((await chain.getAccount(a.address)).balance < before, 'the reporter paid the gas');

    const vb = (await validators(chain)).find((v) => v.address === b.address);
    assert.equal(vb?.status, 'removed');
    assert.equal(vb?.stake, 32_000n * EB - 1_600n * EB);
    assert.ok(!(await activeValidators(chain)).some((v) => v.address === b.address));
    const rec = (await slashRecords(chain)).at(-1);
    assert.deepEqual([rec?.validator, rec?.reason, rec?.amount], [b.address, 'equivocation', 1_600n * EB]);

    // a second report of the same double-sign (another node saw it too) would be refused by the contract:
    // the reporter sees it in a dry run and sends nothing (no gas, no nonce used); nothing slashed twice
    const nonceC = await chain.pendingNonce(c.address);
    await assert.rejects(submitEvidence(chain, c.keyHex, evidence), (e: unknown) => isEnergyMeshError(e, 'SETTLEMENT_REVERTED') && /evidence already submitted/.test((e as Error).message));
    assert.equal(await chain.pendingNonce(c.address), nonceC);
    const second = await chain.produceBlock({ timestamp: BigInt(Math.floor(Date.now() / 1000)) + 10n, coinbase: c.address });
    assert.equal(second.receipts.length, 0);
    assert.equal((await validators(chain)).find((v) => v.address === b.address)?.stake, 32_000n * EB - 1_600n * EB);
    // the same double-signer at another height: already removed, refused as well
    const later = (hash: string) => ({ validator: b.address, number: 6n, round: 0, blockHash: hash, signature: keyB.sign(voteDigest(4243n, 6n, 0, hash)) });
    await assert.rejects(submitEvidence(chain, c.keyHex, { validator: b.address, a: later(h1), b: later(h2) }), /validator already removed/);
  });
});
