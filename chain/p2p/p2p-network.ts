/**
 * The EMPoS validator network on libp2p: TCP, noise encryption, yamux multiplexing, identify, and
 * gossipsub with one topic per message kind (`/empos/<chainId>/<kind>/1`: proposal, vote, commit, tx),
 * plus the `/empos/sync/1` request/response protocol for blocks with their certificates.
 *
 * Peers come from a list of multiaddrs with their peer id (`/ip4/…/tcp/…/p2p/12D3…`); each is dialled and
 * re-dialled with exponential back-off (0.5 s doubling to 10 s) while it is not connected.
 *
 * Error policy: every inbound gossip message goes through the caller's synchronous `validate(kind, data)`
 * (decode, size, chain id, signatures) before it is delivered or forwarded: a throw or 'reject' counts
 * the message as rejected, penalises the sending peer (10 points; at 100 the peer is disconnected and
 * refused for a minute; penalties halve every 30 s) and drops it; 'ignore' drops it without penalty.
 * Nothing a peer sends can throw out of this class. Sync requests are bounded (frame size, block count,
 * a timeout per request); failures reject the request's promise and the caller tries another peer.
 */
import './node20-compat.ts';
import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p, Message, PeerId, PrivateKey, PubSub, Stream } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { EnergyMeshError } from '../../core/errors.ts';
import {
  decodeSyncedBlock,
  decodeSyncRequest,
  decodeSyncStatus,
  encodeSyncedBlock,
  encodeSyncRequest,
  encodeSyncStatus,
  frame,
  MAX_SYNC_BLOCKS,
  readFrames,
  SYNC_PROTOCOL,
  type SyncedBlock,
  type SyncStatus,
} from './sync-codec.ts';
import { MAX_PROPOSAL_BYTES } from './gossip-codec.ts';

export type GossipKind = 'proposal' | 'vote' | 'commit' | 'tx';
export const GOSSIP_KINDS: readonly GossipKind[] = ['proposal', 'vote', 'commit', 'tx'];
export type Verdict = 'accept' | 'reject' | 'ignore';

export interface P2pHandlers {
  /** Synchronous, cheap checks of an inbound message (never re-execution). */
  validate(kind: GossipKind, data: Uint8Array): Verdict;
  /** An accepted message (called after `validate` accepted it). */
  deliver(kind: GossipKind, data: Uint8Array, from: string): void;
  /** Serves sync requests. */
  status(): SyncStatus;
  blocks(from: bigint, count: number): Promise<SyncedBlock[]>;
}

export interface P2pNetworkOptions {
  chainId: bigint;
  privateKey: PrivateKey;
  /** Listen address (default 127.0.0.1, port 0 = ephemeral). */
  host?: string;
  port?: number;
  /** Peers to keep connected: multiaddrs ending in /p2p/<peer id>. */
  peers?: readonly string[];
  handlers: P2pHandlers;
  /** Timeout of one sync request (default 10 s). */
  syncTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface P2pStats {
  peers: number;
  accepted: Record<GossipKind, number>;
  rejected: Record<GossipKind, number>;
  ignored: Record<GossipKind, number>;
  penalised: number;
  disconnectedForPenalty: number;
}

const PENALTY = 10;
const PENALTY_LIMIT = 100;
const BAN_MS = 60_000;

function zero(): Record<GossipKind, number> {
  return { proposal: 0, vote: 0, commit: 0, tx: 0 };
}

export function topicOf(chainId: bigint, kind: GossipKind): string {
  return `/empos/${chainId}/${kind}/1`;
}

interface DialTarget {
  addr: Multiaddr;
  peer: PeerId;
  backoffMs: number;
  nextAt: number;
  dialing: boolean;
}

export class P2pNetwork {
  private node: Libp2p<{ pubsub: PubSub<GossipsubEvents> }> | undefined;
  private readonly options: P2pNetworkOptions;
  private readonly topics = new Map<string, GossipKind>();
  private readonly targets: DialTarget[] = [];
  private readonly penalties = new Map<string, { points: number; at: number }>();
  private readonly banned = new Map<string, number>();
  private dialTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly counters: Omit<P2pStats, 'peers'> = { accepted: zero(), rejected: zero(), ignored: zero(), penalised: 0, disconnectedForPenalty: 0 };

