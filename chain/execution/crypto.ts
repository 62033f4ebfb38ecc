/**
 * Cryptography for the chain: secp256k1 through the native libsecp256k1 binding (npm `secp256k1`, a
 * prebuilt N-API addon) plugged into ethereumjs through its `customCrypto` hook, which makes transaction
 * sender recovery ~10× faster than the pure-JS default. `nativeCrypto()` falls back to the pure-JS
 * implementation (returns `{}`) when the addon cannot load, so the chain still runs everywhere.
 */
import { createRequire } from 'node:module';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { CustomCrypto } from '@ethereumjs/common';

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

/** ethereumjs `customCrypto` with native ecrecover; `{}` (pure JS) when `useNative` is false or unavailable. */
export function chainCrypto(useNative = true): CustomCrypto {
  const lib = useNative ? nativeSecp256k1() : null;
  if (lib === null) return {};
  return {
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

/** Keccak-256 (pure JS, @noble/hashes: the implementation ethereumjs uses). */
export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data);
}
