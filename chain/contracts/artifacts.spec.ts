/**
 * The committed artifacts are reproducible: a fresh build of chain/contracts/*.sol (npm solc, fixed
 * settings) equals them byte for byte. The build is cached in the OS temp dir by its input key (sources,
 * OpenZeppelin and compiler versions, settings), so a run compiles at most once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS_DIR, SOLC_SETTINGS, artifactJson, compileContracts, solcVersion, staleArtifacts } from './build.ts';
import { loadArtifact, type ContractName } from './artifacts.ts';

const SUITE: ContractName[] = ['EnergyLedger', 'MeterRegistry', 'EnergyMarket', 'BalancingIncentives', 'MeshCoin', 'MeshGovernor', 'Multisig', 'VestingWallet', 'TimelockController'];

describe('settlement contract artifacts', function () {
  this.timeout(240_000);

  it('equal a fresh build from the sources', () => {
    const fresh = compileContracts({ cacheDir: join(tmpdir(), 'energymesh-solc-cache') });
    assert.deepEqual([...fresh.keys()].sort(), [...SUITE].sort());
    assert.deepEqual(staleArtifacts(fresh), [], 'run: npx tsx chain/contracts/build.ts');
    for (const name of SUITE) {
      const committed = readFileSync(join(ARTIFACTS_DIR, `${name}.json`), 'utf8');
      assert.equal(committed, artifactJson(fresh.get(name)!));
      const a = loadArtifact(name);
      assert.match(a.bytecode, /^0x[0-9a-f]{200,}$/);
      assert.ok(a.deployedBytecode.length < 2 + 2 * 24_576, `${name} fits the EIP-170 code size limit`);
      assert.equal(a.compiler.version, solcVersion());
      assert.deepEqual(a.compiler.settings, SOLC_SETTINGS);
    }
  });
});
