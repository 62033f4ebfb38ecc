/**
 * The embedded EMPoS node: one validator in-process, zero configuration. It opens (or creates) the chain
 * in `dataDir`, produces a block every block time — the staking contract's governed `blockTimeMs` (the
 * genesis value, default 5 s, until governance changes it; sub-second allowed) — signed by its
 * validator key, finalizes it with a certificate (with one validator, its own vote is 100 % ≥ 2/3 of the
 * stake), and serves JSON-RPC over HTTP and WebSocket on 127.0.0.1.
 *
 * Error policy: a failed block production is reported through `onDidFail` and retried at the next tick
 * (the chain rolls back to its head); start() failures are thrown; stop() waits for the block in flight.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex } from '@ethereumjs/util';
import { Chain, type CommittedBlock } from '../execution/chain.ts';
import { Emitter, type Event } from '../execution/emitter.ts';
import { embeddedGenesis, parseGenesis, type Genesis, type GenesisFile } from '../execution/genesis.ts';
import {
  decodeSeal,
  encodeSeal,
  proposalDigest,
  ValidatorKey,
  voteDigest,
  type BlockSeal,
  type ValidatorStake,
} from '../consensus/certificate.ts';
import { EthApi, type RpcBackend } from '../rpc/eth-api.ts';
import { RpcServer } from '../rpc/rpc-server.ts';
import { loadOrCreateKeystore } from './keystore.ts';
import { ValidatorSet } from '../consensus/validator-set.ts';
import { buildSchedule, epochOf, firstHeightOf, genesisEpochBlocks, proposerFor, type EpochSchedule } from '../consensus/schedule.ts';
import { BlockPace, type PaceSource } from './block-pace.ts';
import { EnergyMeshError } from '../../core/errors.ts';

export const CLIENT_VERSION = 'EnergyMesh-EMPoS/0.1.0';

export interface ChainNodeOptions {
  /** Folder for the chain store and the validator keystore (created if needed). */
  dataDir: string;
  /** The genesis (parsed, or a genesis file object). Default: the embedded genesis for the validator's address. */
  genesis?: Genesis | GenesisFile;
  /** Validator private key (0x hex). Default: `validator.keystore.json` in dataDir, created on first start. */
  validatorKey?: string;
  /** Password of the keystore (default ''; set one when the data dir is shared). */
  keystorePassword?: string;
  /**
   * Local override of the block pace (tests and benchmarks only). By default the node follows the
   * governed `blockTimeMs` in the head state (the genesis value until governance changes it); the epoch
   * length never depends on it (genesis only).
   */
  blockTimeMs?: number;
  /** Keep pending transactions across restarts in `chaindata/mempool.journal` (default true). */
  persistMempool?: boolean;
  /** Sender-recovery worker threads (`ChainOptions.senderThreads`; default 0 = inline). */
  senderThreads?: number;
  /** JSON-RPC listener; `false` disables it. Default 127.0.0.1, port 8545 → pass 0 for an ephemeral port. */
  rpc?: { host?: string; port?: number; maxBodyBytes?: number } | false;
  /** Native secp256k1 (default true). */
  nativeCrypto?: boolean;
}

/** A committed block with its seal, as the node announces it. */
export interface SealedBlock extends CommittedBlock {
  seal: BlockSeal;
}

function isGenesis(g: Genesis | GenesisFile): g is Genesis {
  return g.alloc instanceof Map;
}

export class ChainNode {
  private readonly options: ChainNodeOptions;
  private chainRef: Chain | undefined;
  private rpc: RpcServer | undefined;
  private key: ValidatorKey | undefined;
  private timer: NodeJS.Timeout | undefined;
  private producing: Promise<void> | undefined;
  private running = false;
  private readonly committed = new Emitter<SealedBlock>();
  private readonly failed = new Emitter<unknown>();
  private finalized = 0n;
  private validatorSet: ValidatorSet | undefined;
  private readonly schedules = new Map<bigint, EpochSchedule>();
  private pace: BlockPace | undefined;

  /** Fires after each block is committed and finalized. */
  readonly onDidCommitBlock: Event<SealedBlock> = this.committed.event;
  /** Fires when producing a block failed (it is retried at the next tick). */
  readonly onDidFail: Event<unknown> = this.failed.event;

  constructor(options: ChainNodeOptions) {
    this.options = options;
  }

  get chain(): Chain {
    if (this.chainRef === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'chain node is not started');
    return this.chainRef;
  }

