/**
 * Embedded bus throughput: records/s from publish (batches of 100 small telemetry records) through to a
 * consumer group, in memory and durable with fsync never / interval / always, plus peak RSS.
 * Also compares two payload encodings of the durable log (binary header + JSON value, as used, against
 * JSON of {key, value, timestamp}).
 *
 * Run alone: `npx tsx bench/bus.bench.ts` (BUS_BENCH_RECORDS=N to change the volume).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';

import { EmbeddedBus } from '../core/bus/embedded-bus.ts';
import type { FsyncPolicy } from '../core/bus/durable-log.ts';
import { FrameEncoder, decodeFrameAt, isFrameProblem, readRecord } from '../core/bus/record-codec.ts';

const BATCH = 100;
const TOPIC = 'bench.telemetry';

interface Telemetry {
  deviceId: string;
  pointId: string;
  ts: number;
  receivedAt: number;
  value: number;
  quality: { status: 'good' };
  protocol: string;
  seq: number;
}

function makeBatch(from: number): { key: string; value: Telemetry }[] {
  const now = Date.now();
  const out = new Array<{ key: string; value: Telemetry }>(BATCH);
  for (let i = 0; i < BATCH; i++) {
    const n = from + i;
    const deviceId = `inverter-${n % 1000}`;
    out[i] = {
      key: deviceId,
      value: { deviceId, pointId: `W.${n % 100}`, ts: now, receivedAt: now, value: n * 0.5, quality: { status: 'good' }, protocol: 'modbus', seq: n },
    };
  }
  return out;
}

interface Result {
  mode: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Records per second of CPU time used by this process (robust when other processes share the machine). */
  recordsPerCpuSecond: number;
  peakRssMb: number;
  bytesPerRecord?: number;
}

