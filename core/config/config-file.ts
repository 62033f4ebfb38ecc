/**
 * Reading a config file: YAML or JSON (YAML is a superset), secrets resolved from the environment
 * or files, and a locator that turns a JSON path into `line:column` of the file for error messages.
 *
 * Secrets are never written inline: a value `{ "$env": "NAME" }` is replaced by the environment
 * variable NAME, `{ "$file": "path" }` by the trimmed content of the file (relative to the config
 * file). Their JSON paths are remembered so logs can redact them.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Document } from 'yaml';
import { EnergyMeshError } from '../errors.ts';
import type { ValidationIssue } from './schema-validator.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A parsed config file. */
export interface ConfigSource {
  /** Absolute path of the file ('<inline>' for objects given in code). */
  file: string;
  /** The folder relative paths in the config resolve against. */
  baseDir: string;
  /** The document with secrets resolved. */
  data: JsonObject;
  /** JSON pointers of values that came from secrets. */
  secretPaths: string[];
  /** `line:column` of a JSON pointer in the file, when known. */
  locate(pointer: string): string | undefined;
}

/** Reads and parses `file`; a syntax error names the file, line and column. */
export function readConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigSource {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EnergyMeshError('CONFIG_NOT_FOUND', `${path}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: e,
      details: { file: path },
    });
  }
  return parseConfigText(text, path, env);
}

/** Parses config text; `file` is used for messages and to resolve relative paths. */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ConfigSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((err) => {
      const pos = lineCounter.linePos(err.pos[0]);
      return `${file}:${pos.line}:${pos.col}: ${err.message.split('\n')[0]}`;
    });
    throw new EnergyMeshError('CONFIG_INVALID', `${file}: not valid YAML/JSON:\n  ${issues.join('\n  ')}`, {
      details: { file, issues },
    });
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const data = raw ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new EnergyMeshError('CONFIG_INVALID', `${file}: the config must be a mapping (key: value) at the top level`, {
      details: { file },
    });
  }
  const baseDir = dirname(file);
  const secretPaths: string[] = [];
  const resolved = resolveSecrets(data as JsonObject, '', baseDir, env, secretPaths, file) as JsonObject;
  return { file, baseDir, data: resolved, secretPaths, locate: (p) => locate(doc, lineCounter, p) };
}

/** Wraps an in-memory object as a config source (tests, embedding). */
export function inlineConfig(data: JsonObject, baseDir = process.cwd()): ConfigSource {
  return { file: '<inline>', baseDir, data: structuredClone(data), secretPaths: [], locate: () => undefined };
}

function resolveSecrets(
  value: JsonValue,
  pointer: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  secretPaths: string[],
  file: string,
): JsonValue {
  if (Array.isArray(value)) return value.map((v, i) => resolveSecrets(v, `${pointer}/${i}`, baseDir, env, secretPaths, file));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === '$env' || keys[0] === '$file')) {
    secretPaths.push(pointer);
    const ref = value[keys[0]];
    if (typeof ref !== 'string' || ref.length === 0) {
      throw new EnergyMeshError('CONFIG_INVALID', `${file}: ${pointer}: ${keys[0]} must name a variable or file`, { details: { file, path: pointer } });
    }
    if (keys[0] === '$env') {
      const v = env[ref];
      if (v === undefined) {
        throw new EnergyMeshError('SECRET_NOT_FOUND', `${file}: ${pointer}: environment variable ${ref} is not set`, {
          details: { file, path: pointer, variable: ref },
        });
      }
      return v;
    }
    try {
      return readFileSync(resolve(baseDir, ref), 'utf8').trim();
    } catch (e) {
      throw new EnergyMeshError('SECRET_NOT_FOUND', `${file}: ${pointer}: cannot read secret file ${ref}`, {
        cause: e,
        details: { file, path: pointer },
      });
    }
  }
  const out: JsonObject = {};
  for (const k of keys) out[k] = resolveSecrets(value[k] as JsonValue, `${pointer}/${escapePointer(k)}`, baseDir, env, secretPaths, file);
  return out;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function locate(doc: Document, lineCounter: LineCounter, pointer: string): string | undefined {
  const segments = pointer.split('/').slice(1).map(unescapePointer);
  // walk up until a node exists (a missing property is reported at its parent)
  for (let n = segments.length; n >= 0; n--) {
    const keyPath = segments.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const node = n === 0 ? doc.contents : doc.getIn(keyPath, true);
    if (isNode(node) && node.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return `${pos.line}:${pos.col}`;
    }
  }
  return undefined;
}

/** Formats issues as `file:line:col: /path: message` lines. */
export function formatIssues(source: Pick<ConfigSource, 'file' | 'locate'>, issues: readonly ValidationIssue[]): string[] {
  return issues.map((i) => {
    const at = source.locate(i.path);
    return `${source.file}${at ? `:${at}` : ''}: ${i.path || '/'}: ${i.message}`;
  });
}

/** A copy of `data` with every secret path replaced by '[redacted]' (for logs and the API). */
export function redactSecrets<T extends JsonValue>(data: T, secretPaths: readonly string[]): T {
  const copy = structuredClone(data);
  for (const p of secretPaths) {
    const segs = p.split('/').slice(1).map(unescapePointer);
    let node: JsonValue = copy;
    for (let i = 0; i < segs.length - 1 && node !== null && typeof node === 'object'; i++) {
      node = (node as Record<string, JsonValue>)[segs[i] as string] as JsonValue;
    }
    const last = segs[segs.length - 1];
    if (last !== undefined && node !== null && typeof node === 'object') (node as Record<string, JsonValue>)[last] = '[redacted]';
  }
  return copy;
}