  get rpcUrl(): string {
    if (this.rpc === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'JSON-RPC is not listening');
    return this.rpc.url;
  }

  get wsUrl(): string {
    if (this.rpc === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'JSON-RPC is not listening');
    return this.rpc.wsUrl;
  }

  get validatorAddress(): string {
    if (this.key === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'chain node is not started');
    return this.key.address;
  }

  /**
   * The block pace in force: the local override if given, else the staking contract's governed
   * `blockTimeMs` in the head state (re-read after each block), else the genesis value.
   */
  get blockTimeMs(): number {
    return this.pace?.ms ?? this.options.blockTimeMs ?? this.chain.genesis.consensus.blockTimeMs;
  }

  /** Where `blockTimeMs` comes from: the local override, the governed parameter, or the genesis. */
  get blockTimeSource(): PaceSource {
    return this.pace?.source ?? 'genesis';
  }

  /** The active validators with their stake (embedded mode: the genesis validator, or this node alone). */
  validators(): ValidatorStake[] {
    return this.set().active().map((v) => ({ address: v.address, stake: v.stake }));
  }

  private set(): ValidatorSet {
    if (this.validatorSet === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'chain node is not started');
    return this.validatorSet;
  }

  /**
   * The schedule of the epoch of `height`: its seed comes from the last block of the previous epoch (the
   * genesis hash for epoch 0), which must be final. Undefined when that block is not final yet.
   */
  async schedule(height: bigint): Promise<EpochSchedule | undefined> {
    const chain = this.chain;
    // consensus-critical: from the genesis only (never the pace, which governance or an option may change)
    const perEpoch = genesisEpochBlocks(chain.genesis.consensus);
    const epoch = epochOf(height, perEpoch);
    const cached = this.schedules.get(epoch);
    if (cached !== undefined) return cached;
    const anchor = epoch === 0n ? 0n : firstHeightOf(epoch, perEpoch) - 1n;
    if (anchor > this.finalized) return undefined;
    const block = await chain.getBlockByNumber(anchor);
    if (block === undefined) return undefined;
    const s = buildSchedule(epoch, perEpoch, bytesToHex(block.hash()), this.set().eligible(), chain.genesis.consensus.maxValidators);
    this.schedules.set(epoch, s);
    if (this.schedules.size > 4) this.schedules.delete(this.schedules.keys().next().value!);
    return s;
  }

  async start(): Promise<void> {
    if (this.running) return;
    mkdirSync(this.options.dataDir, { recursive: true });
    const privateKey = this.options.validatorKey ?? loadOrCreateKeystore(join(this.options.dataDir, 'validator.keystore.json'), this.options.keystorePassword ?? '');
    this.key = new ValidatorKey(privateKey);
    const g = this.options.genesis;
    const given = g === undefined ? embeddedGenesis(this.key.address) : isGenesis(g) ? g : parseGenesis(g);
    // No genesis validators: this node's key is the one validator, with the minimum stake in the staking contract.
    const genesis = given.validators.length > 0 ? given : { ...given, validators: [{ address: this.key.address, stake: given.consensus.minStake }] };
    const active = genesis.validators.length === 0 ? [this.key.address] : genesis.validators.map((v) => v.address);
    if (!active.includes(this.key.address)) {
      throw new EnergyMeshError('CONFIG_INVALID', 'embedded mode: the validator key is not a genesis validator', { details: { address: this.key.address } });
    }
    if (active.length > 1) {
      throw new EnergyMeshError('CONFIG_INVALID', 'embedded mode runs one validator; a multi-validator genesis needs `node` mode');
    }
    const params = genesis.consensus;
    this.validatorSet = ValidatorSet.fromGenesis(params, genesis.validators.length > 0 ? genesis.validators : [{ address: this.key.address, stake: params.minStake }]);
    // Embedded: no `signersOf` — the one validator signs every block and accounts that stake later take no
    // part in this node's consensus, so no offline penalties apply (the network node passes the signers).
    this.chainRef = await Chain.open({
      dataDir: join(this.options.dataDir, 'chaindata'),
      genesis,
      nativeCrypto: this.options.nativeCrypto ?? true,
      persistMempool: this.options.persistMempool ?? true,
      ...(this.options.senderThreads !== undefined ? { senderThreads: this.options.senderThreads } : {}),
    });
    this.finalized = this.chainRef.head.header.number;
    this.pace = new BlockPace(genesis.consensus.blockTimeMs, this.options.blockTimeMs);
    try {
      await this.pace.refresh(this.chainRef, this.finalized);
      if (this.options.rpc !== false) {
        const backend: RpcBackend = {
          chain: this.chainRef,
          onDidCommitBlock: this.onDidCommitBlock,
          clientVersion: CLIENT_VERSION,
          finalizedNumber: () => this.finalized,
          extensions: this.emposApi(),
        };
        this.rpc = new RpcServer(new EthApi(backend), backend, {
          host: this.options.rpc?.host ?? '127.0.0.1',
          port: this.options.rpc?.port ?? 8545,
          ...(this.options.rpc?.maxBodyBytes !== undefined ? { maxBodyBytes: this.options.rpc.maxBodyBytes } : {}),
        });
        await this.rpc.listen();
      }
    } catch (e) {
      await this.chainRef.close();
      this.chainRef = undefined;
      throw e;
    }
    this.running = true;
    this.scheduleNext();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.producing;
    await this.rpc?.close();
    this.rpc = undefined;
    await this.chainRef?.close();
    this.chainRef = undefined;
    this.committed.dispose();
    this.failed.dispose();
  }

