/**
 * `node` mode of chain.empos: this EnergyMesh instance is a validator (with `keystoreFile`) or a
 * non-validator full node of an EMPoS network — the same `NetworkNode` as `energymesh chain node`, run
 * under the kernel's lifecycle so one process holds the field side and the utility's validator.
 *
 * Relative `genesisFile` and `keystoreFile` paths are resolved against the config file's folder.
 *
 * Health follows finality: up while blocks are committed (a committed block is a finalized one), degraded
 * with the reason and the peer count once no block was finalized for `stallAfterMs` (default 10 block
 * times, at least 30 s) — a validator network that lost 1/3 of its stake halts safely, and the control
 * room should see that rather than a green plugin.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EnergyMeshError, type PluginContext } from '../../core/plugin-api.ts';
import type { GenesisFile } from '../../chain/execution/genesis.ts';
import { readKeystore } from '../../chain/node/keystore.ts';
import { NetworkNode } from '../../chain/node/network-node.ts';
import { canonicalPeerId, checkPeerIds, parsePeerIdFile } from '../../chain/p2p/allow-list.ts';

/** `p2p` section of the plugin config (node mode). */
export interface EmposP2pConfig {
  host?: string;
  port?: number;
  peers?: string[];
  /** A file of peer multiaddrs, one per line (`#` comments), e.g. the peers.txt of `energymesh chain init`. */
  peersFile?: string;
  discovery?: boolean;
  announce?: string[];
  /** Permissioned network: keep connections only with these peer ids (plus those of `peers`). */
  allowPeers?: string[];
  /** The same as a file: one peer id per line, `#` comments. */
  allowPeersFile?: string;
}

export interface EmposNodeModeConfig {
  genesisFile?: string;
  keystoreFile?: string;
  keystorePassword?: string;
  blockTimeMs?: number;
  roundTimeoutMs?: number;
  stallAfterMs?: number;
  p2p?: EmposP2pConfig;
  rpc?: { enabled?: boolean; host?: string; port?: number; maxBodyBytes?: number };
}

/** The genesis file of a network: required, read and parsed with a message naming the config path. */
export function readGenesisFile(path: string | undefined, configPath: string, baseDir: string = process.cwd()): GenesisFile {
  if (path === undefined) throw new EnergyMeshError('CONFIG_INVALID', `${configPath} is required in node mode: the network's genesis.json (energymesh chain init writes one)`);
  const file = resolve(baseDir, path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EnergyMeshError('CONFIG_INVALID', `cannot read genesis file ${file} (${configPath}): ${e instanceof Error ? e.message : String(e)}`, { cause: e, details: { path: file } });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EnergyMeshError('CONFIG_INVALID', `genesis file ${file} (${configPath}) is not a JSON object`, { details: { path: file } });
  }
  return parsed as GenesisFile;
}

/** The multiaddrs of a peers file: one per line, blank lines and `#` comments ignored. */
export function readPeersFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EnergyMeshError('CONFIG_INVALID', `cannot read peers file ${file} (plugins.chain.empos.p2p.peersFile): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const peers = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
  const bad = peers.find((p) => !p.startsWith('/'));
  if (bad !== undefined) throw new EnergyMeshError('CONFIG_INVALID', `peers file ${file}: "${bad}" is not a multiaddr (/ip4/HOST/tcp/PORT/p2p/PEER_ID)`);
  return peers;
}

/** The allow-list of `p2p.allowPeers` and `p2p.allowPeersFile` (checked ids); none configured = no list. */
export function allowPeersOf(p2p: EmposP2pConfig, baseDir: string): { allowPeers?: string[] } {
  if (p2p.allowPeers === undefined && p2p.allowPeersFile === undefined) return {};
  const ids = checkPeerIds(p2p.allowPeers ?? []);
  if (p2p.allowPeersFile !== undefined) {
    const file = resolve(baseDir, p2p.allowPeersFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new EnergyMeshError('CONFIG_INVALID', `cannot read allow-list ${file} (plugins.chain.empos.p2p.allowPeersFile): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    ids.push(...parsePeerIdFile(text).map(({ id, line }) => canonicalPeerId(id, ` (${file} line ${line})`)));
  }
  // an empty list would silently open a permissioned node
  if (ids.length === 0) throw new EnergyMeshError('CONFIG_INVALID', 'plugins.chain.empos.p2p: the allow-list (allowPeers/allowPeersFile) names no peer id');
  return { allowPeers: [...new Set(ids)] };
}

