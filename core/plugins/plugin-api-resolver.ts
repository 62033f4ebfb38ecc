/**
 * Makes `energymesh/plugin-api` importable from plugins anywhere on disk (a folder outside this
 * package has no node_modules/energymesh): a module resolve hook maps the specifier to this
 * package's core/plugin-api.ts, so every plugin shares the core's copy of the API and of inversify.
 */
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../paths.ts';

let registered = false;

export function registerPluginApiResolver(): void {
  if (registered) return;
  registered = true;
  const target = pathToFileURL(join(PACKAGE_ROOT, 'core', 'plugin-api.ts')).href;
  const hook = `
const TARGET = ${JSON.stringify(target)};
export async function resolve(specifier, context, next) {
  if (specifier === 'energymesh/plugin-api') return next(TARGET, context);
  return next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
