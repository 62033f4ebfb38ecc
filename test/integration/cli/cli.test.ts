import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../../core/cli/main.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import { readConfigFile } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';

const fixtures = resolve(PACKAGE_ROOT, 'test', 'fixtures', 'config');

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'energymesh', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) }, false);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('energymesh CLI', () => {
  it('validate-config accepts a good file', async () => {
    const r = await cli('validate-config', join(fixtures, 'template.yaml'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /valid \(1 plugin: protocol\.template\)/);
  });

  it('validate-config lists every problem of a bad file with line numbers', async () => {
    const r = await cli('validate-config', join(fixtures, 'bad.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.err, /3 problems/);
    assert.match(r.err, /bad\.yaml:3:7: \/site\/id: must match pattern/);
    assert.match(r.err, /bad\.yaml:5:9: \/api\/port: must be >= 0/);
    assert.match(r.err, /\/plugins\/0\/id: unknown plugin id protocol\.does-not-exist/);
  });

  it('validate-config reports a plugin whose module cannot load', async () => {
    const r = await cli('validate-config', join(fixtures, 'import-fails.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.err, /plugin test\.import-fails: load failed: boom at import/);
  });

  it('validate-config names a missing file', async () => {
    const r = await cli('validate-config', join(fixtures, 'nope.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot read the config file \(ENOENT\)/);
  });

  it('plugins list shows built-ins, and which a config enables', async () => {
    const all = await cli('plugins', 'list', '--json');
    assert.equal(all.code, 0);
    const rows = JSON.parse(all.out) as { id: string; kind: string }[];
    assert.ok(rows.length > 0);
    const withConfig = await cli('plugins', 'list', '--json', '--config', join(fixtures, 'template.yaml'));
    const rows2 = JSON.parse(withConfig.out) as { id: string; enabled: boolean }[];
    assert.equal(rows2.find((r) => r.id === 'protocol.template')?.enabled, true);
  });

  it('the chain command group has the node and staking subcommands', async () => {
    const r = await cli('chain', '--help');
    assert.equal(r.code, 0);
    for (const sub of ['init', 'node', 'status', 'validators', 'stake', 'unstake', 'withdraw', 'propose', 'vote']) assert.match(r.out, new RegExp(`\\b${sub}\\b`), sub);
    const bad = await cli('chain', 'stake', 'lots', '--key', join(fixtures, 'missing.json'));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /energymesh: /);
  });

  it('plugins contribute command groups: market and dispatch from the demo config', async () => {
    const demo = join(PACKAGE_ROOT, 'examples', 'demo', 'energymesh.yaml');
    const market = await cli('market', '--help', '--config', demo);
    assert.equal(market.code, 0, market.err);
    for (const sub of ['order', 'cancel', 'orders', 'results', 'verify']) assert.match(market.out, new RegExp(`\\b${sub}\\b`), sub);
    const dispatch = await cli('dispatch', '--help', '--config', demo);
    assert.equal(dispatch.code, 0, dispatch.err);
    for (const sub of ['publish', 'list', 'status', 'settle']) assert.match(dispatch.out, new RegExp(`\\b${sub}\\b`), sub);
    const unreachable = await cli('market', 'results', '--url', 'http://127.0.0.1:9', '--config', demo);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.err, /energymesh: /);
  });

  it('an unknown command fails with a usage error', async () => {
    const r = await cli('frobnicate', '--config', join(fixtures, 'template.yaml'));
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command 'frobnicate'/);
  });

  describe('plugin new', () => {
    const dir = mkdtempSync(join(tmpdir(), 'em-newplugin-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('creates a plugin from the template that the kernel loads and runs', async () => {
      const target = join(dir, 'acme');
      const r = await cli('plugin', 'new', target, '--id', 'protocol.acme');
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(readFileSync(join(target, 'plugin.json'), 'utf8')).id, 'protocol.acme');
      assert.ok(existsSync(join(target, 'index.ts')));
      const cfg = join(dir, 'c.yaml');
      writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\napi: { enabled: false }\nplugins:\n  - path: ./acme\n    config: { devices: [ { id: acme-1, intervalMs: 20 } ] }\n`);
      const kernel = new Kernel(loadConfig(readConfigFile(cfg)), { defaultMetrics: false });
      await kernel.load();
      await kernel.start();
      try {
        assert.equal(kernel.plugins[0]?.id, 'protocol.acme');
        assert.equal(kernel.plugins[0]?.health.current().state, 'up');
        const end = Date.now() + 5000;
        while (!kernel.latest.get('acme-1', 'signal') && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
        assert.ok(kernel.latest.get('acme-1', 'signal'), 'the new plugin produces values');
      } finally {
        await kernel.stop();
      }
    });

    it('refuses a bad id and a non-empty folder', async () => {
      assert.equal((await cli('plugin', 'new', join(dir, 'x'), '--id', 'NoDots')).code, 1);
      assert.equal((await cli('plugin', 'new', join(dir, 'acme'))).code, 1);
    });
  });

  it('tokens create, list and revoke edit the token file of a config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'em-cli-tokens-'));
    try {
      const cfg = join(dir, 'c.yaml');
      writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\n`);
      const created = await cli('tokens', 'create', '--name', 'scada', '--role', 'operator', '--config', cfg);
      assert.equal(created.code, 0, created.err);
      assert.match(created.out, /^em_[a-f0-9]{12}_/);
      const id = /^em_([a-f0-9]{12})_/.exec(created.out)?.[1] as string;
      const listed = await cli('tokens', 'list', '--config', cfg);
      assert.match(listed.out, new RegExp(`${id}\\s+operator\\s+active\\s+scada`));
      assert.ok(!listed.out.includes(created.out.trim()), 'list never shows a secret');
      assert.equal((await cli('tokens', 'revoke', id, '--config', cfg)).code, 0);
      assert.match((await cli('tokens', 'list', '--config', cfg)).out, /revoked/);
      const bad = await cli('tokens', 'create', '--name', 'x', '--role', 'root', '--config', cfg);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /unknown role root/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
