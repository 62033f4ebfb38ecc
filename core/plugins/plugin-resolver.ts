/**
 * Finds plugins: built-ins (plugins/* and compliance/* folders with a plugin.json), third-party
 * folders named by path, and npm packages named by package. Reads and validates each manifest
 * against schemas/plugin-manifest.schema.json and checks its plugin API version.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { EnergyMeshError, isEnergyMeshError } from '../errors.ts';
import { BUILTIN_PLUGIN_DIRS } from '../paths.ts';
import { createSharedAjv, sharedSchema } from '../config/schema-registry.ts';
import { compileSchema, toIssues } from '../config/schema-validator.ts';
import type { JsonSchema } from '../config/json-schema.ts';
import { SUPPORTED_PLUGIN_API_VERSIONS } from './plugin-manifest.ts';
import type { PluginManifest } from './plugin-manifest.ts';

/** A plugin found on disk, its manifest validated. */
export interface PluginLocation {
  manifest: PluginManifest;
  /** The folder holding plugin.json. */
  dir: string;
  manifestFile: string;
  /** Absolute path of the entry module. */
  entryFile: string;
  /** The plugin's config schema, if it declares one. */
  configSchema?: JsonSchema;
  builtin: boolean;
}

const ajv = createSharedAjv();
const validateManifest = compileSchema<PluginManifest>(ajv, sharedSchema('plugin-manifest.schema.json'), 'schemas/plugin-manifest.schema.json');

/** Reads and validates the plugin.json in `dir`. */
export function readPluginManifest(dir: string, builtin = false): PluginLocation {
  const manifestFile = join(dir, 'plugin.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EnergyMeshError(
      code === 'ENOENT' ? 'PLUGIN_NOT_FOUND' : 'PLUGIN_INVALID',
      code === 'ENOENT' ? `${manifestFile}: no plugin.json in ${dir}` : `${manifestFile}: not valid JSON: ${(e as Error).message}`,
      { cause: e, details: { file: manifestFile } },
    );
  }
  if (!validateManifest(raw)) {
    const issues = toIssues(validateManifest.errors);
    throw new EnergyMeshError(
      'PLUGIN_INVALID',
      `${manifestFile}: invalid plugin manifest:\n  ${issues.map((i) => `${i.path || '/'}: ${i.message}`).join('\n  ')}`,
      { details: { file: manifestFile, issues } },
    );
  }
  const manifest = raw;
  if (!SUPPORTED_PLUGIN_API_VERSIONS.includes(manifest.apiVersion)) {
    throw new EnergyMeshError(
      'PLUGIN_INCOMPATIBLE',
      `${manifest.id} (${manifestFile}) targets plugin API ${manifest.apiVersion}, but this EnergyMesh supports plugin API ${SUPPORTED_PLUGIN_API_VERSIONS.join(', ')}: use a release of the plugin built for API ${SUPPORTED_PLUGIN_API_VERSIONS.at(-1)} or upgrade EnergyMesh`,
      { details: { plugin: manifest.id, apiVersion: manifest.apiVersion, supported: SUPPORTED_PLUGIN_API_VERSIONS } },
    );
  }
  const entryFile = resolve(dir, manifest.entry);
  if (!existsSync(entryFile)) {
    throw new EnergyMeshError('PLUGIN_INVALID', `${manifestFile}: entry ${manifest.entry} does not exist`, {
      details: { file: manifestFile, entry: entryFile },
    });
  }
  let configSchema: JsonSchema | undefined;
  if (manifest.configSchema) {
    const schemaFile = resolve(dir, manifest.configSchema);
    try {
      configSchema = JSON.parse(readFileSync(schemaFile, 'utf8')) as JsonSchema;
    } catch (e) {
      throw new EnergyMeshError('PLUGIN_INVALID', `${manifestFile}: cannot read its config schema ${manifest.configSchema}: ${(e as Error).message}`, {
        cause: e,
        details: { file: schemaFile },
      });
    }
  }
  return { manifest, dir, manifestFile, entryFile, ...(configSchema ? { configSchema } : {}), builtin };
}

let builtins: Map<string, PluginLocation> | undefined;
/** Built-in plugin folders whose manifest is broken, by id when the id could be read, else by folder. */
const brokenBuiltins = new Map<string, EnergyMeshError>();

/**
 * The built-in plugins by id. A broken built-in manifest does not hide the others: it is remembered
 * and reported when (and only when) that plugin is asked for.
 */
export function builtinPlugins(): Map<string, PluginLocation> {
  if (builtins) return builtins;
  const map = new Map<string, PluginLocation>();
  for (const root of BUILTIN_PLUGIN_DIRS) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      const dir = join(root, name);
      if (!existsSync(join(dir, 'plugin.json'))) continue;
      let loc: PluginLocation;
      try {
        loc = readPluginManifest(dir, true);
      } catch (e) {
        if (!isEnergyMeshError(e)) throw e;
        brokenBuiltins.set(manifestId(dir) ?? dir, e);
        continue;
      }
      if (map.has(loc.manifest.id)) {
        brokenBuiltins.set(loc.manifest.id, new EnergyMeshError('PLUGIN_DUPLICATE', `two built-in plugins have the id ${loc.manifest.id}: ${map.get(loc.manifest.id)?.dir} and ${dir}`));
        continue;
      }
      map.set(loc.manifest.id, loc);
    }
  }
  builtins = map;
  return map;
}

function manifestId(dir: string): string | undefined {
  try {
    const id = (JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What a config entry names. */
export type PluginReference = { id: string } | { path: string } | { package: string };

/** Resolves a config entry to a plugin location; `baseDir` is the config file's folder. */
export function resolvePlugin(ref: PluginReference, baseDir: string): PluginLocation {
  if ('id' in ref) {
    const loc = builtinPlugins().get(ref.id);
    const broken = brokenBuiltins.get(ref.id);
    if (broken) throw broken;
    if (!loc) {
      const known = [...builtinPlugins().keys()].join(', ');
      throw new EnergyMeshError('PLUGIN_NOT_FOUND', `unknown plugin id ${ref.id}; built-in plugins are: ${known}. Third-party plugins are named by path or package.`, {
        details: { id: ref.id },
      });
    }
    return loc;
  }
  if ('path' in ref) return readPluginManifest(resolve(baseDir, ref.path));
  let manifestPath: string;
  try {
    manifestPath = createRequire(join(baseDir, 'noop.js')).resolve(`${ref.package}/plugin.json`);
  } catch (e) {
    throw new EnergyMeshError('PLUGIN_NOT_FOUND', `npm package ${ref.package} is not installed (or has no plugin.json at its root): npm install ${ref.package}`, {
      cause: e,
      details: { package: ref.package },
    });
  }
  return readPluginManifest(dirname(manifestPath));
}
