/**
 * Modbus polling throughput: 1,000 simulated devices × 100 holding registers polled every second
 * (target 100k points/s). The simulators run in child processes (their CPU is not counted); this process
 * runs the ModbusPoller (one TCP connection per device, 100 u16 points each, one 100-register read per
 * device per second) into a counting sink. Reports achieved points/s, this process's CPU (cores, from
 * process.cpuUsage) and peak RSS over the measured window.
 *
 * Run alone: `node --import tsx bench/modbus.bench.ts`
 * Env: MODBUS_BENCH_DEVICES (1000), MODBUS_BENCH_REGISTERS (100), MODBUS_BENCH_SECONDS (20),
 *      MODBUS_BENCH_SIMULATORS (2 child processes: one per core of the 2-core machines), MODBUS_BENCH_INTERVAL_MS (1000).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModbusPoller } from '../protocols/modbus/driver/modbus-poller.ts';
import type { ModbusDeviceConfig, ModbusPointConfig, ModbusSample } from '../protocols/modbus/driver/modbus-config.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEVICES = Number(process.env.MODBUS_BENCH_DEVICES ?? 1000);
const REGISTERS = Number(process.env.MODBUS_BENCH_REGISTERS ?? 100);
const SECONDS = Number(process.env.MODBUS_BENCH_SECONDS ?? 20);
const SIMULATORS = Number(process.env.MODBUS_BENCH_SIMULATORS ?? 2);
const INTERVAL_MS = Number(process.env.MODBUS_BENCH_INTERVAL_MS ?? 1000);
const WARMUP_MS = 3000;

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
  const poller = new ModbusPoller({
    devices,
    onSamples: sink,
    onPoll: (_id, seconds, ok) => {
      polls++;
      if (!ok) failedPolls++;
      pollSeconds += seconds;
      if (seconds > maxPoll) maxPoll = seconds;
    },
  });
  poller.start();
  await new Promise((r) => setTimeout(r, WARMUP_MS));

  const count0 = count;
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

  const points_ = count - count0;
  const measuredPolls = polls - polls0;
  const result = {
    benchmark: 'modbus-poll',
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
    `modbus: ${result.pointsPerSecond} points/s of ${result.targetPointsPerSecond} target from ${DEVICES} devices × ${REGISTERS} registers; ` +
      `CPU ${result.cpuCores} cores, peak RSS ${result.peakRssMB} MB, poll latency mean ${result.meanPollLatencyMs} ms max ${result.maxPollLatencyMs} ms`,
  );
  console.log(JSON.stringify(result));
  await poller.stop();
  for (const s of sims) s.child.kill('SIGTERM');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
