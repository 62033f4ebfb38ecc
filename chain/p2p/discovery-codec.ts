/**
 * Peer announcements of the EMPoS validator network, on the gossip topic `/empos/<chainId>/peers/1`.
 * The format is the one `@libp2p/pubsub-peer-discovery` publishes (it does the periodic announcing),
 * protocol buffers:
 *
 *   message Peer { bytes publicKey = 1; repeated bytes addrs = 2; }
 *   wire: field*            field = tag(varint: number << 3 | 2) ‖ length(varint) ‖ bytes
 *   publicKey = the libp2p public key protobuf (Ed25519: 36 bytes); addrs = binary multiaddrs
 *
 * Pure and synchronous. Decoding is bounded and strict — the message ≤ 4 KiB, one public key ≤ 64 bytes,
 * ≤ 16 addresses of ≤ 320 bytes each, only fields 1 and 2 with wire type 2, varints ≤ 2 bytes — and the
 * check (`checkAnnouncement`) accepts an announcement only when its key is the gossip message's signed
 * origin (a peer can only announce itself) and every address is a TCP multiaddr of that peer:
 * `/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/p2p/<that peer id>]`, port 1–65535, not the unspecified host.
 * Anything else throws `FRAME_TOO_LONG` / `FRAME_MALFORMED` / `INVALID_ARGUMENT`; the network layer turns
 * that into a rejected message (not forwarded) and a penalty for the peer that sent it.
 */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { EnergyMeshError } from '../../core/errors.ts';

export const MAX_ANNOUNCEMENT_BYTES = 4096;
export const MAX_ANNOUNCED_ADDRS = 16;
export const MAX_ADDR_BYTES = 320;
export const MAX_PUBLIC_KEY_BYTES = 64;

export function discoveryTopicOf(chainId: bigint): string {
  return `/empos/${chainId}/peers/1`;
}

export interface PeerAnnouncement {
  /** libp2p public key, protobuf-encoded. */
  publicKey: Uint8Array;
  /** Binary multiaddrs, as announced (unchecked). */
  addrs: Uint8Array[];
}

/** A checked announcement: the announcing peer and its TCP addresses, each ending in /p2p/<peer id>. */
export interface CheckedAnnouncement {
  peerId: string;
  addrs: Multiaddr[];
}

const FIELD_PUBLIC_KEY = 1;
const FIELD_ADDRS = 2;
const WIRE_LEN = 2;

function malformed(message: string): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', `peer announcement: ${message}`);
}

/** A varint of at most 2 bytes (values < 16,384: every length and tag of a bounded announcement). */
function readVarint(data: Uint8Array, at: number): [value: number, next: number] {
  const b0 = data[at];
  if (b0 === undefined) throw malformed('truncated varint');
  if ((b0 & 0x80) === 0) return [b0, at + 1];
  const b1 = data[at + 1];
  if (b1 === undefined) throw malformed('truncated varint');
  if ((b1 & 0x80) !== 0) throw malformed('varint too long');
  return [(b0 & 0x7f) | (b1 << 7), at + 2];
}

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

export function decodePeerAnnouncement(data: Uint8Array): PeerAnnouncement {
  if (data.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new EnergyMeshError('FRAME_TOO_LONG', `peer announcement of ${data.length} bytes (max ${MAX_ANNOUNCEMENT_BYTES})`);
  }
  let publicKey: Uint8Array | undefined;
  const addrs: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const [tag, afterTag] = readVarint(data, at);
    if ((tag & 7) !== WIRE_LEN) throw malformed(`wire type ${tag & 7}`);
    const field = tag >>> 3;
    const [length, start] = readVarint(data, afterTag);
    const end = start + length;
    if (end > data.length) throw malformed('field past the end');
    const value = data.subarray(start, end);
    if (field === FIELD_PUBLIC_KEY) {
      if (publicKey !== undefined) throw malformed('two public keys');
      if (length === 0 || length > MAX_PUBLIC_KEY_BYTES) throw malformed(`public key of ${length} bytes`);
      publicKey = value;
    } else if (field === FIELD_ADDRS) {
      if (addrs.length === MAX_ANNOUNCED_ADDRS) throw malformed(`more than ${MAX_ANNOUNCED_ADDRS} addresses`);
      if (length === 0 || length > MAX_ADDR_BYTES) throw malformed(`address of ${length} bytes`);
      addrs.push(value);
    } else {
      throw malformed(`unknown field ${field}`);
    }
    at = end;
  }
  if (publicKey === undefined) throw malformed('no public key');
  return { publicKey, addrs };
}

