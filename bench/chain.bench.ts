/**
 * Chain benchmark: sustained ERC-20 transfers per second into the embedded chain, end to end —
 * raw signed transaction → decode + signature recovery + pool admission → block execution (ethereumjs VM)
 * → state root, receipts, bloom → one atomic fsynced LevelDB batch per block.
 *
 * Variants measure the engine choices recorded in chain/README.md: pure-JS vs native secp256k1 sender
 * recovery, and block sizes; then the same transfers as JSON-RPC batches into a running embedded node.
 * Run alone with `npx tsx bench/chain.bench.ts` (BENCH_CHAIN_TXS changes N; BENCH_CHAIN_ONLY=direct|rpc).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTx } from '@ethereumjs/tx';
import { createAddressFromPrivateKey, hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import type { Common } from '@ethereumjs/common';
import { Chain } from '../chain/execution/chain.ts';
import { parseGenesis, WEI_PER_EB } from '../chain/execution/genesis.ts';
import { compileToken } from '../test/integration/chain/solc.ts';
import { ChainNode } from '../chain/node/chain-node.ts';

interface Variant {
  name: string;
  nativeCrypto: boolean;
  txsPerBlock: number;
  /** Sender-recovery worker threads (default: the chain's, 0 = inline). */
  senderThreads?: number;
  txs: number;
}

interface Account {
  key: Uint8Array;
  address: string;
  nonce: bigint;
}

const GWEI = 1_000_000_000n;

function key(i: number): Uint8Array {
  const k = new Uint8Array(32);
  new DataView(k.buffer).setUint32(28, i + 1);
  k[0] = 0x42;
  return k;
}

function account(i: number): Account {
  const k = key(i);
  return { key: k, address: createAddressFromPrivateKey(k).toString(), nonce: 0n };
}

function transferData(to: string, amount: bigint): Uint8Array {
  const hex = 'a9059cbb' + to.slice(2).padStart(64, '0') + amount.toString(16).padStart(64, '0');
  return hexToBytes(`0x${hex}`);
}

function sign(common: Common, from: Account, to: string | undefined, data: Uint8Array, gasLimit: bigint): Uint8Array {
  const tx = createTx(
    { type: 2, nonce: from.nonce++, to: to as PrefixedHexString | undefined, data, gasLimit, maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: GWEI, value: 0n },
    { common },
  ).sign(from.key);
  return tx.serialize();
}

async function drain(chain: Chain, coinbase: string, timestamp: { t: bigint }): Promise<number> {
  let blocks = 0;
  while (chain.mempool.size > 0) {
    timestamp.t += 1n;
    const { block } = await chain.produceBlock({ timestamp: timestamp.t, coinbase });
    blocks++;
    if (block.transactions.length === 0) throw new Error('pool not draining');
  }
  return blocks;
}

/**
 * BENCH_CHAIN_PROFILE=<dir>: a CPU profile of the timed section only (not the setup nor the signing),
 * written to <dir>/<variant>.cpuprofile (open in Chrome DevTools or any .cpuprofile viewer).
 */
async function startProfile(): Promise<((file: string) => Promise<void>) | undefined> {
  const dir = process.env.BENCH_CHAIN_PROFILE;
  if (dir === undefined || dir === '') return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, file), JSON.stringify(profile));
    session.disconnect();
  };
}

