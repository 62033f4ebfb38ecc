/**
 * The durable embedded bus under kill -9: a child process publishes (or consumes) and is killed with
 * SIGKILL mid-stream; the test reopens the log and checks that nothing acknowledged was lost.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { BusMessage } from '../../../core/bus/bus.ts';
import { EmbeddedBus } from '../../../core/bus/embedded-bus.ts';
import type { FsyncPolicy } from '../../../core/bus/durable-log.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOPIC = 'em.telemetry';

interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

function startChild(script: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], {
    cwd: path.resolve(here, '../../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && code !== 0) lines.push(`exited ${code} ${signal}: ${stderr}`);
  });
  return { process: child, lines, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function kill(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  await child.exited;
}

/** Reads the whole topic with a fresh group, until the group has no lag. */
async function readAll(bus: EmbeddedBus, group: string): Promise<BusMessage<{ seq: number }>[]> {
  const got: BusMessage<{ seq: number }>[] = [];
  const sub = await bus.subscribe<{ seq: number }>(TOPIC, { group, fromBeginning: true }, (b) => void got.push(...b));
  await waitFor(() => bus.health().details?.[`${TOPIC}.group.${group}.lag`] === 0, `${group} to catch up`);
  await sub.close();
  return got;
}

describe('durable embedded bus survives kill -9', function () {
  this.timeout(40_000);
  let dir: string;
  let child: Child | undefined;
  let bus: EmbeddedBus | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'em-bus-kill-'));
  });
  afterEach(async () => {
    if (child) await kill(child);
    child = undefined;
    await bus?.stop();
    bus = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [fsync, writes] of [
    ['never', 'sync'],
    ['interval', 'sync'],
    ['always', 'sync'],
    ['never', 'async'],
    ['always', 'async'],
  ] as [FsyncPolicy, string][]) {
    it(`fsync ${fsync}, ${writes} writes: every acknowledged record is there after SIGKILL, in order, once, and the log stays usable`, async () => {
      child = startChild('publisher.child.ts', [dir, fsync, '100', writes]);
      const target = fsync === 'always' ? 3000 : 30_000;
      const lastAck = (): number => {
        for (let i = child!.lines.length - 1; i >= 0; i--) {
          const m = /^ack (\d+)$/.exec(child!.lines[i] as string);
          if (m) return Number(m[1]);
        }
        return -1;
      };
      await waitFor(() => lastAck() >= target || child!.lines.some((l) => l.startsWith('exited')), 'acknowledged records');
      assert.ok(!child.lines.some((l) => l.startsWith('exited')), child.lines.join('\n'));
      await kill(child); // mid-stream: the child is publishing as fast as it can
      const acknowledged = lastAck(); // lines after the kill cannot arrive any more
      assert.ok(acknowledged >= target);

      bus = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync, segmentBytes: 256 * 1024 } });
      await bus.start(); // scans the log and truncates a torn tail if the kill cut a write
      const got = await readAll(bus, 'check');
      assert.ok(got.length >= acknowledged + 1, `have ${got.length} records, ${acknowledged + 1} were acknowledged`);
      for (let i = 0; i < got.length; i++) {
        const m = got[i] as BusMessage<{ seq: number }>;
        if (m.value.seq !== i || m.offset !== i) assert.fail(`record ${i} has seq ${m.value.seq} at offset ${m.offset}`);
      }
      // Usable afterwards: append and consume.
      const after: number[] = [];
      await bus.subscribe<{ seq: number }>(TOPIC, { group: 'after' }, (b) => void after.push(...b.map((m) => m.value.seq)));
      await bus.publish(TOPIC, [{ key: 'dev-x', value: { seq: got.length } }]);
      await waitFor(() => after.length === 1, 'the new record');
      assert.deepEqual(after, [got.length]);
      await bus.stop();
      bus = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync } });
      await bus.start();
      assert.equal(bus.health().details?.[`${TOPIC}.endOffset`], got.length + 1);
    });
  }

  it('a consumer group killed mid-stream resumes after its committed offset: no loss, duplicates only of the last batch', async () => {
    const total = 5000;
    bus = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync: 'never' } });
    await bus.start();
    for (let i = 0; i < total; i += 100) {
      await bus.publish(
        TOPIC,
        Array.from({ length: 100 }, (_, j) => ({ key: `dev-${(i + j) % 5}`, value: { seq: i + j } })),
      );
    }
    await bus.stop();
    bus = undefined;

    child = startChild('consumer.child.ts', [dir, 'never']);
    const batches = (): [number, number][] =>
      child!.lines.flatMap((l) => {
        const m = /^batch (\d+) (\d+)$/.exec(l);
        return m ? [[Number(m[1]), Number(m[2])] as [number, number]] : [];
      });
    await waitFor(() => batches().length >= 20 || child!.lines.some((l) => l.startsWith('exited')), 'the child to consume');
    await kill(child);
    const seen = batches();
    assert.ok(seen.length >= 20, child.lines.join('\n'));
    const last = seen[seen.length - 1] as [number, number];
    assert.ok(last[1] < total - 1, 'killed mid-stream');
    seen.forEach(([first], i) => assert.equal(first, i === 0 ? 0 : (seen[i - 1] as [number, number])[1] + 1, 'the child saw batches in order'));

    bus = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync: 'never' } });
    await bus.start();
    const resumed: number[] = [];
    await bus.subscribe<{ seq: number }>(TOPIC, { group: 'g' }, (b) => void resumed.push(...b.map((m) => m.value.seq)));
    await waitFor(() => resumed[resumed.length - 1] === total - 1, 'the rest');
    const first = resumed[0] as number;
    assert.ok(first === last[0] || first === last[1] + 1, `resumed at ${first}; the last batch handled was ${last[0]}..${last[1]}`);
    assert.deepEqual(
      resumed,
      Array.from({ length: total - first }, (_, i) => first + i),
    );
  });
});
