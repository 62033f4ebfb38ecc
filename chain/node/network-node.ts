/**
 * `node` mode: a validator (or a non-validator full node) of an EMPoS network. Per height the scheduled
 * proposer builds a block from its pool (not committed), signs and gossips it; validators check it
 * (signatures, the parent certificate its header commits to, re-execution of every root) and run
 * Tendermint-style prevote/precommit rounds with locking (`BftEngine`); the block is committed — with
 * its certificate — only once precommits of ≥ 2/3 of the active stake exist, so the chain a node stores
 * is finalized history only and it never commits two blocks at one height. A silent proposer costs one
 * round timeout (doubling per round). A node that is behind (start, restart, late join, missed block)
 * fetches blocks with certificates from peers over `/empos/sync/1`, verifies each certificate against
 * the validator set and re-executes the block before it joins the rounds.
 *
 * Error policy: nothing a peer sends can throw out of the node — malformed, oversize, wrong-chain or
 * badly signed gossip is rejected by the network layer (counted, peer penalised); a proposal that fails
 * its checks is voted nil and its sender penalised; a failing sync peer is skipped. Keys are never logged.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Block } from '@ethereumjs/block';
import { bytesToHex } from '@ethereumjs/util';
import type { PrivateKey } from '@libp2p/interface';
import { EnergyMeshError } from '../../core/errors.ts';
import { Chain } from '../execution/chain.ts';
import { Emitter, type Event } from '../execution/emitter.ts';
import { parseGenesis, type Genesis, type GenesisFile } from '../execution/genesis.ts';
import {
  proposalDigest,
  recoverSigner,
  ValidatorKey,
  verifyCertificate,
  type FinalityCertificate,
  type ValidatorStake,
} from '../consensus/certificate.ts';
import { verifyEquivocation, type EquivocationEvidence } from '../consensus/vote-collector.ts';
import { buildSchedule, epochOf, firstHeightOf, genesisEpochBlocks, proposerFor, roundTimeoutMs, type EpochSchedule } from '../consensus/schedule.ts';
import {
  certificateCommitment,
  decodeCommit,
  decodeProposal,
  decodeVote,
  encodeCommit,
  encodeProposal,
  encodeVote,
  MAX_TX_BATCH,
  MAX_TX_BATCH_BYTES,
  blockHashOfRlp,
  decodeTransactions,
  encodeTransactions,
  NIL_HASH,
  proposalMessageDigest,
  voteMessageDigest,
  type ProposalMessage,
  type VoteMessage,
} from '../p2p/gossip-codec.ts';
import { P2pNetwork, type GossipKind, type P2pDiscoveryOptions, type P2pStats, type Verdict } from '../p2p/p2p-network.ts';
import { loadOrCreatePeerKey, peerKeyFromValidatorKey } from '../p2p/peer-key.ts';
import type { SyncedBlock } from '../p2p/sync-codec.ts';
import { EthApi, type RpcBackend } from '../rpc/eth-api.ts';
import { RpcServer } from '../rpc/rpc-server.ts';
import { BftEngine, type BftAction } from './bft-engine.ts';
import { decodeNetworkSeal, encodeNetworkSeal, type NetworkSeal } from './node-seal.ts';
import { SignState } from './sign-state.ts';
import { submitEvidence } from './evidence-reporter.ts';
import { validatorCandidates } from './validator-source.ts';
import { BlockPace, type PaceSource } from './block-pace.ts';
import type { ValidatorRecord } from '../consensus/validator-set.ts';
import { CLIENT_VERSION, type SealedBlock } from './chain-node.ts';

export interface NetworkNodeOptions {
  dataDir: string;
  genesis: Genesis | GenesisFile;
  /** Private keys of the validators this process runs (several only for benchmarks); none = full node. */
  validatorKeys?: readonly string[];
  /**
   * Local override of the block pace (tests and benchmarks only). By default the node paces blocks by the
   * governed `blockTimeMs` of the staking contract in the head state (the genesis value until governance
   * changes it). Never changes the epoch length, which comes from the genesis alone.
   */
  blockTimeMs?: number;
  /** Base of the round timeouts (default max(block pace, 1 s)); doubles per round. */
  roundTimeoutBaseMs?: number;
  /** Keep pending transactions across restarts in the data dir's `mempool.journal` (default true). */
  persistMempool?: boolean;
  rpc?: { host?: string; port?: number } | false;
  /**
   * libp2p: listen host/port, the peers to keep connected, peer discovery (default on; `false` = only the
   * listed peers), the addresses to announce instead of the listen ones (e.g. behind NAT) and the peer
   * allow-list of a permissioned network (only these peer ids and those of `peers` are kept connected).
   */
  p2p?: {
    host?: string;
    port?: number;
    peers?: readonly string[];
    discovery?: boolean | P2pDiscoveryOptions;
    announce?: readonly string[];
    allowPeers?: readonly string[];
  };
  /** libp2p identity; default derived from the first validator key, or `p2p.key` in dataDir. */
  peerKey?: PrivateKey;
  /** Two conflicting signed precommits of one validator (the staking layer turns it into a transaction). */
  onEvidence?: (e: EquivocationEvidence) => void;
  /** Submit observed equivocation evidence as a transaction from the first validator key (default true). */
  reportEvidence?: boolean;
  log?: (line: string) => void;
  nativeCrypto?: boolean;
}

interface KnownBlock {
  block: Block;
  builderSignature: string;
  parentCertificate: FinalityCertificate | undefined;
  valid: boolean;
}

interface EpochInfo {
  schedule: EpochSchedule;
  candidates: ValidatorRecord[];
}

interface HeightState {
  height: bigint;
  engine: BftEngine;
  schedule: EpochSchedule;
  validators: ValidatorStake[];
  blocks: Map<string, KnownBlock>;
  timers: Set<NodeJS.Timeout>;
}

