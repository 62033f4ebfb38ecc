/**
 * The real process: `energymesh start` with a durable bus, killed with SIGKILL while values stream,
 * then started again. Every record the log accepted is still there, per device in order with no
 * hole in its sequence numbers, and the restarted instance serves the API again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedBus } from '../../core/bus/embedded-bus.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { PACKAGE_ROOT } from '../../core/paths.ts';

interface Running {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

function startProcess(config: string): Promise<Running> {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'energymesh.mjs'), 'start', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ENERGYMESH_LOG_LEVEL: 'warn' },
  });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 20 s:\n${err}`)), 20_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += String(d);
      const m = /health: +(http:\/\/[^/]+)\/api\/v1\/health/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stderr: () => err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${err}`));
    });
  });
}

async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((r) => child.once('exit', r));
}

describe('energymesh start: kill -9 and restart', function () {
  this.timeout(60_000);
  let dir: string;
  let running: Running | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-e2e-'));
    writeFileSync(
      join(dir, 'energymesh.yaml'),
      [
        `dataDir: ${join(dir, 'data')}`,
        'bus: { durable: true, fsync: interval, fsyncIntervalMs: 50 }',
        'api: { port: 0, auth: { anonymousRole: viewer } }',
        'plugins:',
        `  - path: ${join(PACKAGE_ROOT, 'examples', 'plugin-template')}`,
        '    config:',
        '      devices:',
        '        - { id: feeder-1, intervalMs: 10 }',
        '        - { id: feeder-2, intervalMs: 10 }',
      ].join('\n'),
    );
  });

  after(async () => {
    if (running) {
      running.child.kill('SIGKILL');
      await waitExit(running.child);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no accepted record and comes back', async () => {
    running = await startProcess(join(dir, 'energymesh.yaml'));
    const health = (await (await fetch(`${running.url}/api/v1/health`)).json()) as { status: string };
    assert.equal(health.status, 'up');
    await new Promise((r) => setTimeout(r, 1500)); // let values stream
    running.child.kill('SIGKILL');
    await waitExit(running.child);

    running = await startProcess(join(dir, 'energymesh.yaml'));
    await new Promise((r) => setTimeout(r, 500));
    const devices = (await (await fetch(`${running.url}/api/v1/devices`)).json()) as { deviceId: string }[];
    assert.deepEqual(devices.map((d) => d.deviceId).sort(), ['feeder-1', 'feeder-2']);
    // graceful stop this time
    running.child.kill('SIGTERM');
    await waitExit(running.child);
    assert.equal(running.child.exitCode, 0, running.stderr());
    running = undefined;

    // read the whole telemetry log back
    const bus = new EmbeddedBus({ prefix: 'energymesh', durable: { dir: join(dir, 'data', 'bus'), fsync: 'never' } });
    await bus.start();
    const records: TelemetryRecord[] = [];
    const sub = await bus.subscribe<TelemetryRecord>('energymesh.telemetry', { group: 'test.reader', fromBeginning: true, maxBatch: 10_000 }, (batch) => {
      for (const m of batch) records.push(m.value);
    });
    let last = -1;
    while (records.length !== last) {
      last = records.length;
      await new Promise((r) => setTimeout(r, 300));
    }
    await sub.close();
    await bus.stop();

    assert.ok(records.length > 100, `enough records streamed (${records.length})`);
    for (const dev of ['feeder-1', 'feeder-2']) {
      const seqs = records.filter((r) => r.deviceId === dev).map((r) => r.seq);
      let runs = 1;
      for (let i = 1; i < seqs.length; i++) {
        const prev = seqs[i - 1] as number;
        const cur = seqs[i] as number;
        assert.ok(cur > prev, `${dev}: seq grows (${prev} then ${cur})`);
        if (cur !== prev + 1) runs++; // a new process run starts a new block of sequence numbers
      }
      assert.equal(runs, 2, `${dev}: two unbroken runs of sequence numbers (one per process), no hole inside a run`);
    }
  });
});
