/**
 * Kafka for tests: librdkafka's mock cluster inside Debian's `kcat` (3 brokers, topics auto-created with
 * 4 partitions on first produce), started and stopped by the test. With `KAFKA_BROKERS=host:port,...` set,
 * the tests run against that real Kafka instead and nothing is started.
 *
 * Also a TCP proxy per broker (`ProxiedCluster`): the bus connects through it (bootstrap addresses plus the
 * bus's `addressMap` for the advertised ones), and a test cuts it to make the broker unreachable, restores it,
 * or points it at a new cluster after the old broker process died.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as net from 'node:net';

export interface KafkaCluster {
  brokers: string[];
  /** True when the cluster came from KAFKA_BROKERS (not started here, not stopped here). */
  external: boolean;
  /** The kcat process id (undefined for an external Kafka), so a test can kill a child's broker after the child died. */
  pid: number | undefined;
  /** Kills the mock broker process (SIGKILL: a broker dying, not shutting down). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a mock cluster (or names the KAFKA_BROKERS one). */
export async function startKafka(brokers = 3): Promise<KafkaCluster> {
  const env = process.env.KAFKA_BROKERS;
  if (env !== undefined && env.trim() !== '') {
    const list = env.split(',').map((s) => s.trim()).filter(Boolean);
    return { brokers: list, external: true, pid: undefined, kill: () => Promise.reject(new Error('cannot kill an external Kafka')), stop: () => Promise.resolve() };
  }
  const child = spawn('kcat', ['-X', `test.mock.num.brokers=${brokers}`, '-b', 'localhost:1', '-C', '-t', 'keepalive', '-q'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const list = await new Promise<string[]>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`kcat mock cluster did not start within 15 s: ${text}`)), 15_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run kcat (apt-get install -y kcat): ${e.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kcat exited with ${String(code)} before the mock cluster was up: ${text}`));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      text += d;
      const m = /replaced with (\S+)/.exec(text);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(m[1].split(','));
      }
    });
  });
  child.stderr.removeAllListeners('data');
  child.stderr.resume();
  const ended = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
  return {
    brokers: list,
    external: false,
    pid: child.pid,
    kill: async () => {
      child.kill('SIGKILL');
      await ended(child);
    },
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await ended(child);
      clearTimeout(timer);
    },
  };
}

/** A TCP proxy to one broker. While cut, it accepts and closes every connection at once. */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private isCut = false;

  private constructor(
    private readonly server: net.Server,
    private target: { host: string; port: number },
  ) {}

  static async start(target: string): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server, parse(target));
    server.on('connection', (c) => proxy.accept(c));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get address(): string {
    const a = this.server.address() as net.AddressInfo;
    return `127.0.0.1:${a.port}`;
  }

  private accept(client: net.Socket): void {
    if (this.isCut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target);
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Breaks every connection and refuses new ones (the broker is unreachable). */
  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  /** Forwards new connections to another broker (after the old one died). */
  retarget(target: string): void {
    this.target = parse(target);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A proxy per broker, and the bus settings that route every connection through them. */
export class ProxiedCluster {
  private constructor(
    readonly cluster: KafkaCluster,
    readonly proxies: TcpProxy[],
  ) {}

  static async start(cluster: KafkaCluster): Promise<ProxiedCluster> {
    const proxies: TcpProxy[] = [];
    for (const b of cluster.brokers) proxies.push(await TcpProxy.start(b));
    return new ProxiedCluster(cluster, proxies);
  }

  /** Bootstrap list: the proxies. */
  get brokers(): string[] {
    return this.proxies.map((p) => p.address);
  }

  /** `addressMap` for the bus config: advertised broker address → its proxy. */
  get addressMap(): Record<string, string> {
    const map: Record<string, string> = {};
    this.cluster.brokers.forEach((b, i) => (map[b] = (this.proxies[i] as TcpProxy).address));
    return map;
  }

  cut(): void {
    for (const p of this.proxies) p.cut();
  }

  restore(): void {
    for (const p of this.proxies) p.restore();
  }

  async close(): Promise<void> {
    for (const p of this.proxies) await p.close();
  }
}

function parse(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}