const MAX_BUFFERED = 512;
const MAX_FUTURE_HEIGHTS = 4n;

function isGenesis(g: Genesis | GenesisFile): g is Genesis {
  return g.alloc instanceof Map;
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** EthApi plus what only a networked node knows: real `net_peerCount`, and transactions gossiped. */
class NetworkEthApi extends EthApi {
  constructor(
    backend: RpcBackend,
    private readonly node: NetworkNode,
  ) {
    super(backend);
  }

  override async call(method: string, params: unknown): Promise<unknown> {
    if (method === 'net_peerCount') return `0x${this.node.peerCount.toString(16)}`;
    const result = await super.call(method, params);
    if (method === 'eth_sendRawTransaction' && Array.isArray(params) && typeof params[0] === 'string') {
      this.node.gossipTransaction(params[0]);
    }
    return result;
  }
}

export class NetworkNode {
  private readonly options: NetworkNodeOptions;
  private chainRef: Chain | undefined;
  private net: P2pNetwork | undefined;
  private rpc: RpcServer | undefined;
  private keys: ValidatorKey[] = [];
  private signState: SignState | undefined;
  private state: HeightState | undefined;
  private queue: Promise<void> = Promise.resolve();
  private running = false;
  private readonly committed = new Emitter<SealedBlock>();
  private readonly epochs = new Map<bigint, EpochInfo>();
  /** Validators of the newest known epoch (cheap gossip checks). */
  private knownValidators = new Set<string>();
  /** Local certificate of the head (committed into the next block's extraData). */
  private headCertificate: FinalityCertificate | undefined;
  /** number → signers of that block's certificate as committed by its child (deterministic). */
  private readonly signers = new Map<bigint, string[]>();
  /** number → the validators that were to vote on it (its epoch's active set; deterministic). */
  private readonly voters = new Map<bigint, string[]>();
  private newestEpoch = -1n;
  private pace: BlockPace | undefined;
  private readonly future: { kind: GossipKind; data: Uint8Array; from: string; height: bigint }[] = [];
  private syncing: Promise<void> | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  /** Admitted transactions waiting to be gossiped as one batch (see `gossipTransaction`). */
  private txOutbox: Uint8Array[] = [];
  private txOutboxBytes = 0;
  private txFlushScheduled = false;
  private lastCommitAt = 0;
  /** When the next height's round 0 may start: one block time after the last height's (scheduled) start. */
  private nextHeightAt = 0;
  private lastProposal: { height: bigint; round: number; bytes: Uint8Array } | undefined;
  private rebroadcastTimer: NodeJS.Timeout | undefined;
  private readonly evidenceSeen = new Set<string>();

  /** Fires after each block is committed (it is final: it carries a ≥ 2/3 certificate). */
  readonly onDidCommitBlock: Event<SealedBlock> = this.committed.event;

  constructor(options: NetworkNodeOptions) {
    this.options = options;
  }

  get chain(): Chain {
    if (this.chainRef === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'node is not started');
    return this.chainRef;
  }

  get network(): P2pNetwork {
    if (this.net === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'node is not started');
    return this.net;
  }

  get rpcUrl(): string {
    if (this.rpc === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'JSON-RPC is not listening');
    return this.rpc.url;
  }

  get wsUrl(): string {
    if (this.rpc === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'JSON-RPC is not listening');
    return this.rpc.wsUrl;
  }

  get validatorAddresses(): string[] {
    return this.keys.map((k) => k.address);
  }

  get peerCount(): number {
    return this.net?.peerCount ?? 0;
  }

  /**
   * The block pace in force (ms between a commit and the next height's round 0): the local override if
   * given, else the staking contract's governed `blockTimeMs` in the head state, re-read after each commit.
   */
  get blockTimeMs(): number {
    return this.pace?.ms ?? this.options.blockTimeMs ?? this.chain.genesis.consensus.blockTimeMs;
  }

  /** Where `blockTimeMs` comes from: the local override, the governed parameter, or the genesis. */
  get blockTimeSource(): PaceSource {
    return this.pace?.source ?? 'genesis';
  }

  private get roundBaseMs(): number {
    return this.options.roundTimeoutBaseMs ?? Math.max(this.blockTimeMs, 1000);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  // ---------------------------------------------------------------------------------------------
  // life cycle

  async start(): Promise<void> {
    if (this.running) return;
    const o = this.options;
    mkdirSync(o.dataDir, { recursive: true });
    this.keys = (o.validatorKeys ?? []).map((k) => new ValidatorKey(k));
    const genesis = isGenesis(o.genesis) ? o.genesis : parseGenesis(o.genesis);
    if (genesis.validators.length === 0) throw new EnergyMeshError('CONFIG_INVALID', 'node mode needs a genesis with validators');
    const known = new Set(genesis.validators.map((v) => v.address.toLowerCase()));
    for (const k of this.keys) {
      if (!known.has(k.address)) throw new EnergyMeshError('CONFIG_INVALID', 'the validator key is not a genesis validator', { details: { address: k.address } });
    }
    this.chainRef = await Chain.open({
      dataDir: join(o.dataDir, 'chaindata'),
      genesis,
      nativeCrypto: o.nativeCrypto ?? true,
      // offline penalties (staking contract, block start) read who signed the parent — the certificate the
      // block commits to — and who was to vote on it — the parent epoch's active set —, both set here
      // (`prepareParent`) before each block is built, verified, imported or synced
      signersOf: (n) => this.signers.get(n),
      votersOf: (n) => this.voters.get(n),
      persistMempool: o.persistMempool ?? true,
    });
    this.pace = new BlockPace(genesis.consensus.blockTimeMs, o.blockTimeMs);
    try {
      this.signState = new SignState(join(o.dataDir, 'sign-state.json'));
      const head = this.chainRef.head.header.number;
      await this.pace.refresh(this.chainRef, head);
      if (head > 0n) {
        const seal = await this.sealOf(head);
        this.headCertificate = seal?.certificate;
        for (let n = head; n > 0n && n > head - 1024n; n--) {
          const s = await this.sealOf(n);
          if (s?.parentCertificate !== undefined) this.signers.set(n - 1n, s.parentCertificate.votes.map((v) => v.validator.toLowerCase()));
        }
      }
      const firstKey = o.validatorKeys?.[0];
      const peerKey = o.peerKey ?? (firstKey !== undefined ? await peerKeyFromValidatorKey(firstKey) : await loadOrCreatePeerKey(join(o.dataDir, 'p2p.key')));
      this.net = new P2pNetwork({
        chainId: this.chainRef.chainId,
        privateKey: peerKey,
        host: o.p2p?.host ?? '127.0.0.1',
        port: o.p2p?.port ?? 0,
        peers: o.p2p?.peers ?? [],
        ...(o.p2p?.discovery !== undefined ? { discovery: o.p2p.discovery } : {}),
        ...(o.p2p?.announce !== undefined ? { announce: o.p2p.announce } : {}),
        ...(o.p2p?.allowPeers !== undefined ? { allowPeers: o.p2p.allowPeers } : {}),
        log: (m) => this.log(m),
        handlers: {
          validate: (kind, data) => this.validate(kind, data),
          deliver: (kind, data, from) => this.deliver(kind, data, from),
          status: () => ({ head: this.chain.head.header.number, finalized: this.chain.head.header.number }),
          blocks: (from, count) => this.serveBlocks(from, count),
        },
      });
      await this.net.start();
      if (o.rpc !== false) {
        const backend: RpcBackend = {
          chain: this.chainRef,
          onDidCommitBlock: this.onDidCommitBlock,
          clientVersion: CLIENT_VERSION,
          finalizedNumber: () => this.chain.head.header.number,
          extensions: this.emposApi(),
        };
        this.rpc = new RpcServer(new NetworkEthApi(backend, this), backend, { host: o.rpc?.host ?? '127.0.0.1', port: o.rpc?.port ?? 0 });
        await this.rpc.listen();
      }
    } catch (e) {
      await this.net?.stop();
      await this.chainRef.close();
      this.chainRef = undefined;
      throw e;
    }
    this.running = true;
    this.lastCommitAt = Date.now();
    // the first height one block time after the start (peers connect meanwhile; as before the pace change)
    this.nextHeightAt = this.lastCommitAt + this.blockTimeMs;
    this.startIntervals();
    this.syncing = (async () => {
      try {
        await this.syncNow();
      } catch (e) {
        this.log(`initial sync failed: ${errMsg(e)}`);
      } finally {
        this.syncing = undefined;
      }
      this.enterHeight();
    })();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.syncTimer !== undefined) clearInterval(this.syncTimer);
    if (this.rebroadcastTimer !== undefined) clearInterval(this.rebroadcastTimer);
    this.clearTimers();
    await this.queue;
    await this.syncing;
    await this.rpc?.close();
    this.rpc = undefined;
    await this.net?.stop();
    this.net = undefined;
    await this.chainRef?.close();
    this.chainRef = undefined;
    this.committed.dispose();
  }

  /** The sync and rebroadcast intervals follow the round-timeout base (restarted when the pace changes). */
  private startIntervals(): void {
    if (this.syncTimer !== undefined) clearInterval(this.syncTimer);
    if (this.rebroadcastTimer !== undefined) clearInterval(this.rebroadcastTimer);
    this.syncTimer = setInterval(() => this.periodicSync(), Math.max(1000, this.roundBaseMs));
    this.rebroadcastTimer = setInterval(() => this.rebroadcast(), this.roundBaseMs);
  }

  /** Re-reads the governed block time after block `n` was committed. */
  private async refreshPace(n: bigint): Promise<void> {
    const pace = this.pace;
    if (pace === undefined || !(await pace.refresh(this.chain, n))) return;
    this.log(`block pace now ${pace.ms} ms (${pace.source}) from block ${n}`);
    if (this.running) this.startIntervals();
  }

  private enqueue(fn: () => Promise<void> | void): void {
    this.queue = this.queue
      .then(async () => {
        if (this.running) await fn();
      })
      .catch((e: unknown) => this.log(`consensus step failed: ${errMsg(e)}`));
  }

  private clearTimers(): void {
    for (const t of this.state?.timers ?? []) clearTimeout(t);
    this.state?.timers.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // validator set and schedule

  /** The schedule of `height`'s epoch (seeded from the last block of the previous epoch, which is final). */
  async schedule(height: bigint): Promise<EpochSchedule | undefined> {
    return (await this.epochInfo(height))?.schedule;
  }

  private async epochInfo(height: bigint): Promise<EpochInfo | undefined> {
    const chain = this.chain;
    // consensus-critical: from the genesis only (never the pace, which governance or an option may change)
    const perEpoch = genesisEpochBlocks(chain.genesis.consensus);
    const epoch = epochOf(height, perEpoch);
    const cached = this.epochs.get(epoch);
    if (cached !== undefined) return cached;
    const anchor = epoch === 0n ? 0n : firstHeightOf(epoch, perEpoch) - 1n;
    const block = await chain.getBlockByNumber(anchor);
    if (block === undefined) return undefined;
    const candidates = await validatorCandidates(chain, anchor, perEpoch);
    const schedule = buildSchedule(epoch, perEpoch, bytesToHex(block.hash()), candidates, chain.genesis.consensus.maxValidators);
    const info = { schedule, candidates };
    this.epochs.set(epoch, info);
    if (this.epochs.size > 4) this.epochs.delete(this.epochs.keys().next().value!);
    if (epoch >= this.newestEpoch) {
      this.newestEpoch = epoch;
      this.knownValidators = new Set(candidates.map((c) => c.address));
    }
    return info;
  }

  /** The active validators of `height` with their stake. */
  async validatorsAt(height: bigint): Promise<ValidatorStake[]> {
    const info = await this.epochInfo(height);
    if (info === undefined) return [];
    const active = new Set(info.schedule.active);
    return info.candidates.filter((v) => active.has(v.address)).map((v) => ({ address: v.address, stake: v.stake }));
  }

  /**
   * Who signed block `blockNumber`'s finality certificate, as committed in block `blockNumber + 1`'s
   * header (deterministic chain data). Empty when the child is not committed yet or is older than the
   * in-memory window (1,024 blocks; `signersOfAsync` reads the store).
   */
  signersOf(blockNumber: bigint): string[] {
    return this.signers.get(blockNumber) ?? [];
  }

  async signersOfAsync(blockNumber: bigint): Promise<string[]> {
    const cached = this.signers.get(blockNumber);
    if (cached !== undefined) return cached;
    const seal = await this.sealOf(blockNumber + 1n);
    return seal?.parentCertificate?.votes.map((v) => v.validator.toLowerCase()) ?? [];
  }

  async sealOf(number: bigint): Promise<NetworkSeal | undefined> {
    const raw = await this.chain.getSeal(number);
    if (raw === undefined) return undefined;
    try {
      return decodeNetworkSeal(raw);
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // heights and rounds

  private enterHeight(): void {
    if (!this.running) return;
    this.clearTimers();
    const height = this.chain.head.header.number + 1n;
    this.state = undefined;
    this.enqueue(async () => {
      if (this.chain.head.header.number + 1n !== height || this.state?.height === height) return;
      const schedule = await this.schedule(height);
      if (schedule === undefined) throw new EnergyMeshError('INTERNAL', `no schedule for height ${height}`);
      const validators = await this.validatorsAt(height);
      const sign = this.signState!;
      sign.enter(height);
      const engine = new BftEngine({
        height,
        validators,
        proposerOf: (round) => proposerFor(schedule, height, round),
        local: this.keys.map((k) => k.address),
        ...(sign.locked !== undefined ? { locked: sign.locked } : {}),
      });
      this.state = { height, engine, schedule, validators, blocks: new Map(), timers: new Set() };
      // One block per block time, counted from the start of the previous height (not from its commit):
      // the time to build, verify and vote is inside the interval, and under a backlog heights follow
      // each other at once (the build budget bounds each).
      const now = Date.now();
      const startAt = Math.max(now, this.nextHeightAt);
      this.nextHeightAt = startAt + this.blockTimeMs;
      const wait = startAt - now;
      const startRound = Math.max(0, sign.lastRound());
      const begin = (): void =>
        this.enqueue(async () => {
          if (this.state?.height !== height) return;
          await this.apply(engine.start(startRound));
        });
      if (wait > 0) this.later(wait, begin);
      else begin();
      // replay what arrived early for this height
      const early = this.future.filter((m) => m.height === height);
      for (let i = this.future.length - 1; i >= 0; i--) if (this.future[i]!.height <= height) this.future.splice(i, 1);
      for (const m of early) this.deliver(m.kind, m.data, m.from);
    });
  }

  private later(ms: number, fn: () => void): void {
    const s = this.state;
    if (s === undefined) return;
    const t = setTimeout(() => {
      s.timers.delete(t);
      fn();
    }, ms);
    s.timers.add(t);
  }

  private async apply(actions: BftAction[]): Promise<void> {
    for (const a of actions) {
      const s = this.state;
      if (s === undefined || !this.running) return;
      if (process.env.EMPOS_DEBUG === '1') this.log(`+${Date.now() - this.lastCommitAt}ms h${s.height} ${JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 120)}`);
      switch (a.type) {
        case 'timeout': {
          const engine = s.engine;
          // propose timeout doubles per round (a silent proposer is skipped ever more patiently, capped at
          // 8 × base so a network that lost its quorum resumes quickly); prevote/precommit timeouts only wait
          // for stragglers once a quorum of votes is in, and stay at the base
          const ms = a.step === 'propose' ? roundTimeoutMs(this.roundBaseMs, a.round, 8 * this.roundBaseMs) : this.roundBaseMs;
          this.later(ms, () =>
            this.enqueue(async () => {
              if (this.state?.engine === engine) await this.apply(engine.onTimeout(a.step, a.round));
            }),
          );
          break;
        }
        case 'propose':
          await this.propose(s, a.round, a.validRound, a.blockHash);
          break;
        case 'vote':
          await this.castVotes(s, a.kind, a.round, a.blockHash);
          break;
        case 'decide':
          await this.commit(s, a.blockHash, { number: s.height, blockHash: a.blockHash, round: a.round, votes: a.votes });
          return;
        case 'need-block':
          this.log(`height ${s.height}: a quorum precommitted ${a.blockHash}, which this node does not have; syncing`);
          this.requestSync();
          break;
      }
    }
  }

  private keyOf(address: string): ValidatorKey | undefined {
    return this.keys.find((k) => k.address === address.toLowerCase());
  }

  private async propose(s: HeightState, round: number, validRound: number, blockHash: string | undefined): Promise<void> {
    const proposer = proposerFor(s.schedule, s.height, round);
    const key = this.keyOf(proposer);
    if (key === undefined) return;
    const chain = this.chain;
    let known = blockHash === undefined ? undefined : s.blocks.get(blockHash);
    if (known === undefined) {
      const parentCertificate = s.height === 1n ? undefined : this.headCertificate;
      if (s.height > 1n && parentCertificate === undefined) {
        this.log(`height ${s.height}: no certificate of the parent at hand; not proposing`);
        return;
      }
      await this.prepareParent(s.height, parentCertificate);
      if (this.state !== s) return;
      const built = await chain.buildProposal({
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        coinbase: key.address,
        // half the round's base timeout: validators must get and re-execute it before they time out,
        // however big the backlog and the gas limit (what does not fit waits for the next block)
        budgetMs: Math.floor(this.roundBaseMs / 2),
        ...(parentCertificate !== undefined ? { extraData: certificateCommitment(parentCertificate) } : {}),
      });
      if (this.state !== s) return;
      const hash = bytesToHex(built.block.hash());
      known = { block: built.block, builderSignature: key.sign(proposalDigest(chain.chainId, s.height, hash)), parentCertificate, valid: true };
      s.blocks.set(hash, known);
      validRound = -1;
    }
    const hash = bytesToHex(known.block.hash());
    const msg: ProposalMessage = {
      chainId: chain.chainId,
      height: s.height,
      round,
      validRound,
      block: known.block.serialize(),
      builderSignature: known.builderSignature,
      parentCertificate: known.parentCertificate,
      signature: key.sign(proposalMessageDigest(chain.chainId, s.height, round, validRound, hash)),
    };
    const bytes = encodeProposal(msg);
    this.lastProposal = { height: s.height, round, bytes };
    await this.net?.publish('proposal', bytes);
    await this.apply(s.engine.onProposal(round, hash, validRound, true));
  }

  private async castVotes(s: HeightState, kind: VoteMessage['kind'], round: number, blockHash: string): Promise<void> {
    const chainId = this.chain.chainId;
    const sign = this.signState!;
    const out: VoteMessage[] = [];
    for (const key of this.keys) {
      if (!s.engine.isValidatorAddress(key.address)) continue;
      const previous = sign.signed(key.address, round, kind);
      let vote: VoteMessage;
      if (previous !== undefined) {
        // never sign a second, different vote in one round (also across restarts): repeat the first
        vote = { chainId, kind, height: s.height, round, blockHash: previous.blockHash, validator: key.address, signature: previous.signature };
      } else {
        const unsigned = { chainId, kind, height: s.height, round, blockHash };
        vote = { ...unsigned, validator: key.address, signature: key.sign(voteMessageDigest(unsigned)) };
        const locked = kind === 'precommit' && blockHash !== NIL_HASH ? { round, blockHash } : undefined;
        sign.record({ round, kind, validator: key.address, blockHash: vote.blockHash, signature: vote.signature }, locked, false);
      }
      out.push(vote);
    }
    // one durable write for all local validators' votes, before any of them leaves the process
    sign.save();
    for (const vote of out) {
      await this.net?.publish('vote', encodeVote(vote));
      await this.apply(s.engine.onVote(kind, round, vote.validator, vote.blockHash, vote.signature).actions);
      if (this.state !== s) return;
    }
  }

  private async commit(s: HeightState, blockHash: string, certificate: FinalityCertificate): Promise<void> {
    const known = s.blocks.get(blockHash);
    if (known === undefined || !known.valid) return;
    const seal: NetworkSeal = {
      proposer: known.block.header.coinbase.toString().toLowerCase(),
      proposerSignature: known.builderSignature,
      certificate,
      ...(known.parentCertificate !== undefined ? { parentCertificate: known.parentCertificate } : {}),
    };
    this.clearTimers();
    await this.prepareParent(s.height, known.parentCertificate);
    const result = await this.chain.importBlock(known.block, encodeNetworkSeal(seal));
    this.afterCommit(result.block, seal);
    await this.refreshPace(s.height);
    this.committed.fire({ ...result, seal }, (e) => this.log(`commit listener failed: ${errMsg(e)}`));
    await this.net?.publish('commit', encodeCommit({ chainId: this.chain.chainId, certificate }));
    this.log(`committed block ${s.height} (${blockHash.slice(0, 10)}…, round ${certificate.round}, ${certificate.votes.length} signatures, ${result.block.transactions.length} txs)`);
    this.enterHeight();
  }

  /**
   * Block `height` is executed with the signers of the parent certificate it commits to and the parent's
   * voting set — the active set of the parent's epoch, from the schedule (finalized state) — so the block
   * start charges exactly the absentees (voters − signers): a validator that staked during the epoch is not
   * a voter yet and is never charged for it. Both are deterministic chain data, the same on every node.
   */
  private async prepareParent(height: bigint, parentCertificate: FinalityCertificate | undefined): Promise<void> {
    const parent = height - 1n;
    if (parentCertificate === undefined) {
      this.signers.delete(parent);
      this.voters.delete(parent);
      return;
    }
    this.signers.set(parent, parentCertificate.votes.map((v) => v.validator.toLowerCase()));
    if (!this.voters.has(parent)) {
      const voters = (await this.validatorsAt(parent)).map((v) => v.address);
      if (voters.length === 0) throw new EnergyMeshError('INTERNAL', `no voting set for block ${parent}`);
      this.voters.set(parent, voters);
    }
  }

  private afterCommit(block: Block, seal: NetworkSeal): void {
    const n = block.header.number;
    this.headCertificate = seal.certificate;
    this.lastCommitAt = Date.now();
    if (seal.parentCertificate !== undefined) this.signers.set(n - 1n, seal.parentCertificate.votes.map((v) => v.validator.toLowerCase()));
    this.signers.delete(n - 1025n);
    for (const k of this.voters.keys()) if (k < n - 16n) this.voters.delete(k);
  }

  // ---------------------------------------------------------------------------------------------
  // inbound gossip

  private validate(kind: GossipKind, data: Uint8Array): Verdict | Promise<Verdict> {
    if (!this.running || this.chainRef === undefined) return 'ignore';
    const chainId = this.chain.chainId;
    const height = this.chain.head.header.number + 1n;
    switch (kind) {
      case 'vote': {
        const v = decodeVote(data);
        if (v.chainId !== chainId) return 'reject';
        if (recoverSigner(voteMessageDigest(v), v.signature) !== v.validator) return 'reject';
        if (v.height < height - 1n || v.height > height + MAX_FUTURE_HEIGHTS * 64n) return 'ignore';
        if (!this.knownValidators.has(v.validator)) return 'reject';
        return 'accept';
      }
      case 'proposal': {
        const p = decodeProposal(data);
        if (p.chainId !== chainId) return 'reject';
        if (p.height < height || p.height > height + MAX_FUTURE_HEIGHTS * 64n) return 'ignore';
        // the header's hash only: the transactions are decoded (senders recovered) when the proposal is handled
        const signer = recoverSigner(proposalMessageDigest(chainId, p.height, p.round, p.validRound, blockHashOfRlp(p.block)), p.signature);
        if (signer === undefined || !this.knownValidators.has(signer)) return 'reject';
        return 'accept';
      }
      case 'commit': {
        const c = decodeCommit(data);
        if (c.chainId !== chainId) return 'reject';
        return c.certificate.number < height ? 'ignore' : 'accept';
      }
      case 'tx': {
        // Admission decides (senders recovered on the worker threads, one message per batch): a batch is
        // forwarded when it brought something new, never when it holds a transaction no honest node
        // relays (the sender is penalised); the pool's own rules (known, nonce, funds) are not the peer's fault.
        const raws = decodeTransactions(data);
        return this.chain.admitRawTransactions(raws).then((r) => (r.invalid > 0 ? 'reject' : r.admitted.length > 0 ? 'accept' : 'ignore'));
      }
    }
  }

  private deliver(kind: GossipKind, data: Uint8Array, from: string): void {
    if (!this.running) return;
    if (kind === 'tx') return; // admitted when validated
    this.enqueue(async () => {
      const height = this.chain.head.header.number + 1n;
      if (kind === 'vote') {
        const v = decodeVote(data);
        if (v.height >= height && this.state?.height !== v.height) return this.buffer(kind, data, from, v.height);
        if (v.height === height && this.state?.height === height) await this.onVote(this.state, v);
      } else if (kind === 'proposal') {
        const p = decodeProposal(data);
        if (p.height >= height && this.state?.height !== p.height) return this.buffer(kind, data, from, p.height);
        if (p.height === height && this.state?.height === height) await this.onProposal(this.state, p, from);
      } else {
        const c = decodeCommit(data).certificate;
        if (c.number > height) {
          this.requestSync();
          return;
        }
        if (c.number === height && this.state?.height === height) await this.onCommitMessage(this.state, c);
      }
    });
  }

  private buffer(kind: GossipKind, data: Uint8Array, from: string, height: bigint): void {
    if (this.future.length >= MAX_BUFFERED) this.future.shift();
    this.future.push({ kind, data, from, height });
    if (height > this.chain.head.header.number + 2n) this.requestSync();
  }

  private async onVote(s: HeightState, v: VoteMessage): Promise<void> {
    const { actions, conflict } = s.engine.onVote(v.kind, v.round, v.validator, v.blockHash, v.signature);
    if (conflict !== undefined) this.reportEquivocation(v, conflict);
    await this.apply(actions);
  }

  private reportEquivocation(v: VoteMessage, conflict: { blockHash: string; signature: string }): void {
    const key = `${v.validator}/${v.height}/${v.round}/${v.kind}`;
    if (this.evidenceSeen.has(key)) return;
    this.evidenceSeen.add(key);
    if (this.evidenceSeen.size > 10_000) this.evidenceSeen.clear();
    if (v.kind !== 'precommit') {
      this.log(`equivocation: ${v.validator} prevoted ${conflict.blockHash} and ${v.blockHash} at height ${v.height} round ${v.round}`);
      return;
    }
    const evidence: EquivocationEvidence = {
      validator: v.validator,
      a: { validator: v.validator, number: v.height, round: v.round, blockHash: conflict.blockHash, signature: conflict.signature },
      b: { validator: v.validator, number: v.height, round: v.round, blockHash: v.blockHash, signature: v.signature },
    };
    if (!verifyEquivocation(this.chain.chainId, evidence)) return;
    this.log(`equivocation evidence: ${v.validator} precommitted ${conflict.blockHash} and ${v.blockHash} at height ${v.height} round ${v.round}`);
    try {
      this.options.onEvidence?.(evidence);
    } catch (e) {
      this.log(`onEvidence failed: ${errMsg(e)}`);
    }
    // report it on chain (anyone may; this node pays the gas with its validator account)
    const reporter = this.options.validatorKeys?.[0];
    if (reporter !== undefined && this.options.reportEvidence !== false) {
      submitEvidence(this.chain, reporter, evidence).then(
        ({ hash, raw }) => {
          this.gossipTransaction(bytesToHex(raw));
          this.log(`equivocation evidence against ${v.validator} submitted in transaction ${hash}`);
        },
        (e: unknown) => this.log(`equivocation evidence against ${v.validator} not submitted: ${errMsg(e)}`),
      );
    }
  }

  /** Full checks of a proposal for the current height; the block is re-executed (not committed). */
  private async onProposal(s: HeightState, p: ProposalMessage, from: string): Promise<void> {
    const chain = this.chain;
    const proposer = proposerFor(s.schedule, s.height, p.round);
    let block: Block;
    try {
      block = await chain.decodeBlockAsync(p.block);
    } catch {
      this.net?.penalise(from);
      return;
    }
    const hash = bytesToHex(block.hash());
    if (recoverSigner(proposalMessageDigest(chain.chainId, p.height, p.round, p.validRound, hash), p.signature) !== proposer) {
      this.net?.penalise(from);
      return;
    }
    let known = s.blocks.get(hash);
    if (known === undefined) {
      const why = await this.checkBlock(s, block, p.builderSignature, p.parentCertificate);
      if (this.state !== s) return;
      if (why !== undefined) {
        this.log(`height ${s.height} round ${p.round}: invalid proposal from ${proposer}: ${why}`);
        this.net?.penalise(from);
      }
      known = { block, builderSignature: p.builderSignature, parentCertificate: p.parentCertificate, valid: why === undefined };
      s.blocks.set(hash, known);
    }
    await this.apply(s.engine.onProposal(p.round, hash, p.validRound, known.valid));
  }

  /** Undefined when the block may be voted for; else why not. */
  private async checkBlock(s: HeightState, block: Block, builderSignature: string, parentCertificate: FinalityCertificate | undefined): Promise<string | undefined> {
    const chain = this.chain;
    const h = block.header;
    const hash = bytesToHex(block.hash());
    if (h.number !== s.height) return 'wrong height';
    const coinbase = h.coinbase.toString().toLowerCase();
    if (!s.validators.some((v) => v.address === coinbase)) return 'coinbase is not an active validator';
    if (recoverSigner(proposalDigest(chain.chainId, s.height, hash), builderSignature) !== coinbase) return 'bad builder signature';
    if (h.timestamp > BigInt(Math.floor(Date.now() / 1000)) + 15n) return 'timestamp in the future';
    const why = await this.checkParentCertificate(block, parentCertificate);
    if (why !== undefined) return why;
    try {
      await this.prepareParent(s.height, parentCertificate);
      await chain.verifyBlock(block);
    } catch (e) {
      return errMsg(e);
    }
    return undefined;
  }

  /** Block n ≥ 2 must commit (extraData) to a valid certificate of its parent. */
  private async checkParentCertificate(block: Block, parentCertificate: FinalityCertificate | undefined): Promise<string | undefined> {
    const n = block.header.number;
    if (n === 1n) return parentCertificate === undefined ? undefined : 'block 1 has no parent certificate';
    if (parentCertificate === undefined) return 'missing parent certificate';
    if (bytesToHex(certificateCommitment(parentCertificate)) !== bytesToHex(block.header.extraData)) return 'extraData does not commit to the parent certificate';
    if (parentCertificate.number !== n - 1n || parentCertificate.blockHash !== bytesToHex(block.header.parentHash)) return 'parent certificate is for another block';
    const check = verifyCertificate(this.chain.chainId, parentCertificate, await this.validatorsAt(n - 1n));
    return check.valid ? undefined : `parent certificate: ${check.reason ?? 'invalid'}`;
  }

  private async onCommitMessage(s: HeightState, c: FinalityCertificate): Promise<void> {
    const known = s.blocks.get(c.blockHash);
    if (known === undefined || !known.valid) {
      this.requestSync();
      return;
    }
    if (!verifyCertificate(this.chain.chainId, c, s.validators).valid) return;
    s.engine.decided = c.blockHash;
    await this.commit(s, c.blockHash, c);
  }

  // ---------------------------------------------------------------------------------------------
  // sync

  private async serveBlocks(from: bigint, count: number): Promise<SyncedBlock[]> {
    const out: SyncedBlock[] = [];
    const head = this.chain.head.header.number;
    for (let n = from; n <= head && out.length < count; n++) {
      const block = await this.chain.getBlockByNumber(n);
      const seal = await this.chain.getSeal(n);
      if (block === undefined || seal === undefined) break;
      out.push({ block: block.serialize(), seal });
    }
    return out;
  }

  /**
   * Gossips a transaction this node admitted. Those of one event-loop turn go out as one message (≤ 1,000
   * transactions, ≤ 1 MiB): one gossipsub signature and one admission batch per message at every peer.
   */
  gossipTransaction(rawHex: string): void {
    const raw = Uint8Array.from(Buffer.from(rawHex.replace(/^0x/, ''), 'hex'));
    if (this.txOutboxBytes + raw.length + 8 > MAX_TX_BATCH_BYTES || this.txOutbox.length >= MAX_TX_BATCH) this.flushTransactions();
    this.txOutbox.push(raw);
    this.txOutboxBytes += raw.length + 8;
    if (!this.txFlushScheduled) {
      this.txFlushScheduled = true;
      setImmediate(() => this.flushTransactions());
    }
  }

  private flushTransactions(): void {
    this.txFlushScheduled = false;
    if (this.txOutbox.length === 0) return;
    const batch = encodeTransactions(this.txOutbox);
    this.txOutbox = [];
    this.txOutboxBytes = 0;
    void this.net?.publish('tx', batch);
  }

  /**
   * Gossip is best effort (a message sent before a peer connected or subscribed is lost), so while a
   * height is not decided the node repeats its proposal and votes of the current (and previous) round;
   * receivers count a repeated vote once.
   */
  private rebroadcast(): void {
    const s = this.state;
    const sign = this.signState;
    if (!this.running || s === undefined || sign === undefined || sign.height !== s.height || s.engine.decided !== undefined) return;
    if (Date.now() - this.lastCommitAt < this.roundBaseMs) return;
    const round = s.engine.round;
    const chainId = this.chain.chainId;
    if (this.lastProposal !== undefined && this.lastProposal.height === s.height && this.lastProposal.round === round) void this.net?.publish('proposal', this.lastProposal.bytes);
    for (const v of sign.votes) {
      if (v.round < round - 1) continue;
      void this.net?.publish('vote', encodeVote({ chainId, kind: v.kind, height: s.height, round: v.round, blockHash: v.blockHash, validator: v.validator, signature: v.signature }));
    }
  }

  private periodicSync(): void {
    if (!this.running) return;
    // stalled for several rounds, or messages from heights ahead: ask peers
    if (Date.now() - this.lastCommitAt > 3 * this.roundBaseMs || this.future.length > 0) this.requestSync();
  }

  private requestSync(): void {
    if (this.syncing !== undefined || !this.running) return;
    this.syncing = (async () => {
      try {
        const before = this.chain.head.header.number;
        await this.syncNow();
        if (this.chain.head.header.number > before) this.enqueue(() => this.enterHeight());
      } catch (e) {
        this.log(`sync failed: ${errMsg(e)}`);
      } finally {
        this.syncing = undefined;
      }
    })();
  }

  /** Fetches and applies certified blocks from the peer with the highest head until none is ahead. */
  private async syncNow(): Promise<void> {
    const net = this.net;
    if (net === undefined) return;
    for (let pass = 0; pass < 10_000 && this.running; pass++) {
      const head = this.chain.head.header.number;
      let best: { peer: string; head: bigint } | undefined;
      for (const peer of net.peers()) {
        try {
          const st = await net.status(peer);
          if (st.head > head && (best === undefined || st.head > best.head)) best = { peer, head: st.head };
        } catch {
          /* try the others */
        }
      }
      if (best === undefined) return;
      let blocks: SyncedBlock[];
      try {
        blocks = await net.blocks(best.peer, head + 1n, 64);
      } catch (e) {
        this.log(`sync from ${best.peer} failed: ${errMsg(e)}`);
        return;
      }
      if (blocks.length === 0) return;
      for (const b of blocks) {
        if (!this.running) return;
        const ok = await this.applySynced(b);
        if (!ok) {
          net.penalise(best.peer);
          return;
        }
      }
    }
  }

  /** Verifies a synced block (certificate against the validator set, parent commitment) and imports it. */
  private async applySynced(b: SyncedBlock): Promise<boolean> {
    const chain = this.chain;
    let block: Block;
    let seal: NetworkSeal;
    try {
      block = await chain.decodeBlockAsync(b.block);
      seal = decodeNetworkSeal(b.seal);
    } catch {
      return false;
    }
    const n = block.header.number;
    if (n !== chain.head.header.number + 1n) return n <= chain.head.header.number; // already have it (a commit raced the sync)
    const hash = bytesToHex(block.hash());
    const cert = seal.certificate;
    if (cert.number !== n || cert.blockHash.toLowerCase() !== hash) return false;
    const validators = await this.validatorsAt(n);
    const check = verifyCertificate(chain.chainId, cert, validators);
    if (!check.valid) {
      this.log(`sync: block ${n} certificate refused: ${check.reason ?? ''}`);
      return false;
    }
    const why = await this.checkParentCertificate(block, seal.parentCertificate);
    if (why !== undefined) {
      this.log(`sync: block ${n} refused: ${why}`);
      return false;
    }
    await this.withEngineQuiet(async () => {
      if (chain.head.header.number + 1n !== n) return;
      await this.prepareParent(n, seal.parentCertificate);
      const result = await chain.importBlock(block, encodeNetworkSeal(seal));
      this.afterCommit(result.block, seal);
      await this.refreshPace(n);
      this.committed.fire({ ...result, seal }, (e) => this.log(`commit listener failed: ${errMsg(e)}`));
      this.log(`synced block ${n}`);
    });
    return true;
  }

  /** Runs `fn` in the consensus queue (so a sync never interleaves with a commit). */
  private withEngineQuiet(fn: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue = this.queue.then(fn).then(resolve, reject);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // RPC

  stats(): P2pStats & { height: string; round: number; step: string; blockTimeMs: number; blockTimeSource: PaceSource } {
    return {
      ...this.network.stats(),
      height: (this.chain.head.header.number + 1n).toString(),
      round: this.state?.engine.round ?? 0,
      step: this.state?.engine.step ?? 'propose',
      blockTimeMs: this.blockTimeMs,
      blockTimeSource: this.blockTimeSource,
    };
  }

  private emposApi(): Record<string, (params: unknown[]) => Promise<unknown> | unknown> {
    const q = (n: bigint): string => `0x${n.toString(16)}`;
    const hexParam = (x: unknown): bigint | undefined => (typeof x === 'string' && /^0x[0-9a-fA-F]+$/.test(x) ? BigInt(x) : undefined);
    return {
      empos_validators: async () => {
        const height = this.chain.head.header.number + 1n;
        const info = await this.epochInfo(height);
        const active = new Set(info?.schedule.active ?? []);
        return (info?.candidates ?? []).map((v) => ({
          address: v.address,
          stake: q(v.stake),
          status: active.has(v.address) ? 'active' : v.status === 'removed' ? 'removed' : 'candidate',
          performancePermille: v.performancePermille,
        }));
      },
      empos_schedule: async (params) => {
        const h = hexParam(params[0]) ?? this.chain.head.header.number + 1n;
        const info = await this.epochInfo(h);
        if (info === undefined) return null;
        const s = info.schedule;
        return {
          epoch: q(s.epoch),
          firstHeight: q(s.firstHeight),
          epochBlocks: q(genesisEpochBlocks(this.chain.genesis.consensus)),
          seed: bytesToHex(s.seed),
          active: s.active,
          proposerOrder: s.order,
          proposer: proposerFor(s, h, 0),
          // the weights the active set was drawn with: stake and performance‰ over the previous epoch
          candidates: info.candidates.map((v) => ({ address: v.address, stake: q(v.stake), performancePermille: v.performancePermille })),
        };
      },
      empos_finality: () => ({
        head: q(this.chain.head.header.number),
        finalized: q(this.chain.head.header.number),
        mode: 'node',
        round: this.state?.engine.round ?? 0,
        step: this.state?.engine.step ?? 'propose',
        blockTimeMs: this.blockTimeMs,
        blockTimeSource: this.blockTimeSource,
      }),
      empos_certificate: async (params) => {
        const n = hexParam(params[0]);
        if (n === undefined) return null;
        const seal = await this.sealOf(n);
        if (seal === undefined) return null;
        const c = (x: FinalityCertificate): unknown => ({ ...x, number: q(x.number) });
        return {
          proposer: seal.proposer,
          proposerSignature: seal.proposerSignature,
          certificate: c(seal.certificate),
          ...(seal.parentCertificate !== undefined ? { parentCertificate: c(seal.parentCertificate) } : {}),
          signers: await this.signersOfAsync(n),
        };
      },
      empos_network: () => {
        const st = this.stats();
        return { ...st, peerId: this.network.peerId, addresses: this.network.addresses, peerIds: this.network.peers(), validators: this.validatorAddresses };
      },
    };
  }
}
