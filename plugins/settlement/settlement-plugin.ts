/**
 * The settlement plugin: finds or deploys the contract suite (docs/settlement.md), manages this
 * instance's keys (V3 keystores in `<dataDir>/keys`) and offers both as the SettlementService.
 *
 * Embedded chain, no config: the first start deploys the suite with the instance's submitter key (funded
 * from the embedded treasury through the connector), registers n oracle keys with threshold k and a
 * 3-owner multisig (submitter, operator, a third key), and keeps the addresses in `deployment.json`;
 * later starts reuse them once the code is found at those addresses on the same chain.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, JsonRpcProvider, NonceManager, Wallet, keccak256, toUtf8Bytes, type Signer, type TransactionRequest, type TransactionResponse } from 'ethers';
import { waitForReceipt } from '../../chain/contracts/wait-receipt.ts';
import { inject, injectable, CoreServices, PluginContext, EnergyMeshError, errorMessage } from '../../core/plugin-api.ts';
import type { ChainConnector, LifecycleContribution } from '../../core/plugin-api.ts';
import { loadOrCreateKeystore } from '../../chain/node/keystore.ts';
import { deploySettlement } from '../../chain/contracts/deploy.ts';
import { SettlementServiceKey, type SettlementAddresses, type SettlementService } from './settlement-api.ts';

export interface SettlementPluginConfig {
  connector?: string;
  intervalMinutes?: 5 | 15 | 30;
  addresses?: SettlementAddresses;
  oracle?: { keys?: number; threshold?: number };
  multisigThreshold?: number;
  gateClosureSeconds?: number;
  baselineDays?: number;
  reserveEb?: number;
  accountEb?: number;
  accountMc?: number;
  keystorePassword?: string;
}

/** What `deployment.json` keeps. */
interface DeploymentRecord {
  chainId: string;
  addresses: SettlementAddresses;
  intervalSeconds: number;
  oracleThreshold: number;
  deployedAt: string;
}

const EB = 10n ** 18n;
const ACCOUNT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MC_ABI = ['function transfer(address to, uint256 amount) returns (bool)', 'function balanceOf(address) view returns (uint256)'];
const REGISTRY_ABI = ['function intervalSeconds() view returns (uint64)', 'function threshold() view returns (uint8)'];

/**
 * ethers' NonceManager counts a nonce as used as soon as a send starts, so a send that fails before
 * reaching the pool (a revert found by gas estimation, a refused order) leaves a gap: every later
 * transaction of the account waits behind it forever. This one goes back to the node's pending nonce
 * after a failed send.
 */
export class ResyncingNonceManager extends NonceManager {
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    try {
      return await super.sendTransaction(tx);
    } catch (e) {
      this.reset();
      throw e;
    }
  }
}

@injectable()
export class SettlementPlugin implements LifecycleContribution {
  private providerRef: JsonRpcProvider | undefined;
  private service: SettlementService | undefined;
  private withdraw: (() => void) | undefined;
  private readonly signers = new Map<string, NonceManager>();
  private readonly accounts = new Map<string, Promise<Signer>>();

  constructor(
    @inject(PluginContext) private readonly ctx: PluginContext<SettlementPluginConfig>,
    @inject(CoreServices) private readonly core: CoreServices,
  ) {}

  /** The service once started (tests). */
  get settlement(): SettlementService | undefined {
    return this.service;
  }

