/**
 * Runs the embedded EMPoS node with the kernel (LifecycleContribution) and offers it as a chain
 * connector (ChainConnectorContribution); or, in `external` mode, checks and offers an external EVM
 * network's JSON-RPC endpoint. Chain data and the validator keystore live in the plugin's data dir.
 * A failed block production degrades the plugin (the node retries at the next tick).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { inject, injectable, PluginContext, EnergyMeshError } from '../../core/plugin-api.ts';
import type { ChainConnector, ChainConnectorContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import { ChainNode } from '../../chain/node/chain-node.ts';
import { ExternalChain } from '../../chain/node/external-chain.ts';
import type { GenesisFile } from '../../chain/execution/genesis.ts';

/** The plugin's config (config.schema.json; defaults applied by the kernel). */
export interface EmposPluginConfig {
  mode?: 'embedded' | 'external';
  url?: string;
  chainId?: number;
  blockTimeMs?: number;
  genesisFile?: string;
  rpc?: { enabled?: boolean; host?: string; port?: number; maxBodyBytes?: number };
  keystorePassword?: string;
}

@injectable()
export class EmposChainService implements LifecycleContribution, ChainConnectorContribution {
  private node: ChainNode | undefined;
  private external: ExternalChain | undefined;

  constructor(@inject(PluginContext) private readonly ctx: PluginContext<EmposPluginConfig>) {}

  async onStart(): Promise<void> {
    const config = this.ctx.config ?? {};
    if (config.mode === 'external') {
      if (config.url === undefined) throw new EnergyMeshError('CONFIG_INVALID', 'external mode needs `url`');
      this.external = await ExternalChain.connect({ url: config.url, ...(config.chainId !== undefined ? { expectedChainId: BigInt(config.chainId) } : {}) });
      this.ctx.logger.info({ chainId: this.external.chainId.toString(), client: this.external.clientVersion, url: this.external.url }, 'external EVM chain connected');
      this.ctx.health.up();
      return;
    }
    let genesis: GenesisFile | undefined;
    if (config.genesisFile !== undefined) {
      const path = resolve(config.genesisFile);
      try {
        genesis = JSON.parse(readFileSync(path, 'utf8')) as GenesisFile;
      } catch (e) {
        throw new EnergyMeshError('CONFIG_INVALID', `cannot read genesis file ${path}`, { cause: e, details: { path } });
      }
    }
    const rpc = config.rpc ?? {};
    const node = new ChainNode({
      dataDir: this.ctx.dataDir,
      ...(genesis !== undefined ? { genesis } : {}),
      ...(config.blockTimeMs !== undefined ? { blockTimeMs: config.blockTimeMs } : {}),
      keystorePassword: config.keystorePassword ?? '',
      rpc: rpc.enabled === false ? false : { host: rpc.host ?? '127.0.0.1', port: rpc.port ?? 8545, ...(rpc.maxBodyBytes !== undefined ? { maxBodyBytes: rpc.maxBodyBytes } : {}) },
    });
    node.onDidFail((e) => this.ctx.health.degraded(`block production failed: ${e instanceof Error ? e.message : String(e)}`));
    node.onDidCommitBlock(() => {
      if (this.ctx.health.current().state !== 'up') this.ctx.health.up();
    });
    await node.start();
    this.node = node;
    this.ctx.logger.info(
      { chainId: node.chain.chainId.toString(), head: node.chain.head.header.number.toString(), validator: node.validatorAddress, rpc: rpc.enabled === false ? null : node.rpcUrl },
      'embedded EMPoS chain started',
    );
    this.ctx.health.up();
  }

  async onStop(): Promise<void> {
    await this.node?.stop();
    this.node = undefined;
    this.external = undefined;
  }

  /** The running node (tests, CLI). */
  get running(): ChainNode | undefined {
    return this.node;
  }

  connectors(): ChainConnector[] {
    if (this.ctx.config?.mode === 'external') {
      const ext = (): ExternalChain => {
        if (this.external === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the external chain is not connected');
        return this.external;
      };
      return [
        {
          id: 'empos.external',
          get chainId(): bigint {
            return ext().chainId;
          },
          rpcUrl: () => ext().url,
        },
      ];
    }
    const node = (): ChainNode => this.requireNode();
    return [
      {
        id: 'empos.embedded',
        get chainId(): bigint {
          return node().chain.chainId;
        },
        rpcUrl: () => node().rpcUrl,
      },
    ];
  }

  private requireNode(): ChainNode {
    if (this.node === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the embedded chain is not running');
    return this.node;
  }
}