/** Runs one variant; returns transfers per second. */
async function runVariant(v: Variant, bytecode: string): Promise<{ tps: number; cpuTps: number; submitShare: number; blocks: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'empos-bench-'));
  const senders = Array.from({ length: 200 }, (_, i) => account(i));
  const deployer = account(1000);
  const alloc: Record<string, string> = { [deployer.address]: (1_000_000n * WEI_PER_EB).toString() };
  for (const s of senders) alloc[s.address] = (1000n * WEI_PER_EB).toString();
  const genesis = parseGenesis({ chainId: 17741, alloc, gasLimit: 1_000_000_000 });
  const chain = await Chain.open({ dataDir: dir, genesis, nativeCrypto: v.nativeCrypto, maxTxsPerBlock: v.txsPerBlock, persistMempool: true, ...(v.senderThreads !== undefined ? { senderThreads: v.senderThreads } : {}) });
  const ts = { t: BigInt(Math.floor(Date.now() / 1000)) };
  try {
    // Setup (not timed): deploy the token and give every sender a balance.
    const ctor = bytecode + (10n ** 30n).toString(16).padStart(64, '0');
    const deployHash = await chain.submitRawTransaction(sign(chain.common, deployer, undefined, hexToBytes(ctor as `0x${string}`), 2_000_000n));
    await drain(chain, deployer.address, ts);
    const deployed = await chain.getTransaction(deployHash);
    const receipts = await chain.getReceipts(deployed!.block!.number);
    const token = receipts[deployed!.block!.index]!.contractAddress!;
    for (const s of senders) await chain.submitRawTransaction(sign(chain.common, deployer, token, transferData(s.address, 10n ** 24n), 100_000n));
    await drain(chain, deployer.address, ts);

    // Pre-sign the measured transfers (signing is the wallets' work, not the chain's).
    const raws: Uint8Array[] = [];
    for (let i = 0; i < v.txs; i++) {
      const from = senders[i % senders.length]!;
      const to = account(5000 + i).address; // fresh recipients: every transfer writes a new storage slot
      raws.push(sign(chain.common, from, token, transferData(to, 1n), 60_000n));
    }

    let submitMs = 0;
    let blocks = 0;
    const profiler = await startProfile();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < raws.length; i += v.txsPerBlock) {
      const s0 = performance.now();
      // a block's worth submitted at once, as a JSON-RPC batch does (recoveries go to the worker together)
      await Promise.all(raws.slice(i, i + v.txsPerBlock).map((raw) => chain.submitRawTransaction(raw)));
      submitMs += performance.now() - s0;
      blocks += await drain(chain, deployer.address, ts);
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await profiler?.(`${v.name.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    // Sanity: the last transfer landed.
    const last = await chain.getStorageAt(token, new Uint8Array(32));
    if (last.length !== 32) throw new Error('unexpected storage read');
    return { tps: (v.txs * 1000) / ms, cpuTps: (v.txs * 1000) / cpuMs, submitShare: submitMs / ms, blocks };
  } finally {
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * End to end through JSON-RPC: transfers sent as HTTP batches of `eth_sendRawTransaction` into a running
 * embedded node (block time `blockTimeMs`); tx/s from the first request to the block that includes the last.
 */
async function runRpc(txs: number, blockTimeMs: number, bytecode: string, senderThreads?: number): Promise<{ tps: number; cpuTps: number; blocks: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'empos-bench-rpc-'));
  const senders = Array.from({ length: 200 }, (_, i) => account(i));
  const deployer = account(1000);
  const alloc: Record<string, string> = { [deployer.address]: (1_000_000n * WEI_PER_EB).toString() };
  for (const s of senders) alloc[s.address] = (1000n * WEI_PER_EB).toString();
  const node = new ChainNode({
    dataDir: dir,
    validatorKey: `0x${'07'.repeat(32)}`,
    blockTimeMs,
    rpc: { port: 0 },
    genesis: { chainId: 17741, alloc, gasLimit: 1_000_000_000 },
    ...(senderThreads !== undefined ? { senderThreads } : {}),
  });
  await node.start();
  const waitIdle = (): Promise<void> =>
    new Promise((resolve) => {
      const sub = node.onDidCommitBlock(() => {
        if (node.chain.mempool.size === 0) {
          sub.dispose();
          resolve();
        }
      });
    });
  try {
    const common = node.chain.common;
    const ctor = bytecode + (10n ** 30n).toString(16).padStart(64, '0');
    const deployHash = await node.chain.submitRawTransaction(sign(common, deployer, undefined, hexToBytes(ctor as `0x${string}`), 2_000_000n));
    await waitIdle();
    const found = await node.chain.getTransaction(deployHash);
    const token = (await node.chain.getReceipts(found!.block!.number))[found!.block!.index]!.contractAddress!;
    for (const s of senders) await node.chain.submitRawTransaction(sign(common, deployer, token, transferData(s.address, 10n ** 24n), 100_000n));
    await waitIdle();
    const raws: string[] = [];
    for (let i = 0; i < txs; i++) {
      const raw = sign(common, senders[i % senders.length]!, token, transferData(account(5000 + i).address, 1n), 60_000n);
      raws.push(`0x${Buffer.from(raw).toString('hex')}`);
    }
    let included = 0;
    let blocks = 0;
    const done = new Promise<void>((resolve) => {
      const sub = node.onDidCommitBlock(({ block }) => {
        if (block.transactions.length === 0) return;
        blocks++;
        included += block.transactions.length;
        if (included >= txs) {
          sub.dispose();
          resolve();
        }
      });
    });
    const profiler = await startProfile();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < raws.length; i += 200) {
      const batch = raws.slice(i, i + 200).map((raw, j) => ({ jsonrpc: '2.0', id: i + j, method: 'eth_sendRawTransaction', params: [raw] }));
      const res = await fetch(node.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
      const out = (await res.json()) as { error?: { message: string } }[];
      const failed = out.find((r) => r.error !== undefined);
      if (failed !== undefined) throw new Error(`eth_sendRawTransaction failed: ${failed.error!.message}`);
    }
    await done;
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await profiler?.(`rpc-${blockTimeMs}ms${senderThreads === undefined ? '' : `-${senderThreads}-workers`}.cpuprofile`);
    return { tps: (txs * 1000) / ms, cpuTps: (txs * 1000) / ((cpu.user + cpu.system) / 1000), blocks };
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const { bytecode } = compileToken();
  const n = Number(process.env.BENCH_CHAIN_TXS ?? 4000);
  const variants: Variant[] = [
    { name: 'pure-JS crypto (noble secp + keccak), 500/block', nativeCrypto: false, txsPerBlock: 500, txs: Math.min(n, 1500) },
    { name: 'native secp + WASM keccak, 100/block', nativeCrypto: true, txsPerBlock: 100, txs: n },
    { name: 'native secp + WASM keccak, 500/block', nativeCrypto: true, txsPerBlock: 500, txs: n },
    { name: 'native secp + WASM keccak, 500/block, 1 recovery worker', nativeCrypto: true, txsPerBlock: 500, txs: n, senderThreads: 1 },
    { name: 'native secp + WASM keccak, 2000/block', nativeCrypto: true, txsPerBlock: 2000, txs: n },
  ];
  console.log('chain: sustained ERC-20 transfers into the embedded chain (submit → execute → commit, fsync per block)');
  console.log('  (tx/s = wall clock; tx/CPU-s = per second of this process\'s CPU time, stable when the machine is shared)');
  const only = process.env.BENCH_CHAIN_ONLY;
  // BENCH_CHAIN_ONLY: 'direct' | 'rpc' | a part of a variant's name (e.g. '500/block').
  const picked = only === undefined || only === 'direct' ? variants : variants.filter((v) => v.name.includes(only));
  for (const v of only === 'rpc' ? [] : picked) {
    const r = await runVariant(v, bytecode);
    console.log(
      `  ${v.name.padEnd(42)} ${r.tps.toFixed(0).padStart(6)} tx/s ${r.cpuTps.toFixed(0).padStart(6)} tx/CPU-s  (${v.txs} txs, ${r.blocks} blocks, ` +
        `${(r.submitShare * 100).toFixed(0)} % in admission)`,
    );
  }
  const rpcRuns: [number, number | undefined][] = [[1000, undefined], [250, undefined], [1000, 1]];
  for (const [blockTimeMs, threads] of only === undefined || only === 'rpc' ? rpcRuns : []) {
    const r = await runRpc(n, blockTimeMs, bytecode, threads);
    const name = `JSON-RPC batches → embedded node, ${blockTimeMs} ms blocks${threads === undefined ? '' : `, ${threads} recovery worker`}`;
    console.log(`  ${name.padEnd(42)} ${r.tps.toFixed(0).padStart(6)} tx/s ${r.cpuTps.toFixed(0).padStart(6)} tx/CPU-s  (${n} txs, ${r.blocks} blocks)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
