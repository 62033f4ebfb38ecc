/**
 * Settlement benchmark at the seed's UK pilot size: 10,000 households with 5-minute readings
 * (`BENCH_HOUSEHOLDS` changes N). One interval's settlement path on the embedded chain, timed step by step:
 *
 *   aggregate  the households' import/export energy counters → one reading per meter (the metering
 *              oracle's aggregation, plugins/metering-oracle/aggregation.ts)
 *   attest     k-of-n (2 of 3) oracle signatures per batch (EIP-712, chain/contracts/client.ts) and
 *              MeterRegistry.submitReadings in batches of `BENCH_READING_BATCH` (default 700: ~112 KB,
 *              under the 128 KiB transaction size the pool and JSON-RPC accept), until in blocks
 *   clear      the interval's orders read back from the chain's events (plugins/market/market-chain.ts) and
 *              the uniform-price auction (plugins/market/clearing.ts)
 *   settle     EnergyMarket.settleInterval with every fill in one transaction, until in a block
 *   release    releaseOrders for the unfilled orders (escrow back), batches of 2,000
 *
 * and the figures: total time of the path (target ≤ 5 s), on-chain gas per household, trades settled per
 * second (target ≥ 10,000/s). Setup (not timed, but reported): deploy the suite, register the meters, give
 * the buyers MC and allowances, attest a warm-up interval (sellers' exports mint the EB they sell), place
 * one order per household (half sell, half buy).
 *
 * The chain runs with a custom genesis: block gas limit `BENCH_GAS_LIMIT` (default 4,000,000,000; the
 * embedded default of 30,000,000 cannot hold one settlement batch of thousands of fills) and the households
 * funded for gas. Intervals are 5 minutes and the contracts read block time, which the embedded chain takes
 * from `Date.now()`: the benchmark moves this process's `Date.now` forward instead of waiting; durations
 * are measured with `performance.now()`. Transactions are pre-signed and handed to the node in-process
 * (the wallets' signing is not the chain's work).
 *
 * Run alone: `npx tsx bench/settlement.bench.ts` (or `npm run bench -- settlement`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Interface, JsonRpcProvider, MaxUint256, NonceManager, Wallet, getBytes, keccak256, toUtf8Bytes, zeroPadValue, type TransactionRequest } from 'ethers';
import { createTxFromRLP } from '@ethereumjs/tx';
import { bytesToHex } from '@ethereumjs/util';
import { ChainNode } from '../chain/node/chain-node.ts';
import { MAX_TX_BYTES } from '../chain/execution/chain.ts';
import { loadArtifact } from '../chain/contracts/artifacts.ts';
import { deploySettlement } from '../chain/contracts/deploy.ts';
import { readingBatchDigest, type Reading } from '../chain/contracts/client.ts';
import { applySample, finalizeUpTo, newMeterState, type AggregationOptions, type MeterAggregationState, type MeterSpec } from '../plugins/metering-oracle/aggregation.ts';
import { clear } from '../plugins/market/clearing.ts';
import { EthersMarketChain } from '../plugins/market/market-chain.ts';
import { liveOrders, verifyInterval } from '../plugins/market/recompute.ts';
import { SeededRandom } from '../plugins/market/test-orders.ts';

const EB = 10n ** 18n;
const MC = 10n ** 18n;
const GWEI = 1_000_000_000n;
const INTERVAL = 300;

interface Household {
  wallet: Wallet;
  address: string;
  meterId: string;
  seller: boolean;
  nonce: number;
  /** Cumulative counters, Wh. */
  importWh: number;
  exportWh: number;
  state: MeterAggregationState;
  spec: MeterSpec;
}

function hexKey(prefix: number, i: number): string {
  return `0x${prefix.toString(16).padStart(2, '0')}${'00'.repeat(27)}${(i + 1).toString(16).padStart(8, '0')}`;
}

