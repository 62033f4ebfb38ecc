import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';

import { isEnergyMeshError } from '../errors.ts';
import { createLogger } from '../logging/logger.ts';
import type { Logger } from '../logging/logger.ts';
import type { BusMessage, PublishRecord } from './bus.ts';
import { EmbeddedBus } from './embedded-bus.ts';
import type { EmbeddedBusOptions } from './embedded-bus.ts';

interface Reading {
  deviceId: string;
  seq: number;
}

function readings(from: number, n: number, devices = 4): PublishRecord<Reading>[] {
  return Array.from({ length: n }, (_, i) => {
    const deviceId = `dev-${(from + i) % devices}`;
    return { key: deviceId, value: { deviceId, seq: from + i } };
  });
}

/** A logger whose JSON lines are kept for assertions. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const T = 'em.telemetry';

describe('embedded bus (in memory)', () => {
  let bus: EmbeddedBus;
  const make = async (extra: Partial<EmbeddedBusOptions> = {}): Promise<EmbeddedBus> => {
    bus = new EmbeddedBus({ prefix: 'em', ...extra });
    await bus.start();
    return bus;
  };
  afterEach(async () => {
    await bus.stop();
  });

  it('delivers every record once, in order, in batches of at most maxBatch, keeping per-key order', async () => {
    await make();
    const got: BusMessage<Reading>[] = [];
    const sizes: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'g', maxBatch: 64 }, (batch) => {
      sizes.push(batch.length);
      got.push(...batch);
    });
    for (let i = 0; i < 1000; i += 100) await bus.publish(T, readings(i, 100));
    await waitFor(() => got.length === 1000, '1000 records');
    assert.deepEqual(
      got.map((m) => m.value.seq),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.deepEqual(
      got.map((m) => m.offset),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.ok(Math.max(...sizes) <= 64);
    const perKey = new Map<string, number>();
    for (const m of got) {
      assert.equal(m.key, m.value.deviceId);
      assert.equal(m.topic, T);
      assert.ok((perKey.get(m.key) ?? -1) < m.value.seq, 'per-key order');
      perKey.set(m.key, m.value.seq);
    }
  });

  it('starts a new group at the end by default and at the oldest record with fromBeginning', async () => {
    await make();
    await bus.publish(T, readings(0, 10));
    const latest: number[] = [];
    const all: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'latest' }, (b) => void latest.push(...b.map((m) => m.value.seq)));
    await bus.subscribe<Reading>(T, { group: 'all', fromBeginning: true }, (b) => void all.push(...b.map((m) => m.value.seq)));
    await bus.publish(T, readings(10, 5));
    await waitFor(() => all.length === 15 && latest.length === 5, 'both groups');
    assert.deepEqual(latest, [10, 11, 12, 13, 14]);
    assert.deepEqual(all, Array.from({ length: 15 }, (_, i) => i));
  });

  it('delivers the same batch again after a handler throws, logs it, and commits only after success', async () => {
    const { logger, lines } = capturingLogger();
    await make({ logger, retry: { initialMs: 1, maxMs: 4 } });
    const deliveries: number[][] = [];
    let failuresLeft = 2;
    await bus.subscribe<Reading>(T, { group: 'flaky' }, (batch) => {
      deliveries.push(batch.map((m) => m.offset));
      if (failuresLeft-- > 0) throw new Error('database unavailable');
    });
    await bus.publish(T, readings(0, 3));
    await waitFor(() => deliveries.length === 3, 'three deliveries');
    assert.deepEqual(deliveries, [
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    const warnings = lines.filter((l) => /handler failed/.test(String(l.msg)));
    assert.equal(warnings.length, 2);
    assert.equal(warnings[0]?.group, 'flaky');
    await bus.publish(T, readings(3, 1));
    await waitFor(() => deliveries.length === 4, 'the next batch');
    assert.deepEqual(deliveries[3], [3], 'the failed batch was committed once it succeeded');
    assert.equal(bus.health().details?.[`${T}.group.flaky.redeliveries`], 2);
  });

  it('a stuck or failing group does not hold back the others', async () => {
    await make({ retry: { initialMs: 60_000 } });
    const release = deferred();
    let stuckCalls = 0;
    let failingCalls = 0;
    const fine: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'stuck' }, async () => {
      stuckCalls++;
      await release.promise;
    });
    await bus.subscribe<Reading>(T, { group: 'failing' }, () => {
      failingCalls++;
      throw new Error('always');
    });
    await bus.subscribe<Reading>(T, { group: 'fine' }, (b) => void fine.push(...b.map((m) => m.value.seq)));
    for (let i = 0; i < 500; i += 100) await bus.publish(T, readings(i, 100));
    await waitFor(() => fine.length === 500, 'the healthy group');
    assert.equal(stuckCalls, 1);
    assert.equal(failingCalls, 1, 'the failing group waits for its back-off');
    const health = bus.health();
    assert.equal(health.state, 'degraded');
    assert.match(health.reason ?? '', /group failing/);
    assert.equal(health.details?.[`${T}.group.stuck.lag`], 500);
    release.resolve();
  });

  it('gives a group to one subscriber at a time; a standby takes over from the committed position', async () => {
    await make();
    const first: number[] = [];
    const second: number[] = [];
    const a = await bus.subscribe<Reading>(T, { group: 'shared' }, (b) => void first.push(...b.map((m) => m.value.seq)));
    await bus.subscribe<Reading>(T, { group: 'shared' }, (b) => void second.push(...b.map((m) => m.value.seq)));
    await bus.publish(T, readings(0, 10));
    await waitFor(() => first.length === 10, 'the active subscriber');
    await a.close();
    await bus.publish(T, readings(10, 10));
    await waitFor(() => second.length === 10, 'the standby');
    assert.deepEqual(first, Array.from({ length: 10 }, (_, i) => i));
    assert.deepEqual(second, Array.from({ length: 10 }, (_, i) => i + 10));
  });

  it('a group that falls behind the ring gets a BUS_OVERRUN error with the count, not silent loss', async () => {
    const { logger, lines } = capturingLogger();
    await make({ logger, memory: { maxRecords: 100 } });
    const release = deferred();
    const got: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'slow', maxBatch: 10 }, async (b) => {
      got.push(...b.map((m) => m.value.seq));
      await release.promise;
    });
    await bus.publish(T, readings(0, 10));
    await waitFor(() => got.length === 10, 'the first batch');
    for (let i = 10; i < 300; i += 10) await bus.publish(T, readings(i, 10));
    release.resolve();
    await waitFor(() => got.length === 110, 'the retained records');
    assert.deepEqual(got.slice(10), Array.from({ length: 100 }, (_, i) => i + 200));
    const overrun = lines.find((l) => (l.err as { code?: string } | undefined)?.code === 'BUS_OVERRUN');
    assert.ok(overrun, 'BUS_OVERRUN logged');
    assert.equal(overrun.lost, 190);
    const health = bus.health();
    assert.equal(health.details?.[`${T}.group.slow.overrunRecords`], 190);
    assert.equal(health.details?.[`${T}.evictedRecords`], 200);
    assert.equal(health.state, 'degraded');
  });

  it('stop waits for the running handler, then refuses work with BUS_CLOSED', async () => {
    await make();
    const release = deferred();
    let finished = false;
    await bus.subscribe<Reading>(T, { group: 'g' }, async () => {
      await release.promise;
      finished = true;
    });
    await bus.publish(T, readings(0, 1));
    await waitFor(() => bus.health().details?.[`${T}.group.g.lag`] === 1, 'delivery');
    const stopping = bus.stop();
    setTimeout(release.resolve, 20);
    await stopping;
    assert.equal(finished, true);
    await assert.rejects(bus.publish(T, readings(1, 1)), (e: unknown) => isEnergyMeshError(e, 'BUS_CLOSED'));
    await assert.rejects(
      bus.subscribe(T, { group: 'x' }, () => undefined),
      (e: unknown) => isEnergyMeshError(e, 'BUS_CLOSED'),
    );
    assert.equal(bus.health().state, 'down');
  });

  it('stop gives up on a handler that never returns after stopTimeoutMs, without committing its batch', async () => {
    const { logger, lines } = capturingLogger();
    await make({ logger, stopTimeoutMs: 20 });
    let calls = 0;
    await bus.subscribe(T, { group: 'hung' }, () => {
      calls++;
      return new Promise<void>(() => undefined);
    });
    await bus.publish(T, readings(0, 1));
    await waitFor(() => calls === 1, 'delivery');
    await bus.stop();
    assert.equal(bus.health().state, 'down');
    assert.ok(lines.some((l) => /gave up waiting/.test(String(l.msg))));
  });

  it('refuses records without a string key with INVALID_ARGUMENT', async () => {
    await make();
    await assert.rejects(
      bus.publish(T, [{ key: 1 as unknown as string, value: 1 }]),
      (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(
      bus.subscribe(T, { group: '' }, () => undefined),
      (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(bus.publish('..', readings(0, 1)), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
  });
});

describe('embedded bus (durable)', () => {
  let dir: string;
  const buses: EmbeddedBus[] = [];
  const make = async (extra: Partial<EmbeddedBusOptions['durable']> = {}, options: Partial<EmbeddedBusOptions> = {}): Promise<EmbeddedBus> => {
    const bus = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync: 'never', ...extra }, ...options });
    buses.push(bus);
    await bus.start();
    return bus;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'em-bus-'));
  });
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [fsync, writes] of [
    ['always', 'sync'],
    ['interval', 'sync'],
    ['never', 'sync'],
    ['always', 'async'],
    ['never', 'async'],
  ] as const) {
    it(`fsync ${fsync}, ${writes} writes: a restarted bus resumes each group after its committed offset`, async () => {
      let bus = await make({ fsync, writes, fsyncIntervalMs: 5 });
      const got: number[] = [];
      let sub = await bus.subscribe<Reading>(T, { group: 'g' }, (b) => void got.push(...b.map((m) => m.value.seq)));
      await bus.publish(T, readings(0, 50));
      await waitFor(() => got.length === 50, 'first 50');
      await sub.close();
      await bus.publish(T, readings(50, 50));
      await bus.stop();

      bus = await make({ fsync, writes });
      const resumed: number[] = [];
      const all: number[] = [];
      const latest: number[] = [];
      sub = await bus.subscribe<Reading>(T, { group: 'g' }, (b) => void resumed.push(...b.map((m) => m.value.seq)));
      await bus.subscribe<Reading>(T, { group: 'new', fromBeginning: true }, (b) => void all.push(...b.map((m) => m.value.seq)));
      await bus.subscribe<Reading>(T, { group: 'late' }, (b) => void latest.push(...b.map((m) => m.value.seq)));
      await waitFor(() => resumed.length === 50 && all.length === 100, 'resumed and new group');
      assert.deepEqual(resumed, Array.from({ length: 50 }, (_, i) => i + 50));
      assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i));
      await bus.publish(T, readings(100, 1));
      await waitFor(() => latest.length === 1, 'latest group');
      assert.deepEqual(latest, [100]);
      const health = bus.health();
      assert.equal(health.state, 'up');
      assert.equal(health.details?.[`${T}.records`], 101);
      assert.ok(Number(health.details?.[`${T}.bytes`]) > 0);
    });
  }

  for (const writes of ['sync', 'async'] as const) {
    it(`stop() with publishes in flight (fsync always, ${writes} writes): each resolves, and all of them are on disk`, async () => {
      let bus = await make({ fsync: 'always', writes });
      const publishes = Array.from({ length: 20 }, (_, i) => bus.publish(T, readings(i * 100, 100)));
      await bus.stop();
      const outcomes = await Promise.allSettled(publishes);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        Array.from({ length: 20 }, () => 'fulfilled'),
      );
      bus = await make({ fsync: 'always', writes });
      assert.equal(bus.health().details?.[`${T}.endOffset`], 2000);
    });
  }

  it('a new group committed at subscribe time does not skip records published before a crash', async () => {
    const bus = await make();
    const release = deferred();
    await bus.subscribe(T, { group: 'g' }, () => release.promise); // does not finish before the "crash"
    await bus.publish(T, readings(0, 5));
    // simulate a crash: nothing is stopped; a second bus on a copy of the directory sees what is on disk
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'em-bus-copy-'));
    try {
      fs.cpSync(dir, copy, { recursive: true });
      fs.rmSync(path.join(copy, 'LOCK'));
      const after = new EmbeddedBus({ prefix: 'em', durable: { dir: copy, fsync: 'never' } });
      await after.start();
      const got: number[] = [];
      await after.subscribe<Reading>(T, { group: 'g' }, (b) => void got.push(...b.map((m) => m.value.seq)));
      await waitFor(() => got.length === 5, 'the records');
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
      await after.stop();
    } finally {
      release.resolve();
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('start fails with LOG_CORRUPT naming the file when a record in the middle is damaged', async () => {
    const bus = await make();
    for (let i = 0; i < 10; i++) await bus.publish(T, readings(i * 10, 10));
    await bus.stop();
    const segment = path.join(dir, encodeURIComponent(T), '00000000000000000000.seg');
    const bytes = fs.readFileSync(segment);
    bytes[200] = (bytes[200] as number) ^ 0x55;
    fs.writeFileSync(segment, bytes);
    const broken = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync: 'never' } });
    await assert.rejects(broken.start(), (e: unknown) => isEnergyMeshError(e, 'LOG_CORRUPT') && e.details.file === segment);
    assert.equal(fs.existsSync(path.join(dir, 'LOCK')), false, 'a failed start releases the lock');
  });

  it('refuses a second bus on the same directory with LOG_LOCKED', async () => {
    await make();
    const second = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync: 'never' } });
    await assert.rejects(second.start(), (e: unknown) => isEnergyMeshError(e, 'LOG_LOCKED'));
  });

  it('over maxBytes deletes old segments, logs how many unread records a group lost, and the group resumes', async () => {
    const { logger, lines } = capturingLogger();
    const bus = await make({ segmentBytes: 2000, retention: { maxBytes: 6000 } }, { logger, memory: { maxRecords: 20 } });
    const release = deferred();
    const got: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'slow', maxBatch: 10 }, async (b) => {
      got.push(...b.map((m) => m.value.seq));
      await release.promise;
    });
    for (let i = 0; i < 500; i += 10) await bus.publish(T, readings(i, 10));
    const health = bus.health();
    assert.ok(Number(health.details?.[`${T}.bytes`]) <= 6000 + 2000);
    assert.ok(Number(health.details?.[`${T}.startOffset`]) > 0);
    const dropped = Number(health.details?.[`${T}.retentionDroppedRecords`]);
    assert.ok(dropped > 0);
    assert.ok(lines.some((l) => l.group === 'slow' && /had not consumed/.test(String(l.msg))));
    release.resolve();
    await waitFor(() => got.includes(499), 'the newest record');
    const start = got.indexOf(got.find((s) => s >= 10) as number);
    const resumedAt = got[start] as number;
    assert.ok(resumedAt > 10, 'the group skipped to the oldest kept record');
    assert.deepEqual(got.slice(start), Array.from({ length: 500 - resumedAt }, (_, i) => i + resumedAt));
    assert.ok(lines.some((l) => (l.err as { code?: string } | undefined)?.code === 'BUS_OVERRUN'));
  });

  it('by age deletes only segments every group has consumed', async () => {
    const bus = await make({ segmentBytes: 1500, retention: { maxAgeMs: 0 }, retentionCheckMs: 5 }, { memory: { maxRecords: 10 } });
    const release = deferred();
    const got: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'g', maxBatch: 50 }, async (b) => {
      await release.promise;
      got.push(...b.map((m) => m.value.seq));
    });
    for (let i = 0; i < 200; i += 10) await bus.publish(T, readings(i, 10));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(bus.health().details?.[`${T}.startOffset`], 0, 'unconsumed segments are kept');
    release.resolve();
    await waitFor(() => got.length === 200, 'consumption');
    await waitFor(() => Number(bus.health().details?.[`${T}.startOffset`]) > 0, 'age retention');
    assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  });

  it('catches up from disk beyond the in-memory tail, in order', async () => {
    let bus = await make({ segmentBytes: 4096 }, { memory: { maxRecords: 16 } });
    for (let i = 0; i < 2000; i += 100) await bus.publish(T, readings(i, 100));
    await bus.stop();
    bus = await make({ segmentBytes: 4096 }, { memory: { maxRecords: 16 } });
    const got: number[] = [];
    await bus.subscribe<Reading>(T, { group: 'reader', fromBeginning: true, maxBatch: 333 }, (b) => void got.push(...b.map((m) => m.value.seq)));
    await bus.publish(T, readings(2000, 100));
    await waitFor(() => got.length === 2100, 'all records');
    assert.deepEqual(got, Array.from({ length: 2100 }, (_, i) => i));
  });

  it('refuses a value that is not JSON with INVALID_ARGUMENT and keeps the log usable', async () => {
    const bus = await make();
    await assert.rejects(bus.publish(T, [{ key: 'k', value: () => 1 }]), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    await bus.publish(T, readings(0, 1));
    assert.equal(bus.health().details?.[`${T}.endOffset`], 1);
  });
});
