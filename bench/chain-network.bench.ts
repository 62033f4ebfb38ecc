/**
 * Validator-network benchmark (loopback, one process; every node has its own chain store, libp2p host
 * and JSON-free submission path = what eth_sendRawTransaction does: pool admission + gossip):
 *  1. 4 validators, 1 s blocks: time from submission to finality (p50/p99) of transfers sent one by one;
 *  2. 4 validators: sustained ERC-20 transfers/s (a backlog of signed transfers submitted to one node,
 *     measured until all are final on it);
 *  3. 20 and 100 validators (4 nodes holding 5 / 25 validator keys each), 1 s blocks: block interval and
 *     finality latency.
 * Latency and block interval are measured in steady state: after every node reached height 4 (start-up
 * rounds — a proposer still dialling or syncing — cost a round change that later submissions do not meet).
 * Prints the figures and the machine's load average. `npx tsx bench/chain-network.bench.ts`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Common } from '@ethereumjs/common';
import { createTx } from '@ethereumjs/tx';
import { bytesToHex, createAddressFromPrivateKey, hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import { keccak256 } from '../chain/execution/crypto.ts';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { NetworkNode } from '../chain/node/network-node.ts';
import { WEI_PER_EB, type GenesisFile } from '../chain/execution/genesis.ts';
import { peerIdOf } from '../chain/p2p/peer-key.ts';
import { compileToken } from '../test/integration/chain/solc.ts';
import { freePort } from '../test/support/ports.ts';

const GWEI = 1_000_000_000n;

interface Account {
  key: Uint8Array;
  address: string;
  nonce: bigint;
}

function account(i: number, tag: number): Account {
  const k = new Uint8Array(32);
  k[0] = tag;
  new DataView(k.buffer).setUint32(28, i + 1);
  return { key: k, address: createAddressFromPrivateKey(k).toString(), nonce: 0n };
}

function sign(common: Common, from: Account, to: string | undefined, data: Uint8Array, gasLimit: bigint, value = 0n): Uint8Array {
  return createTx(
    { type: 2, nonce: from.nonce++, to: to as PrefixedHexString | undefined, data, gasLimit, maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: GWEI, value },
    { common },
  )
    .sign(from.key)
    .serialize();
}

function transferData(to: string, amount: bigint): Uint8Array {
  return hexToBytes(`0x${'a9059cbb'}${to.slice(2).padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`);
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Net {
  nodes: NetworkNode[];
  dir: string;
  funded: Account[];
  stop(): Promise<void>;
}

async function startNet(validators: number, nodes: number, blockTimeMs: number, senders: number): Promise<Net> {
  const dir = mkdtempSync(join(tmpdir(), 'empos-bench-'));
  const vals = Array.from({ length: validators }, (_, i) => account(i, 0x77));
  const funded = Array.from({ length: senders }, (_, i) => account(i, 0x55));
  const genesis: GenesisFile = {
    chainId: 17741,
    timestamp: 0,
    alloc: Object.fromEntries(funded.map((a) => [a.address.toLowerCase(), (1_000_000n * WEI_PER_EB).toString()])),
    validators: vals.map((v) => ({ address: v.address.toLowerCase(), stake: (32_000n * WEI_PER_EB).toString() })),
    consensus: { blockTimeMs },
    // as the embedded bench: the block gas limit must not be what caps throughput (30M, the default, holds
    // ~570 ERC-20 transfers: ~520 tx/s at 1 s blocks whatever the CPU)
    gasLimit: 1_000_000_000,
  };
  const peerKeys = await Promise.all(Array.from({ length: nodes }, (_, i) => generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(i + 1))));
  const ports: number[] = [];
  for (let i = 0; i < nodes; i++) ports.push(await freePort());
  const addrs = peerKeys.map((k, i) => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${peerIdOf(k)}`);
  const list: NetworkNode[] = [];
  for (let i = 0; i < nodes; i++) {
    const keys = vals.filter((_, j) => j % nodes === i).map((v) => bytesToHex(v.key));
    list.push(
      new NetworkNode({
        dataDir: join(dir, `n${i}`),
        genesis,
        validatorKeys: keys,
        rpc: false,
        peerKey: peerKeys[i],
        p2p: { port: ports[i], peers: addrs.filter((_, j) => j !== i) },
        ...(process.env.BENCH_LOG === '1' ? { log: (line: string) => console.error(`n${i} ${line}`) } : {}),
      }),
    );
  }
  await Promise.all(list.map((n) => n.start()));
  return {
    nodes: list,
    dir,
    funded,
    stop: async () => {
      await Promise.all(list.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitHeight(node: NetworkNode, h: bigint, ms = 300_000): Promise<void> {
  const end = Date.now() + ms;
  while (node.chain.head.header.number < h) {
    if (Date.now() > end) throw new Error(`stalled below height ${h}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function submit(node: NetworkNode, raw: Uint8Array): Promise<string> {
  const hash = await node.chain.submitRawTransaction(raw);
  node.gossipTransaction(bytesToHex(raw));
  return hash;
}

/** Block interval and submission→finality latency of transfers sent one at a time. */
async function latency(net: Net, seconds: number): Promise<{ blockMs: number; p50: number; p99: number; n: number }> {
  const node = net.nodes[0]!;
  // steady state only: start-up rounds (a node still dialling or syncing when it is the proposer costs a
  // round change) are not what a submission meets later — every node at height ≥ 4 first, then 2 blocks
  for (const n of net.nodes) await waitHeight(n, 4n);
  const sent = new Map<string, number>();
  const lat: number[] = [];
  const commits: number[] = [];
  const sub = node.onDidCommitBlock(({ block }) => {
    commits.push(Date.now());
    for (const tx of block.transactions) {
      const t = sent.get(bytesToHex(tx.hash()));
      if (t !== undefined) lat.push(Date.now() - t);
    }
  });
  await waitHeight(node, node.chain.head.header.number + 2n);
  const from = net.funded[0]!;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const raw = sign(node.chain.common, from, '0x000000000000000000000000000000000000beef', new Uint8Array(), 21_000n, 1n);
    sent.set(await submit(node, raw), Date.now());
    await new Promise((r) => setTimeout(r, 250 + Math.random() * 250));
  }
  await waitHeight(node, node.chain.head.header.number + 3n);
  sub.dispose();
  const gaps = commits.slice(1).map((t, i) => t - commits[i]!);
  return { blockMs: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length), p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length };
}