  private scheduleNext(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.producing = this.produceOne().then(() => undefined).finally(() => {
        this.producing = undefined;
        this.scheduleNext();
      });
    }, this.blockTimeMs);
  }

  /** Produces, seals and finalizes one block now (also used by tests and the CLI). */
  async produceOne(): Promise<SealedBlock | undefined> {
    const chain = this.chainRef;
    const key = this.key;
    if (chain === undefined || key === undefined) return undefined;
    try {
      const chainId = chain.chainId;
      const number = chain.head.header.number + 1n;
      const schedule = await this.schedule(number);
      if (schedule === undefined || proposerFor(schedule, number, 0) !== key.address) {
        throw new EnergyMeshError('INTERNAL', `not the proposer of block ${number}`);
      }
      let seal: BlockSeal | undefined;
      const result = await chain.produceBlock({
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        coinbase: key.address,
        seal: (hash) => {
          const blockHash = bytesToHex(hash);
          seal = {
            proposer: key.address,
            proposerSignature: key.sign(proposalDigest(chainId, number, blockHash)),
            certificate: { number, blockHash, round: 0, votes: [{ validator: key.address, signature: key.sign(voteDigest(chainId, number, 0, blockHash)) }] },
          };
          return encodeSeal(seal);
        },
      });
      this.finalized = result.block.header.number;
      await this.pace?.refresh(chain, this.finalized);
      const sealed: SealedBlock = { ...result, seal: seal! };
      this.committed.fire(sealed, (e) => this.failed.fire(e));
      return sealed;
    } catch (e) {
      this.failed.fire(e);
      return undefined;
    }
  }

  /** The seal (proposer signature and finality certificate) stored with block `number`. */
  async seal(number: bigint): Promise<BlockSeal | undefined> {
    const raw = await this.chain.getSeal(number);
    return raw === undefined ? undefined : decodeSeal(raw);
  }

  private emposApi(): Record<string, (params: unknown[]) => Promise<unknown> | unknown> {
    const q = (n: bigint): string => `0x${n.toString(16)}`;
    return {
      empos_validators: () =>
        this.set().all().map((v) => ({ address: v.address, stake: q(v.stake), status: v.status, performancePermille: v.performancePermille })),
      empos_schedule: async (params) => {
        const h = typeof params[0] === 'string' && /^0x[0-9a-fA-F]+$/.test(params[0]) ? BigInt(params[0]) : this.chain.head.header.number + 1n;
        const s = await this.schedule(h);
        if (s === undefined) return null;
        return { epoch: q(s.epoch), firstHeight: q(s.firstHeight), seed: bytesToHex(s.seed), active: s.active, proposerOrder: s.order, proposer: proposerFor(s, h, 0) };
      },
      empos_finality: () => ({ head: q(this.chain.head.header.number), finalized: q(this.finalized), mode: 'embedded', blockTimeMs: this.blockTimeMs, blockTimeSource: this.blockTimeSource }),
      empos_certificate: async (params) => {
        const n = params[0];
        if (typeof n !== 'string' || !/^0x[0-9a-fA-F]+$/.test(n)) return null;
        const seal = await this.seal(BigInt(n));
        if (seal === undefined) return null;
        return { ...seal, certificate: { ...seal.certificate, number: q(seal.certificate.number) } };
      },
    };
  }
}
