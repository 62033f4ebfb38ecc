/**
 * The JSON pointers at which two JSON-like values differ (for change-management records), and a
 * stable digest of a value (the "baseline" hash of a config before and after a change).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.ts';

/** Pointers (RFC 6901) where `a` and `b` differ; `[]` when equal. Capped at `limit` entries. */
export function jsonDiffPaths(a: unknown, b: unknown, limit = 200): string[] {
  const out: string[] = [];
  walk(a, b, '', out, limit);
  return out;
}

function walk(a: unknown, b: unknown, at: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  if (a === b) return;
  const objA = a !== null && typeof a === 'object';
  const objB = b !== null && typeof b === 'object';
  if (!objA || !objB || Array.isArray(a) !== Array.isArray(b)) {
    out.push(at || '/');
    return;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of [...keys].sort()) walk(ra[k], rb[k], `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out, limit);
}

/** SHA-256 (hex) of the canonical JSON of `value` (`undefined` hashes as null). */
export function jsonDigest(value: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(value ?? null))
    .digest('hex');
}