interface Erc20Figures {
  tps: number;
  blocks: number;
  /** Transfers per CPU-second of this process (it runs all four validators). */
  perCpuSecond: number;
  /** Block executions per committed block, over all nodes (1 = each node executes each block once). */
  executionsPerBlock: number;
}

async function erc20(net: Net, transfers: number, bytecode: string): Promise<Erc20Figures> {
  const node = net.nodes[0]!;
  const common = node.chain.common;
  const deployer = net.funded[0]!;
  const senders = net.funded.slice(1);
  const deploy = await submit(node, sign(common, deployer, undefined, hexToBytes(`${bytecode}${(10n ** 30n).toString(16).padStart(64, '0')}` as PrefixedHexString), 3_000_000n));
  let token: string | null | undefined;
  while (token === undefined || token === null) {
    await new Promise((r) => setTimeout(r, 200));
    const t = await node.chain.getTransaction(deploy);
    if (t?.block !== undefined) token = (await node.chain.getReceipts(t.block.number))[t.block.index]?.contractAddress;
  }
  let last = '';
  for (const s of senders) last = await submit(node, sign(common, deployer, token, transferData(s.address, 10n ** 24n), 100_000n));
  while ((await node.chain.getTransaction(last))?.block === undefined) await new Promise((r) => setTimeout(r, 200));
  const raws: Uint8Array[] = [];
  for (let i = 0; i < transfers; i++) raws.push(sign(common, senders[i % senders.length]!, token, transferData(`0x${(i + 1).toString(16).padStart(40, '0')}`, 1n), 100_000n));
  const startHeight = node.chain.head.header.number;
  const executed = (): number => net.nodes.reduce((sum, n) => sum + n.chain.stats.executedBlocks, 0);
  const executed0 = executed();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const raw of raws) last = await submit(node, raw);
  while ((await node.chain.getTransaction(last))?.block === undefined) await new Promise((r) => setTimeout(r, 100));
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const blocks = Number(node.chain.head.header.number - startHeight);
  return {
    tps: transfers / s,
    blocks,
    perCpuSecond: transfers / ((cpu.user + cpu.system) / 1e6),
    executionsPerBlock: (executed() - executed0) / Math.max(1, blocks * net.nodes.length),
  };
}

async function rpcCall<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const out = (await res.json()) as { result?: T; error?: { message: string } };
  if (out.error !== undefined) throw new Error(`${method}: ${out.error.message}`);
  return out.result as T;
}

async function sendBatch(url: string, raws: readonly Uint8Array[]): Promise<void> {
  const body = raws.map((raw, id) => ({ jsonrpc: '2.0', id, method: 'eth_sendRawTransaction', params: [bytesToHex(raw)] }));
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const out = (await res.json()) as { error?: { message: string } }[];
  const failed = out.find((r) => r.error !== undefined);
  if (failed !== undefined) throw new Error(`eth_sendRawTransaction: ${failed.error!.message}`);
}

async function receiptOf(url: string, hash: string): Promise<{ blockNumber: string; contractAddress: string | null } | null> {
  return rpcCall(url, 'eth_getTransactionReceipt', [hash]);
}

