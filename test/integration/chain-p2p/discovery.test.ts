/**
 * Peer discovery of the validator network's libp2p layer (`chain/p2p/p2p-network.ts`): in-process
 * `P2pNetwork` instances on 127.0.0.1, port 0, fast announcements (1 s).
 *  - a line A–B–C–D (each lists only its neighbour) becomes a full mesh; A's gossip reaches D directly;
 *  - with minPeers 1 a line stays a line: peers are learned but not dialled;
 *  - a node restarted on the same address (with no peers listed and discovery off, so it can dial no one)
 *    is re-dialled by the peers that learned it and the one that lists it;
 *  - a hostile peer announcing junk (undecodable, non-TCP, too many or another peer's addresses, forged
 *    origin, oversize) is rejected, penalised and finally disconnected; nothing of it is learned; the node
 *    goes on working.
 */
import { strict as assert } from 'node:assert';
import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Libp2p, PrivateKey, PubSub } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { discoveryTopicOf, encodePeerAnnouncement } from '../../../chain/p2p/discovery-codec.ts';
import { P2pNetwork, type GossipKind, type P2pDiscoveryOptions } from '../../../chain/p2p/p2p-network.ts';

const CHAIN_ID = 4242n;
const FAST: P2pDiscoveryOptions = { announceIntervalMs: 1000 };

interface Delivered {
  kind: GossipKind;
  data: Uint8Array;
  from: string;
}

