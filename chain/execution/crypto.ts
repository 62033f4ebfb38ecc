/**
 * Cryptography for the chain, plugged into ethereumjs through its `customCrypto` hook:
 * - secp256k1 sender recovery through the native libsecp256k1 binding (npm `secp256k1`, a prebuilt
 *   N-API addon), ~10× faster than the pure-JS default;
 * - Keccak-256 through WebAssembly (npm `hash-wasm`), ~10× faster than the pure-JS default on small
 *   inputs (trie nodes, keys); the state trie spends most of its time hashing.
 * Both fall back to the pure-JS implementations when unavailable, so the chain still runs everywhere.
 * Call `initChainCrypto()` once (async: the WASM module compiles) before `chainCrypto()`.
 */
import { createRequire } from 'node:module';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { createKeccak } from 'hash-wasm';
import type { Common, CustomCrypto } from '@ethereumjs/common';
import { Capability, paramsTx, type TypedTransaction } from '@ethereumjs/tx';
import { Address, bigIntToBytes, SECP256K1_ORDER, SECP256K1_ORDER_DIV_2 } from '@ethereumjs/util';
import type { RecoveryInput } from './sender-recovery.ts';

interface Secp256k1Native {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  publicKeyCreate(seckey: Uint8Array, compressed?: boolean): Uint8Array;
}

let native: Secp256k1Native | null | undefined;

/** The native binding, or null when it is unavailable (the `secp256k1` package then uses elliptic: too slow). */
export function nativeSecp256k1(): Secp256k1Native | null {
  if (native !== undefined) return native;
  try {
    const require = createRequire(import.meta.url);
    // `secp256k1/bindings` is the N-API addon itself; the package root silently falls back to elliptic.
    native = require('secp256k1/bindings') as Secp256k1Native;
  } catch {
    native = null;
  }
  return native;
}

function left32(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 32) return bytes;
  const out = new Uint8Array(32);
  out.set(bytes.subarray(Math.max(0, bytes.length - 32)), 32 - Math.min(32, bytes.length));
  return out;
}

let wasmKeccak: ((data: Uint8Array) => Uint8Array) | null | undefined;

/** Loads the WebAssembly Keccak (once); harmless to call again. */
export async function initChainCrypto(): Promise<void> {
  if (wasmKeccak !== undefined) return;
  try {
    const hasher = await createKeccak(256);
    // One hasher, used synchronously (init → update → digest never interleave on one thread).
    wasmKeccak = (data) => {
      hasher.init();
      hasher.update(data);
      return hasher.digest('binary');
    };
  } catch {
    wasmKeccak = null;
  }
}

/**
 * ethereumjs `customCrypto`: native ecrecover and WASM keccak when `fast` (the default) and available;
 * `{}` (all pure JS) when `fast` is false.
 */
export function chainCrypto(fast = true): CustomCrypto {
  if (!fast) return {};
  const lib = nativeSecp256k1();
  const out: CustomCrypto = {};
  if (wasmKeccak) out.keccak256 = wasmKeccak;
  if (lib === null) return out;
  return {
    ...out,
    ecrecover(msgHash, v, r, s, chainId) {
      let recovery: bigint;
      if (v === 0n || v === 1n) recovery = v;
      else if (chainId === undefined) recovery = v - 27n;
      else recovery = v - (chainId * 2n + 35n);
      if (recovery !== 0n && recovery !== 1n) throw new Error('Invalid signature v value');
      const sig = new Uint8Array(64);
      sig.set(left32(r), 0);
      sig.set(left32(s), 32);
      const pub = lib.ecdsaRecover(sig, Number(recovery), msgHash, false);
      return pub.subarray(1);
    },
  };
}

/** Keccak-256 (WASM once `initChainCrypto()` ran, else pure JS). */
export function keccak256(data: Uint8Array): Uint8Array {
  return wasmKeccak ? wasmKeccak(data) : keccak_256(data);
}

/**
 * A Common shared by every transaction decoded with it. ethereumjs' transaction constructor copies the
 * Common it is given and merges the transaction parameters into the copy (JSON deep copies and a
 * rebuilt parameter cache: ~10 % of the chain's CPU per transaction); this one is copied and merged
 * once, then hands itself out. Only for transactions: nothing changes a transaction's Common.
 */
export function sharedTxCommon(common: Common): Common {
  const shared = common.copy();
  shared.updateParams(paramsTx);
  const update = shared.updateParams.bind(shared);
  shared.copy = () => shared;
  shared.updateParams = (params) => {
    if (params !== paramsTx) update(params);
  };
  return shared;
}

/**
 * Recovers the sender of an unfrozen transaction (native secp256k1 through the Common's `ecrecover`,
 * WASM keccak for the address), caches it in the transaction and freezes it. ethereumjs recomputes the
 * address (pure-JS keccak) on every `getSenderAddress()` call — at admission and again in `runTx`.
 * Throws like `getSenderPublicKey` for an invalid signature (the transaction is then left unfrozen).
 */
export function freezeWithSender(tx: TypedTransaction): Address {
  return freezeWithPublicKey(tx, tx.getSenderPublicKey());
}

/** `freezeWithSender` with the public key already recovered (by a `SenderRecovery` worker). */
export function freezeWithPublicKey(tx: TypedTransaction, publicKey: Uint8Array): Address {
  const bytes = keccak256(publicKey).subarray(12);
  (tx.cache as { senderPubKey?: Uint8Array }).senderPubKey = publicKey;
  Object.defineProperty(tx, 'getSenderAddress', { value: () => new Address(bytes) });
  Object.freeze(tx);
  return new Address(bytes);
}

/**
 * What secp256k1 recovery of an unfrozen transaction's sender needs (the same inputs ethereumjs'
 * `getSenderPublicKey` passes to `ecrecover`), or undefined when the signature is malformed, has a high s
 * (EIP-2) or a wrong v: the caller then recovers inline and gets ethereumjs' error.
 */
export function recoveryInputOf(tx: TypedTransaction): RecoveryInput | undefined {
  const { v, r, s } = tx;
  if (v === undefined || r === undefined || s === undefined) return undefined;
  if (s > SECP256K1_ORDER_DIV_2 || r >= SECP256K1_ORDER || s >= SECP256K1_ORDER || r === 0n || s === 0n) return undefined;
  let recovery: bigint;
  if (v === 0n || v === 1n) recovery = v;
  else if (!tx.supports(Capability.EIP155ReplayProtection)) recovery = v - 27n;
  else recovery = v - (tx.common.chainId() * 2n + 35n);
  if (recovery !== 0n && recovery !== 1n) return undefined;
  const signature = new Uint8Array(64);
  signature.set(left32(bigIntToBytes(r)), 0);
  signature.set(left32(bigIntToBytes(s)), 32);
  return { msgHash: tx.getMessageToVerifySignature(), signature, recid: Number(recovery) };
}
