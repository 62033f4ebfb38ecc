/** Test helpers for the chain: deterministic keys, signed transactions, temp dirs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Common } from '@ethereumjs/common';
import { createTx, type TypedTxData } from '@ethereumjs/tx';
import { createAddressFromPrivateKey, type PrefixedHexString } from '@ethereumjs/util';

export const GWEI = 1_000_000_000n;

export interface TestAccount {
  key: Uint8Array;
  keyHex: string;
  address: string;
  nonce: bigint;
}

export function testAccount(i: number): TestAccount {
  const key = new Uint8Array(32);
  key[0] = 0x11;
  new DataView(key.buffer).setUint32(28, i + 1);
  return {
    key,
    keyHex: `0x${Buffer.from(key).toString('hex')}`,
    address: createAddressFromPrivateKey(key).toString(),
    nonce: 0n,
  };
}

/** Signs an EIP-1559 transaction from `from` (its nonce is taken and incremented unless given). */
export function signTx(common: Common, from: TestAccount, data: Omit<Partial<TypedTxData>, 'to'> & { to?: string }): Uint8Array {
  const nonce = data.nonce ?? from.nonce++;
  const to = data.to as PrefixedHexString | undefined;
  const tx = createTx(
    { type: 2, gasLimit: 100_000n, maxFeePerGas: 50n * GWEI, maxPriorityFeePerGas: GWEI, value: 0n, ...data, to, nonce } as TypedTxData,
    { common },
  ).sign(from.key);
  return tx.serialize();
}

export function erc20TransferData(to: string, amount: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from('a9059cbb' + to.slice(2).padStart(64, '0') + amount.toString(16).padStart(64, '0'), 'hex'));
}

export function tempDir(prefix = 'empos-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
