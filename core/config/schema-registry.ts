/**
 * The shared JSON Schemas of schemas/ (data model, manifest, core config), loaded once into an ajv
 * instance so `$ref`s between them resolve.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import { SCHEMAS_DIR } from '../paths.ts';
import type { JsonSchema } from './json-schema.ts';
import { createAjv } from './schema-validator.ts';

let cached: Map<string, JsonSchema> | undefined;

/** All schemas of schemas/ by file name (e.g. `telemetry-record.schema.json`). */
export function sharedSchemas(): Map<string, JsonSchema> {
  if (cached) return cached;
  const map = new Map<string, JsonSchema>();
  for (const name of readdirSync(SCHEMAS_DIR)) {
    if (!name.endsWith('.schema.json')) continue;
    map.set(name, JSON.parse(readFileSync(join(SCHEMAS_DIR, name), 'utf8')) as JsonSchema);
  }
  cached = map;
  return map;
}

/** One shared schema by file name; throws if it does not exist. */
export function sharedSchema(name: string): JsonSchema {
  const s = sharedSchemas().get(name);
  if (!s) throw new Error(`no schema ${name} in ${SCHEMAS_DIR}`);
  return s;
}

/** An ajv instance with every shared schema added (resolvable by `$id`). */
export function createSharedAjv(options: { coerceTypes?: boolean } = {}): Ajv2020 {
  const ajv = createAjv(options);
  for (const schema of sharedSchemas().values()) ajv.addSchema(schema);
  return ajv;
}

/**
 * Inlines `$ref`s to shared schemas so a schema stands alone (for OpenAPI and for validators that
 * do not know our `$id`s). Local `#/$defs` refs of the referenced schema are resolved too.
 */
export function bundleSchema(schema: JsonSchema): JsonSchema {
  const byFile = sharedSchemas();
  const resolveRef = (ref: string, current: JsonSchema): JsonSchema => {
    const [file, fragment] = ref.split('#');
    const base = file ? byFile.get(file.split('/').pop() ?? '') : current;
    if (!base) throw new Error(`unresolvable $ref ${ref}`);
    let node: unknown = base;
    for (const seg of (fragment ?? '').split('/').filter(Boolean)) node = (node as Record<string, unknown>)[seg];
    return inline(node as JsonSchema, base);
  };
  const inline = (node: unknown, current: JsonSchema): JsonSchema => {
    if (Array.isArray(node)) return node.map((n) => inline(n, current)) as unknown as JsonSchema;
    if (node === null || typeof node !== 'object') return node as JsonSchema;
    const obj = node as JsonSchema;
    if (typeof obj.$ref === 'string') {
      const { $ref, ...rest } = obj;
      return { ...resolveRef($ref as string, current), ...inline(rest, current) };
    }
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(obj)) {
      if (k === '$id' || k === '$schema' || k === '$defs') continue;
      out[k] = inline(v, current);
    }
    return out;
  };
  return inline(schema, schema);
}