/**
 * The same ERC-20 run against 4 validators as 4 processes (`energymesh chain node`, the integration
 * test's network), transactions as JSON-RPC batches of 200 to node 0: on this host the 4 processes share
 * its cores, as 4 validators on 4 machines would not.
 */
async function erc20Processes(transfers: number, bytecode: string): Promise<{ tps: number; blocks: number }> {
  const { TestNetwork } = await import('../test/integration/chain-network/net-helpers.ts');
  const senders = Array.from({ length: 200 }, (_, i) => account(i, 0x56));
  const deployer = account(999, 0x56);
  const alloc = Object.fromEntries([deployer, ...senders].map((a) => [a.address.toLowerCase(), (1_000_000n * WEI_PER_EB).toString()]));
  const net = await TestNetwork.create(4, 1000, {}, { gasLimit: 1_000_000_000, alloc });
  try {
    await net.startAll();
    const url = net.nodes[0]!.rpcUrl;
    const { createChainCommon } = await import('../chain/execution/chain-common.ts');
    const common = createChainCommon(BigInt(await rpcCall<string>(url, 'eth_chainId')), true);
    const waitReceipt = async (hash: string): Promise<{ blockNumber: string; contractAddress: string | null }> => {
      for (;;) {
        const r = await receiptOf(url, hash);
        if (r !== null) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const deployRaw = sign(common, deployer, undefined, hexToBytes(`${bytecode}${(10n ** 30n).toString(16).padStart(64, '0')}` as PrefixedHexString), 3_000_000n);
    await sendBatch(url, [deployRaw]);
    const token = (await waitReceipt(bytesToHex(keccak256(deployRaw)))).contractAddress!;
    const funding = senders.map((s) => sign(common, deployer, token, transferData(s.address, 10n ** 24n), 100_000n));
    await sendBatch(url, funding);
    await waitReceipt(bytesToHex(keccak256(funding[funding.length - 1]!)));
    const raws: Uint8Array[] = [];
    for (let i = 0; i < transfers; i++) raws.push(sign(common, senders[i % senders.length]!, token, transferData(`0x${(i + 1).toString(16).padStart(40, '0')}`, 1n), 100_000n));
    const startHeight = await net.head(0);
    const t0 = performance.now();
    for (let i = 0; i < raws.length; i += 200) await sendBatch(url, raws.slice(i, i + 200));
    await waitReceipt(bytesToHex(keccak256(raws[raws.length - 1]!)));
    const s = (performance.now() - t0) / 1000;
    return { tps: transfers / s, blocks: (await net.head(0)) - startHeight };
  } finally {
    await net.close();
  }
}

export async function run(): Promise<void> {
  const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' / ');
  console.log(`chain-network bench — loopback, one process, load average before: ${load()}`);
  // BENCH_VALIDATORS=20,100 runs only those sizes (4 = the latency and ERC-20 runs)
  const sizes = (process.env.BENCH_VALIDATORS ?? '4,20,100').split(',').map(Number);
  const four = sizes.includes(4) ? await startNet(4, 4, 1000, 201) : undefined;
  if (four !== undefined) try {
    const bytecode = compileToken().bytecode;
    const l = await latency(four, 20);
    console.log(`4 validators, 1 s blocks (after warm-up: every node at height ≥ 4): block interval ${l.blockMs.toFixed(0)} ms; submission → finality p50 ${l.p50} ms, p99 ${l.p99} ms (${l.n} transfers); load ${load()}`);
    const e = await erc20(four, Number(process.env.BENCH_TRANSFERS ?? 1000), bytecode);
    console.log(
      `4 validators: ${e.tps.toFixed(0)} ERC-20 transfers/s sustained (${e.blocks} blocks), ${e.perCpuSecond.toFixed(0)} per CPU-second of the process running all 4 ` +
        `(≈ ${(e.perCpuSecond * 4).toFixed(0)} per CPU-second per validator); ${e.executionsPerBlock.toFixed(2)} executions per block per node; load ${load()}`,
    );
  } finally {
    await four.stop();
  }
  if (sizes.includes(4) && process.env.BENCH_PROCESSES !== '0') {
    const e = await erc20Processes(Number(process.env.BENCH_TRANSFERS ?? 1000), compileToken().bytecode);
    console.log(`4 validators as 4 processes (JSON-RPC batches to one): ${e.tps.toFixed(0)} ERC-20 transfers/s sustained (${e.blocks} blocks); load ${load()}`);
  }
  for (const n of sizes.filter((x) => x > 4)) {
    const net = await startNet(n, 4, 1000, 2);
    try {
      const l = await latency(net, 20);
      console.log(`${n} validators (4 nodes × ${n / 4} keys), 1 s blocks: block interval ${l.blockMs.toFixed(0)} ms; finality p50 ${l.p50} ms, p99 ${l.p99} ms (${l.n} transfers); load ${load()}`);
    } finally {
      await net.stop();
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
