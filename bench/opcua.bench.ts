/**
 * OPC UA client cost: value changes/s from several DER simulator processes (node-opcua servers)
 * through our OPC UA driver (client, dedup, Sample mapping) into a counting sink, with the client
 * process's CPU per 10k changes/s and its RSS, extrapolated linearly to 100k changes/s.
 *
 * A node-opcua server saturates a core near 20k changes/s, so the offered load is spread over several
 * simulator processes; what we report is the client's cost (this process only).
 * Run: npx tsx bench/opcua.bench.ts  (or npm run bench -- opcua)
 * Knobs: OPCUA_BENCH_SERVERS (3), OPCUA_BENCH_VARIABLES per server (1000), OPCUA_BENCH_RATE_MS (100),
 *        BENCH_SECONDS measured window (15); OPCUA_BENCH_MODE=client runs only part 2.
 *
 * Part 2, the client path alone (no servers, so it does not depend on how much CPU the simulators get on a
 * shared machine): 10k monitored items, pre-built node-opcua DataValues fed to the MonitoredItemSet's
 * per-notification handler → dedup → ItemChange batch → the device's Sample mapping → a counting sink.
 * Reports CPU µs per change (→ cores at 100k changes/s) and bytes allocated per change (GC profiler: what
 * the young generation has to collect; the RSS headroom at a high change rate follows from it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as v8 from 'node:v8';

import { DataType, DataValue, StatusCodes, Variant } from 'node-opcua';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../core/logging/logger.ts';
import type { DriverContext } from '../core/contributions.ts';
import type { Sample } from '../core/model/telemetry.ts';
import { routeNodeOpcuaLogs } from '../protocols/opcua/client/opcua-logging.ts';
import { OpcuaPki } from '../protocols/opcua/client/opcua-pki.ts';
import { MonitoredItemSet } from '../protocols/opcua/client/opcua-client.ts';
import type { ItemChange, OpcuaClient } from '../protocols/opcua/client/opcua-client.ts';
import { OpcuaDevice } from '../plugins/protocol-opcua/opcua-device.ts';
import { OpcuaDriver } from '../plugins/protocol-opcua/opcua-driver.ts';
import { SimulatorProcess, freePort } from '../test/integration/opcua/opcua-harness.ts';

const SERVERS = Number(process.env.OPCUA_BENCH_SERVERS ?? 3);
const VARIABLES = Number(process.env.OPCUA_BENCH_VARIABLES ?? 1000);
const RATE_MS = Number(process.env.OPCUA_BENCH_RATE_MS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const MB = 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Part 2: the per-change cost of our client path, without servers. */
export async function runClientPath(items = 10_000, rounds = 30): Promise<void> {
  const specs = Array.from({ length: items }, (_, i) => ({ key: `PV${i % 100}/P${i}`, nodeId: `ns=1;s=Bench.${i}` }));
  const set = new MonitoredItemSet(null as unknown as OpcuaClient, specs, {});
  const receive = (set as unknown as { receive(spec: { key: string; nodeId: string }, dv: DataValue): void }).receive.bind(set);
  const device = new OpcuaDevice({ id: 'bench', endpointUrl: 'opc.tcp://127.0.0.1:1' } as ConstructorParameters<typeof OpcuaDevice>[0], {} as ConstructorParameters<typeof OpcuaDevice>[1], null as unknown as OpcuaPki, silentLogger());
  let count = 0;
  const ctx: DriverContext = {
    ingest: { ingest: async (samples: readonly Sample[]) => void (count += samples.length), ingestEvents: async () => undefined },
    logger: silentLogger(),
    metrics: { observePoll: () => undefined, countError: () => undefined },
    reportDeviceStatus: () => undefined,
  };
  (device as unknown as { ctx: DriverContext }).ctx = ctx;
  const ingest = (device as unknown as { ingest(c: ItemChange[]): Promise<void> }).ingest.bind(device);
  set.onDidReceive((changes) => void ingest(changes));
  // node-opcua builds a DataValue per notification; built here beforehand so only our path is measured
  const t = Date.now();
  const dvs: DataValue[][] = [];
  for (let r = 0; r < rounds; r++) {
    const round: DataValue[] = [];
    for (let i = 0; i < items; i++) {
      round.push(
        new DataValue({
          value: new Variant({ dataType: DataType.Double, value: r * 1.5 + i }),
          statusCode: StatusCodes.Good,
          sourceTimestamp: new Date(t + r * 100),
          serverTimestamp: new Date(t + r * 100 + 1),
        }),
      );
    }
    dvs.push(round);
  }
  const feed = async (from: number, to: number): Promise<void> => {
    for (let r = from; r < to; r++) {
      const round = dvs[r] as DataValue[];
      for (let i = 0; i < items; i++) receive(specs[i] as { key: string; nodeId: string }, round[i] as DataValue);
      await new Promise((res) => setImmediate(res));
    }
  };
  await feed(0, 5); // warm-up (JIT, rings filled)
  global.gc?.();
  const profiler = new v8.GCProfiler();
  const heap0 = process.memoryUsage().heapUsed;
  profiler.start();
  const cpu0 = process.cpuUsage();
  const before = count;
  await feed(5, rounds);
  const cpu = process.cpuUsage(cpu0);
  const heap1 = process.memoryUsage().heapUsed;
  const gcs = profiler.stop();
  let collected = 0;
  for (const e of gcs.statistics) collected += Math.max(0, e.beforeGC.heapStatistics.usedHeapSize - e.afterGC.heapStatistics.usedHeapSize);
  const changes = count - before;
  const us = (cpu.user + cpu.system) / changes;
  const bytes = (collected + heap1 - heap0) / changes;
  console.log(`OPC UA client path alone (${items} items, ${changes} changes, DataValues pre-built): ${us.toFixed(2)} µs CPU per change → ${((us * 100_000) / 1e6).toFixed(2)} cores at 100k changes/s; ~${Math.round(bytes)} bytes allocated per change (${gcs.statistics.length} GCs)`);
  await set.close().catch(() => undefined);
}

