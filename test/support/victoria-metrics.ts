/**
 * VictoriaMetrics for historian tests (Debian `victoria-metrics`): accepts InfluxDB v2 line protocol at
 * `/api/v2/write` and exports what it stored at `/api/v1/export`. Started on a free loopback port with a
 * temporary data dir; stop() keeps the data dir so start() again (same port) is "the TSDB back up".
 * With `INFLUX_URL` (and `INFLUX_TOKEN`) set, tests write to that InfluxDB instead (see `external`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One exported series. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export class VictoriaMetrics {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  /** Starts a fresh instance. `-dedup.minScrapeInterval=1ms` keeps one sample per series and millisecond. */
  static async start(): Promise<VictoriaMetrics> {
    const vm = new VictoriaMetrics(await freePort(), mkdtempSync(join(tmpdir(), 'em-vm-')));
    await vm.resume();
    return vm;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the process on the same port and data dir; resolves when it answers /health. */
  async resume(): Promise<void> {
    if (this.child !== null) return;
    const child = spawn(
      'victoria-metrics',
      [`-httpListenAddr=127.0.0.1:${this.port}`, `-storageDataPath=${this.dataDir}`, '-dedup.minScrapeInterval=1ms', '-search.latencyOffset=0s', '-loggerLevel=ERROR'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    this.child = child;
    const end = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`victoria-metrics exited with ${child.exitCode}: ${stderr}`);
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) throw new Error(`victoria-metrics did not answer within 20 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the process (the TSDB is down); the data dir stays. */
  async halt(): Promise<void> {
    const c = this.child;
    if (c === null) return;
    this.child = null;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Every series whose name matches `nameRegex`, after flushing recent writes to searchable storage. */
  async export(nameRegex: string): Promise<ExportedSeries[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const q = new URLSearchParams({ 'match[]': `{__name__=~"${nameRegex}"}` });
    const r = await fetch(`${this.url}/api/v1/export?${q.toString()}`);
    if (!r.ok) throw new Error(`export failed: ${r.status} ${await r.text()}`);
    const text = await r.text();
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as ExportedSeries);
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
