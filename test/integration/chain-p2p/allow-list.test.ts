/**
 * The peer allow-list of the validator network's libp2p layer (`allowPeers`, `chain/p2p/p2p-network.ts`):
 * in-process `P2pNetwork` instances on 127.0.0.1, port 0, fast announcements (1 s).
 *  - A and B, each allowing A and B, connect and exchange gossip;
 *  - C, not on the list, dials A: A drops the connection after the handshake, again on every re-dial;
 *    nothing C publishes reaches A; A logs C once;
 *  - C announced through discovery (relayed by a listed peer without an allow-list of its own) is neither
 *    learned nor dialled by A, while the relay learns and connects it;
 *  - an allowed peer that is not in `peers` is still learned from discovery and connected;
 *  - a malformed id is refused with CONFIG_INVALID naming it, before anything listens.
 */
import { strict as assert } from 'node:assert';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { P2pNetwork, type GossipKind, type P2pDiscoveryOptions } from '../../../chain/p2p/p2p-network.ts';

const CHAIN_ID = 4243n;
const FAST: P2pDiscoveryOptions = { announceIntervalMs: 1000 };

interface TestNode {
  net: P2pNetwork;
  id: string;
  delivered: { kind: GossipKind; data: Uint8Array; from: string }[];
  logs: string[];
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('chain p2p: peer allow-list', function () {
  this.timeout(60_000);
  const started: P2pNetwork[] = [];

  async function newKey(): Promise<{ key: PrivateKey; id: string }> {
    const key = await generateKeyPair('Ed25519');
    return { key, id: peerIdFromPrivateKey(key).toString() };
  }

  async function startNode(o: { key?: PrivateKey; peers?: string[]; allowPeers?: string[]; discovery?: false | P2pDiscoveryOptions } = {}): Promise<TestNode> {
    const key = o.key ?? (await generateKeyPair('Ed25519'));
    const delivered: TestNode['delivered'] = [];
    const logs: string[] = [];
    const net = new P2pNetwork({
      chainId: CHAIN_ID,
      privateKey: key,
      host: '127.0.0.1',
      port: 0,
      peers: o.peers ?? [],
      discovery: o.discovery ?? FAST,
      ...(o.allowPeers !== undefined ? { allowPeers: o.allowPeers } : {}),
      log: (m) => void logs.push(m),
      handlers: {
        validate: () => 'accept',
        deliver: (kind, data, from) => void delivered.push({ kind, data, from }),
        status: () => ({ head: 0n, finalized: 0n }),
        blocks: () => Promise.resolve([]),
      },
    });
    started.push(net);
    await net.start();
    return { net, id: net.peerId, delivered, logs };
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });

  /** Publishes `marker` from `from` until `to` delivers it (or `tries` run out); whether it arrived. */
  async function gossip(from: TestNode, to: TestNode, marker: number, tries = 20): Promise<boolean> {
    const arrived = (): boolean => to.delivered.some((m) => m.data[0] === marker);
    for (let i = 0; i < tries && !arrived(); i++) {
      await from.net.publish('tx', Uint8Array.from([marker, i]));
      await sleep(150);
    }
    return arrived();
  }

  it('A and B (allow-list A,B) connect and gossip; C dialling A is dropped each time, its gossip never reaches A, logged once', async () => {
    const ka = await newKey();
    const kb = await newKey();
    const allow = [ka.id, kb.id];
    const a = await startNode({ key: ka.key, allowPeers: allow });
    const b = await startNode({ key: kb.key, allowPeers: allow, peers: a.net.addresses });
    await until('A and B connected', () => a.net.peers().includes(b.id) && b.net.peers().includes(a.id));
    assert.ok(await gossip(a, b, 1), 'A → B gossip');
    assert.ok(await gossip(b, a, 2), 'B → A gossip');

    // C is not on the list; it lists A, so it re-dials A with back-off (0.5 s, 1 s, …)
    const c = await startNode({ peers: a.net.addresses });
    await until('A refused C at least 3 times', () => a.net.stats().refused.connections >= 3);
    assert.ok(!a.net.peers().includes(c.id), 'no connection to C kept');
    assert.ok(!a.net.knownPeers().some((p) => p.peerId === c.id), 'C not in the address book');
    assert.ok(!(await gossip(c, a, 3, 10)), "C's gossip never reaches A");
    assert.equal(a.net.stats().refused.dials, 0, 'A never tried to dial C');
    await until('C sees no connection to A', () => !c.net.peers().includes(a.id));
    const refusedLines = a.logs.filter((l) => l.includes(`refused peer ${c.id}`));
    assert.equal(refusedLines.length, 1, `logged once: ${refusedLines.join(' | ')}`);
    assert.match(refusedLines[0]!, /not on the allow-list \(inbound connection\)/);
    // A and B still gossip
    assert.ok(a.net.peers().includes(b.id));
    assert.ok(await gossip(b, a, 4), 'B → A gossip after the refusals');
  });

  it('C announced through discovery is never learned or dialled by A; an allowed peer that is not listed is', async () => {
    const ka = await newKey();
    const kb = await newKey();
    const kd = await newKey();
    // A allows B and D; B (the relay) has no allow-list, so C can reach it and its announcements reach A
    const a = await startNode({ key: ka.key, allowPeers: [kb.id, kd.id] });
    const b = await startNode({ key: kb.key, peers: a.net.addresses });
    await until('A–B', () => a.net.peers().includes(b.id));
    const c = await startNode({ peers: b.net.addresses });
    const d = await startNode({ key: kd.key, peers: b.net.addresses });
    await until('B learned and connected C and D', () => b.net.peers().includes(c.id) && b.net.peers().includes(d.id));

    // D is allowed but listed by nobody: A learns it from discovery and connects
    await until('A connected to D (learned)', () => a.net.peers().includes(d.id));
    assert.equal(a.net.knownPeers().find((p) => p.peerId === d.id)?.configured, false);
    // C's announcements reached A through B (and D) and were ignored
    await until("A ignored C's announcements", () => a.net.stats().refused.announcements >= 2);
    await sleep(1500); // several dial rounds (every 250 ms)
    const st = a.net.stats();
    assert.equal(st.refused.dials, 0, 'A never tried to dial C');
    assert.ok(!a.net.knownPeers().some((p) => p.peerId === c.id), 'C not learned');
    assert.ok(!a.net.peers().includes(c.id), 'C not connected');
    assert.equal(st.discovery.rejected, 0, 'ignored, not rejected: B and D are not penalised');
    assert.equal(st.penalised, 0);
    // C (open) learned A through B and dials it: A drops those connections
    assert.ok(c.net.knownPeers().some((p) => p.peerId === a.id), 'C learned A');
    await until('A refused C inbound', () => a.net.stats().refused.connections >= 1);
    assert.ok(!a.net.peers().includes(c.id));
    // one log line for C (announcements and connections alike)
    assert.equal(a.logs.filter((l) => l.includes(`refused peer ${c.id}`)).length, 1);
  });

  it('a malformed peer id is CONFIG_INVALID naming it; an empty list means no allow-list', async () => {
    const k = await newKey();
    const bad = '12D3KooWthisIsNotAPeerId';
    let caught: unknown;
    try {
      const n = new P2pNetwork({
        chainId: CHAIN_ID,
        privateKey: k.key,
        allowPeers: [k.id, bad],
        handlers: { validate: () => 'accept', deliver: () => undefined, status: () => ({ head: 0n, finalized: 0n }), blocks: () => Promise.resolve([]) },
      });
      started.push(n);
      await n.start();
    } catch (e) {
      caught = e;
    }
    assert.ok(isEnergyMeshError(caught, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(caught)}`);
    assert.ok(caught.message.includes(bad), caught.message);

    // allowPeers: [] — any peer, as without the option
    const open = await startNode({ allowPeers: [] });
    const other = await startNode({ peers: open.net.addresses });
    await until('an unlisted peer connects to a node with an empty allow-list', () => open.net.peers().includes(other.id));
    assert.equal(open.net.stats().refused.connections, 0);
  });
});
