/**
 * The libp2p identity of a node. A validator's peer key is derived from its validator key
 * (Ed25519 seed = keccak256("EMPoS/p2p-key/v1" ‖ validator private key)), so the peer id is known as
 * soon as the keystore exists (`energymesh chain init` prints every node's multiaddr) and needs no file of
 * its own; a non-validator full node keeps a random key in `<dataDir>/p2p.key` (protobuf, mode 0600).
 * The derivation is one-way: the peer key reveals nothing about the validator key.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import { keccak256 } from '../execution/crypto.ts';

export async function peerKeyFromValidatorKey(validatorPrivateKey: string): Promise<PrivateKey> {
  const tag = new TextEncoder().encode('EMPoS/p2p-key/v1');
  const key = hexToBytes(validatorPrivateKey as PrefixedHexString);
  const seed = new Uint8Array(tag.length + key.length);
  seed.set(tag);
  seed.set(key, tag.length);
  return generateKeyPairFromSeed('Ed25519', keccak256(seed));
}

export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  if (existsSync(path)) return privateKeyFromProtobuf(readFileSync(path));
  const key = await generateKeyPair('Ed25519');
  writeFileSync(`${path}.tmp`, privateKeyToProtobuf(key), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return key;
}

export function peerIdOf(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}
