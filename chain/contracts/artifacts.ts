/**
 * The committed contract artifacts (`chain/contracts/artifacts/<Name>.json`, written by build.ts) and their
 * loader. Artifacts are read once per process.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnergyMeshError } from '../../core/errors.ts';

/** One compiled contract as committed. */
export interface ContractArtifact {
  contractName: string;
  sourceName: string;
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
  compiler: { version: string; settings: unknown };
  /** sha256 over the compiler version, settings and every source file read (OpenZeppelin's included). */
  sourcesHash: string;
}

/** The contracts of the settlement suite with an artifact. */
export type ContractName =
  | 'EnergyLedger'
  | 'MeterRegistry'
  | 'EnergyMarket'
  | 'BalancingIncentives'
  | 'MeshCoin'
  | 'MeshGovernor'
  | 'Multisig'
  | 'VestingWallet'
  | 'TimelockController';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const cache = new Map<ContractName, ContractArtifact>();

/** Loads a committed artifact (CONFIG_NOT_FOUND when missing: run `npx tsx chain/contracts/build.ts`). */
export function loadArtifact(name: ContractName): ContractArtifact {
  let a = cache.get(name);
  if (a === undefined) {
    let text: string;
    try {
      text = readFileSync(join(DIR, `${name}.json`), 'utf8');
    } catch (e) {
      throw new EnergyMeshError('CONFIG_NOT_FOUND', `contract artifact ${name} not found (run npx tsx chain/contracts/build.ts)`, { cause: e });
    }
    a = JSON.parse(text) as ContractArtifact;
    cache.set(name, a);
  }
  return a;
}