/** Publishes `total` records with up to `inFlight` concurrent publishes and waits until the consumer has them all. */
async function measure(mode: string, fsync: FsyncPolicy | null, total: number, inFlight: number, writes: 'sync' | 'async' = 'sync'): Promise<Result> {
  const dir = fsync ? fs.mkdtempSync(path.join(os.tmpdir(), 'em-bus-bench-')) : null;
  const bus = new EmbeddedBus({ prefix: 'bench', durable: dir && fsync ? { dir, fsync, writes, retention: {} } : undefined, memory: dir ? undefined : { maxRecords: 200_000 } });
  await bus.start();
  let consumed = 0;
  let done!: () => void;
  const allConsumed = new Promise<void>((r) => (done = r));
  await bus.subscribe<Telemetry>(TOPIC, { group: 'bench' }, (batch) => {
    consumed += batch.length;
    if (consumed >= total) done();
  });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let next = 0;
  const producer = async (): Promise<void> => {
    for (let n = 1; next < total; n++) {
      const from = next;
      next += BATCH;
      await bus.publish(TOPIC, makeBatch(from));
      // Real publishers are driven by I/O: give the event loop a turn now and then.
      if (n % 10 === 0) await new Promise<void>((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, producer));
  await allConsumed;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const health = bus.health();
  await bus.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  const bytes = Number(health.details?.[`${TOPIC}.bytes`] ?? 0);
  return {
    mode,
    records: total,
    seconds: Math.round(seconds * 1000) / 1000,
    recordsPerSecond: Math.round(total / seconds),
    recordsPerCpuSecond: Math.round(total / cpuSeconds),
    peakRssMb: Math.round(peakRss / 1024 / 1024),
    ...(bytes > 0 ? { bytesPerRecord: Math.round(bytes / total) } : {}),
  };
}

/** Offers `rate` records/s in batches of 100 for `seconds`; reports CPU use, RSS and consumer lag. */
async function paced(mode: string, fsync: FsyncPolicy | null, rate: number, seconds: number, writes: 'sync' | 'async' = 'sync'): Promise<Record<string, string | number>> {
  const dir = fsync ? fs.mkdtempSync(path.join(os.tmpdir(), 'em-bus-bench-')) : null;
  const bus = new EmbeddedBus({ prefix: 'bench', durable: dir && fsync ? { dir, fsync, writes, retention: {} } : undefined });
  await bus.start();
  let consumed = 0;
  await bus.subscribe<Telemetry>(TOPIC, { group: 'bench' }, (batch) => {
    consumed += batch.length;
  });
  let peakRss = process.memoryUsage().rss;
  const cpuStart = process.cpuUsage();
  const started = Date.now();
  let published = 0;
  // Like many devices polled at once: up to 64 publishes in flight, at most 10 started per event-loop turn.
  const inFlight = new Set<Promise<void>>();
  while (Date.now() - started < seconds * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    for (let i = 0; i < 10 && published + BATCH <= due && inFlight.size < 64; i++) {
      const p: Promise<void> = bus.publish(TOPIC, makeBatch(published)).finally(() => inFlight.delete(p));
      inFlight.add(p);
      published += BATCH;
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (inFlight.size >= 64) await Promise.race(inFlight);
    else if (published + BATCH <= due) await new Promise<void>((r) => setImmediate(r));
    else await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  const wall = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const lagAtEnd = published - consumed;
  await bus.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  return {
    mode,
    offeredPerSecond: rate,
    achievedPerSecond: Math.round(published / wall),
    cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    peakRssMb: Math.round(peakRss / 1024 / 1024),
    consumerLagAtEnd: lagAtEnd,
  };
}

/** Encode + decode cost of the two candidate payload formats, records/s on one core. */
type Batches = { key: string; value: Telemetry }[][];
interface EncodingResult {
  format: string;
  encodePerSecond: number;
  decodePerSecond: number;
  bytesPerRecord: number;
}

function compareEncodings(total: number): EncodingResult[] {
  const batches: Batches = Array.from({ length: total / BATCH }, (_, i) => makeBatch(i * BATCH));
  // Alternate the two, three rounds each, and keep each one's best round (the first rounds warm the JIT).
  const best = new Map<string, EncodingResult>();
  for (let round = 0; round < 3; round++) {
    for (const r of [binaryHeaderFormat(batches, total), jsonFormat(batches, total)]) {
      const prev = best.get(r.format);
      best.set(r.format, {
        ...r,
        encodePerSecond: Math.max(r.encodePerSecond, prev?.encodePerSecond ?? 0),
        decodePerSecond: Math.max(r.decodePerSecond, prev?.decodePerSecond ?? 0),
      });
    }
  }
  return [...best.values()];
}

/** (a) binary header + JSON value (the format in use). */
function binaryHeaderFormat(batches: Batches, total: number): EncodingResult {
  {
    const enc = new FrameEncoder();
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    const frames: Buffer[] = [];
    for (let i = 0; i < batches.length; i++) {
      const { bytes: b } = enc.encode(batches[i] as { key: string; value: Telemetry }[], i * BATCH, 1);
      bytes += b.length;
      if (i < 100) frames.push(Buffer.from(b));
    }
    const t1 = process.hrtime.bigint();
    let decoded = 0;
    for (let round = 0; decoded < total; round++) {
      const buf = frames[round % frames.length] as Buffer;
      for (let p = 0; p < buf.length; ) {
        const info = decodeFrameAt(buf, p);
        if (isFrameProblem(info)) throw new Error('bench: bad frame');
        readRecord(buf, info);
        p = info.end;
        decoded++;
      }
    }
    const t2 = process.hrtime.bigint();
    return {
      format: 'binary header + JSON value',
      encodePerSecond: Math.round(total / (Number(t1 - t0) / 1e9)),
      decodePerSecond: Math.round(decoded / (Number(t2 - t1) / 1e9)),
      bytesPerRecord: Math.round(bytes / total),
    };
  }
}

/** (b) JSON of {key, value, timestamp, offset} framed the same way. */
function jsonFormat(batches: Batches, total: number): EncodingResult {
  {
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    const frames: Buffer[] = [];
    for (let i = 0; i < batches.length; i++) {
      const parts: Buffer[] = [];
      const batch = batches[i] as { key: string; value: Telemetry }[];
      for (let j = 0; j < batch.length; j++) {
        const r = batch[j] as { key: string; value: Telemetry };
        const payload = Buffer.from(JSON.stringify({ key: r.key, value: r.value, timestamp: 1, offset: i * BATCH + j }));
        const header = Buffer.allocUnsafe(8);
        header.writeUInt32LE(payload.length, 0);
        header.writeUInt32LE(crc32(payload), 4);
        parts.push(header, payload);
      }
      const b = Buffer.concat(parts);
      bytes += b.length;
      if (i < 100) frames.push(b);
    }
    const t1 = process.hrtime.bigint();
    let decoded = 0;
    for (let round = 0; decoded < total; round++) {
      const buf = frames[round % frames.length] as Buffer;
      for (let p = 0; p < buf.length; ) {
        const length = buf.readUInt32LE(p);
        const payload = buf.subarray(p + 8, p + 8 + length);
        if (crc32(payload) !== buf.readUInt32LE(p + 4)) throw new Error('bench: bad crc');
        JSON.parse(payload.toString('utf8'));
        p += 8 + length;
        decoded++;
      }
    }
    const t2 = process.hrtime.bigint();
    return {
      format: 'JSON {key, value, timestamp, offset}',
      encodePerSecond: Math.round(total / (Number(t1 - t0) / 1e9)),
      decodePerSecond: Math.round(decoded / (Number(t2 - t1) / 1e9)),
      bytesPerRecord: Math.round(bytes / total),
    };
  }
}

/** The scenarios; each runs in a child process of its own so RSS figures do not carry over. */
const SCENARIOS: Record<string, (total: number) => Promise<object>> = {
  memory: (n) => measure('memory', null, n, 1),
  never: (n) => measure('durable fsync=never', 'never', n, 1),
  neverAsync: (n) => measure('durable fsync=never, async writes', 'never', n, 1, 'async'),
  interval: (n) => measure('durable fsync=interval (200 ms)', 'interval', n, 1),
  always1: (n) => measure('durable fsync=always, 1 publisher', 'always', Math.min(n, 50_000), 1),
  always16: (n) => measure('durable fsync=always, 16 concurrent publishers', 'always', Math.min(n, 200_000), 16),
  pacedMemory: () => paced('memory', null, 100_000, 3),
  pacedNever: () => paced('durable fsync=never', 'never', 100_000, 3),
  pacedNeverAsync: () => paced('durable fsync=never, async writes', 'never', 100_000, 3, 'async'),
  pacedInterval: () => paced('durable fsync=interval', 'interval', 100_000, 3),
  pacedIntervalAsync: () => paced('durable fsync=interval, async writes', 'interval', 100_000, 3, 'async'),
  pacedAlways: () => paced('durable fsync=always', 'always', 100_000, 3),
  pacedAlwaysAsync: () => paced('durable fsync=always, async writes', 'always', 100_000, 3, 'async'),
};

function runScenario(name: string, total: number): Promise<object> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--scenario', name, String(total)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`bus bench scenario ${name} exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as object);
    });
  });
}

