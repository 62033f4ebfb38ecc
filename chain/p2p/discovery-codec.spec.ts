import { strict as assert } from 'node:assert';
import { generateKeyPairFromSeed, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
// the package's own encoder (not in its exports map, so by path): our codec must read and write its bytes
import { Peer as PackagePeer } from '../../node_modules/@libp2p/pubsub-peer-discovery/dist/src/peer.js';
import {
  announceableAddrs,
  checkAnnouncement,
  decodePeerAnnouncement,
  discoveryTopicOf,
  encodePeerAnnouncement,
  isTcpAddress,
  MAX_ANNOUNCED_ADDRS,
  MAX_ANNOUNCEMENT_BYTES,
  tcpPeerAddress,
} from './discovery-codec.ts';
import { errorCode } from '../../test/support/error-code.ts';

const code = errorCode;

const seedA = new Uint8Array(32).fill(1);
const seedB = new Uint8Array(32).fill(2);

describe('discovery codec (peer announcements)', () => {
  let publicKey: Uint8Array;
  let id: string;
  let otherPublicKey: Uint8Array;
  let otherId: string;
  before(async () => {
    const a = await generateKeyPairFromSeed('Ed25519', seedA);
    const b = await generateKeyPairFromSeed('Ed25519', seedB);
    publicKey = publicKeyToProtobuf(a.publicKey);
    id = peerIdFromPrivateKey(a).toString();
    otherPublicKey = publicKeyToProtobuf(b.publicKey);
    otherId = peerIdFromPrivateKey(b).toString();
  });

  const tcp = (host: string, port: number, peer?: string): Uint8Array =>
    multiaddr(`/ip4/${host}/tcp/${port}${peer === undefined ? '' : `/p2p/${peer}`}`).bytes;

  it('topic per chain', () => {
    assert.equal(discoveryTopicOf(17741n), '/empos/17741/peers/1');
  });

  it('writes and reads the bytes of @libp2p/pubsub-peer-discovery', () => {
    const msg = { publicKey, addrs: [tcp('10.0.0.1', 30303, id), tcp('127.0.0.1', 30304)] };
    const ours = encodePeerAnnouncement(msg);
    const theirs = PackagePeer.encode(msg);
    assert.deepEqual(ours, theirs);
    // hand-checked header: field 1 (0x0a), 36-byte Ed25519 key protobuf (08 01 12 20 …), then field 2 (0x12)
    assert.deepEqual([...ours.subarray(0, 6)], [0x0a, 36, 0x08, 0x01, 0x12, 0x20]);
    assert.equal(ours[38], 0x12);
    const back = decodePeerAnnouncement(theirs);
    assert.deepEqual(back.publicKey, publicKey);
    assert.deepEqual(back.addrs, msg.addrs);
    assert.deepEqual(PackagePeer.decode(ours).addrs, msg.addrs);
  });

  it('checks an announcement: its own TCP addresses, /p2p/ appended', () => {
    const data = encodePeerAnnouncement({ publicKey, addrs: [tcp('10.0.0.1', 30303, id), tcp('192.168.1.2', 1)] });
    const a = checkAnnouncement(data, id);
    assert.equal(a.peerId, id);
    assert.deepEqual(
      a.addrs.map((x) => x.toString()),
      [`/ip4/10.0.0.1/tcp/30303/p2p/${id}`, `/ip4/192.168.1.2/tcp/1/p2p/${id}`],
    );
    const dns = encodePeerAnnouncement({ publicKey, addrs: [multiaddr('/dns4/node1.utility.example/tcp/30303').bytes, multiaddr('/ip6/::1/tcp/5').bytes] });
    assert.equal(checkAnnouncement(dns, id).addrs.length, 2);
    // no address at all is allowed (learned from nothing)
    assert.equal(checkAnnouncement(encodePeerAnnouncement({ publicKey, addrs: [] }), id).addrs.length, 0);
  });

  it('refuses an announcement of another peer than the signed origin', () => {
    const data = encodePeerAnnouncement({ publicKey: otherPublicKey, addrs: [tcp('10.0.0.1', 30303)] });
    assert.equal(code(() => checkAnnouncement(data, id)), 'INVALID_ARGUMENT');
    assert.equal(checkAnnouncement(data, otherId).peerId, otherId);
  });

  it('refuses addresses that are not TCP addresses of the announcing peer', () => {
    const bad = [
      multiaddr('/ip4/1.2.3.4/udp/4001/quic-v1').bytes,
      multiaddr('/ip4/1.2.3.4/tcp/4001/ws').bytes,
      multiaddr('/unix/%2Ftmp%2Fx.sock').bytes,
      tcp('0.0.0.0', 30303),
      tcp('10.0.0.1', 0),
      tcp('10.0.0.1', 30303, otherId),
      multiaddr('/ip4/1.2.3.4/tcp/4001/p2p-circuit').bytes,
    ];
    for (const addr of bad) {
      const data = encodePeerAnnouncement({ publicKey, addrs: [tcp('10.0.0.1', 30303), addr] });
      assert.equal(code(() => checkAnnouncement(data, id)), 'INVALID_ARGUMENT', multiaddr(addr).toString());
    }
    // bytes that are no multiaddr at all
    const junk = encodePeerAnnouncement({ publicKey, addrs: [Uint8Array.from([0xff, 0xff, 0xff, 0x0f, 1, 2])] });
    assert.equal(code(() => checkAnnouncement(junk, id)), 'FRAME_MALFORMED');
  });

  it('bounds size, address count and field lengths; strict fields', () => {
    assert.equal(code(() => decodePeerAnnouncement(new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1))), 'FRAME_TOO_LONG');
    const many = Array.from({ length: MAX_ANNOUNCED_ADDRS + 1 }, (_, i) => tcp('10.0.0.1', 1000 + i));
    assert.equal(code(() => decodePeerAnnouncement(encodePeerAnnouncement({ publicKey, addrs: many }))), 'FRAME_MALFORMED');
    assert.equal(decodePeerAnnouncement(encodePeerAnnouncement({ publicKey, addrs: many.slice(1) })).addrs.length, MAX_ANNOUNCED_ADDRS);
    const cases: [string, number[]][] = [
      ['no public key', [0x12, 2, 1, 2]],
      ['two public keys', [0x0a, 1, 1, 0x0a, 1, 1]],
      ['empty key', [0x0a, 0]],
      ['key of 65 bytes', [0x0a, 65, ...new Array<number>(65).fill(0)]],
      ['unknown field', [0x0a, 1, 1, 0x1a, 1, 0]],
      ['varint wire type', [0x08, 1]],
      ['length past the end', [0x0a, 10, 1, 2]],
      ['truncated varint', [0x0a, 0x80]],
      ['3-byte varint', [0x0a, 0x80, 0x80, 0x01]],
      ['address of 321 bytes', [0x0a, 1, 1, 0x12, 0xc1, 0x02, ...new Array<number>(321).fill(4)]],
    ];
    for (const [what, bytes] of cases) assert.equal(code(() => decodePeerAnnouncement(Uint8Array.from(bytes))), 'FRAME_MALFORMED', what);
    // a key that is no libp2p key
    assert.equal(code(() => checkAnnouncement(Uint8Array.from([0x0a, 3, 1, 2, 3]), id)), 'FRAME_MALFORMED');
  });

  it('announces TCP addresses only, loopback only without others, within the bounds peers accept', () => {
    const m = (x: string): ReturnType<typeof multiaddr> => multiaddr(`${x}/p2p/${id}`);
    const shown = (xs: ReturnType<typeof multiaddr>[]): string[] => announceableAddrs(xs).map((a) => a.toString().replace(`/p2p/${id}`, ''));
    assert.deepEqual(shown([m('/ip4/127.0.0.1/tcp/1'), m('/ip4/10.0.0.5/tcp/1'), m('/ip4/10.0.0.5/udp/1/quic-v1')]), ['/ip4/10.0.0.5/tcp/1']);
    assert.deepEqual(shown([m('/ip4/127.0.0.1/tcp/1'), m('/ip6/::1/tcp/1')]), ['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/1']);
    const many = Array.from({ length: 40 }, (_, i) => m(`/ip4/10.0.${i}.1/tcp/30303`));
    assert.equal(announceableAddrs(many).length, MAX_ANNOUNCED_ADDRS);
    const long = Array.from({ length: 16 }, (_, i) => m(`/dns4/${String(i).padStart(3, '0')}${'x'.repeat(240)}.example/tcp/30303`));
    const kept = announceableAddrs(long);
    assert.ok(kept.length > 0 && kept.length < 16);
    // what is kept always passes the receivers' check
    checkAnnouncement(encodePeerAnnouncement({ publicKey, addrs: kept.map((a) => a.bytes) }), id);
    checkAnnouncement(encodePeerAnnouncement({ publicKey, addrs: announceableAddrs(many).map((a) => a.bytes) }), id);
  });

  it('tcpPeerAddress / isTcpAddress', () => {
    assert.equal(tcpPeerAddress(multiaddr('/ip4/127.0.0.1/tcp/9'), id).toString(), `/ip4/127.0.0.1/tcp/9/p2p/${id}`);
    assert.equal(code(() => tcpPeerAddress(multiaddr(`/ip4/127.0.0.1/tcp/9/p2p/${otherId}`), id)), 'INVALID_ARGUMENT');
    assert.equal(isTcpAddress(multiaddr(`/ip4/127.0.0.1/tcp/9/p2p/${otherId}`)), true);
    assert.equal(isTcpAddress(multiaddr('/ip6/::1/tcp/9')), true);
    assert.equal(isTcpAddress(multiaddr('/ip4/127.0.0.1/udp/9')), false);
    assert.equal(isTcpAddress(multiaddr('/ip4/0.0.0.0/tcp/9')), false);
  });
});
