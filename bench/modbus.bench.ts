/**
 * Modbus polling throughput: 1,000 simulated devices × 100 holding registers polled every second
 * (target 100k points/s). The simulators run in child processes (their CPU is not counted); this process
 * runs the ModbusPoller (one TCP connection per device, 100 u16 points each, one 100-register read per
 * device per second) into a counting sink. Reports achieved points/s, this process's CPU (cores, from
 * process.cpuUsage) and peak RSS over the measured window.
 *
 * Default mode `pipeline`: the whole kernel — the protocol.modbus plugin loaded from a config, its samples
 * through normalize → the embedded durable bus (fsync interval) → the latest-value store consumer — and
 * the figures count records the consumer received. Mode `poller` (MODBUS_BENCH_MODE=poller) measures the
 * poller alone into a counting sink.
 *
 * Run alone: `node --import tsx bench/modbus.bench.ts`
 * Env: MODBUS_BENCH_MODE (pipeline), MODBUS_BENCH_DEVICES (1000), MODBUS_BENCH_REGISTERS (100), MODBUS_BENCH_SECONDS (20),
 *      MODBUS_BENCH_SIMULATORS (2 child processes: one per core of the 2-core machines), MODBUS_BENCH_INTERVAL_MS (1000).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ModbusPoller } from '../protocols/modbus/driver/modbus-poller.ts';
import { inlineConfig } from '../core/config/config-file.ts';
import type { JsonObject } from '../core/config/config-file.ts';
import { loadConfig } from '../core/config/config-loader.ts';
import { Kernel } from '../core/kernel.ts';
import type { ModbusDeviceConfig, ModbusPointConfig, ModbusSample } from '../protocols/modbus/driver/modbus-config.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEVICES = Number(process.env.MODBUS_BENCH_DEVICES ?? 1000);
const REGISTERS = Number(process.env.MODBUS_BENCH_REGISTERS ?? 100);
const SECONDS = Number(process.env.MODBUS_BENCH_SECONDS ?? 20);
const SIMULATORS = Number(process.env.MODBUS_BENCH_SIMULATORS ?? 2);
const INTERVAL_MS = Number(process.env.MODBUS_BENCH_INTERVAL_MS ?? 1000);
const WARMUP_MS = 3000;
const MODE = process.env.MODBUS_BENCH_MODE ?? 'pipeline';

interface Endpoint {
  host: string;
  port: number;
  unitId: number;
}

function startSimulator(devices: number): Promise<{ child: ChildProcess; endpoints: Endpoint[] }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, '../protocols/modbus/simulator/cli.ts'),
      '--devices',
      String(devices),
      '--base-port',
      '0',
      '--kind',
      'generic',
      '--registers',
      String(REGISTERS),
      '--tick-ms',
      '1000',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      const ready = JSON.parse(buf.slice(0, i)) as { event: string; devices: Endpoint[] };
      if (ready.event === 'ready') resolve({ child, endpoints: ready.devices });
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const per = Math.ceil(DEVICES / SIMULATORS);
  const sims = await Promise.all(
    Array.from({ length: SIMULATORS }, (_, i) => startSimulator(Math.min(per, DEVICES - i * per))).filter((_, i) => i * per < DEVICES),
  );
  const endpoints = sims.flatMap((s) => s.endpoints).slice(0, DEVICES);
  const points: ModbusPointConfig[] = Array.from({ length: REGISTERS }, (_, i) => ({ id: `r${i}`, table: 'holding', address: i }));
  const devices: ModbusDeviceConfig[] = endpoints.map((e, i) => ({
    id: `dev-${i}`,
    transport: { type: 'tcp', host: e.host, port: e.port },
    unitId: e.unitId,
    timeoutMs: 2000,
    pollGroups: [{ name: 'default', intervalMs: INTERVAL_MS }],
    points,
  }));

  let count = 0;
  let good = 0;
  let checksum = 0;
  let polls = 0;
  let failedPolls = 0;
  let pollSeconds = 0;
  let maxPoll = 0;
  const onPoll = (seconds: number, ok: boolean): void => {
    polls++;
    if (!ok) failedPolls++;
    pollSeconds += seconds;
    if (seconds > maxPoll) maxPoll = seconds;
  };
  let stop: () => Promise<void>;
  let counted: () => number;
  let dataDir: string | undefined;
  if (MODE === 'poller') {
    const sink = (samples: ModbusSample[]): void => {
      count += samples.length;
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i]!;
        if (s.quality.status === 'good') {
          good++;
          checksum = (checksum + (s.value as number)) | 0;
        }
      }
    };
    const poller = new ModbusPoller({ devices, onSamples: sink, onPoll: (_id, seconds, ok) => onPoll(seconds, ok) });
    poller.start();
    stop = () => poller.stop();
    counted = () => count;
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'em-modbus-bench-'));
    const config = loadConfig(
      inlineConfig({
        dataDir,
        log: { level: 'warn' },
        bus: { durable: true, fsync: 'interval' },
        api: { enabled: false },
        plugins: [{ id: 'protocol.modbus', config: { devices: devices as unknown as JsonObject[] } }],
      }),
    );
    const kernel = new Kernel(config, { defaultMetrics: false });
    await kernel.load();
    await kernel.start();
    const pollCount = kernel.metrics.polls;
    stop = () => kernel.stop();
    counted = () => kernel.latest.consumed;
    // polls and latency from the kernel's own metrics
    const readPolls = async (): Promise<void> => {
      const m = await pollCount.get();
      polls = m.values.reduce((n, v) => n + v.value, 0);
      failedPolls = m.values.filter((v) => v.labels.result === 'error').reduce((n, v) => n + v.value, 0);
      const h = await kernel.metrics.pollDuration.get();
      pollSeconds = h.values.find((v) => v.metricName === 'energymesh_poll_duration_seconds_sum')?.value ?? 0;
    };
    const timer = setInterval(() => void readPolls(), 500);
    const origStop = stop;
    stop = async () => {
      clearInterval(timer);
      await origStop();
    };
    good = 0;
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));

  const count0 = counted();
  const good0 = good;
  const polls0 = polls;
  const failed0 = failedPolls;
  pollSeconds = 0;
  maxPoll = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 200);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());

  const points_ = counted() - count0;
  const measuredPolls = polls - polls0;
  const result = {
    benchmark: MODE === 'poller' ? 'modbus-poller-only' : 'modbus-through-pipeline',
    devices: DEVICES,
    registersPerDevice: REGISTERS,
    intervalMs: INTERVAL_MS,
    simulatorProcesses: sims.length,
    seconds: Number(elapsed.toFixed(1)),
    pointsPerSecond: Math.round(points_ / elapsed),
    goodPointsPerSecond: Math.round((good - good0) / elapsed),
    targetPointsPerSecond: Math.round((DEVICES * REGISTERS * 1000) / INTERVAL_MS),
    cpuCores: Number(((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(3)),
    cpuUserCores: Number((cpu.user / 1e6 / elapsed).toFixed(3)),
    peakRssMB: Math.round(peakRss / 1048576),
    maxRssMBProcessLifetime: Math.round(process.resourceUsage().maxRSS / 1024),
    polls: measuredPolls,
    failedPolls: failedPolls - failed0,
    meanPollLatencyMs: Number(((pollSeconds / Math.max(1, measuredPolls)) * 1000).toFixed(2)),
    maxPollLatencyMs: Number((maxPoll * 1000).toFixed(1)),
    heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1048576),
    externalMB: Math.round(process.memoryUsage().external / 1048576),
    checksum,
  };
  console.log(
    `modbus (${result.benchmark}): ${result.pointsPerSecond} points/s of ${result.targetPointsPerSecond} target from ${DEVICES} devices × ${REGISTERS} registers; ` +
      `CPU ${result.cpuCores} cores, peak RSS ${result.peakRssMB} MB, poll latency mean ${result.meanPollLatencyMs} ms max ${result.maxPollLatencyMs} ms`,
  );
  console.log(JSON.stringify(result));
  await stop();
  for (const s of sims) s.child.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
