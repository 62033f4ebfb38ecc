/**
 * Loads the whole configuration: the core's sections, the plugin list, each plugin's manifest and
 * its `config` validated by the plugin's own schema (compiled alone so a broken schema names its
 * plugin), then the top-level sections plugins contribute. All problems are gathered and thrown
 * at once as one CONFIG_INVALID error whose message lists `file:line:col: /json/path: expected`.
 */
import { isAbsolute, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { EnergyMeshError, isEnergyMeshError } from '../errors.ts';
import type { ConfigSection } from '../contributions.ts';
import { resolvePlugin } from '../plugins/plugin-resolver.ts';
import type { PluginLocation, PluginReference } from '../plugins/plugin-resolver.ts';
import { formatIssues } from './config-file.ts';
import type { ConfigSource, JsonObject } from './config-file.ts';
import { createSharedAjv, sharedSchema } from './schema-registry.ts';
import { compileSchema, createAjv, toIssues } from './schema-validator.ts';
import type { ValidationIssue } from './schema-validator.ts';
import type { JsonSchema } from './json-schema.ts';

/** The core's sections after validation (defaults applied). Types follow schemas/core.schema.json. */
export interface CoreConfig {
  site: { id: string; name?: string };
  /** Absolute after loading. */
  dataDir: string;
  log: { level: string };
  bus: {
    kind: string;
    prefix: string;
    durable: boolean;
    fsync: 'always' | 'interval' | 'never';
    fsyncIntervalMs: number;
    retentionBytes: number;
    external?: boolean;
  };
  api: { enabled: boolean; host: string; port: number; bodyLimitBytes: number; auth: { enabled: boolean; anonymousRole: 'none' | 'viewer'; tokensFile?: string } };
  plugins: PluginEntry[];
}

export interface PluginEntry {
  id?: string;
  path?: string;
  package?: string;
  enabled: boolean;
  config: JsonObject;
}

/** An enabled plugin, found and with its config validated. */
export interface ResolvedPlugin extends PluginLocation {
  /** Index of the entry in `plugins`. */
  index: number;
  config: JsonObject;
}

export interface LoadedConfig {
  source: ConfigSource;
  core: CoreConfig;
  /** Enabled plugins in dependency order (a plugin after those it depends on). */
  plugins: ResolvedPlugin[];
  /** Top-level sections contributed by plugins, validated. */
  sections: Record<string, JsonObject>;
}

const coreSchema = sharedSchema('core.schema.json');

/**
 * Validates `source`. `contributedSections` lets plugins add top-level sections (their schemas
 * are known only after their modules load; the kernel calls `validateSections` for them).
 */
export function loadConfig(source: ConfigSource): LoadedConfig {
  const issues: ValidationIssue[] = [];
  const data = source.data;
  const ajv = createSharedAjv();

  // 1. the core's own sections; unknown top-level keys are checked later against contributed sections
  const coreOnly: JsonObject = {};
  const extra: Record<string, JsonObject> = {};
  const coreKeys = new Set(Object.keys((coreSchema.properties as JsonSchema) ?? {}));
  for (const [k, v] of Object.entries(data)) {
    if (coreKeys.has(k)) coreOnly[k] = v;
    else extra[k] = v as JsonObject;
  }
  const validateCore = compileSchema<CoreConfig>(ajv, coreSchema, 'schemas/core.schema.json');
  if (!validateCore(coreOnly)) issues.push(...toIssues(validateCore.errors));
  const core = coreOnly as unknown as CoreConfig;
  if (typeof core.dataDir === 'string') core.dataDir = isAbsolute(core.dataDir) ? core.dataDir : resolve(source.baseDir, core.dataDir);

  // 2. the plugins: resolve, validate each config with the plugin's own schema
  const resolved: ResolvedPlugin[] = [];
  const seen = new Map<string, number>();
  (Array.isArray(core.plugins) ? core.plugins : []).forEach((entry, index) => {
    const at = `/plugins/${index}`;
    if (entry === null || typeof entry !== 'object') return; // reported by the schema
    const named = (['id', 'path', 'package'] as const).filter((k) => typeof entry[k] === 'string');
    if (named.length !== 1) {
      issues.push({ path: at, message: 'must name exactly one of id, path or package', keyword: 'oneOf' });
      return;
    }
    if (entry.enabled === false) return;
    let loc: PluginLocation;
    try {
      loc = resolvePlugin(entry as PluginReference, source.baseDir);
    } catch (e) {
      if (!isEnergyMeshError(e)) throw e;
      issues.push({ path: `${at}/${named[0]}`, message: e.message, keyword: e.code });
      return;
    }
    const dup = seen.get(loc.manifest.id);
    if (dup !== undefined) {
      issues.push({ path: at, message: `plugin ${loc.manifest.id} is already listed at /plugins/${dup}`, keyword: 'uniqueItems' });
      return;
    }
    seen.set(loc.manifest.id, index);
    const config = (entry.config ?? {}) as JsonObject;
    if (loc.configSchema) {
      try {
        const validate = compileSchema(createAjv(), loc.configSchema, `${loc.manifest.id} config schema (${loc.manifest.configSchema})`);
        if (!validate(config)) issues.push(...toIssues(validate.errors, `${at}/config`));
      } catch (e) {
        if (!isEnergyMeshError(e)) throw e;
        issues.push({ path: `${at}/config`, message: e.message, keyword: 'schema' });
      }
    }
    resolved.push({ ...loc, index, config });
  });

  // 3. dependencies: present, and no cycle
  let ordered: ResolvedPlugin[] = resolved;
  const byId = new Map(resolved.map((p) => [p.manifest.id, p]));
  for (const p of resolved) {
    for (const dep of p.manifest.dependsOn ?? []) {
      if (!byId.has(dep)) {
        issues.push({ path: `/plugins/${p.index}`, message: `${p.manifest.id} depends on ${dep}, which is not enabled in this config`, keyword: 'dependsOn' });
      }
    }
  }
  try {
    ordered = dependencyOrder(resolved);
  } catch (e) {
    if (!isEnergyMeshError(e)) throw e;
    issues.push({ path: '/plugins', message: e.message, keyword: 'dependsOn' });
  }

  const loaded: LoadedConfig = { source, core, plugins: ordered, sections: extra };
  if (issues.length > 0) throw configError(source, issues);
  return loaded;
}

/**
 * Validates the top-level sections plugins contribute; any top-level key that no section claims is
 * an error. Called by the kernel once plugin modules are loaded.
 */
export function validateSections(config: LoadedConfig, sections: readonly ConfigSection[]): void {
  const issues: ValidationIssue[] = [];
  const claimed = new Map<string, ValidateFunction>();
  for (const s of sections) {
    try {
      claimed.set(s.key, compileSchema(createAjv(), s.schema, `config section ${s.key}`));
    } catch (e) {
      if (!isEnergyMeshError(e)) throw e;
      issues.push({ path: `/${s.key}`, message: e.message, keyword: 'schema' });
    }
  }
  for (const [key, value] of Object.entries(config.sections)) {
    const validate = claimed.get(key);
    if (!validate) {
      issues.push({ path: `/${key}`, message: 'is not a known section (no enabled plugin declares it)', keyword: 'additionalProperties' });
      continue;
    }
    if (!validate(value)) issues.push(...toIssues(validate.errors, `/${key}`));
  }
  if (issues.length > 0) throw configError(config.source, issues);
}

/** The single error for a set of config issues. */
export function configError(source: ConfigSource, issues: readonly ValidationIssue[]): EnergyMeshError {
  const lines = formatIssues(source, issues);
  return new EnergyMeshError('CONFIG_INVALID', `${source.file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n  ${lines.join('\n  ')}`, {
    details: { file: source.file, issues: issues.map((i, n) => ({ ...i, text: lines[n] })) },
  });
}

/** Orders plugins so that each comes after its dependencies; throws DEPENDENCY_CYCLE on a cycle. */
export function dependencyOrder<T extends { manifest: { id: string; dependsOn?: string[] } }>(plugins: readonly T[]): T[] {
  const byId = new Map(plugins.map((p) => [p.manifest.id, p]));
  const state = new Map<string, 'visiting' | 'done'>();
  const out: T[] = [];
  const visit = (p: T, trail: string[]): void => {
    const id = p.manifest.id;
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      throw new EnergyMeshError('DEPENDENCY_CYCLE', `plugin dependency cycle: ${[...trail, id].join(' → ')}`, { details: { cycle: [...trail, id] } });
    }
    state.set(id, 'visiting');
    for (const dep of p.manifest.dependsOn ?? []) {
      const d = byId.get(dep);
      if (d) visit(d, [...trail, id]);
    }
    state.set(id, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}