async function run(): Promise<void> {
  const n = Number(process.env.BENCH_HOUSEHOLDS ?? 10_000);
  const readingBatch = Number(process.env.BENCH_READING_BATCH ?? 700);
  const gasLimit = BigInt(process.env.BENCH_GAS_LIMIT ?? 4_000_000_000);
  const realNow = Date.now;
  let offsetMs = 0;
  Date.now = () => realNow() + offsetMs;
  const jumpTo = (unixSeconds: number): void => {
    const d = unixSeconds * 1000 - Date.now();
    if (d > 0) offsetMs += d;
  };
  const load0 = os.loadavg()[0] ?? 0;
  console.log(`settlement bench: ${n} households, 5-minute intervals, 2-of-3 oracles, block gas limit ${gasLimit} (custom genesis); node ${process.version}, ${os.cpus().length} CPUs, load average ${load0.toFixed(1)}`);

  const dir = mkdtempSync(join(tmpdir(), 'em-settlement-bench-'));
  const rnd = new SeededRandom(2026);
  const t = performance.now();
  const households: Household[] = [];
  for (let i = 0; i < n; i++) {
    const wallet = new Wallet(hexKey(0x5e, i));
    const deviceId = `meter-${i}`;
    const spec: MeterSpec = { import: { deviceId, pointId: 'ImpWh', whPerUnit: 1 }, export: { deviceId, pointId: 'ExpWh', whPerUnit: 1 } };
    households.push({ wallet, address: wallet.address, meterId: keccak256(toUtf8Bytes(`bench/${deviceId}`)), seller: i % 2 === 0, nonce: 0, importWh: rnd.int(0, 1e6), exportWh: rnd.int(0, 1e6), state: newMeterState(), spec });
  }
  const deployerWallet = new Wallet(hexKey(0xde, 0));
  const oracles = [0, 1, 2].map((i) => new Wallet(hexKey(0x0a, i)));
  const alloc: Record<string, string> = { [deployerWallet.address]: (10_000_000n * EB).toString() };
  for (const h of households) alloc[h.address] = EB.toString();
  console.log(`  keys for ${n} households: ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const node = new ChainNode({
    dataDir: dir,
    validatorKey: hexKey(0x07, 0),
    blockTimeMs: 200,
    rpc: { port: 0, maxBodyBytes: 64 * 1024 * 1024 },
    genesis: { chainId: 17741, alloc, gasLimit: gasLimit.toString() },
  });
  await node.start();
  const provider = new JsonRpcProvider(node.rpcUrl, node.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 50;
  try {
    const chainId = node.chain.chainId;
    // ---- setup ----
    const deployer = new NonceManager(deployerWallet.connect(provider));
    let t0 = performance.now();
    const a = await deploySettlement(deployer, {
      intervalSeconds: INTERVAL,
      oracles: oracles.map((o) => o.address),
      oracleThreshold: 2,
      multisigOwners: [deployerWallet.address, oracles[0]!.address, oracles[1]!.address],
      multisigThreshold: 2,
      registrar: deployerWallet.address,
      settler: deployerWallet.address,
      operator: deployerWallet.address,
      utility: deployerWallet.address,
      reserveWei: 1_000_000n * EB,
    });
    console.log(`  deploy the suite: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let deployerNonce = await provider.getTransactionCount(deployerWallet.address, 'pending');

    const registry = new Interface(loadArtifact('MeterRegistry').abi as never[]);
    const market = new Interface(loadArtifact('EnergyMarket').abi as never[]);
    const meshCoin = new Interface(loadArtifact('MeshCoin').abi as never[]);

    const sign = (w: Wallet, nonce: number, to: string, data: string, gas: bigint): Promise<string> =>
      w.signTransaction({ type: 2, chainId, nonce, to, data, gasLimit: gas, maxFeePerGas: 50n * GWEI, maxPriorityFeePerGas: GWEI, value: 0n } satisfies TransactionRequest);
    // receipts as blocks commit (a lookup per transaction would decode its whole block each time)
    const receiptOf = new Map<string, { status: number; gasUsed: string; dropped?: string }>();
    const waiters = new Set<() => void>();
    const oversized: number[] = [];
    const sub = node.onDidCommitBlock(({ block, receipts, dropped }) => {
      for (const [i, tx] of block.transactions.entries()) {
        const r = receipts[i];
        if (r) receiptOf.set(bytesToHex(tx.hash()), r);
      }
      for (const d of dropped) receiptOf.set(d.hash.toLowerCase(), { status: 0, gasUsed: '0', dropped: d.reason });
      for (const w of waiters) w();
    });
    /** Hands signed transactions to the node and waits until each is in a block; returns their gas. */
    const submitAll = async (raws: readonly string[], what: string): Promise<{ gas: bigint; ms: number }> => {
      const s0 = performance.now();
      const hashes: string[] = [];
      // the pool holds at most 1,024 future nonces per sender: hand them over in chunks
      for (let i = 0; i < raws.length; i += 1000) {
        const chunk: string[] = [];
        for (const raw of raws.slice(i, i + 1000)) {
          const bytes = getBytes(raw);
          if (bytes.length <= MAX_TX_BYTES) chunk.push((await node.chain.submitRawTransaction(bytes)).toLowerCase());
          else {
            // above the pool's 128 KiB size policy (JSON-RPC refuses it): handed to the node in-process
            oversized.push(bytes.length);
            chunk.push((await node.chain.submitTransaction(createTxFromRLP(bytes, { common: node.chain.common }))).toLowerCase());
          }
        }
        hashes.push(...chunk);
        await included(chunk);
      }
      let gas = 0n;
      for (const h of hashes) {
        const r = receiptOf.get(h);
        if (r?.status !== 1) throw new Error(`${what}: transaction ${h} ${r?.dropped ? `dropped: ${r.dropped}` : 'reverted'}`);
        gas += BigInt(r.gasUsed);
        receiptOf.delete(h);
      }
      return { gas, ms: performance.now() - s0 };
    };
    function included(hashes: readonly string[]): Promise<void> {
      return new Promise<void>((resolve) => {
        const check = (): void => {
          if (hashes.every((h) => receiptOf.has(h))) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    }
    const rate = (count: number, ms: number): string => `${((count * 1000) / ms).toFixed(0)}/s`;

    t0 = performance.now();
    const regRaws: string[] = [];
    const area = zeroPadValue('0x01', 32);
    for (let i = 0; i < households.length; i += 500) {
      const part = households.slice(i, i + 500);
      const data = registry.encodeFunctionData('registerMeters', [part.map((h) => h.meterId), part.map((h) => h.address), area]);
      regRaws.push(await sign(deployerWallet, deployerNonce++, a.registry, data, 60_000_000n));
    }
    const mcRaws: string[] = [];
    for (const h of households) if (!h.seller) mcRaws.push(await sign(deployerWallet, deployerNonce++, a.meshCoin, meshCoin.encodeFunctionData('transfer', [h.address, 100n * MC]), 100_000n));
    const approveRaws: string[] = [];
    for (const h of households) if (!h.seller) approveRaws.push(await sign(h.wallet, h.nonce++, a.meshCoin, meshCoin.encodeFunctionData('approve', [a.market, MaxUint256]), 100_000n));
    const signMs = performance.now() - t0;
    const reg = await submitAll([...regRaws, ...mcRaws, ...approveRaws], 'setup');
    console.log(`  setup: ${n} meters registered (registerMeters, batches of 500), ${mcRaws.length} buyers given MC and allowances: ${((reg.ms + signMs) / 1000).toFixed(1)} s (${rate(regRaws.length + mcRaws.length + approveRaws.length, reg.ms)} in blocks)`);

    // ---- readings: counters sampled every 5 minutes ----
    const agg: AggregationOptions = { intervalSeconds: INTERVAL, cutoffMs: 0, maxGapMs: 3_600_000 };
    const sampleAll = (tsMs: number): void => {
      for (const [i, h] of households.entries()) {
        const ref = { deviceId: `meter-${i}`, pointId: '', seq: 0, partition: 0, offset: 0 };
        applySample(h.state, h.spec, 'import', { ts: tsMs, value: h.importWh, quality: 'good' }, { ...ref, pointId: 'ImpWh' }, agg);
        applySample(h.state, h.spec, 'export', { ts: tsMs, value: h.exportWh, quality: 'good' }, { ...ref, pointId: 'ExpWh' }, agg);
      }
    };
    const advanceCounters = (): void => {
      for (const h of households) {
        // a 5-minute interval: sellers (PV) export 1.5–3.5 kWh and import a little; buyers import 0.3–2 kWh
        if (h.seller) {
          h.exportWh += rnd.int(1500, 3500);
          h.importWh += rnd.int(0, 100);
        } else h.importWh += rnd.int(300, 2000);
      }
    };
    const aggregate = (interval: number): Reading[] => {
      const out: Reading[] = [];
      for (const h of households) {
        for (const r of finalizeUpTo(h.state, h.spec, (interval + 1) * INTERVAL * 1000, agg)) {
          if (r.interval !== interval) throw new Error(`meter ${h.meterId}: unexpected interval ${r.interval}`);
          out.push({ meterId: h.meterId, interval: BigInt(r.interval), exportWh: BigInt(r.exportWh), importWh: BigInt(r.importWh), flags: r.flags });
        }
      }
      return out;
    };
    const attest = async (readings: readonly Reading[]): Promise<{ gas: bigint; ms: number; batches: number; signMs: number }> => {
      const s0 = performance.now();
      const raws: string[] = [];
      for (let i = 0; i < readings.length; i += readingBatch) {
        const batch = readings.slice(i, i + readingBatch);
        // k-of-n: each oracle signs the batch's EIP-712 digest (computed once; = attestReadings' signatures)
        const digest = readingBatchDigest(chainId, a.registry, batch);
        const sigs = [...oracles.slice(0, 2)].sort((x, y) => (BigInt(x.address) < BigInt(y.address) ? -1 : 1)).map((w) => w.signingKey.sign(digest).serialized);
        const data = registry.encodeFunctionData('submitReadings', [batch.map((r) => [r.meterId, r.interval, r.exportWh, r.importWh, r.flags]), sigs]);
        raws.push(await sign(deployerWallet, deployerNonce++, a.registry, data, gasLimit - 1_000_000n));
      }
      const signMs = performance.now() - s0;
      const sub = await submitAll(raws, 'submitReadings');
      return { gas: sub.gas, ms: performance.now() - s0, batches: raws.length, signMs };
    };

    // warm-up interval W (the one that just ended): sellers' exports mint the EB they will sell
    const now0 = Math.floor(Date.now() / 1000);
    const W = Math.floor(now0 / INTERVAL) - 1;
    sampleAll(W * INTERVAL * 1000);
    advanceCounters();
    sampleAll((W + 1) * INTERVAL * 1000);
    const warm = await attest(aggregate(W));
    console.log(`  warm-up attestation of interval ${W}: ${warm.batches} batches, ${(warm.ms / 1000).toFixed(1)} s, ${(Number(warm.gas) / n).toFixed(0)} gas/reading`);

    // the market service keeps its event index warm as blocks come (market-chain.ts): start it here
    const mchain = new EthersMarketChain({ provider, address: a.market, meshCoin: a.meshCoin, intervalSeconds: INTERVAL, fromBlock: await provider.getBlockNumber(), maxRange: 2_000 });
    await mchain.sync();

    // ---- orders for delivery interval D ----
    // an hour ahead: placing 10,000 orders on a loaded machine may take longer than one interval
    const D = Math.floor(Math.floor(Date.now() / 1000) / INTERVAL) + 12;
    t0 = performance.now();
    const orderRaws: string[] = [];
    for (const h of households) {
      const amountWh = BigInt(h.seller ? rnd.int(800, 1300) : rnd.int(500, 2500)); // sellers minted ≥ 1,400 Wh net in the warm-up
      const limit = h.seller ? BigInt(rnd.int(80, 150)) * (MC / 1000n) : BigInt(rnd.int(100, 200)) * (MC / 1000n);
      orderRaws.push(await sign(h.wallet, h.nonce++, a.market, market.encodeFunctionData('placeOrder', [D, h.seller, amountWh, limit]), 300_000n));
    }
    const orderSignMs = performance.now() - t0;
    const ord = await submitAll(orderRaws, 'placeOrder');
    await mchain.sync(); // what the service's loop does while the gate is open
    console.log(`  ${n} orders for interval ${D} placed: ${(ord.ms / 1000).toFixed(1)} s in blocks (${rate(n, ord.ms)}; signing ${(orderSignMs / 1000).toFixed(1)} s), ${(Number(ord.gas) / n).toFixed(0)} gas/order`);

    // ---- the timed path: interval W+1 ends and D's gate closes ----
    advanceCounters();
    jumpTo(D * INTERVAL + 1);
    await new Promise((r) => setTimeout(r, 400)); // a block at the new time

    const cpuMs = (c: NodeJS.CpuUsage): number => {
      const d = process.cpuUsage(c);
      return (d.user + d.system) / 1000;
    };
    let c0 = process.cpuUsage();
    t0 = performance.now();
    sampleAll((W + 2) * INTERVAL * 1000);
    const readings = aggregate(W + 1);
    const aggregateMs = performance.now() - t0;
    const aggregateCpu = cpuMs(c0);

    c0 = process.cpuUsage();
    const att = await attest(readings);
    const attestCpu = cpuMs(c0);

    c0 = process.cpuUsage();
    t0 = performance.now();
    await mchain.sync();
    const readMs = performance.now() - t0;
    const events = mchain.intervalEvents(BigInt(D));
    const t1 = performance.now();
    const result = clear(liveOrders(events));
    const clearMs = performance.now() - t1;
    const readClearCpu = cpuMs(c0);

    c0 = process.cpuUsage();
    t0 = performance.now();
    const settleRaw = await sign(deployerWallet, deployerNonce++, a.market, market.encodeFunctionData('settleInterval', [D, result.price, result.fills.map((f) => [f.orderId, f.amountWh])]), gasLimit - 1_000_000n);
    const settle = await submitAll([settleRaw], 'settleInterval');
    const settleMs = performance.now() - t0;
    const settleBytes = getBytes(settleRaw).length;
    const settleCpu = cpuMs(c0);

    const filled = new Set(result.fills.map((f) => f.orderId));
    const unfilled = events.placed.map((p) => p.orderId).filter((id) => !filled.has(id));
    t0 = performance.now();
    const relRaws: string[] = [];
    for (let i = 0; i < unfilled.length; i += 2_000) relRaws.push(await sign(deployerWallet, deployerNonce++, a.market, market.encodeFunctionData('releaseOrders', [unfilled.slice(i, i + 2_000)]), gasLimit / 2n));
    const release = relRaws.length > 0 ? await submitAll(relRaws, 'releaseOrders') : { gas: 0n, ms: 0 };
    const releaseMs = performance.now() - t0;

    await mchain.sync();
    const check = verifyInterval(mchain.intervalEvents(BigInt(D)));
    if (!check.ok) throw new Error(`recomputation differs: ${check.problems.slice(0, 3).join('; ')}`);

    const pathMs = aggregateMs + att.ms + readMs + clearMs + settleMs;
    const fills = result.fills.length;
    const perHousehold = (g: bigint): string => (Number(g) / n).toFixed(0);
    console.log(`  interval ${W + 1} readings and interval ${D} market (${events.placed.length} orders, ${fills} fills, ${result.volumeWh} Wh at ${Number(result.price) / 1e18} MC/kWh):`);
    console.log(`    aggregate ${String(readings.length).padStart(6)} readings          ${aggregateMs.toFixed(0).padStart(7)} ms`);
    console.log(`    attest    ${String(att.batches).padStart(6)} batches of ≤${readingBatch}     ${att.ms.toFixed(0).padStart(7)} ms  (signing ${att.signMs.toFixed(0)} ms), ${att.gas} gas = ${perHousehold(att.gas)} gas/household`);
    console.log(`    read the interval's last events         ${readMs.toFixed(0).padStart(7)} ms`);
    console.log(`    clear (uniform-price auction)           ${clearMs.toFixed(0).padStart(7)} ms`);
    console.log(`    settle    1 transaction, ${String(fills).padStart(6)} fills ${settleMs.toFixed(0).padStart(7)} ms, ${settle.gas} gas = ${(Number(settle.gas) / Math.max(1, fills)).toFixed(0)} gas/fill`);
    if (settleBytes > MAX_TX_BYTES) {
      console.log(`    ! the settlement transaction is ${(settleBytes / 1024).toFixed(0)} KiB, above the ${MAX_TX_BYTES / 1024} KiB a transaction may have in the pool and over JSON-RPC (64 bytes per fill: at most ~2,000 fills); submitted in-process`);
    }
    console.log(`    release   ${String(unfilled.length).padStart(6)} unfilled orders   ${releaseMs.toFixed(0).padStart(7)} ms, ${release.gas} gas`);
    const pathCpu = aggregateCpu + attestCpu + readClearCpu + settleCpu;
    console.log(`  path total (aggregate + attest + read + clear + settle): ${(pathMs / 1000).toFixed(2)} s (target ≤ 5 s); with release ${((pathMs + releaseMs) / 1000).toFixed(2)} s`);
    console.log(`    CPU of this process (chain included): aggregate ${(aggregateCpu / 1000).toFixed(2)} s, attest ${(attestCpu / 1000).toFixed(2)} s, read+clear ${(readClearCpu / 1000).toFixed(2)} s, settle ${(settleCpu / 1000).toFixed(2)} s = ${(pathCpu / 1000).toFixed(2)} CPU-s; trades settled per CPU-second ${((fills * 1e6) / settleCpu / 1000).toFixed(0)}`);
    console.log(`  on-chain gas per household per interval: ${perHousehold(att.gas + settle.gas + release.gas)} (attest ${perHousehold(att.gas)} + settle ${perHousehold(settle.gas)} + release ${perHousehold(release.gas)}); order placement ${(Number(ord.gas) / n).toFixed(0)} more`);
    console.log(`  trades settled per second (one batch): ${rate(fills, settleMs)} (target ≥ 10,000/s); recomputation from the chain equals the settlement`);
    console.log(`  load average ${load0.toFixed(1)} at start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at end`);
    sub.dispose();
  } finally {
    provider.destroy();
    await node.stop();
    Date.now = realNow;
    rmSync(dir, { recursive: true, force: true });
  }
}

export { run };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