  async onStart(): Promise<void> {
    const config = this.ctx.config ?? {};
    const connector = this.core.chains.get(config.connector);
    const provider = new JsonRpcProvider(connector.rpcUrl(), connector.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 250;
    this.providerRef = provider;
    const password = config.keystorePassword ?? '';
    const oracleCount = config.oracle?.keys ?? 3;
    const threshold = config.oracle?.threshold ?? 2;
    if (threshold > oracleCount) {
      throw new EnergyMeshError('CONFIG_INVALID', `oracle.threshold (${threshold}) exceeds oracle.keys (${oracleCount})`, { details: { path: '/oracle/threshold' } });
    }
    const keysDir = join(this.ctx.dataDir, 'keys');
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    const key = (name: string): string => loadOrCreateKeystore(join(keysDir, `${name}.keystore.json`), password);
    const submitter = this.signer('submitter', key('submitter'));
    const operator = this.signer('operator', key('operator'));
    const third = new Wallet(key('multisig-3'));
    const oracles = Array.from({ length: oracleCount }, (_, i) => new Wallet(key(`oracle-${i + 1}`)));

    const record = await this.findOrDeploy(connector, {
      submitter,
      operator,
      thirdOwner: third.address,
      oracles: oracles.map((w) => w.address),
      threshold,
    });
    const addresses = record.addresses;
    const siteId = this.core.siteId;
    const service: SettlementService = {
      chainId: connector.chainId,
      addresses,
      intervalSeconds: record.intervalSeconds,
      oracleThreshold: record.oracleThreshold,
      provider: () => this.provider(),
      submitter: () => submitter,
      operator: () => operator,
      oracleWallets: () => oracles,
      account: (name: string) => this.account(name, connector, submitter, keysDir, password, addresses),
      meterId: (deviceId: string) => keccak256(toUtf8Bytes(`${siteId}/${deviceId}`)),
    };
    this.service = service;
    this.withdraw = this.core.services.provide(SettlementServiceKey, service, this.ctx.id);
    this.ctx.logger.info({ chainId: connector.chainId.toString(), connector: connector.id, ...addresses, intervalSeconds: record.intervalSeconds }, 'settlement contracts ready');
  }

  async onStop(): Promise<void> {
    this.withdraw?.();
    this.withdraw = undefined;
    this.service = undefined;
    this.signers.clear();
    this.providerRef?.destroy();
    this.providerRef = undefined;
  }

  private provider(): JsonRpcProvider {
    if (this.providerRef === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the settlement plugin is not started');
    return this.providerRef;
  }

  private signer(name: string, privateKey: string): NonceManager {
    let s = this.signers.get(name);
    if (s === undefined) {
      s = new ResyncingNonceManager(new Wallet(privateKey, this.provider()));
      this.signers.set(name, s);
    }
    return s;
  }

  private async findOrDeploy(
    connector: ChainConnector,
    keys: { submitter: NonceManager; operator: NonceManager; thirdOwner: string; oracles: string[]; threshold: number },
  ): Promise<DeploymentRecord> {
    const config = this.ctx.config ?? {};
    const provider = this.provider();
    if (config.addresses !== undefined) {
      const registry = new Contract(config.addresses.registry, REGISTRY_ABI, provider);
      await this.requireCode(config.addresses, connector);
      const interval = (await registry.getFunction('intervalSeconds')()) as unknown;
      const k = (await registry.getFunction('threshold')()) as unknown;
      return {
        chainId: connector.chainId.toString(),
        addresses: config.addresses,
        intervalSeconds: Number(interval),
        oracleThreshold: Number(k),
        deployedAt: 'configured',
      };
    }
    const file = join(this.ctx.dataDir, 'deployment.json');
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as DeploymentRecord;
      if (saved.chainId === connector.chainId.toString() && (await this.hasCode(saved.addresses))) return saved;
      this.ctx.logger.warn({ file, chainId: saved.chainId }, 'saved settlement deployment not found on this chain: deploying again');
    }
    const minutes = config.intervalMinutes ?? this.core.marketParameters().settlementIntervalMinutes ?? 15;
    if (![5, 15, 30].includes(minutes)) {
      throw new EnergyMeshError('CONFIG_INVALID', `settlement interval of ${minutes} min is not supported (5, 15 or 30)`, { details: { path: '/intervalMinutes' } });
    }
    this.ctx.logger.info({ chainId: connector.chainId.toString(), intervalMinutes: minutes }, 'first start on this chain: deploying the settlement contracts (takes a few blocks)');
    const reserveWei = BigInt(config.reserveEb ?? 1_000_000) * EB;
    const submitterAddress = await keys.submitter.getAddress();
    const operatorAddress = await keys.operator.getAddress();
    if (connector.fund !== undefined) {
      await connector.fund(submitterAddress, reserveWei + 10_000n * EB);
      await connector.fund(operatorAddress, 10_000n * EB);
    }
    const addresses = await deploySettlement(keys.submitter, {
      intervalSeconds: minutes * 60,
      oracles: keys.oracles,
      oracleThreshold: keys.threshold,
      multisigOwners: [submitterAddress, operatorAddress, keys.thirdOwner],
      multisigThreshold: config.multisigThreshold ?? 2,
      registrar: submitterAddress,
      settler: submitterAddress,
      operator: operatorAddress,
      utility: submitterAddress,
      reserveWei,
      gateClosureSeconds: config.gateClosureSeconds ?? 0,
      baselineDays: config.baselineDays ?? 10,
    });
    const record: DeploymentRecord = {
      chainId: connector.chainId.toString(),
      addresses,
      intervalSeconds: minutes * 60,
      oracleThreshold: keys.threshold,
      deployedAt: new Date().toISOString(),
    };
    writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
    renameSync(`${file}.tmp`, file);
    return record;
  }

  private async hasCode(addresses: SettlementAddresses): Promise<boolean> {
    const provider = this.provider();
    const codes = await Promise.all([addresses.ledger, addresses.registry, addresses.market, addresses.incentives].map((a) => provider.getCode(a)));
    return codes.every((c) => c !== '0x');
  }

  private async requireCode(addresses: SettlementAddresses, connector: ChainConnector): Promise<void> {
    if (!(await this.hasCode(addresses))) {
      throw new EnergyMeshError('CONFIG_INVALID', `no settlement contracts at the configured addresses on chain ${connector.chainId} (${connector.id})`, {
        details: { path: '/addresses' },
      });
    }
  }

  /** A managed account: created on first use, funded once (EB for gas, MC for bids) when it holds none. */
  private account(name: string, connector: ChainConnector, submitter: NonceManager, keysDir: string, password: string, addresses: SettlementAddresses): Promise<Signer> {
    if (!ACCOUNT_NAME.test(name)) {
      return Promise.reject(new EnergyMeshError('INVALID_ARGUMENT', `account name ${JSON.stringify(name)} must match ${ACCOUNT_NAME.source}`));
    }
    const pending = this.accounts.get(name);
    if (pending !== undefined) return pending;
    const run = async (): Promise<Signer> => {
      const signer = this.signer(`account-${name}`, loadOrCreateKeystore(join(keysDir, `account-${name}.keystore.json`), password));
      const address = await signer.getAddress();
      const config = this.ctx.config ?? {};
      const provider = this.provider();
      const eb = BigInt(config.accountEb ?? 100) * EB;
      if (eb > 0n && connector.fund !== undefined && (await provider.getBalance(address)) === 0n) await connector.fund(address, eb);
      const mc = BigInt(config.accountMc ?? 10_000) * EB;
      if (mc > 0n) {
        const token = new Contract(addresses.meshCoin, MC_ABI, submitter);
        const held = (await token.getFunction('balanceOf')(address)) as bigint;
        if (held === 0n) {
          try {
            const tx = (await token.getFunction('transfer')(address, mc)) as TransactionResponse;
            const receipt = await waitForReceipt(tx);
            if (receipt.status !== 1) throw new EnergyMeshError('SETTLEMENT_REVERTED', `MC transfer ${tx.hash} reverted`);
          } catch (e) {
            this.ctx.logger.warn({ account: name, err: errorMessage(e) }, 'could not give the account its MC');
          }
        }
      }
      return signer;
    };
    const p = run();
    p.catch(() => this.accounts.delete(name)); // a failed creation may be retried; a made one is kept
    this.accounts.set(name, p);
    return p;
  }
}
