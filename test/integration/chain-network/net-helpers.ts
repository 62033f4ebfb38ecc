/** Test harness of the validator network: node processes on 127.0.0.1 (free ports), JSON-RPC helpers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNetwork } from '../../../chain/cli/chain-cli.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';

import { freePort } from '../../support/ports.ts';

export { freePort };

export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last !== undefined ? ` (last error: ${String(last)})` : ''}`);
}

export interface NodeProc {
  index: number;
  child: ChildProcess | undefined;
  rpcPort: number;
  p2pPort: number;
  rpcUrl: string;
  dataDir: string;
  key: string | undefined;
  stderr: string[];
}

export class TestNetwork {
  readonly dir = mkdtempSync(join(tmpdir(), 'empos-net-'));
  nodes: NodeProc[] = [];
  genesisFile = '';
  peers: string[] = [];
  addresses: string[] = [];

  /**
   * `consensus` adds genesis consensus parameters (e.g. short epochs) to what `chain init` writes; `extra`
   * top-level genesis fields (`gasLimit`) and more `alloc` entries (benchmarks).
   */
  static async create(validators: number, blockTimeMs: number, consensus: Record<string, number> = {}, extra: { gasLimit?: number; alloc?: Record<string, string> } = {}): Promise<TestNetwork> {
    const net = new TestNetwork();
    const ports = await Promise.all(Array.from({ length: validators + 1 }, () => freePort()));
    const p2p = ports.slice(0, validators);
    const r = await initNetwork({ validators, out: net.dir, blockTimeMs, ports: p2p, scryptN: 1024 });
    const genesis = JSON.parse(readFileSync(r.genesisFile, 'utf8')) as { consensus?: Record<string, unknown>; alloc?: Record<string, string>; gasLimit?: number };
    genesis.consensus = { ...genesis.consensus, ...consensus };
    if (extra.gasLimit !== undefined) genesis.gasLimit = extra.gasLimit;
    if (extra.alloc !== undefined) genesis.alloc = { ...genesis.alloc, ...extra.alloc };
    writeFileSync(r.genesisFile, `${JSON.stringify(genesis, null, 2)}
`);
    net.genesisFile = r.genesisFile;
    net.peers = r.peers;
    net.addresses = r.addresses;
    for (let i = 0; i < validators; i++) {
      const rpcPort = await freePort();
      net.nodes.push({ index: i, child: undefined, rpcPort, p2pPort: p2p[i]!, rpcUrl: `http://127.0.0.1:${rpcPort}`, dataDir: join(net.dir, `data-${i}`), key: r.keystores[i], stderr: [] });
    }
    return net;
  }

  /** Adds a non-validator full node (not in the others' peer lists: it dials them). */
  async addFullNode(): Promise<NodeProc> {
    const rpcPort = await freePort();
    const p2pPort = await freePort();
    const n: NodeProc = { index: this.nodes.length, child: undefined, rpcPort, p2pPort, rpcUrl: `http://127.0.0.1:${rpcPort}`, dataDir: join(this.dir, `data-${this.nodes.length}`), key: undefined, stderr: [] };
    this.nodes.push(n);
    return n;
  }

  /** Starts node i; resolves when its JSON-RPC answers. */
  async start(i: number, extra: string[] = []): Promise<void> {
    const n = this.nodes[i]!;
    const args = [
      '--import', 'tsx', 'chain/cli/chain-main.ts', 'node',
      '--genesis', this.genesisFile, '--data', n.dataDir,
      '--rpc-port', String(n.rpcPort), '--p2p-port', String(n.p2pPort),
      '--peers', this.peers.filter((_, j) => j !== i).join(','),
      '--round-timeout-ms', '1000',
      ...(n.key !== undefined ? ['--key', n.key] : []),
      ...extra,
    ];
    const child = spawn(process.execPath, args, { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    n.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      n.stderr.push(d);
      if (n.stderr.length > 400) n.stderr.splice(0, 200);
    });
    child.stdout!.resume();
    await waitFor(`node ${i} RPC`, async () => (await rpc<string>(n.rpcUrl, 'eth_chainId')) !== undefined, 120_000, 500);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.start(i)));
  }

  /** SIGKILL (crash) or SIGTERM (clean stop); resolves when the process is gone. */
  async stop(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.nodes[i]!.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
    this.nodes[i]!.child = undefined;
  }

  async head(i: number): Promise<number> {
    return Number(await rpc<string>(this.nodes[i]!.rpcUrl, 'eth_blockNumber'));
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.stop(i, 'SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
