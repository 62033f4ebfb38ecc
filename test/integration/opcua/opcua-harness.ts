/**
 * Test harness: the DER simulator in a child process on a free loopback port, a TCP proxy that can
 * cut connections, a server that hangs up, and polling helpers. Everything stops what it started.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../../core/paths.ts';

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

export interface SimulatorArgs {
  port: number;
  pkiDir: string;
  rateMs?: number;
  variables?: number;
  maxItemsPerCall?: number;
  maxItemsPerSubscription?: number;
  staticSourceTime?: number;
  users?: string[];
}

/** A simulator child process. */
export class SimulatorProcess {
  private proc: ChildProcess | undefined;
  endpointUrl = '';

  constructor(readonly args: SimulatorArgs) {}

  private everStarted = false;

  /** Starts the simulator; on its first start a port taken meanwhile by another process is replaced by a fresh one. */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawn();
        this.everStarted = true;
        return;
      } catch (e) {
        if (this.everStarted || attempt >= 3 || !/EADDRINUSE/.test((e as Error).message)) throw e;
        this.args.port = await freePort();
      }
    }
  }

  private async spawn(): Promise<void> {
    const a = this.args;
    const argv = ['--import', 'tsx', join(PACKAGE_ROOT, 'protocols/opcua/simulator/cli.ts'), '--port', String(a.port), '--pki', a.pkiDir, '--exit-on-stdin-close'];
    if (a.rateMs !== undefined) argv.push('--rate-ms', String(a.rateMs));
    if (a.variables !== undefined) argv.push('--variables', String(a.variables));
    if (a.maxItemsPerCall !== undefined) argv.push('--max-items-per-call', String(a.maxItemsPerCall));
    if (a.maxItemsPerSubscription !== undefined) argv.push('--max-items-per-subscription', String(a.maxItemsPerSubscription));
    if (a.staticSourceTime !== undefined) argv.push('--static-source-time', String(a.staticSourceTime));
    for (const u of a.users ?? []) argv.push('--user', u);
    const proc = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'], cwd: PACKAGE_ROOT });
    this.proc = proc;
    let out = '';
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`simulator did not start within 120 s: ${err}`)), 120_000);
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          this.endpointUrl = m[1] as string;
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`simulator exited with ${code}: ${err}`));
      });
    });
  }

  /** SIGKILL: the server vanishes without closing anything. */
  async kill(): Promise<void> {
    await this.end('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.end('SIGTERM');
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill(signal);
    await exited;
  }
}

/** A loopback TCP proxy whose connections can be cut, as a broken network or a server closing the socket would. */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Destroys every open connection (new ones are still accepted). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.cut();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** A TCP server that accepts and immediately hangs up (or answers garbage). */
export async function hangUpServer(garbage = false): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    if (garbage) s.end(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
    else s.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
