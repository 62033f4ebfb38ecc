/**
 * chain.empos loaded by the real kernel: zero-config embedded chain, JSON-RPC through the connector,
 * data under the plugin's data dir, and the height kept across a kernel restart.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inlineConfig, type JsonObject } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';
import { tempDir, testAccount } from './helpers.ts';
import { ChainNode } from '../../../chain/node/chain-node.ts';
import { isEnergyMeshError } from '../../../core/errors.ts';

async function call(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  assert.equal(body.error, undefined);
  return body.result;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

describe('chain.empos plugin in the kernel', function () {
  this.timeout(60_000);
  const dir = tempDir('em-chain-plugin-');
  let kernel: Kernel | undefined;

  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
  });
  after(() => dir.remove());

  function make(): Kernel {
    const source = inlineConfig({ dataDir: dir.path, api: { enabled: false }, plugins: [{ id: 'chain.empos', config: { blockTimeMs: 100, rpc: { port: 0 } } }] }, dir.path);
    return new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 10_000 });
  }

  it('starts the embedded chain with zero config and keeps its height across a restart', async () => {
    kernel = make();
    await kernel.load();
    await kernel.start();
    const plugin = kernel.plugins.find((p) => p.id === 'chain.empos');
    assert.equal(plugin?.health.current().state, 'up');
    const connector = kernel.chainConnectors.find((c) => c.id === 'empos.embedded');
    assert.ok(connector !== undefined);
    assert.equal(connector.chainId, 0x454dn);
    const url = connector.rpcUrl();
    assert.equal(await call(url, 'eth_chainId'), '0x454d');
    await until('3 blocks', async () => Number(await call(url, 'eth_blockNumber')) >= 3);
    const pluginDir = join(dir.path, 'plugins', 'chain.empos');
    assert.ok(existsSync(join(pluginDir, 'validator.keystore.json')), 'the validator key is kept in a keystore');
    assert.ok(existsSync(join(pluginDir, 'chaindata')));
    const validators = (await call(url, 'empos_validators')) as { address: string }[];
    // the seed distribution went to the validator's address: 1e9 EB in total
    assert.equal(BigInt((await call(url, 'eth_getBalance', [validators[0]!.address, '0x0'])) as string), 10n ** 27n);
    await kernel.stop();
    kernel = undefined;
    const height = (await (async () => {
      const k = make();
      kernel = k;
      await k.load();
      await k.start();
      const url2 = k.chainConnectors[0]!.rpcUrl();
      const v2 = (await call(url2, 'empos_validators')) as { address: string }[];
      assert.equal(v2[0]?.address, validators[0]?.address, 'same validator key after restart');
      return Number(await call(url2, 'eth_blockNumber'));
    })());
    assert.ok(height >= 3, `height ${height} kept`);
  });

  it('connects to an external EVM JSON-RPC endpoint in external mode and checks its chain id', async () => {
    const remote = new ChainNode({ dataDir: join(dir.path, 'remote'), validatorKey: testAccount(7).keyHex, blockTimeMs: 200, rpc: { port: 0 }, genesis: { chainId: 31337 } });
    await remote.start();
    try {
      const boot = async (config: JsonObject): Promise<Kernel> => {
        const source = inlineConfig({ dataDir: join(dir.path, 'ext'), api: { enabled: false }, plugins: [{ id: 'chain.empos', config }] }, dir.path);
        const k = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 10_000 });
        kernel = k;
        await k.load();
        await k.start();
        return k;
      };
      let k = await boot({ mode: 'external', url: remote.rpcUrl, chainId: 31337 });
      assert.equal(k.plugins[0]?.health.current().state, 'up');
      const connector = k.chainConnectors.find((c) => c.id === 'empos.external');
      assert.equal(connector?.chainId, 31337n);
      assert.equal(connector?.rpcUrl(), remote.rpcUrl);
      await k.stop();
      kernel = undefined;
      k = await boot({ mode: 'external', url: remote.rpcUrl, chainId: 1 });
      assert.equal(k.plugins[0]?.health.current().state, 'down', 'another chain than configured');
      await k.stop();
      kernel = undefined;
      assert.throws(
        () => loadConfig(inlineConfig({ dataDir: join(dir.path, 'ext2'), api: { enabled: false }, plugins: [{ id: 'chain.empos', config: { mode: 'external' } }] }, dir.path)),
        (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'),
      );
    } finally {
      await remote.stop();
    }
  });
});
