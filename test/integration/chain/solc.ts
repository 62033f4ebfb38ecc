/**
 * Compiles Solidity sources with the npm `solc` package (the bundled wasm compiler; it never fetches
 * another compiler version). Used by the chain tests and the benchmark.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface CompiledContract {
  abi: unknown[];
  bytecode: string;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

interface Solc {
  compile(input: string): string;
}

/** Compiles `file` and returns `contract`'s ABI and creation bytecode (evmVersion cancun, optimizer on). */
export function compileContract(file: string, contract: string): CompiledContract {
  const require = createRequire(import.meta.url);
  const solc = require('solc') as Solc;
  const input = {
    language: 'Solidity',
    sources: { [file]: { content: readFileSync(file, 'utf8') } },
    settings: {
      evmVersion: 'cancun',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = output.contracts?.[file]?.[contract];
  if (c === undefined) throw new Error(`contract ${contract} not found in ${file}`);
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

let token: CompiledContract | undefined;

/** The test ERC-20 (test/integration/chain/fixtures/Token.sol), compiled once per process. */
export function compileToken(): CompiledContract {
  token ??= compileContract(new URL('./fixtures/Token.sol', import.meta.url).pathname, 'Token');
  return token;
}
