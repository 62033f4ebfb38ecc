/**
 * The EMPoS validator network on libp2p: TCP, noise encryption, yamux multiplexing, identify, and
 * gossipsub with one topic per message kind (`/empos/<chainId>/<kind>/1`: proposal, vote, commit, tx),
 * plus the `/empos/sync/1` request/response protocol for blocks with their certificates.
 *
 * Peers come from a list of multiaddrs with their peer id (`/ip4/…/tcp/…/p2p/12D3…`); each is dialled and
 * re-dialled with exponential back-off (0.5 s doubling to 10 s) while it is not connected.
 *
 * Peer discovery (on unless `discovery: false`): every node announces its TCP addresses on the gossip topic
 * `/empos/<chainId>/peers/1` (`@libp2p/pubsub-peer-discovery`, every 10 s), so an announcement travels
 * the whole network through any chain of peers; a node also learns the listen addresses of each peer it
 * is connected to (identify). Learned peers (at most 1,024 remembered) are dialled while fewer than
 * `minPeers` (25) are connected, and re-dialled after a disconnect with back-off (0.5 s doubling to 60 s);
 * one that fails and has not announced itself for 10 minutes is forgotten. Listed peers are always dialled
 * and never pruned; above `maxPeers` (50) connections libp2p refuses inbound ones and prunes the least
 * valuable. Announcements are checked before they are learned or forwarded (`discovery-codec.ts`: ≤ 4 KiB,
 * ≤ 16 addresses, only TCP multiaddrs of the announcing peer, signed by it; one per peer per 0.5 s); a bad
 * one is rejected and its sender penalised like junk gossip. The peer store keeps TCP addresses only.
 *
 * Allow-list (`allowPeers`, for a permissioned network; `allow-list.ts`): when given, the node keeps
 * connections only with those peer ids plus the ids of its listed `peers`. The connection gater refuses
 * dials to any other peer and drops any other peer's connection right after the noise handshake (where
 * its id is authenticated), before multiplexing, identify or gossip; announcements of other peers are
 * ignored (neither learned, dialled nor forwarded; no penalty for the forwarding peer). Refused peers are
 * logged once per id, rate-limited. Gossip that an allowed peer relays from elsewhere is not filtered:
 * an allowed node without an allow-list of its own can still bridge outsiders' messages.
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
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery';
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
import { checkPeerIds, RefusalLog, type RefusalKind } from './allow-list.ts';
import { announceableAddrs, checkAnnouncement, discoveryTopicOf, isTcpAddress, MAX_ANNOUNCED_ADDRS, tcpPeerAddress } from './discovery-codec.ts';

export type GossipKind = 'proposal' | 'vote' | 'commit' | 'tx';
export const GOSSIP_KINDS: readonly GossipKind[] = ['proposal', 'vote', 'commit', 'tx'];
export type Verdict = 'accept' | 'reject' | 'ignore';

export interface P2pHandlers {
  /**
   * Checks of an inbound message before it is forwarded: cheap and synchronous, or (transactions) a
   * promise — admission to the pool decides, so a batch with a badly signed transaction is never forwarded.
   * Never re-execution.
   */
  validate(kind: GossipKind, data: Uint8Array): Verdict | Promise<Verdict>;
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
  /**
   * TCP multiaddrs to announce instead of the listen addresses (a public address behind NAT, or the
   * reachable address of a 0.0.0.0 listener), without /p2p/. Default: the listen addresses.
   */
  announce?: readonly string[];
  /** Peer discovery (default on with the defaults below); `false`: only the listed peers, as before discovery. */
  discovery?: boolean | P2pDiscoveryOptions;
  /**
   * Peer ids allowed to connect (a permissioned network): when non-empty, only these and the ids of
   * `peers` are dialled, accepted and learned from discovery. Default: any peer (not banned).
   */
  allowPeers?: readonly string[];
  log?: (msg: string) => void;
}

