import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isEnergyMeshError } from '../errors.ts';
import type { EnergyMeshError } from '../errors.ts';
import { PACKAGE_ROOT } from '../paths.ts';
import { parseConfigText, readConfigFile, redactSecrets } from './config-file.ts';
import { dependencyOrder, loadConfig, validateSections } from './config-loader.ts';

const fixtures = resolve(PACKAGE_ROOT, 'test', 'fixtures', 'plugins');

function configError(text: string, file = join(fixtures, '..', 'energymesh.yaml')): EnergyMeshError {
  try {
    loadConfig(parseConfigText(text, file, {}));
  } catch (e) {
    if (isEnergyMeshError(e)) return e;
    throw e;
  }
  assert.fail('expected a config error');
}

describe('config loading', () => {
  it('applies the core defaults to an empty file', () => {
    const c = loadConfig(parseConfigText('', '/tmp/x/energymesh.yaml', {}));
    assert.equal(c.core.bus.kind, 'embedded');
    assert.equal(c.core.bus.prefix, 'energymesh');
    assert.equal(c.core.api.host, '127.0.0.1');
    assert.equal(c.core.dataDir, '/tmp/x/data');
    assert.deepEqual(c.plugins, []);
  });

  it('reports several problems at once with file, line:column, JSON path and what was expected', () => {
    const e = configError(['site:', '  id: Not_Valid', 'api:', '  port: 70000', '  colour: blue', 'bus:', '  fsync: sometimes'].join('\n'));
    assert.equal(e.code, 'CONFIG_INVALID');
    const issues = e.details.issues as { path: string; text: string }[];
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['/api/colour', '/api/port', '/bus/fsync', '/site/id']);
    const port = issues.find((i) => i.path === '/api/port');
    assert.match(port?.text ?? '', /energymesh\.yaml:4:9: \/api\/port: must be <= 65535/);
    assert.match(e.message, /4 problems/);
    assert.match(e.message, /\/bus\/fsync: must be one of "always", "interval", "never"/);
  });

  it('names a YAML syntax error with its line', () => {
    const e = configError('site:\n  id: [unclosed\n');
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /energymesh\.yaml:\d+:\d+: /);
  });

  it('refuses an unknown plugin id, naming the built-ins', () => {
    const e = configError('plugins:\n  - id: protocol.nope\n');
    assert.match(e.message, /\/plugins\/0\/id: unknown plugin id protocol\.nope; built-in plugins are:/);
  });

  it('refuses an entry that names both an id and a path', () => {
    const e = configError('plugins:\n  - id: protocol.modbus\n    path: ./x\n');
    assert.match(e.message, /\/plugins\/0: must name exactly one of id, path or package/);
  });

  it('refuses a plugin built for another plugin API version with a clear message', () => {
    const e = configError('plugins:\n  - path: ./plugins/api-v2\n');
    assert.match(e.message, /test\.api-v2 .* targets plugin API 2, but this EnergyMesh supports plugin API 1/);
  });

  it('refuses an invalid manifest, naming its problems', () => {
    const e = configError('plugins:\n  - path: ./plugins/bad-manifest\n');
    assert.match(e.message, /invalid plugin manifest/);
    assert.match(e.message, /\/apiVersion: is required/);
    assert.match(e.message, /\/kind: must be one of/);
  });

  it("validates a plugin's config with the plugin's own schema, paths prefixed", () => {
    const e = configError(['plugins:', '  - path: ../../examples/plugin-template', '    config:', '      devices:', '        - id: a', '          intervalMs: 1', '        - nope: 1'].join('\n'));
    const paths = (e.details.issues as { path: string }[]).map((i) => i.path).sort();
    assert.deepEqual(paths, ['/plugins/0/config/devices/0/intervalMs', '/plugins/0/config/devices/1/id', '/plugins/0/config/devices/1/nope']);
  });

  it('applies plugin config defaults', () => {
    const c = loadConfig(parseConfigText('plugins:\n  - path: ../../examples/plugin-template\n    config: { devices: [ { id: a } ] }\n', join(fixtures, '..', 'x.yaml'), {}));
    const devices = c.plugins[0]?.config.devices as { intervalMs: number; amplitude: number }[];
    assert.equal(devices[0]?.intervalMs, 1000);
    assert.equal(devices[0]?.amplitude, 100);
  });

  it('refuses a dependency that is not enabled', () => {
    const e = configError('plugins:\n  - path: ./plugins/depends-on-failing\n');
    assert.match(e.message, /depends on test\.start-fails, which is not enabled/);
  });

  it('orders plugins after their dependencies and detects cycles', () => {
    const p = (id: string, deps: string[] = []) => ({ manifest: { id, dependsOn: deps } });
    assert.deepEqual(
      dependencyOrder([p('a', ['b']), p('b', ['c']), p('c')]).map((x) => x.manifest.id),
      ['c', 'b', 'a'],
    );
    assert.throws(() => dependencyOrder([p('a', ['b']), p('b', ['a'])]), (e: unknown) => isEnergyMeshError(e, 'DEPENDENCY_CYCLE') && /a → b → a/.test(e.message));
  });

  it('rejects a top-level section that no plugin declares, and validates declared ones', () => {
    const c = loadConfig(parseConfigText('kafka:\n  brokers: 3\nother: 1\n', '/tmp/e.yaml', {}));
    assert.throws(
      () => validateSections(c, [{ key: 'kafka', schema: { type: 'object', properties: { brokers: { type: 'array' } } } }]),
      (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID') && /\/kafka\/brokers: must be array/.test(e.message) && /\/other: is not a known section/.test(e.message),
    );
  });
});

describe('secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'em-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves $env and $file, remembers their paths and redacts them', () => {
    writeFileSync(join(dir, 'token.txt'), 's3cret-file\n');
    writeFileSync(join(dir, 'c.yaml'), 'site: { id: a }\nextra:\n  password: { $env: EM_TEST_PW }\n  token: { $file: token.txt }\n');
    const src = readConfigFile(join(dir, 'c.yaml'), { EM_TEST_PW: 'pw-from-env' });
    const extra = src.data.extra as Record<string, string>;
    assert.equal(extra.password, 'pw-from-env');
    assert.equal(extra.token, 's3cret-file');
    assert.deepEqual(src.secretPaths.sort(), ['/extra/password', '/extra/token']);
    const red = redactSecrets(src.data, src.secretPaths) as { extra: Record<string, string> };
    assert.equal(red.extra.password, '[redacted]');
    assert.equal(red.extra.token, '[redacted]');
    assert.equal(extra.password, 'pw-from-env', 'redaction works on a copy');
  });

  it('names a missing environment variable', () => {
    assert.throws(
      () => parseConfigText('x: { $env: EM_NOT_SET_ANYWHERE }', '/tmp/c.yaml', {}),
      (e: unknown) => isEnergyMeshError(e, 'SECRET_NOT_FOUND') && /\/x: environment variable EM_NOT_SET_ANYWHERE is not set/.test(e.message),
    );
  });

  it('names a missing config file', () => {
    assert.throws(() => readConfigFile(join(dir, 'missing.yaml')), (e: unknown) => isEnergyMeshError(e, 'CONFIG_NOT_FOUND'));
  });
});
