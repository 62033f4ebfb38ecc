/**
 * settlement.contracts in the real kernel on the embedded chain: zero-config deployment, the service in
 * the registry, managed accounts funded once, the deployment reused after a restart, and bad
 * configurations refused with a reason.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract } from 'ethers';
import { inlineConfig, type JsonObject } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';
import { tempDir } from '../chain/helpers.ts';
import { SettlementServiceKey } from '../../../plugins/settlement/settlement-api.ts';

const EB = 10n ** 18n;

describe('settlement.contracts plugin in the kernel', function () {
  this.timeout(120_000);
  const dir = tempDir('em-settlement-plugin-');
  let kernel: Kernel | undefined;

  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
  });
  after(() => dir.remove());

  async function start(settlementConfig: JsonObject = {}, dataDir = dir.path): Promise<Kernel> {
    const source = inlineConfig(
      {
        dataDir,
        api: { enabled: false },
        plugins: [
          { id: 'chain.empos', config: { blockTimeMs: 200, rpc: { port: 0 } } },
          { id: 'settlement.contracts', config: { reserveEb: 5000, accountEb: 3, accountMc: 250, ...settlementConfig } },
        ],
      },
      dataDir,
    );
    const k = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 60_000 });
    kernel = k;
    await k.load();
    await k.start();
    return k;
  }

  it('deploys the suite once with zero config, funds managed accounts once, and reuses the deployment after a restart', async () => {
    const k = await start();
    const plugin = k.plugins.find((p) => p.id === 'settlement.contracts');
    assert.equal(plugin?.health.current().state, 'up', plugin?.health.current().reason);
    const s = k.services.get(SettlementServiceKey);
    assert.equal(s.intervalSeconds, 900, 'no compliance module sets an interval: 15 min');
    assert.equal(s.oracleThreshold, 2);
    assert.equal(s.oracleWallets().length, 3);
    const provider = s.provider();
    for (const [name, address] of Object.entries(s.addresses)) assert.notEqual(await provider.getCode(address), '0x', `${name} has code`);
    assert.equal(await provider.getBalance(s.addresses.ledger), 5000n * EB, 'the mint reserve holds reserveEb');

    const alice = await s.account('alice');
    const aliceAddress = await alice.getAddress();
    assert.equal(await provider.getBalance(aliceAddress), 3n * EB);
    const mc = new Contract(s.addresses.meshCoin, ['function balanceOf(address) view returns (uint256)'], provider);
    assert.equal((await mc.getFunction('balanceOf')(aliceAddress)) as bigint, 250n * EB);
    assert.equal(await (await s.account('alice')).getAddress(), aliceAddress, 'same account on a second call');
    await assert.rejects(s.account('../escape'), /account name/);
    assert.match(s.meterId('meter-1'), /^0x[0-9a-f]{64}$/);
    assert.notEqual(s.meterId('meter-1'), s.meterId('meter-2'));

    const saved = JSON.parse(readFileSync(join(dir.path, 'plugins', 'settlement.contracts', 'deployment.json'), 'utf8')) as { addresses: Record<string, string> };
    assert.deepEqual(saved.addresses, s.addresses);
    assert.ok(existsSync(join(dir.path, 'plugins', 'settlement.contracts', 'keys', 'submitter.keystore.json')), 'keys in keystores');
    const before = s.addresses;
    await k.stop();
    kernel = undefined;

    const k2 = await start();
    const s2 = k2.services.get(SettlementServiceKey);
    assert.deepEqual(s2.addresses, before, 'same deployment after a restart');
    const alice2 = await s2.account('alice');
    assert.equal(await alice2.getAddress(), aliceAddress);
    assert.equal(await s2.provider().getBalance(aliceAddress), 3n * EB, 'not funded twice');
  });

  it('refuses configured addresses with no contracts behind them, naming the config path', async () => {
    const nowhere = '0x00000000000000000000000000000000000000a1';
    const other = tempDir('em-settlement-bad-');
    try {
      const k = await start(
        {
          addresses: { ledger: nowhere, meshCoin: nowhere, teamVesting: nowhere, timelock: nowhere, governor: nowhere, registry: nowhere, market: nowhere, incentives: nowhere, multisig: nowhere },
        },
        other.path,
      );
      const h = k.plugins.find((p) => p.id === 'settlement.contracts')?.health.current();
      assert.equal(h?.state, 'down');
      assert.match(h?.reason ?? '', /no settlement contracts at the configured addresses/);
      assert.equal(k.services.tryGet(SettlementServiceKey), undefined);
      assert.throws(() => k.services.get(SettlementServiceKey), /enable the settlement.contracts plugin/);
    } finally {
      await kernel?.stop();
      kernel = undefined;
      other.remove();
    }
  });

  it('a config without a chain plugin is refused, naming what to enable', () => {
    const source = inlineConfig({ dataDir: dir.path, api: { enabled: false }, plugins: [{ id: 'settlement.contracts' }] }, dir.path);
    assert.throws(() => loadConfig(source), /\/plugins\/0: settlement.contracts depends on chain.empos, which is not enabled in this config/);
  });

  it('refuses an oracle threshold above the number of oracle keys', async () => {
    const other = tempDir('em-settlement-k-');
    try {
      const k = await start({ oracle: { keys: 2, threshold: 3 } }, other.path);
      const h = k.plugins.find((p) => p.id === 'settlement.contracts')?.health.current();
      assert.equal(h?.state, 'down');
      assert.match(h?.reason ?? '', /oracle.threshold \(3\) exceeds oracle.keys \(2\)/);
    } finally {
      await kernel?.stop();
      kernel = undefined;
      other.remove();
    }
  });
});