export interface P2pDiscoveryOptions {
  /** Learned peers are dialled while fewer peers than this are connected (default 25). Listed peers are always dialled. */
  minPeers?: number;
  /**
   * Most connections (default 50, and at least the number of listed peers): libp2p refuses inbound ones
   * and prunes the least valuable above it; listed peers are kept.
   */
  maxPeers?: number;
  /** How often this node announces its addresses (default 10 s). */
  announceIntervalMs?: number;
  /** Most learned peers remembered (default 1,024); a new one is ignored while the book is full of fresh ones. */
  maxKnownPeers?: number;
}

export interface DiscoveryCounters {
  /** Announcements accepted (learned from and forwarded). */
  accepted: number;
  /** Announcements refused as junk (the sender penalised). */
  rejected: number;
  /** Announcements dropped without penalty (too frequent, book full). */
  ignored: number;
  /** Peers added to the address book (announcements and identify). */
  learned: number;
}

/** A peer of the address book: listed (`--peers`) or learned. */
export interface KnownPeer {
  peerId: string;
  addresses: string[];
  configured: boolean;
  connected: boolean;
}

/** Refusals by the allow-list (all zero without one). */
export interface AllowListCounters {
  /** Inbound connections dropped after the handshake (and outbound ones that reached another peer). */
  connections: number;
  /** Dials not made. */
  dials: number;
  /** Discovery announcements ignored. */
  announcements: number;
}

export interface P2pStats {
  peers: number;
  accepted: Record<GossipKind, number>;
  rejected: Record<GossipKind, number>;
  ignored: Record<GossipKind, number>;
  penalised: number;
  disconnectedForPenalty: number;
  discovery: DiscoveryCounters;
  /** Learned peers in the address book (listed ones not counted). */
  knownPeers: number;
  refused: AllowListCounters;
}

const PENALTY = 10;
const PENALTY_LIMIT = 100;
const BAN_MS = 60_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_CONFIGURED_MS = 10_000;
const BACKOFF_MAX_LEARNED_MS = 60_000;
const DIAL_TIMEOUT_MS = 5_000;
/** Learned peers dialled at once. */
const MAX_PARALLEL_LEARNED_DIALS = 8;
/** A learned peer that failed this many dials in a row and has not announced itself for FORGET_MS is dropped. */
const FORGET_AFTER_FAILURES = 5;
const FORGET_MS = 10 * 60_000;
/** Announcements of one peer closer together than this are dropped (not forwarded, no penalty). */
const MIN_ANNOUNCE_GAP_MS = 500;
/** Peer-store tag that keeps listed peers from being pruned. */
const CONFIGURED_TAG = 'empos-configured';

const DISCOVERY_DEFAULTS: Required<P2pDiscoveryOptions> = { minPeers: 25, maxPeers: 50, announceIntervalMs: 10_000, maxKnownPeers: 1024 };

function zero(): Record<GossipKind, number> {
  return { proposal: 0, vote: 0, commit: 0, tx: 0 };
}

export function topicOf(chainId: bigint, kind: GossipKind): string {
  return `/empos/${chainId}/${kind}/1`;
}

/** An entry of the address book: the listed addresses of a `--peers` entry and/or learned ones. */
interface BookEntry {
  peer: PeerId;
  configured: Multiaddr[];
  learned: Multiaddr[];
  backoffMs: number;
  nextAt: number;
  dialing: boolean;
  failures: number;
  /** Last announcement or identify. */
  seenAt: number;
  /** Last accepted announcement (rate limit). */
  announcedAt: number;
}

