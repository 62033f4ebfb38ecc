/**
 * Compiles chain/system/EmposStaking.sol with the npm `solc` package (its bundled wasm compiler, pinned
 * 0.8.30; it never downloads another) and writes the committed artifact EmposStaking.json. The artifact
 * is what goes into the genesis state, so any change to the source changes the genesis state root.
 *
 *   npx tsx chain/system/compile.ts          # rewrites EmposStaking.json
 *   npx tsx chain/system/compile.ts --check  # exits 1 when the committed artifact is stale
 *
 * `compile.spec.ts` recompiles and checks the committed bytecode matches.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@ethereumjs/util';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { EnergyMeshError } from '../../core/errors.ts';

export const SOURCE_FILE = 'EmposStaking.sol';
export const CONTRACT_NAME = 'EmposStaking';

/** Compiler settings; part of the artifact so the build is reproducible. */
export const COMPILER_SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  metadata: { bytecodeHash: 'none', appendCBOR: false },
} as const;

export interface StakingArtifact {
  contractName: string;
  compiler: string;
  settings: typeof COMPILER_SETTINGS;
  /** keccak256 of the source file. */
  sourceHash: string;
  abi: unknown[];
  /** Creation bytecode (not used by the chain; kept for tools that deploy it elsewhere). */
  bytecode: string;
  /** Runtime bytecode placed at the system address in the genesis state. */
  deployedBytecode: string;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
}

interface Solc {
  compile(input: string): string;
  version(): string;
}

export const SOURCE_PATH = fileURLToPath(new URL(`./${SOURCE_FILE}`, import.meta.url));
export const ARTIFACT_PATH = fileURLToPath(new URL('./EmposStaking.json', import.meta.url));

/** Compiles the staking contract from source. */
export function compileStaking(): StakingArtifact {
  const require = createRequire(import.meta.url);
  const solc = require('solc') as Solc;
  const source = readFileSync(SOURCE_PATH, 'utf8');
  const input = {
    language: 'Solidity',
    sources: { [SOURCE_FILE]: { content: source } },
    settings: { ...COMPILER_SETTINGS, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new EnergyMeshError('CONFIG_INVALID', `EmposStaking.sol does not compile:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const c = output.contracts?.[SOURCE_FILE]?.[CONTRACT_NAME];
  if (c === undefined) throw new EnergyMeshError('CONFIG_INVALID', `contract ${CONTRACT_NAME} not found in the compiler output`);
  return {
    contractName: CONTRACT_NAME,
    compiler: `solc ${solc.version()}`,
    settings: COMPILER_SETTINGS,
    sourceHash: bytesToHex(keccak_256(new TextEncoder().encode(source))),
    abi: c.abi,
    bytecode: `0x${c.evm.bytecode.object}`,
    deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
  };
}

export function artifactJson(a: StakingArtifact): string {
  return `${JSON.stringify(a, null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fresh = artifactJson(compileStaking());
  if (process.argv.includes('--check')) {
    const committed = readFileSync(ARTIFACT_PATH, 'utf8');
    if (committed !== fresh) {
      process.stderr.write('chain/system/EmposStaking.json is stale: run `npx tsx chain/system/compile.ts`\n');
      process.exit(1);
    }
    process.stdout.write('EmposStaking.json matches the source\n');
  } else {
    writeFileSync(ARTIFACT_PATH, fresh);
    process.stdout.write(`wrote ${ARTIFACT_PATH}\n`);
  }
}
