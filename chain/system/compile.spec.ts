import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ARTIFACT_PATH, artifactJson, compileStaking, type StakingArtifact } from './compile.ts';

describe('EmposStaking artifact', function () {
  this.timeout(180_000);

  it('is reproducible: recompiling EmposStaking.sol gives the committed bytecode and ABI', () => {
    const committed = JSON.parse(readFileSync(ARTIFACT_PATH, 'utf8')) as StakingArtifact;
    const fresh = compileStaking();
    assert.equal(fresh.sourceHash, committed.sourceHash, 'EmposStaking.sol changed: run `npx tsx chain/system/compile.ts`');
    assert.equal(fresh.deployedBytecode, committed.deployedBytecode, 'runtime bytecode differs from the committed artifact');
    assert.equal(fresh.bytecode, committed.bytecode);
    assert.deepEqual(fresh.abi, committed.abi);
    assert.equal(artifactJson(fresh), readFileSync(ARTIFACT_PATH, 'utf8'));
  });
});