function uniqueAddrs(addrs: Multiaddr[]): Multiaddr[] {
  const seen = new Set<string>();
  return addrs.filter((a) => {
    const k = a.toString();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export class P2pNetwork {
  private node: Libp2p<{ pubsub: PubSub<GossipsubEvents> }> | undefined;
  private readonly options: P2pNetworkOptions;
  private readonly topics = new Map<string, GossipKind>();
  /** The address book: listed and learned peers by peer id. */
  private readonly book = new Map<string, BookEntry>();
  private readonly discovery: Required<P2pDiscoveryOptions> | undefined;
  private readonly selfId: string;
  private readonly penalties = new Map<string, { points: number; at: number }>();
  private readonly banned = new Map<string, number>();
  /** The allow-list (with the listed peers' ids, added at start); undefined: any peer. */
  private readonly allowed: Set<string> | undefined;
  private readonly refusals: RefusalLog;
  private dialTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly counters: Omit<P2pStats, 'peers' | 'knownPeers'> = {
    accepted: zero(),
    rejected: zero(),
    ignored: zero(),
    penalised: 0,
    disconnectedForPenalty: 0,
    discovery: { accepted: 0, rejected: 0, ignored: 0, learned: 0 },
    refused: { connections: 0, dials: 0, announcements: 0 },
  };

  constructor(options: P2pNetworkOptions) {
    this.options = options;
    for (const k of GOSSIP_KINDS) this.topics.set(topicOf(options.chainId, k), k);
    const d = options.discovery ?? true;
    this.discovery = d === false ? undefined : { ...DISCOVERY_DEFAULTS, ...(d === true ? {} : d) };
    if (this.discovery !== undefined) {
      const { minPeers, maxPeers, announceIntervalMs, maxKnownPeers } = this.discovery;
      if (!(Number.isInteger(minPeers) && minPeers >= 0 && Number.isInteger(maxPeers) && maxPeers >= 1 && minPeers <= maxPeers)) {
        throw new EnergyMeshError('CONFIG_INVALID', `discovery: need integers 0 <= minPeers (${minPeers}) <= maxPeers (${maxPeers}), maxPeers >= 1`);
      }
      if (!(announceIntervalMs >= 100) || !(Number.isInteger(maxKnownPeers) && maxKnownPeers >= 0)) {
        throw new EnergyMeshError('CONFIG_INVALID', 'discovery: announceIntervalMs must be >= 100 and maxKnownPeers an integer >= 0');
      }
    }
    this.selfId = peerIdFromPrivateKey(options.privateKey).toString();
    const allow = options.allowPeers ?? [];
    this.allowed = allow.length > 0 ? new Set(checkPeerIds(allow)) : undefined;
    this.refusals = new RefusalLog((m) => this.log(m));
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /**
   * The announced multiaddrs with /p2p/<peer id>, as other nodes list them in `--peers`: the TCP listen
   * addresses (loopback ones only when there is no other) or the `announce` option.
   */
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
    return {
      peers: this.peerCount,
      ...this.counters,
      discovery: { ...this.counters.discovery },
      refused: { ...this.counters.refused },
      knownPeers: this.learnedCount(),
    };
  }

  /** The address book: listed peers and learned ones, with their addresses and whether they are connected. */
  knownPeers(): KnownPeer[] {
    const node = this.node;
    return [...this.book.entries()].map(([id, e]) => ({
      peerId: id,
      addresses: [...e.configured, ...e.learned].map((a) => a.toString()),
      configured: e.configured.length > 0,
      connected: node !== undefined && node.getConnections(e.peer).length > 0,
    }));
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
      const id = peer.toString();
      if (id === this.selfId) continue; // a node's own address may be left in the list
      const entry = this.book.get(id) ?? this.newEntry(peer);
      entry.configured.push(addr);
      this.book.set(id, entry);
      this.allowed?.add(id);
    }
    const announce: string[] = [];
    for (const a of o.announce ?? []) {
      try {
        announce.push(tcpPeerAddress(multiaddr(a), this.selfId).decapsulateCode(421).toString());
      } catch (e) {
        throw new EnergyMeshError('CONFIG_INVALID', `invalid announce address ${a} (expected /ip4/HOST/tcp/PORT)`, { cause: e });
      }
    }
    const disc = this.discovery;
    const node = await createLibp2p({
      start: false,
      privateKey: o.privateKey,
      addresses: { listen: [`/ip4/${o.host ?? '127.0.0.1'}/tcp/${o.port ?? 0}`], announce, announceFilter: announceableAddrs },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: (peer: PeerId) => this.isBanned(peer.toString()) || this.refuse(peer.toString(), 'dial'),
        // the remote id is authenticated by the noise handshake here; nothing else has run on the connection
        denyInboundEncryptedConnection: (peer: PeerId) => this.isBanned(peer.toString()) || this.refuse(peer.toString(), 'inbound connection'),
        // a dial by address alone that reached a peer not on the allow-list
        denyOutboundEncryptedConnection: (peer: PeerId) => this.refuse(peer.toString(), 'outbound connection'),
        // the peer store (fed by identify and discovery) keeps dialable TCP addresses only
        filterMultiaddrForPeer: (_peer: PeerId, addr: Multiaddr) => isTcpAddress(addr),
      },
      ...(disc === undefined
        ? {}
        : {
            // never below the listed peers, which are kept anyway
            connectionManager: { maxConnections: Math.max(disc.maxPeers, this.book.size) },
            peerDiscovery: [pubsubPeerDiscovery({ interval: disc.announceIntervalMs, topics: [discoveryTopicOf(o.chainId)] })],
          }),
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
    }
    if (disc !== undefined) {
      pubsub.topicValidators.set(discoveryTopicOf(o.chainId), (peer: PeerId, msg: Message) => this.validateAnnouncement(msg, peer.toString()));
      node.addEventListener('peer:identify', (evt) => {
        const { peerId, listenAddrs } = evt.detail;
        const id = peerId.toString();
        const addrs: Multiaddr[] = [];
        for (const a of listenAddrs.slice(0, MAX_ANNOUNCED_ADDRS)) {
          try {
            addrs.push(tcpPeerAddress(a, id));
          } catch {
            /* not a TCP address of this peer: not kept */
          }
        }
        if (addrs.length > 0) this.learn(id, addrs);
      });
    }
    await node.start();
    for (const topic of this.topics.keys()) pubsub.subscribe(topic);
    for (const e of this.book.values()) {
      if (e.configured.length === 0) continue;
      await node.peerStore.merge(e.peer, { tags: { [CONFIGURED_TAG]: { value: 100 } } }).catch(() => undefined);
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
      const e = this.book.get(evt.detail.toString());
      if (e !== undefined) e.nextAt = Date.now() + e.backoffMs;
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

  /** Whether the allow-list admits `peer` (always, without an allow-list). */
  isAllowed(peer: string): boolean {
    return this.allowed === undefined || peer === this.selfId || this.allowed.has(peer);
  }

  /** `true` (and counted, logged) when the allow-list refuses `peer`. Never throws: called by the connection gater. */
  private refuse(peer: string, kind: RefusalKind): boolean {
    if (this.isAllowed(peer)) return false;
    const r = this.counters.refused;
    if (kind === 'dial') r.dials++;
    else if (kind === 'announcement') r.announcements++;
    else r.connections++;
    this.refusals.refused(peer, kind);
    return true;
  }

  private isBanned(peer: string): boolean {
    const until = this.banned.get(peer);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.banned.delete(peer);
    return false;
  }

  private validate(kind: GossipKind, data: Uint8Array, from: string): TopicValidatorResult | Promise<TopicValidatorResult> {
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = this.options.handlers.validate(kind, data);
    } catch {
      verdict = 'reject';
    }
    if (typeof verdict !== 'string') {
      return verdict.then(
        (v) => this.count(kind, v, from),
        () => this.count(kind, 'reject', from),
      );
    }
    return this.count(kind, verdict, from);
  }

  private count(kind: GossipKind, verdict: Verdict, from: string): TopicValidatorResult {
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

  /**
   * A gossip message on the discovery topic: learned from and forwarded only when `checkAnnouncement`
   * accepts it (bounded, TCP addresses of its signed origin); junk is rejected and its sender penalised.
   */
  private validateAnnouncement(msg: Message, from: string): TopicValidatorResult {
    const c = this.counters.discovery;
    try {
      if (msg.type !== 'signed') throw new EnergyMeshError('INVALID_ARGUMENT', 'unsigned peer announcement');
      const a = checkAnnouncement(msg.data, msg.from.toString());
      if (this.refuse(a.peerId, 'announcement')) {
        // not learned, not forwarded; the forwarding peer did nothing wrong
        c.ignored++;
        return TopicValidatorResult.Ignore;
      }
      const now = Date.now();
      const known = this.book.get(a.peerId);
      if ((known !== undefined && now - known.announcedAt < MIN_ANNOUNCE_GAP_MS) || !this.learn(a.peerId, a.addrs)) {
        c.ignored++;
        return TopicValidatorResult.Ignore;
      }
      const e = this.book.get(a.peerId);
      if (e !== undefined) e.announcedAt = now;
      c.accepted++;
      return TopicValidatorResult.Accept;
    } catch (e) {
      c.rejected++;
      this.log(`peer announcement from ${from} rejected: ${e instanceof Error ? e.message : String(e)}`);
      this.penalise(from);
      return TopicValidatorResult.Reject;
    }
  }

  private newEntry(peer: PeerId): BookEntry {
    return { peer, configured: [], learned: [], backoffMs: BACKOFF_MIN_MS, nextAt: 0, dialing: false, failures: 0, seenAt: 0, announcedAt: 0 };
  }

  private learnedCount(): number {
    let n = 0;
    for (const e of this.book.values()) if (e.configured.length === 0) n++;
    return n;
  }

  /** Records a peer's addresses (already checked); false when the book is full of fresh entries. */
  private learn(id: string, addrs: Multiaddr[]): boolean {
    if (id === this.selfId) return true;
    if (!this.isAllowed(id)) return false;
    const now = Date.now();
    let e = this.book.get(id);
    if (e === undefined) {
      if (this.learnedCount() >= (this.discovery?.maxKnownPeers ?? 0) && !this.evictStale(now)) return false;
      e = this.newEntry(peerIdFromString(id));
      this.book.set(id, e);
      this.counters.discovery.learned++;
    }
    e.learned = addrs.slice(0, MAX_ANNOUNCED_ADDRS);
    e.seenAt = now;
    return true;
  }

  /** Drops the learned, unconnected entry seen longest ago if that is over FORGET_MS; true if one went. */
  private evictStale(now: number): boolean {
    let oldest: [string, BookEntry] | undefined;
    for (const [id, e] of this.book) {
      if (e.configured.length > 0 || e.dialing || (this.node !== undefined && this.node.getConnections(e.peer).length > 0)) continue;
      if (oldest === undefined || e.seenAt < oldest[1].seenAt) oldest = [id, e];
    }
    if (oldest === undefined || now - oldest[1].seenAt < FORGET_MS) return false;
    this.book.delete(oldest[0]);
    return true;
  }

  private dialDue(): void {
    const node = this.node;
    if (node === undefined || this.stopped) return;
    const now = Date.now();
    const minPeers = this.discovery?.minPeers ?? 0;
    let learnedDials = 0;
    for (const e of this.book.values()) if (e.dialing && e.configured.length === 0) learnedDials++;
    const connected = node.getPeers().length;
    for (const [id, e] of this.book) {
      if (e.dialing || e.nextAt > now) continue;
      if (node.getConnections(e.peer).length > 0) {
        e.backoffMs = BACKOFF_MIN_MS;
        e.failures = 0;
        continue;
      }
      const configured = e.configured.length > 0;
      if (!configured) {
        if (e.failures >= FORGET_AFTER_FAILURES && now - e.seenAt > FORGET_MS) {
          this.book.delete(id);
          continue;
        }
        if (connected + learnedDials >= minPeers || learnedDials >= MAX_PARALLEL_LEARNED_DIALS || this.isBanned(id)) continue;
        learnedDials++;
      }
      this.dial(e, configured ? BACKOFF_MAX_CONFIGURED_MS : BACKOFF_MAX_LEARNED_MS);
    }
  }

  private dial(e: BookEntry, maxBackoffMs: number): void {
    const node = this.node;
    if (node === undefined) return;
    e.dialing = true;
    node
      .dial(uniqueAddrs([...e.configured, ...e.learned]), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      .then(() => {
        e.backoffMs = BACKOFF_MIN_MS;
        e.failures = 0;
      })
      .catch(() => {
        e.failures++;
        e.nextAt = Date.now() + e.backoffMs;
        e.backoffMs = Math.min(e.backoffMs * 2, maxBackoffMs);
      })
      .finally(() => {
        e.dialing = false;
      });
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