export async function run(): Promise<void> {
  if (process.env.OPCUA_BENCH_MODE === 'client') {
    await runClientPath();
    return;
  }
  await runServers();
  await runClientPath();
}

async function runServers(): Promise<void> {
  routeNodeOpcuaLogs(null);
  const dir = mkdtempSync(join(tmpdir(), 'em-opcua-bench-'));
  const sims: SimulatorProcess[] = [];
  let driver: OpcuaDriver | undefined;
  try {
    for (let i = 0; i < SERVERS; i++) {
      sims.push(new SimulatorProcess({ port: await freePort(), pkiDir: join(dir, `server-${i}`), variables: VARIABLES, rateMs: RATE_MS }));
    }
    for (const s of sims) await s.start();
    global.gc?.();
    const rssBaseline = process.memoryUsage().rss;
    const heapBaseline = process.memoryUsage().heapUsed;

    let count = 0;
    let online = 0;
    const ctx: DriverContext = {
      ingest: {
        ingest: async (samples: readonly Sample[]) => {
          count += samples.length;
        },
        ingestEvents: async () => undefined,
      },
      logger: silentLogger(),
      metrics: { observePoll: () => undefined, countError: () => undefined },
      reportDeviceStatus: (s) => {
        if (s.state === 'online') online++;
      },
    };
    driver = new OpcuaDriver(
      {
        subscription: { publishingIntervalMs: 500, samplingIntervalMs: RATE_MS, queueSize: 4, maxItemsPerSubscription: 1000, maxItemsPerCall: 0 },
        reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
        devices: sims.map((s, i) => ({ id: `bench-${i}`, endpointUrl: s.endpointUrl, discovery: { root: 'ns=1;s=Bench', maxNodes: VARIABLES + 10 } })),
      },
      new OpcuaPki({ rootFolder: join(dir, 'client-pki') }),
      silentLogger(),
    );
    const t0 = Date.now();
    await driver.start(ctx);
    while (online < SERVERS) {
      if (Date.now() - t0 > 120_000) throw new Error('the devices did not come online');
      await sleep(100);
    }
    const subscribeSeconds = (Date.now() - t0) / 1000;
    await sleep(3000); // warm-up
    global.gc?.();
    const rssSubscribed = process.memoryUsage().rss;
    const heapSubscribed = process.memoryUsage().heapUsed;
    const startCount = count;
    const startCpu = process.cpuUsage();
    const startTime = process.hrtime.bigint();
    let rssPeak = 0;
    const rssSamples: number[] = [];
    const sampler = setInterval(() => {
      const r = process.memoryUsage().rss;
      rssSamples.push(r);
      rssPeak = Math.max(rssPeak, r);
    }, 250);
    await sleep(SECONDS * 1000);
    clearInterval(sampler);
    const seconds = Number(process.hrtime.bigint() - startTime) / 1e9;
    const cpu = process.cpuUsage(startCpu);
    const changes = count - startCount;
    const rate = changes / seconds;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const corePer10k = rate > 0 ? cpuSeconds / seconds / (rate / 10_000) : Number.NaN;
    const rss = Math.max(rssPeak, process.memoryUsage().rss);
    rssSamples.sort((a, b) => a - b);
    const rssMedian = rssSamples[Math.floor(rssSamples.length / 2)] ?? rss;
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    const offered = (SERVERS * VARIABLES * 1000) / RATE_MS;
    const items = SERVERS * VARIABLES;
    // memory model: baseline (stack loaded) + per monitored item + streaming (taken as proportional to the change rate)
    const perItem = Math.max(0, rssSubscribed - rssBaseline) / items;
    const flowMedian = Math.max(0, rssMedian - rssSubscribed);
    const flowPeak = Math.max(0, rss - rssSubscribed);
    const scale = 100_000 / Math.max(rate, 1e-9);
    const at = (itemCount: number, flow: number): number => (rssBaseline + perItem * itemCount + flow * scale) / MB;
    const heapPerItem = Math.max(0, heapSubscribed - heapBaseline) / items;

    console.log(`OPC UA: ${SERVERS} simulator processes × ${VARIABLES} variables every ${RATE_MS} ms (offered ${Math.round(offered)} changes/s), client = this process`);
    console.log(`  items subscribed and first values in ${subscribeSeconds.toFixed(1)} s`);
    console.log(`  received              ${Math.round(rate)} changes/s over ${seconds.toFixed(1)} s (${changes} changes; the servers, not the client, set this rate)`);
    console.log(`  client CPU            ${((cpuSeconds / seconds) * 100).toFixed(1)} % of one core → ${(corePer10k * 100).toFixed(1)} % of a core per 10k changes/s`);
    console.log(
      `  client RSS            ${(rssBaseline / MB).toFixed(0)} MB with node-opcua loaded; ${(rssSubscribed / MB).toFixed(0)} MB with ${items} items subscribed ` +
        `(${(perItem / 1024).toFixed(1)} KB per item); while streaming median ${(rssMedian / MB).toFixed(0)} MB, peak ${(rss / MB).toFixed(0)} MB; heap used after GC ${(heapAfter / MB).toFixed(0)} MB`,
    );
    console.log(`  client live heap      ${(heapBaseline / MB).toFixed(0)} MB → ${(heapSubscribed / MB).toFixed(0)} MB with the items (${(heapPerItem / 1024).toFixed(1)} KB per item after GC)`);
    console.log(`  EXTRAPOLATED to 100k changes/s — linear, NOT measured (from ${Math.round(rate)} changes/s over ${items} items, ×${scale.toFixed(1)}):`);
    console.log(`    CPU  ${(corePer10k * 10).toFixed(2)} cores (10 × the per-10k cost)`);
    console.log(
      `    RSS  10k items × 10 changes/s: ≈ ${at(10_000, flowMedian).toFixed(0)} MB (median-based; ${at(10_000, flowPeak).toFixed(0)} MB peak-based); ` +
        `100k items × 1 change/s: ≈ ${at(100_000, flowMedian).toFixed(0)} MB (${at(100_000, flowPeak).toFixed(0)} MB peak-based); target ≤ 400 MB`,
    );
    console.log(
      `    live heap for the items alone: 10k items ≈ ${((heapBaseline + heapPerItem * 10_000) / MB).toFixed(0)} MB, 100k items ≈ ${((heapBaseline + heapPerItem * 100_000) / MB).toFixed(0)} MB`,
    );
  } finally {
    await driver?.stop();
    await Promise.all(sims.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