interface TestNode {
  net: P2pNetwork;
  key: PrivateKey;
  port: number;
  delivered: Delivered[];
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('chain p2p: peer discovery', function () {
  this.timeout(90_000);
  const started: { stop(): Promise<void> }[] = [];

  async function startNode(opts: { peers?: string[]; key?: PrivateKey; port?: number; discovery?: false | P2pDiscoveryOptions } = {}): Promise<TestNode> {
    const key = opts.key ?? (await generateKeyPair('Ed25519'));
    const delivered: Delivered[] = [];
    const net = new P2pNetwork({
      chainId: CHAIN_ID,
      privateKey: key,
      host: '127.0.0.1',
      port: opts.port ?? 0,
      peers: opts.peers ?? [],
      discovery: opts.discovery ?? FAST,
      handlers: {
        validate: (_kind, data) => (data[0] === 0xff ? 'reject' : 'accept'),
        deliver: (kind, data, from) => void delivered.push({ kind, data, from }),
        status: () => ({ head: 0n, finalized: 0n }),
        blocks: () => Promise.resolve([]),
      },
    });
    started.push(net);
    await net.start();
    const port = Number(multiaddr(net.addresses[0]!).toOptions().port);
    return { net, key, port, delivered };
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });

  const connectedTo = (n: TestNode, others: TestNode[]): boolean => others.every((o) => n.net.peers().includes(o.net.peerId));

  it('a line A–B–C–D, each listing only its neighbour, ends fully meshed; gossip from A reaches D directly', async () => {
    const a = await startNode();
    const b = await startNode({ peers: a.net.addresses });
    const c = await startNode({ peers: b.net.addresses });
    const d = await startNode({ peers: c.net.addresses });
    const all = [a, b, c, d];
    for (const n of all) {
      const others = all.filter((o) => o !== n);
      await until(`${n.net.peerId} connected to all others`, () => connectedTo(n, others));
      // a peer that dialled in is in the book once its announcement arrived (one announce interval later)
      const inBook = (): boolean => others.every((o) => n.net.knownPeers().some((p) => p.peerId === o.net.peerId && p.connected));
      await until(`${n.net.peerId} has every other node in its address book`, inBook);
      assert.ok(inBook(), 'every other node is in the address book');
      assert.equal(n.net.stats().discovery.rejected, 0);
    }
    // D learned A (and B) from announcements: D lists only C
    const dBook = d.net.knownPeers();
    assert.equal(dBook.find((p) => p.peerId === c.net.peerId)?.configured, true);
    assert.equal(dBook.find((p) => p.peerId === a.net.peerId)?.configured, false);
    assert.ok(dBook.find((p) => p.peerId === a.net.peerId)?.addresses.includes(a.net.addresses[0]!), "A's listen address learned");
    assert.ok(d.net.stats().discovery.accepted > 0);
    assert.ok(d.net.stats().knownPeers >= 2);

    // A's messages reach D; at least one straight from A (D is connected to A now, A floods its own messages)
    for (let i = 0; i < 20 && !d.delivered.some((m) => m.from === a.net.peerId); i++) {
      await a.net.publish('tx', Uint8Array.from([1, i]));
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(
      d.delivered.some((m) => m.kind === 'tx' && m.from === a.net.peerId),
      'a tx message of A delivered to D with A as the propagation source',
    );
  });

  it('learned peers are dialled only up to minPeers', async () => {
    const few: P2pDiscoveryOptions = { ...FAST, minPeers: 1 };
    const a = await startNode({ discovery: few });
    const b = await startNode({ peers: a.net.addresses, discovery: few });
    const c = await startNode({ peers: b.net.addresses, discovery: few });
    const knows = (n: TestNode, o: TestNode): boolean => n.net.knownPeers().some((p) => p.peerId === o.net.peerId);
    await until('A and C learned each other through B', () => knows(a, c) && knows(c, a));
    // several dial rounds (every 250 ms) later, neither dialled the other: each already has its 1 peer
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(a.net.peers(), [b.net.peerId]);
    assert.deepEqual(c.net.peers(), [b.net.peerId]);
    assert.equal(c.net.knownPeers().find((p) => p.peerId === a.net.peerId)?.connected, false);
  });

  it('re-dials a node restarted on the same address (listed and learned peers)', async () => {
    const a = await startNode();
    const b = await startNode({ peers: a.net.addresses });
    const c = await startNode({ peers: b.net.addresses });
    for (const n of [a, b, c]) await until('mesh of 3', () => connectedTo(n, [a, b, c].filter((o) => o !== n)));
    assert.equal(a.net.knownPeers().find((p) => p.peerId === b.net.peerId)?.configured, false, 'A only learned B');

    const bId = b.net.peerId;
    await b.net.stop();
    await until('A and C see B gone', () => !a.net.peers().includes(bId) && !c.net.peers().includes(bId));
    // B comes back on the same port with the same key, listing no one and without discovery: it dials nobody
    const b2 = await startNode({ key: b.key, port: b.port, discovery: false });
    assert.equal(b2.net.peerId, bId);
    assert.equal(b2.port, b.port);
    await until('A (learned B) and C (lists B) re-dial B', () => connectedTo(b2, [a, c]));
    assert.deepEqual(b2.net.knownPeers(), [], 'B2 had nobody to dial');
  });

  it('a peer announcing junk is rejected, penalised and disconnected; nothing of it is learned; the node goes on', async () => {
    const victim = await startNode();
    const honest = await startNode({ peers: victim.net.addresses });
    await until('honest peer connected', () => connectedTo(victim, [honest]));

    // a hand-built libp2p node that publishes whatever it likes on the discovery topic and announces a
    // non-TCP address through identify
    const hostileKey = await generateKeyPair('Ed25519');
    const hostile: Libp2p<{ pubsub: PubSub<GossipsubEvents> }> = await createLibp2p({
      privateKey: hostileKey,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'], announce: ['/ip4/1.2.3.4/udp/4001/quic-v1'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true }) },
    });
    started.push({ stop: async () => void (await hostile.stop()) });
    const topic = discoveryTopicOf(CHAIN_ID);
    hostile.services.pubsub.subscribe(topic);
    await hostile.dial(multiaddr(victim.net.addresses[0]!));
    const victimId = victim.net.peerId;
    await until('hostile sees the victim on the discovery topic', () =>
      hostile.services.pubsub.getSubscribers(topic).some((p) => p.toString() === victimId),
    );

    const hostileId = hostile.peerId.toString();
    const own = publicKeyToProtobuf(hostileKey.publicKey);
    const forged = publicKeyToProtobuf((await generateKeyPair('Ed25519')).publicKey);
    const ma = (s: string): Uint8Array => multiaddr(s).bytes;
    const junk: Uint8Array[] = [
      Uint8Array.from([0xde, 0xad, 0xbe, 0xef]),
      encodePeerAnnouncement({ publicKey: own, addrs: [ma('/ip4/1.2.3.4/udp/4001/quic-v1')] }),
      encodePeerAnnouncement({ publicKey: own, addrs: [ma('/ip4/1.2.3.4/tcp/4001/ws')] }),
      encodePeerAnnouncement({ publicKey: own, addrs: Array.from({ length: 17 }, (_, i) => ma(`/ip4/1.2.3.4/tcp/${2000 + i}`)) }),
      encodePeerAnnouncement({ publicKey: own, addrs: [ma(`/ip4/1.2.3.4/tcp/4001/p2p/${honest.net.peerId}`)] }),
      encodePeerAnnouncement({ publicKey: forged, addrs: [ma('/ip4/1.2.3.4/tcp/4001')] }),
      encodePeerAnnouncement({ publicKey: own, addrs: [ma('/ip4/0.0.0.0/tcp/4001')] }),
      new Uint8Array(5000).fill(0x12),
      Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]),
      encodePeerAnnouncement({ publicKey: own, addrs: [Uint8Array.from([0xff, 0xff, 0xff, 0x0f, 1])] }),
    ];
    // each rejection costs 10 points and points decay (halving every 30 s): a little over 10 are needed
    for (let i = 0; i < 3 * junk.length && hostile.getPeers().some((p) => p.toString() === victimId); i++) {
      await hostile.services.pubsub.publish(topic, junk[i % junk.length]!).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until('junk rejected and the hostile peer disconnected', () => victim.net.stats().disconnectedForPenalty >= 1);
    const st = victim.net.stats();
    assert.ok(st.discovery.rejected >= 10, `rejected ${st.discovery.rejected}`);
    assert.ok(st.penalised >= 10);
    await until('hostile peer gone', () => !victim.net.peers().includes(hostileId));
    // nothing it announced is in the book (identify gave only a non-TCP address); the honest peer got none of it
    for (const p of victim.net.knownPeers()) {
      assert.notEqual(p.peerId, hostileId);
      for (const addr of p.addresses) assert.ok(!addr.includes('1.2.3.4') && !addr.includes('/udp/'), addr);
    }
    assert.equal(honest.net.stats().discovery.rejected, 0, 'junk was not forwarded');
    assert.ok(!honest.net.knownPeers().some((p) => p.peerId === hostileId));
    // a reconnect attempt is refused while the ban lasts
    // a reconnect is refused while the ban lasts (the victim drops it after the handshake)
    await until('hostile side closed too', () => hostile.getConnections().length === 0);
    await hostile.dial(multiaddr(victim.net.addresses[0]!), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    await until('the reconnect dropped', () => hostile.getConnections().length === 0);
    assert.ok(!victim.net.peers().includes(hostileId));
    // the victim still works
    const before = victim.delivered.length;
    for (let i = 0; i < 20 && victim.delivered.length === before; i++) {
      await honest.net.publish('vote', Uint8Array.from([7, i]));
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(victim.delivered.length > before, 'gossip from the honest peer still delivered');
  });
});
