/**
 * JSON Schema validation (draft 2020-12, ajv) shared by config, manifests and the data model.
 * Each owner's schema is compiled on its own so that a broken schema names its source; validation
 * errors are turned into `ValidationIssue`s that name the JSON path and what was expected.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { EnergyMeshError } from '../errors.ts';
import type { JsonSchema } from './json-schema.ts';

// ajv-formats is CommonJS; under NodeNext its default import is the module namespace.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** One problem found in a document. */
export interface ValidationIssue {
  /** JSON pointer of the offending value ('' for the root). */
  path: string;
  /** What was expected, in words. */
  message: string;
  /** The schema keyword that failed (type, required, enum, ...). */
  keyword: string;
}

/** Creates the ajv instance EnergyMesh uses: strict, all errors, defaults applied, formats, x-secret. */
export function createAjv(options: { coerceTypes?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, useDefaults: true, allowUnionTypes: true, coerceTypes: options.coerceTypes ?? false });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  return ajv;
}

/** Compiles `schema`; a broken schema is a PLUGIN_INVALID/CONFIG_INVALID error naming `source`. */
export function compileSchema<T = unknown>(ajv: Ajv2020, schema: JsonSchema, source: string): ValidateFunction<T> {
  try {
    const id = typeof schema.$id === 'string' ? schema.$id : undefined;
    const existing = id ? ajv.getSchema<T>(id) : undefined;
    return existing ?? ajv.compile<T>(schema);
  } catch (e) {
    throw new EnergyMeshError('CONFIG_INVALID', `${source}: the JSON Schema itself is invalid: ${(e as Error).message}`, {
      cause: e,
      details: { source },
    });
  }
}

/** Turns ajv errors into readable issues, with `prefix` prepended to each path. */
export function toIssues(errors: readonly ErrorObject[] | null | undefined, prefix = ''): ValidationIssue[] {
  if (!errors) return [];
  const issues: ValidationIssue[] = [];
  for (const e of errors) {
    let path = prefix + e.instancePath;
    let message = e.message ?? 'is invalid';
    switch (e.keyword) {
      case 'required':
        path = `${path}/${String(e.params.missingProperty)}`;
        message = 'is required';
        break;
      case 'additionalProperties':
        path = `${path}/${String(e.params.additionalProperty)}`;
        message = 'is not a known property here';
        break;
      case 'enum':
        message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'if':
      case 'anyOf':
        // the branch errors say more; skip the summary
        continue;
      default:
        break;
    }
    issues.push({ path, message, keyword: e.keyword });
  }
  return dedupe(issues);
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
