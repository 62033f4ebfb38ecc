/**
 * Keyed pseudonyms (GDPR Art. 4(5), Art. 32(1)(a)): `p-<keyId>-<32 hex>` where the hex is the first
 * 128 bits of HMAC-SHA256(key, id). The same id under the same key always gives the same pseudonym
 * (records stay joinable off-site); without the key it cannot be reversed or recomputed; rotating
 * the key (a new `keyId`) unlinks future pseudonyms from past ones. The key id in the output says
 * which key to use when a data subject asks which pseudonyms are theirs.
 *
 * Hot path: the key is imported once; pseudonyms are cached per key and id (bounded).
 */
import { createHmac, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { EnergyMeshError } from '../../core/errors.ts';

export interface PseudonymKey {
  /** Short id kept in every pseudonym, e.g. `k2026a` ([A-Za-z0-9]{1,16}). */
  id: string;
  /** The secret (at least 16 bytes; from the environment, never inline). */
  secret: string;
}

const KEY_ID = /^[A-Za-z0-9]{1,16}$/;
const PSEUDONYM = /^p-[A-Za-z0-9]{1,16}-[0-9a-f]{32}$/;

export class Pseudonymiser {
  private readonly keys = new Map<string, KeyObject>();
  private readonly cache = new Map<string, Map<string, string>>();
  readonly activeKeyId: string;

  constructor(keys: readonly PseudonymKey[], activeKeyId: string, private readonly maxCache = 200_000) {
    for (const k of keys) {
      if (!KEY_ID.test(k.id)) throw new EnergyMeshError('CONFIG_INVALID', `pseudonym key id ${JSON.stringify(k.id)} must be 1–16 letters or digits`);
      if (typeof k.secret !== 'string' || Buffer.byteLength(k.secret) < 16) throw new EnergyMeshError('CONFIG_INVALID', `pseudonym key ${k.id}: the secret must have at least 16 bytes`);
      if (this.keys.has(k.id)) throw new EnergyMeshError('CONFIG_INVALID', `pseudonym key id ${k.id} is listed twice`);
      this.keys.set(k.id, createSecretKey(Buffer.from(k.secret, 'utf8')));
      this.cache.set(k.id, new Map());
    }
    if (!this.keys.has(activeKeyId)) throw new EnergyMeshError('CONFIG_INVALID', `the active pseudonym key ${JSON.stringify(activeKeyId)} is not among the keys (${[...this.keys.keys()].join(', ')})`);
    this.activeKeyId = activeKeyId;
  }

  /** The pseudonym of `id` under the active key (or `keyId`). */
  pseudonym(id: string, keyId = this.activeKeyId): string {
    const cache = this.cache.get(keyId);
    const key = this.keys.get(keyId);
    if (!cache || !key) throw new EnergyMeshError('INVALID_ARGUMENT', `unknown pseudonym key ${keyId}`);
    let p = cache.get(id);
    if (p === undefined) {
      p = `p-${keyId}-${createHmac('sha256', key).update(id).digest('hex').slice(0, 32)}`;
      if (cache.size >= this.maxCache) cache.clear();
      cache.set(id, p);
    }
    return p;
  }

  /** Whether `s` looks like one of our pseudonyms (so it is not pseudonymised twice). */
  static isPseudonym(s: string): boolean {
    // cheap checks first: this runs on every identifier of every personal record
    return s.length >= 37 && s.length <= 52 && s.charCodeAt(0) === 0x70 && s.charCodeAt(1) === 0x2d && PSEUDONYM.test(s);
  }

  keyIds(): string[] {
    return [...this.keys.keys()];
  }
}
