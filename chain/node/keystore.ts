/**
 * Validator and account keys in Ethereum V3 keystore files (scrypt + AES-128-CTR, the format geth and
 * wallets use), written with mode 0600. The password comes from the caller; keys are never logged.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { decryptKeystoreJsonSync, encryptKeystoreJsonSync, computeAddress, hexlify } from 'ethers';
import { EnergyMeshError } from '../../core/errors.ts';

/** scrypt cost: 2^15 keeps start-up under ~0.2 s on small machines; raise for keys at rest on shared hosts. */
export const DEFAULT_SCRYPT_N = 1 << 15;

export function writeKeystore(path: string, privateKey: string, password: string, scryptN = DEFAULT_SCRYPT_N): void {
  const json = encryptKeystoreJsonSync({ address: computeAddress(privateKey), privateKey }, password, { scrypt: { N: scryptN } });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, json, { mode: 0o600 });
  renameSync(tmp, path);
}

export function readKeystore(path: string, password: string): string {
  let json: string;
  try {
    json = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EnergyMeshError('SECRET_NOT_FOUND', `cannot read keystore ${path}`, { cause: e });
  }
  try {
    return decryptKeystoreJsonSync(json, password).privateKey;
  } catch (e) {
    throw new EnergyMeshError('UNAUTHORIZED', `cannot decrypt keystore ${path} (wrong password or corrupt file)`, { cause: e });
  }
}

/** Reads the keystore at `path`, creating it with a fresh random key on first use. */
export function loadOrCreateKeystore(path: string, password: string, scryptN = DEFAULT_SCRYPT_N): string {
  if (existsSync(path)) return readKeystore(path, password);
  const key = hexlify(randomBytes(32));
  writeKeystore(path, key, password, scryptN);
  return key;
}