  constructor(options: P2pNetworkOptions) {
    this.options = options;
    for (const k of GOSSIP_KINDS) this.topics.set(topicOf(options.chainId, k), k);
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /** The listen multiaddrs with /p2p/<peer id>, as other nodes list them in `--peers`. */
  get addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  get peerCount(): number {
    return this.node === undefined ? 0 : this.node.getPeers().length;
  }

  private get libp2p(): Libp2p<{ pubsub: PubSub<GossipsubEvents> }> {
    if (this.node === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'p2p network is not started');
    return this.node;
  }

  stats(): P2pStats {
    return { peers: this.peerCount, ...this.counters };
  }

  async start(): Promise<void> {
    const o = this.options;
    for (const p of o.peers ?? []) {
      let addr: Multiaddr;
      let peer: PeerId;
      try {
        addr = multiaddr(p);
        const id = addr.getPeerId();
        if (id === null) throw new Error('no /p2p/<peer id>');
        peer = peerIdFromString(id);
      } catch (e) {
        throw new EnergyMeshError('CONFIG_INVALID', `invalid peer address ${p} (expected /ip4/HOST/tcp/PORT/p2p/PEER_ID)`, { cause: e });
      }
      this.targets.push({ addr, peer, backoffMs: 500, nextAt: 0, dialing: false });
    }
    const node = await createLibp2p({
      privateKey: o.privateKey,
      addresses: { listen: [`/ip4/${o.host ?? '127.0.0.1'}/tcp/${o.port ?? 0}`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: (peer: PeerId) => this.isBanned(peer.toString()),
        denyInboundEncryptedConnection: (peer: PeerId) => this.isBanned(peer.toString()),
      },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
          fallbackToFloodsub: false,
          ignoreDuplicatePublishError: true,
          maxInboundDataLength: MAX_PROPOSAL_BYTES + 64 * 1024,
          // message ids from (origin, sequence number): a node may repeat a vote or proposal (consensus
          // re-broadcasts while a height is undecided); receivers count a repeated vote once
          globalSignaturePolicy: 'StrictSign',
        }),
      },
    });
    this.node = node;
    const pubsub = node.services.pubsub;
    for (const [topic, kind] of this.topics) {
      pubsub.topicValidators.set(topic, (peer: PeerId, msg: Message) => this.validate(kind, msg.data, peer.toString()));
      pubsub.subscribe(topic);
    }
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg, propagationSource } = evt.detail;
      const kind = this.topics.get(msg.topic);
      if (kind === undefined) return;
      try {
        this.options.handlers.deliver(kind, msg.data, propagationSource.toString());
      } catch (e) {
        this.log(`handler of ${kind} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    await node.handle(SYNC_PROTOCOL, ({ stream }) => void this.serveSync(stream), { maxInboundStreams: 32 });
    node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString();
      for (const t of this.targets) if (t.peer.toString() === id) t.nextAt = Date.now() + t.backoffMs;
    });
    this.dialTimer = setInterval(() => this.dialDue(), 250);
    this.dialDue();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.dialTimer !== undefined) clearInterval(this.dialTimer);
    this.dialTimer = undefined;
    const node = this.node;
    this.node = undefined;
    await node?.stop();
  }

  /** Publishes on the kind's topic (to every subscribed peer). Never throws: a node with no peer yet just publishes to nobody. */
  async publish(kind: GossipKind, data: Uint8Array): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    try {
      await node.services.pubsub.publish(topicOf(this.options.chainId, kind), data);
    } catch (e) {
      this.log(`publish ${kind} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Connected peer ids. */
  peers(): string[] {
    return this.node === undefined ? [] : this.node.getPeers().map((p) => p.toString());
  }

  /** Adds penalty points to a peer (e.g. for a proposal that failed re-execution). */
  penalise(peer: string, points = PENALTY): void {
    const now = Date.now();
    const p = this.penalties.get(peer) ?? { points: 0, at: now };
    p.points = p.points / 2 ** ((now - p.at) / 30_000) + points;
    p.at = now;
    this.penalties.set(peer, p);
    this.counters.penalised++;
    if (p.points >= PENALTY_LIMIT) {
      this.penalties.delete(peer);
      this.banned.set(peer, now + BAN_MS);
      this.counters.disconnectedForPenalty++;
      this.log(`disconnecting peer ${peer}: too many invalid messages`);
      const node = this.node;
      if (node !== undefined) {
        try {
          void node.hangUp(peerIdFromString(peer)).catch(() => undefined);
        } catch {
          /* an unparsable id is simply not connected */
        }
      }
    }
  }

  private isBanned(peer: string): boolean {
    const until = this.banned.get(peer);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.banned.delete(peer);
    return false;
  }

  private validate(kind: GossipKind, data: Uint8Array, from: string): TopicValidatorResult {
    let verdict: Verdict;
    try {
      verdict = this.options.handlers.validate(kind, data);
    } catch {
      verdict = 'reject';
    }
    if (verdict === 'accept') {
      this.counters.accepted[kind]++;
      return TopicValidatorResult.Accept;
    }
    if (verdict === 'ignore') {
      this.counters.ignored[kind]++;
      return TopicValidatorResult.Ignore;
    }
    this.counters.rejected[kind]++;
    this.penalise(from);
    return TopicValidatorResult.Reject;
  }

  private dialDue(): void {
    const node = this.node;
    if (node === undefined || this.stopped) return;
    const now = Date.now();
    for (const t of this.targets) {
      if (t.dialing || t.nextAt > now) continue;
      if (node.getConnections(t.peer).length > 0) {
        t.backoffMs = 500;
        continue;
      }
      t.dialing = true;
      node
        .dial(t.addr, { signal: AbortSignal.timeout(5_000) })
        .then(() => {
          t.backoffMs = 500;
        })
        .catch(() => {
          t.nextAt = Date.now() + t.backoffMs;
          t.backoffMs = Math.min(t.backoffMs * 2, 10_000);
        })
        .finally(() => {
          t.dialing = false;
        });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // sync protocol

  private async serveSync(stream: Stream): Promise<void> {
    try {
      const frames = readFrames(stream.source, 1024);
      const first = await frames.next();
      if (first.done === true) throw new EnergyMeshError('FRAME_TRUNCATED', 'empty sync request');
      const req = decodeSyncRequest(first.value);
      if (req.chainId !== this.options.chainId) throw new EnergyMeshError('INVALID_ARGUMENT', 'sync request for another chain');
      let out: Uint8Array[];
      if (req.kind === 'status') out = [frame(encodeSyncStatus(this.options.handlers.status()))];
      else out = (await this.options.handlers.blocks(req.from, Math.min(req.count, MAX_SYNC_BLOCKS))).map((b) => frame(encodeSyncedBlock(b)));
      await stream.sink(
        (async function* () {
          yield* out;
        })(),
      );
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async request(peer: string, req: Uint8Array): Promise<Uint8Array[]> {
    const node = this.libp2p;
    const signal = AbortSignal.timeout(this.options.syncTimeoutMs ?? 10_000);
    const stream = await node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal });
    try {
      await stream.sink(
        (async function* () {
          yield frame(req);
        })(),
      );
      const out: Uint8Array[] = [];
      const onAbort = (): void => stream.abort(new EnergyMeshError('TIMEOUT', 'sync request timed out'));
      signal.addEventListener('abort', onAbort);
      try {
        for await (const f of readFrames(stream.source)) {
          out.push(f);
          if (out.length > MAX_SYNC_BLOCKS) throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'too many blocks in a sync response');
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      return out;
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
  }

  /** A peer's head and finalized height. */
  async status(peer: string): Promise<SyncStatus> {
    const frames = await this.request(peer, encodeSyncRequest({ chainId: this.options.chainId, kind: 'status' }));
    if (frames.length !== 1) throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'sync status: expected one frame');
    return decodeSyncStatus(frames[0]!);
  }

  /** Up to `count` (≤ 64) blocks with their seals from `from` upward. */
  async blocks(peer: string, from: bigint, count: number): Promise<SyncedBlock[]> {
    const frames = await this.request(peer, encodeSyncRequest({ chainId: this.options.chainId, kind: 'blocks', from, count }));
    return frames.map(decodeSyncedBlock);
  }

  private log(msg: string): void {
    this.options.log?.(msg);
  }
}