export function encodePeerAnnouncement(a: PeerAnnouncement): Uint8Array {
  const out: number[] = [];
  const field = (n: number, value: Uint8Array): void => {
    writeVarint(out, (n << 3) | WIRE_LEN);
    writeVarint(out, value.length);
    for (const b of value) out.push(b);
  };
  field(FIELD_PUBLIC_KEY, a.publicKey);
  for (const addr of a.addrs) field(FIELD_ADDRS, addr);
  return Uint8Array.from(out);
}

const HOST_PROTOCOLS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6']);
const UNSPECIFIED = new Set(['0.0.0.0', '::']);

/** The /p2p/ id of a TCP address (`undefined` without one); throws `INVALID_ARGUMENT` if it is not one. */
function tcpShape(addr: Multiaddr): string | undefined {
  const [host, tcp, p2p, ...rest] = addr.getComponents();
  const bad = (why: string): EnergyMeshError => new EnergyMeshError('INVALID_ARGUMENT', `address ${addr.toString()}: ${why}`);
  if (host === undefined || !HOST_PROTOCOLS.has(host.name) || host.value === undefined || host.value === '') throw bad('not an IP or DNS host');
  if (UNSPECIFIED.has(host.value)) throw bad('unspecified host');
  if (tcp?.name !== 'tcp') throw bad('not TCP');
  const port = Number(tcp.value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('bad port');
  if (rest.length > 0) throw bad('unexpected components');
  if (p2p === undefined) return undefined;
  if (p2p.name !== 'p2p' || p2p.value === undefined) throw bad(`unexpected /${p2p.name}`);
  return p2p.value;
}

/**
 * `addr` as a dialable TCP address of `peerId`, ending in /p2p/<peerId>; throws `INVALID_ARGUMENT` for
 * anything else (another transport or protocol, another peer's id, port 0, the unspecified host).
 */
export function tcpPeerAddress(addr: Multiaddr, peerId: string): Multiaddr {
  const id = tcpShape(addr);
  if (id === undefined) return addr.encapsulate(`/p2p/${peerId}`);
  if (id !== peerId) throw new EnergyMeshError('INVALID_ARGUMENT', `address ${addr.toString()}: another peer id`);
  return addr;
}

/** `true` when `addr` is a TCP multiaddr (optionally with a /p2p/ id): what the peer store keeps. */
export function isTcpAddress(addr: Multiaddr): boolean {
  try {
    tcpShape(addr);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a node announces (discovery and identify): TCP addresses only; loopback ones only when it has no
 * other; at most 16 and what fits in an announcement, so that peers never refuse an honest node's.
 */
export function announceableAddrs(addrs: Multiaddr[]): Multiaddr[] {
  const tcp = addrs.filter(isTcpAddress);
  const loopback = (a: Multiaddr): boolean => {
    const host = a.getComponents()[0]?.value ?? '';
    return host.startsWith('127.') || host === '::1' || host === 'localhost';
  };
  const outside = tcp.filter((a) => !loopback(a));
  const out: Multiaddr[] = [];
  let bytes = 2 + MAX_PUBLIC_KEY_BYTES;
  for (const a of outside.length > 0 ? outside : tcp) {
    bytes += 3 + a.bytes.length;
    if (out.length === MAX_ANNOUNCED_ADDRS || bytes > MAX_ANNOUNCEMENT_BYTES || a.bytes.length > MAX_ADDR_BYTES) break;
    out.push(a);
  }
  return out;
}

/**
 * Decodes and checks an announcement received as a gossip message signed by `from` (its origin):
 * the key must be `from`'s, every address a TCP address of it (see the file comment). Throws otherwise.
 */
export function checkAnnouncement(data: Uint8Array, from: string): CheckedAnnouncement {
  const a = decodePeerAnnouncement(data);
  let peerId: string;
  try {
    peerId = peerIdFromPublicKey(publicKeyFromProtobuf(a.publicKey)).toString();
  } catch (e) {
    throw new EnergyMeshError('FRAME_MALFORMED', 'peer announcement: bad public key', { cause: e });
  }
  if (peerId !== from) throw new EnergyMeshError('INVALID_ARGUMENT', `peer announcement of ${peerId} signed by ${from}`);
  const addrs: Multiaddr[] = [];
  for (const bytes of a.addrs) {
    let addr: Multiaddr;
    try {
      addr = multiaddr(bytes);
    } catch (e) {
      throw new EnergyMeshError('FRAME_MALFORMED', 'peer announcement: undecodable address', { cause: e });
    }
    addrs.push(tcpPeerAddress(addr, peerId));
  }
  return { peerId, addrs };
}
