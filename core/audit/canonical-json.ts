/**
 * Canonical JSON: the one serialization the audit chain hashes. Object keys sorted by UTF-16 code
 * unit order (the order of `Array.prototype.sort`), no whitespace, strings and numbers as
 * `JSON.stringify` writes them. `undefined` members are left out (as JSON does); values JSON
 * cannot carry (NaN, Infinity, bigint, functions, symbols, cycles) are refused so two
 * serializations of one value can never differ.
 */
import { EnergyMeshError } from '../errors.ts';

export type CanonicalValue = string | number | boolean | null | CanonicalValue[] | { [key: string]: CanonicalValue | undefined };

/** The canonical serialization of `value`; throws INVALID_ARGUMENT for what JSON cannot carry. */
export function canonicalJson(value: unknown): string {
  return write(value, new Set(), '');
}

function write(value: unknown, seen: Set<object>, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new EnergyMeshError('INVALID_ARGUMENT', `canonical JSON: ${path || '/'} is ${value}, which JSON cannot carry`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new EnergyMeshError('INVALID_ARGUMENT', `canonical JSON: ${path || '/'} is a ${typeof value}, which JSON cannot carry`);
  }
  const obj = value as object;
  if (seen.has(obj)) throw new EnergyMeshError('INVALID_ARGUMENT', `canonical JSON: ${path || '/'} is a cycle`);
  seen.add(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = `[${obj.map((v, i) => (v === undefined ? 'null' : write(v, seen, `${path}/${i}`))).join(',')}]`;
  } else {
    const rec = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(rec).sort()) {
      const v = rec[k];
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${write(v, seen, `${path}/${k}`)}`);
    }
    out = `{${parts.join(',')}}`;
  }
  seen.delete(obj);
  return out;
}