export async function run(): Promise<void> {
  const total = Number(process.env.BUS_BENCH_RECORDS ?? 500_000);
  console.log(`bus bench: telemetry records in batches of ${BATCH}, publish → one consumer group (node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)})`);
  const rows = [];
  for (const name of ['memory', 'never', 'neverAsync', 'interval', 'always1', 'always16']) rows.push(await runScenario(name, total));
  console.table(rows);
  console.log('paced at 100k records/s for 3 s (the pipeline target):');
  const pacedRows = [];
  for (const name of ['pacedMemory', 'pacedNever', 'pacedNeverAsync', 'pacedInterval', 'pacedIntervalAsync', 'pacedAlways', 'pacedAlwaysAsync']) pacedRows.push(await runScenario(name, total));
  console.table(pacedRows);
  console.log('payload encoding (encode into frames / check CRC + decode), one core:');
  console.table(compareEncodings(Math.min(total, 200_000)));
}

const scenarioFlag = process.argv.indexOf('--scenario');
if (scenarioFlag > 0) {
  const name = process.argv[scenarioFlag + 1] ?? '';
  const scenario = SCENARIOS[name];
  if (scenario === undefined) throw new Error(`unknown bus bench scenario ${name}`);
  console.log(JSON.stringify(await scenario(Number(process.argv[scenarioFlag + 2] ?? 500_000))));
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
