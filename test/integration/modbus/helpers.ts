/**
 * Helpers for the Modbus integration tests: the pymodbus fixture server as a child process, waiting
 * for conditions, collecting samples. Everything listens on 127.0.0.1 on free ports.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModbusSample } from '../../../protocols/modbus/driver/modbus-config.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES = path.resolve(here, '../../fixtures/modbus');

export interface LayoutEntry {
  id: string;
  address: number;
  type: 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'string';
  byteOrder: 'big' | 'little';
  wordOrder: 'big' | 'little';
  value: number | string;
  length?: number;
}

export interface Layout {
  holding: LayoutEntry[];
  input: LayoutEntry[];
  bitRegister: { address: number; raw: number };
  coils: { address: number; values: number[] };
  discrete: { address: number; values: number[] };
  writeBase: number;
  units: {
    normal: number[];
    illegalAddress: number;
    deviceFailure: number;
    silent: number;
    shortResponse: number;
    wrongUnit: number;
    wrongTransaction: number;
    badByteCount: number;
  };
}

export const LAYOUT = JSON.parse(readFileSync(path.join(FIXTURES, 'pymodbus-layout.json'), 'utf8')) as Layout;

/** The pymodbus server script run by Debian's python. */
export class PymodbusServer {
  port = 0;
  private child: ChildProcessWithoutNullStreams | undefined;
  private lines: string[] = [];
  private waiters: ((line: string) => void)[] = [];
  private stderr = '';

  static async start(options: { port?: number; framer?: 'socket' | 'rtu' } = {}): Promise<PymodbusServer> {
    const s = new PymodbusServer();
    await s.spawn(options.port ?? 0, options.framer ?? 'socket');
    return s;
  }

  private spawn(port: number, framer: string): Promise<void> {
    const args = [path.join(FIXTURES, 'pymodbus_server.py'), '--port', String(port), '--framer', framer];
    const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.lines = [];
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    child.stdin.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pymodbus did not start: ${this.stderr}`)), 15_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`pymodbus exited with ${code}: ${this.stderr}`));
      });
      void this.nextLine().then((line) => {
        clearTimeout(timer);
        const m = /^READY (\d+)$/.exec(line);
        if (!m) reject(new Error(`unexpected pymodbus output ${line}`));
        else {
          this.port = Number(m[1]);
          resolve();
        }
      });
    });
  }

  private nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Sends one command and returns its JSON answer. */
  async command(line: string): Promise<unknown> {
    this.child!.stdin.write(line + '\n');
    const answer = JSON.parse(await this.nextLine()) as unknown;
    if (answer && typeof answer === 'object' && 'error' in answer) throw new Error(`pymodbus: ${String(answer.error)}`);
    return answer;
  }

  /** Kills the process (SIGKILL) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Starts again on the same port. */
  async restart(framer: 'socket' | 'rtu' = 'socket'): Promise<void> {
    await this.kill();
    await this.spawn(this.port, framer);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.stdin.end();
    });
  }
}

/** Waits until `check` returns truthy (polling every 20 ms) or fails after `ms`. */
export async function waitFor<T>(check: () => T | undefined | false | null, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects samples and keeps the latest per device/point. */
export class SampleLog {
  readonly all: ModbusSample[] = [];
  readonly latest = new Map<string, ModbusSample>();
  readonly push = (samples: readonly ModbusSample[]): void => {
    for (const s of samples) {
      this.all.push(s);
      this.latest.set(`${s.deviceId}/${s.pointId}`, s);
    }
  };
  get(deviceId: string, pointId: string): ModbusSample | undefined {
    return this.latest.get(`${deviceId}/${pointId}`);
  }
  count(deviceId: string, since = 0): number {
    return this.all.filter((s) => s.deviceId === deviceId && s.ts >= since).length;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
