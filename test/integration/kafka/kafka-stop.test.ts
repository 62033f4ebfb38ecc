/**
 * Stopping the bus while no broker is reachable: kafkajs 2.2.4 could spin synchronously in its fetch loop
 * (see plugins/bus-kafka/fetch-loop-guard.ts), hanging the process. The stops run in a child process, so a
 * spin there shows here as a child that stops answering (and is killed, with its brokers) instead of hanging
 * the test runner; the records accepted before the stop are then replayed from the spool into a new broker.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import type { TelemetryRecord } from '../../../core/model/telemetry.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import type { KafkaBus } from '../../../plugins/bus-kafka/kafka-bus.ts';
import { startKafka } from '../../support/kafka-mock.ts';
import type { KafkaCluster } from '../../support/kafka-mock.ts';
import { assertCompleteInOrder, makeBus, testConfig, until } from './helpers.ts';

const CHILD = resolve(PACKAGE_ROOT, 'test', 'integration', 'kafka', 'stop-child.ts');
/** From the broker's death to the stop's return. Generous: a stop takes ~1 s here (the bus bounds it at ~25 s when kafkajs is slow but not spinning). */
const STOP_DEADLINE_MS = 40_000;

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('kafka bus: stop while the broker is dead (librdkafka mock cluster via kcat)', function () {
  this.timeout(240_000);
  let dir: string;
  let child: ChildProcess | undefined;
  const kcatPids: number[] = [];
  const buses: KafkaBus[] = [];
  const clusters: KafkaCluster[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-kafka-stop-'));
  });
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const c = child;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGKILL');
      await exited;
    }
    child = undefined;
    for (const pid of kcatPids.splice(0)) killPid(pid);
    for (const b of buses.splice(0)) await b.stop();
    for (const c of clusters.splice(0)) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bus.stop() returns when it comes while kafkajs rebuilds its fetchers after the broker process was killed (3 × 4 buses); the spool keeps every accepted record', async function () {
    if (process.env.KAFKA_BROKERS) this.skip(); // needs brokers it can kill
    const cycles = 3;
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ dataDir: dir, cycles, buses: 4, delaysMs: [250, 300, 350, 400] })], {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = proc;
    const lines: string[] = [];
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      lines.push(l);
      if (l.startsWith('kcat ')) kcatPids.push(Number(l.slice(5)));
    });
    const stops: { accepted: number; forwarded: number }[] = [];
    for (let cycle = 0; cycle < cycles; cycle++) {
      await until(`cycle ${cycle}: the child killed its broker`, () => lines.includes(`killed ${cycle}`), 90_000);
      const end = Date.now() + STOP_DEADLINE_MS;
      let stopped: string | undefined;
      while ((stopped = lines.find((l) => l.startsWith(`stopped ${cycle} `))) === undefined) {
        assert.ok(proc.exitCode === null, `the child exited (${String(proc.exitCode)}) before stop ${cycle} returned`);
        if (Date.now() > end) assert.fail(`cycle ${cycle}: bus.stop() did not return after the broker was killed (the child hangs: kafkajs fetch-loop spin)`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const [, , accepted, forwarded] = stopped.split(' ').map(Number);
      stops.push({ accepted: accepted as number, forwarded: forwarded as number });
    }
    await until('the child finished', () => lines.includes('done'), 10_000);

    // Nothing accepted is lost: the last cycle's spool replays into a new broker exactly the records the dead
    // broker had not acknowledged, in order per device.
    const last = stops[cycles - 1] as { accepted: number; forwarded: number };
    const cluster = await startKafka();
    clusters.push(cluster);
    const prefix = `stop${cycles - 1}`;
    const topic = `${prefix}.telemetry`;
    const bus = makeBus(prefix, join(dir, String(cycles - 1), 'pub'), testConfig(cluster.brokers));
    buses.push(bus);
    await bus.start();
    const backlog = Number(bus.health().details?.[`${topic}.spooled`]);
    assert.equal(backlog, last.accepted - last.forwarded, 'the spool holds every accepted record Kafka did not acknowledge');
    assert.ok(backlog > 0, 'records were accepted during the outage');
    const seen: TelemetryRecord[] = [];
    await bus.subscribe<TelemetryRecord>(topic, { group: 'verify', fromBeginning: true, dedup: true }, (b) => {
      for (const m of b) seen.push(m.value);
    });
    await until('the spool replayed into the new broker', () => seen.length >= backlog, 60_000);
    const expected = new Map<string, number[]>();
    for (let s = last.forwarded; s < last.accepted; s++) {
      const l = expected.get(`dev-${s % 5}`) ?? [];
      l.push(s);
      expected.set(`dev-${s % 5}`, l);
    }
    assertCompleteInOrder(seen, expected);
    assert.equal(seen.length, backlog);
  });
});
