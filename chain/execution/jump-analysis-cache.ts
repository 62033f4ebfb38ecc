/**
 * ethereumjs' interpreter analyses a contract's code before running it — the valid JUMPDESTs, the value
 * of every PUSH as a BigInt and the opcode entry of every byte — on EVERY call, although the code of a
 * deployed contract never changes: for an ERC-20 transfer that is ~5 % of the chain's CPU plus the garbage
 * of a BigInt per PUSH. This module memoises the analysis per code array (our state manager hands out one
 * array per code hash, `BlockStateManager.getCode`) and per opcode table (one per EVM and hardfork), so a
 * contract is analysed once while its code is cached.
 *
 * The interpreter is not among `@ethereumjs/evm`'s package exports, so the class is reached through the
 * package's own ESM file (the same module instance the EVM imports) and its analysis method is wrapped.
 * The analysis result is only ever read by the interpreter (`validJumps[dest]`, `cachedPushes[pc]`,
 * `cachedOpcodes[pc]`), so sharing it between calls is safe. `jump-analysis-cache.spec.ts` fails when an
 * upgraded package changes that shape; `installJumpAnalysisCache` then reports false and the EVM runs
 * unpatched (same results, slower).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

interface Analysis {
  jumps: Uint8Array;
  pushes: Record<number, bigint>;
  opcodesCached: unknown[];
}

interface InterpreterProto {
  _getValidJumpDestinations(this: InterpreterThis, code: Uint8Array): Analysis;
}

interface InterpreterThis {
  _evm: { _opcodeMap?: object };
}

/**
 * Analyses computed and served from the cache (process-wide: one object however many times this module
 * is instantiated — mocha loads it once as CommonJS and the kernel's plugin loader once more as ESM).
 */
export const jumpAnalysisStats: { analysed: number; reused: number } = ((globalThis as Record<symbol, unknown>)[Symbol.for('energymesh.jumpAnalysisStats')] ??= {
  analysed: 0,
  reused: 0,
}) as { analysed: number; reused: number };

/** Marks a prototype already wrapped (by any instance of this module). */
const WRAPPED = Symbol.for('energymesh.jumpAnalysisCache');

let installed: Promise<boolean> | undefined;

/** Wraps the interpreter's code analysis with the cache, once per process; resolves false if not possible. */
export function installJumpAnalysisCache(): Promise<boolean> {
  installed ??= install();
  return installed;
}

type Proto = Partial<InterpreterProto> & { [WRAPPED]?: true };

/**
 * The interpreter modules an EVM of this process may use: the package's ESM build (`npm start`) and,
 * when it is loaded, its CommonJS build (mocha's tsx hook compiles to CommonJS, while the kernel's plugin
 * loader imports ESM — one process can hold both).
 */
async function interpreterPrototypes(): Promise<Proto[]> {
  const require = createRequire(import.meta.url);
  const cjsEntry = require.resolve('@ethereumjs/evm');
  const cjsFile = join(dirname(cjsEntry), 'interpreter.js');
  type Mod = { Interpreter?: { prototype: Proto } };
  const out: Proto[] = [];
  if (require.cache[cjsFile] !== undefined) {
    const proto = (require(cjsFile) as Mod).Interpreter?.prototype;
    if (proto !== undefined) out.push(proto);
  }
  const esmFile = join(dirname(cjsEntry), '..', 'esm', 'interpreter.js');
  if (existsSync(esmFile)) {
    const proto = ((await import(pathToFileURL(esmFile).href)) as Mod).Interpreter?.prototype;
    if (proto !== undefined) out.push(proto);
  }
  return out;
}

function wrap(proto: Proto): boolean {
  if (proto[WRAPPED] === true) return true;
  const analyse = proto._getValidJumpDestinations;
  if (typeof analyse !== 'function') return false;
  const byTable = new WeakMap<object, WeakMap<Uint8Array, Analysis>>();
  proto._getValidJumpDestinations = function (this: InterpreterThis, code: Uint8Array): Analysis {
    const table = this._evm._opcodeMap;
    if (table === undefined) return analyse.call(this, code);
    let byCode = byTable.get(table);
    if (byCode === undefined) {
      byCode = new WeakMap();
      byTable.set(table, byCode);
    }
    let result = byCode.get(code);
    if (result === undefined) {
      result = analyse.call(this, code);
      byCode.set(code, result);
      jumpAnalysisStats.analysed++;
    } else {
      jumpAnalysisStats.reused++;
    }
    return result;
  };
  proto[WRAPPED] = true;
  return true;
}

async function install(): Promise<boolean> {
  try {
    const protos = await interpreterPrototypes();
    let ok = protos.length > 0;
    for (const p of protos) ok = wrap(p) && ok;
    return ok;
  } catch {
    return false;
  }
}