/** A running network node with its finality watchdog. */
export class NetworkMode {
  private watchdog: NodeJS.Timeout | undefined;
  private lastCommitAt = Date.now();

  private constructor(
    readonly node: NetworkNode,
    private readonly ctx: PluginContext<unknown>,
    private readonly stallAfterMs: number,
  ) {}

  static async start(ctx: PluginContext<unknown>, config: EmposNodeModeConfig): Promise<NetworkMode> {
    const base = ctx.configDir ?? process.cwd();
    const genesis = readGenesisFile(config.genesisFile, 'plugins.chain.empos.genesisFile', base);
    const keys: string[] = [];
    if (config.keystoreFile !== undefined) {
      const file = resolve(base, config.keystoreFile);
      try {
        keys.push(readKeystore(file, config.keystorePassword ?? ''));
      } catch (e) {
        throw new EnergyMeshError('CONFIG_INVALID', `cannot open the validator keystore ${file} (plugins.chain.empos.keystoreFile): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
    const rpc = config.rpc ?? {};
    const p2p = config.p2p ?? {};
    const node = new NetworkNode({
      dataDir: ctx.dataDir,
      genesis,
      validatorKeys: keys,
      rpc: rpc.enabled === false ? false : { host: rpc.host ?? '127.0.0.1', port: rpc.port ?? 8545 },
      p2p: {
        host: p2p.host ?? '127.0.0.1',
        port: p2p.port ?? 30303,
        peers: [...(p2p.peers ?? []), ...(p2p.peersFile !== undefined ? readPeersFile(resolve(base, p2p.peersFile)) : [])],
        discovery: p2p.discovery ?? true,
        ...(p2p.announce !== undefined ? { announce: p2p.announce } : {}),
        ...allowPeersOf(p2p, base),
      },
      ...(config.blockTimeMs !== undefined ? { blockTimeMs: config.blockTimeMs } : {}),
      ...(config.roundTimeoutMs !== undefined ? { roundTimeoutBaseMs: config.roundTimeoutMs } : {}),
      log: (line) => ctx.logger.info(line),
      onEvidence: (e) => ctx.logger.warn({ validator: e.validator, height: e.a.number.toString(), round: e.a.round }, 'equivocation evidence'),
    });
    await node.start();
    const stallAfterMs = config.stallAfterMs ?? Math.max(30_000, 10 * node.blockTimeMs);
    const mode = new NetworkMode(node, ctx, stallAfterMs);
    node.onDidCommitBlock(() => mode.committed());
    mode.watchdog = setInterval(() => mode.check(), Math.min(5_000, Math.max(100, Math.floor(stallAfterMs / 4))));
    mode.watchdog.unref();
    ctx.logger.info(
      {
        chainId: node.chain.chainId.toString(),
        head: node.chain.head.header.number.toString(),
        validators: node.validatorAddresses,
        peerId: node.network.peerId,
        p2p: node.network.addresses,
        rpc: rpc.enabled === false ? null : node.rpcUrl,
      },
      keys.length > 0 ? 'EMPoS validator node started' : 'EMPoS full node started',
    );
    return mode;
  }

  private committed(): void {
    this.lastCommitAt = Date.now();
    if (this.ctx.health.current().state !== 'up') this.ctx.health.up();
  }

  /** Degrades the plugin while no block is finalized (reason: how long, height, peers). */
  check(): void {
    const silentMs = Date.now() - this.lastCommitAt;
    if (silentMs < this.stallAfterMs) return;
    const stats = this.node.stats();
    const reason = `no block finalized since ${new Date(this.lastCommitAt).toISOString()}: waiting at height ${stats.height} with ${this.node.peerCount} peers connected`;
    const current = this.ctx.health.current();
    if (current.state !== 'degraded' || current.reason !== reason) this.ctx.health.degraded(reason);
  }

  async stop(): Promise<void> {
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    this.watchdog = undefined;
    await this.node.stop();
  }
}
