/**
 * Compiles the settlement contracts (`chain/contracts/*.sol`, OpenZeppelin 5 from node_modules) with the npm
 * `solc` (its bundled wasm compiler, never a downloaded one) and fixed settings — optimizer on, 200 runs,
 * evmVersion cancun, no viaIR — into `chain/contracts/artifacts/<Name>.json` (abi, bytecode,
 * deployedBytecode, compiler settings and a hash of every source read). The artifacts are committed;
 * `artifacts.spec.ts` recompiles and checks they are byte-identical, so they stay reproducible from source.
 *
 * Run: `npx tsx chain/contracts/build.ts` (writes the artifacts) or `--check` (exit 1 when they differ).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EnergyMeshError } from '../../core/errors.ts';
import type { ContractArtifact } from './artifacts.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS_DIR = join(HERE, 'artifacts');
const require = createRequire(import.meta.url);

/** The compiler settings every artifact is built with. */
export const SOLC_SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
  metadata: { bytecodeHash: 'ipfs' },
} as const;

/** Contracts from OpenZeppelin deployed as they are (their artifacts are written too). */
const EXTERNAL_ARTIFACTS: Record<string, string> = {
  VestingWallet: '@openzeppelin/contracts/finance/VestingWallet.sol',
  TimelockController: '@openzeppelin/contracts/governance/TimelockController.sol',
};

interface Solc {
  compile(input: string, callbacks?: { import: (path: string) => { contents: string } | { error: string } }): string;
  version(): string;
}

interface SolcContractOutput {
  abi: unknown[];
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, SolcContractOutput>>;
}

/** Our sources: every `.sol` file beside this script, by source unit name `contracts/<File>.sol`. */
function ourSources(): Map<string, string> {
  const sources = new Map<string, string>();
  for (const f of readdirSync(HERE).filter((n) => n.endsWith('.sol')).sort()) {
    sources.set(`contracts/${f}`, readFileSync(join(HERE, f), 'utf8'));
  }
  return sources;
}

function readImport(path: string): string {
  if (path.startsWith('@openzeppelin/contracts/')) {
    const pkg = dirname(require.resolve('@openzeppelin/contracts/package.json'));
    return readFileSync(join(pkg, path.slice('@openzeppelin/contracts/'.length)), 'utf8');
  }
  if (path.startsWith('contracts/')) return readFileSync(join(HERE, path.slice('contracts/'.length)), 'utf8');
  throw new Error(`import outside the allowed roots: ${path}`);
}

/** The compiler's full version, e.g. `0.8.30+commit.73712a01.Emscripten.clang`. */
export function solcVersion(): string {
  return (require('solc') as Solc).version();
}

/**
 * A key of the compiler input: our sources, the OpenZeppelin version, the compiler version and settings.
 * The compiler is deterministic, so equal keys give equal artifacts (what the cache relies on).
 */
function inputKey(sources: Map<string, string>): string {
  const hash = createHash('sha256');
  const oz = JSON.parse(readFileSync(require.resolve('@openzeppelin/contracts/package.json'), 'utf8')) as { version: string };
  hash.update(`solc ${solcVersion()}\nopenzeppelin ${oz.version}\n${JSON.stringify(SOLC_SETTINGS)}\n`);
  for (const [name, content] of sources) hash.update(`${name}\n${content}\n`);
  return hash.digest('hex').slice(0, 32);
}

/**
 * Compiles every source and returns the artifacts by contract name (deterministic, ~20–60 s with solc-js).
 * With `cacheDir`, a build of the same input (see `inputKey`) is reused from there, so a test run compiles
 * once however many specs ask.
 */
export function compileContracts(options: { cacheDir?: string } = {}): Map<string, ContractArtifact> {
  const sources = ourSources();
  const cacheFile = options.cacheDir === undefined ? undefined : join(options.cacheDir, `energymesh-contracts-${inputKey(sources)}.json`);
  if (cacheFile !== undefined && existsSync(cacheFile)) {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as ContractArtifact[];
    return new Map(cached.map((a) => [a.contractName, a]));
  }
  const artifacts = compileSources(sources);
  if (cacheFile !== undefined) {
    mkdirSync(dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify([...artifacts.values()]));
    renameSync(tmp, cacheFile);
  }
  return artifacts;
}

function compileSources(sources: Map<string, string>): Map<string, ContractArtifact> {
  const solc = require('solc') as Solc;
  const read = new Map<string, string>(sources);
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries([...sources].map(([k, v]) => [k, { content: v }])),
    settings: {
      ...SOLC_SETTINGS,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path) => {
        try {
          const contents = readImport(path);
          read.set(path, contents);
          return { contents };
        } catch (e) {
          return { error: e instanceof Error ? e.message : String(e) };
        }
      },
    }),
  ) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new EnergyMeshError('INTERNAL', `solidity compilation failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  }
  const hash = createHash('sha256');
  hash.update(`solc ${solc.version()}\n${JSON.stringify(SOLC_SETTINGS)}\n`);
  for (const name of [...read.keys()].sort()) hash.update(`${name}\n${createHash('sha256').update(read.get(name)!).digest('hex')}\n`);
  const sourcesHash = `0x${hash.digest('hex')}`;
  const compiler = { version: solc.version(), settings: SOLC_SETTINGS };

  const artifacts = new Map<string, ContractArtifact>();
  const add = (sourceName: string, contractName: string): void => {
    const c = output.contracts?.[sourceName]?.[contractName];
    if (c === undefined || c.evm.bytecode.object.length === 0) return;
    artifacts.set(contractName, {
      contractName,
      sourceName,
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      compiler,
      sourcesHash,
    });
  };
  for (const sourceName of sources.keys()) {
    for (const contractName of Object.keys(output.contracts?.[sourceName] ?? {})) add(sourceName, contractName);
  }
  for (const [contractName, sourceName] of Object.entries(EXTERNAL_ARTIFACTS)) add(sourceName, contractName);
  return artifacts;
}

/** The JSON text of an artifact as committed (stable key order, trailing newline). */
export function artifactJson(a: ContractArtifact): string {
  return `${JSON.stringify(a, null, 2)}\n`;
}

/** Compiles and writes `artifacts/<Name>.json`; returns the names written. */
export function writeArtifacts(dir = ARTIFACTS_DIR): string[] {
  const artifacts = compileContracts();
  mkdirSync(dir, { recursive: true });
  for (const a of artifacts.values()) writeFileSync(join(dir, `${a.contractName}.json`), artifactJson(a));
  return [...artifacts.keys()];
}

/** Names of the committed artifacts that differ from a fresh build (missing ones included). */
export function staleArtifacts(fresh: Map<string, ContractArtifact>, dir = ARTIFACTS_DIR): string[] {
  const stale: string[] = [];
  for (const a of fresh.values()) {
    const file = join(dir, `${a.contractName}.json`);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== artifactJson(a)) stale.push(a.contractName);
  }
  return stale;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--check')) {
    const stale = staleArtifacts(compileContracts());
    if (stale.length > 0) {
      console.error(`artifacts differ from the sources: ${stale.join(', ')} (run npx tsx chain/contracts/build.ts)`);
      process.exit(1);
    }
    console.log('artifacts match the sources');
  } else {
    const names = writeArtifacts();
    console.log(`wrote ${names.length} artifacts to ${ARTIFACTS_DIR}: ${names.join(', ')}`);
  }
}
