/**
 * Runs the embedded EMPoS node with the kernel (LifecycleContribution) and offers it as a chain
 * connector (ChainConnectorContribution); in `node` mode runs a validator or full node of an EMPoS
 * network (network-mode.ts); in `external` mode checks and offers an external EVM network's JSON-RPC
 * endpoint. Chain data (and the embedded validator keystore) live in the plugin's data dir.
 * A failed block production degrades the plugin (the node retries at the next tick).
 */
import { join } from 'node:path';
import { JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { waitForReceipt } from '../../chain/contracts/wait-receipt.ts';
import { inject, injectable, PluginContext, EnergyMeshError } from '../../core/plugin-api.ts';
import type { ChainConnector, ChainConnectorContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import { ChainNode } from '../../chain/node/chain-node.ts';
import { ExternalChain } from '../../chain/node/external-chain.ts';
import { loadOrCreateKeystore } from '../../chain/node/keystore.ts';
import type { GenesisFile } from '../../chain/execution/genesis.ts';
import { NetworkMode, readGenesisFile, type EmposNodeModeConfig } from './network-mode.ts';

/** The plugin's config (config.schema.json; defaults applied by the kernel). */
export interface EmposPluginConfig extends EmposNodeModeConfig {
  mode?: 'embedded' | 'node' | 'external';
  url?: string;
  chainId?: number;
}

@injectable()
export class EmposChainService implements LifecycleContribution, ChainConnectorContribution {
  private node: ChainNode | undefined;
  private network: NetworkMode | undefined;
  private external: ExternalChain | undefined;
  private treasury: NonceManager | undefined;
  private provider: JsonRpcProvider | undefined;
  private funding: Promise<unknown> = Promise.resolve();

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
    if (config.mode === 'node') {
      this.network = await NetworkMode.start(this.ctx, config);
      this.ctx.health.up();
      return;
    }
    const genesis: GenesisFile | undefined =
      config.genesisFile !== undefined ? readGenesisFile(config.genesisFile, 'plugins.chain.empos.genesisFile', this.ctx.configDir ?? process.cwd()) : undefined;
    const rpc = config.rpc ?? {};
    const validatorKey = loadOrCreateKeystore(join(this.ctx.dataDir, 'validator.keystore.json'), config.keystorePassword ?? '');
    const node = new ChainNode({
      dataDir: this.ctx.dataDir,
      validatorKey,
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
    if (rpc.enabled !== false) {
      this.provider = new JsonRpcProvider(node.rpcUrl, node.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
      this.provider.pollingInterval = Math.max(50, Math.min(1000, Math.floor(node.blockTimeMs / 4)));
      this.treasury = new NonceManager(new Wallet(validatorKey, this.provider));
    }
    this.ctx.logger.info(
      { chainId: node.chain.chainId.toString(), head: node.chain.head.header.number.toString(), validator: node.validatorAddress, rpc: rpc.enabled === false ? null : node.rpcUrl },
      'embedded EMPoS chain started',
    );
    this.ctx.health.up();
  }

  async onStop(): Promise<void> {
    await this.funding.catch(() => undefined);
    this.provider?.destroy();
    this.provider = undefined;
    this.treasury = undefined;
    await this.node?.stop();
    this.node = undefined;
    await this.network?.stop();
    this.network = undefined;
    this.external = undefined;
  }

  /** The running embedded node (tests, CLI). */
  get running(): ChainNode | undefined {
    return this.node;
  }

  /** The running network node in `node` mode (tests, CLI). */
  get runningNetworkNode(): NetworkMode['node'] | undefined {
    return this.network?.node;
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
    if (this.ctx.config?.mode === 'node') {
      const net = (): NetworkMode => {
        if (this.network === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the EMPoS network node is not running');
        return this.network;
      };
      // no `fund`: accounts on a shared network are funded by their owners, as on an external network
      return [
        {
          id: 'empos.node',
          get chainId(): bigint {
            return net().node.chain.chainId;
          },
          rpcUrl: () => net().node.rpcUrl,
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
        fund: (to: string, wei: bigint) => this.fund(to, wei),
      },
    ];
  }

  /** Pays `wei` EB from the embedded validator's treasury; transfers are serialised (one nonce sequence). */
  private fund(to: string, wei: bigint): Promise<void> {
    const run = async (): Promise<void> => {
      const treasury = this.treasury;
      if (treasury === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the embedded chain is not running with its JSON-RPC endpoint enabled');
      const tx = await treasury.sendTransaction({ to, value: wei });
      const receipt = await waitForReceipt(tx);
      if (receipt.status !== 1) throw new EnergyMeshError('SETTLEMENT_REVERTED', `funding ${to} failed`, { details: { tx: tx.hash } });
    };
    const next = this.funding.then(run, run);
    this.funding = next.catch(() => undefined);
    return next;
  }

  private requireNode(): ChainNode {
    if (this.node === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the embedded chain is not running');
    return this.node;
  }
}
