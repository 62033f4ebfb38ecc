import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository / package root (where package.json, plugins/ and schemas/ are). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMAS_DIR = resolve(PACKAGE_ROOT, 'schemas');
/** Folders scanned for built-in plugins (each child with a plugin.json). */
export const BUILTIN_PLUGIN_DIRS: readonly string[] = [resolve(PACKAGE_ROOT, 'plugins'), resolve(PACKAGE_ROOT, 'compliance')];
