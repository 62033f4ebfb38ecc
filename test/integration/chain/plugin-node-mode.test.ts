/**
 * chain.empos in `node` mode, loaded by the real kernel: the instance is validator 0 of a 2-validator
 * network (the other validator a NetworkNode in this process, over libp2p on loopback). Blocks finalize
 * with both validators; with the other one stopped the chain halts safely and the plugin reports it
 * (degraded, with the reason); when it returns, finality resumes and the plugin is up again.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inlineConfig, type JsonObject } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { initNetwork } from '../../../chain/cli/chain-cli.ts';
import { NetworkNode } from '../../../chain/node/network-node.ts';
import { readKeystore } from '../../../chain/node/keystore.ts';
import type { GenesisFile } from '../../../chain/execution/genesis.ts';
import { freePort } from '../../support/ports.ts';
import { tempDir } from './helpers.ts';

async function call(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  assert.equal(body.error, undefined);
  return body.result;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('chain.empos plugin in node mode (validator of a network)', function () {
  this.timeout(120_000);
  const dir = tempDir('em-chain-node-mode-');
  let kernel: Kernel | undefined;
  let other: NetworkNode | undefined;

  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
    await other?.stop();
    other = undefined;
  });
  after(() => dir.remove());

  function boot(dataDir: string, config: JsonObject): Kernel {
    const source = inlineConfig({ dataDir, api: { enabled: false }, plugins: [{ id: 'chain.empos', config }] }, dir.path);
    return new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 30_000 });
  }

  it('finalizes blocks with the other validator, degrades while the network halts and recovers when it returns', async () => {
    const ports = [await freePort(), await freePort()];
    const net = await initNetwork({ validators: 2, out: join(dir.path, 'net'), ports, blockTimeMs: 200, scryptN: 2 ** 10, chainId: 4242 });
    const otherKey = readKeystore(net.keystores[1]!, '');
    const genesis = JSON.parse(readFileSync(net.genesisFile, 'utf8')) as GenesisFile;
    const startOther = async (): Promise<NetworkNode> => {
      const node = new NetworkNode({
        dataDir: join(dir.path, 'other'),
        genesis,
        validatorKeys: [otherKey],
        blockTimeMs: 200,
        rpc: false,
        p2p: { port: ports[1]!, peers: [net.peers[0]!], discovery: false },
      });
      await node.start();
      return node;
    };
    other = await startOther();

    kernel = boot(join(dir.path, 'instance'), {
      mode: 'node',
      genesisFile: net.genesisFile,
      keystoreFile: net.keystores[0]!,
      blockTimeMs: 200,
      stallAfterMs: 1_500,
      rpc: { port: 0 },
      // the peers.txt of `chain init` lists every validator, this one too (a node skips its own address)
      // permissioned: only the other validator (its id is also in peers.txt) may connect
      p2p: { port: ports[0]!, peersFile: join(dir.path, 'net', 'peers.txt'), discovery: false, allowPeers: [net.peers[1]!.split('/p2p/')[1]!] },
    });
    await kernel.load();
    await kernel.start();
    const plugin = kernel.plugins.find((p) => p.id === 'chain.empos')!;
    assert.equal(plugin.health.current().state, 'up', plugin.health.current().reason);
    const connector = kernel.chainConnectors.find((c) => c.id === 'empos.node');
    assert.ok(connector !== undefined, 'node mode offers its JSON-RPC as the empos.node connector');
    assert.equal(connector.chainId, 4242n);
    assert.equal(connector.fund, undefined, 'no treasury funding on a shared network');
    const url = connector.rpcUrl();
    assert.equal(await call(url, 'eth_chainId'), '0x1092');
    await until('3 finalized blocks', async () => Number(await call(url, 'eth_blockNumber')) >= 3);
    // finalized by both validators: the certificate of block 2 is signed by the two of them
    const cert = (await call(url, 'empos_certificate', ['0x2'])) as { signers: string[] } | null;
    assert.deepEqual([...(cert?.signers ?? [])].sort(), [...net.addresses].sort(), `certificate of block 2: ${JSON.stringify(cert)}`);

    // a node that is not on the allow-list is refused
    const outsider = new NetworkNode({ dataDir: join(dir.path, 'outsider'), genesis, rpc: false, p2p: { port: 0, peers: [net.peers[0]!], discovery: false } });
    await outsider.start();
    try {
      await until('the outsider refused', async () => ((await call(url, 'empos_network')) as { refused: { connections: number } }).refused.connections >= 1);
      assert.equal(outsider.chain.head.header.number, 0n, 'the outsider synced nothing');
    } finally {
      await outsider.stop();
    }

    // the other validator (half of the stake) leaves: no 2/3 → no finality → the plugin says so
    await other.stop();
    other = undefined;
    await until('the plugin degraded', () => plugin.health.current().state === 'degraded');
    assert.match(plugin.health.current().reason ?? '', /no block finalized since .* peers connected/);
    const halted = Number(await call(url, 'eth_blockNumber'));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(Number(await call(url, 'eth_blockNumber')), halted, 'no block without 2/3 of the stake');

    other = await startOther();
    await until('finality resumed', async () => Number(await call(url, 'eth_blockNumber')) > halted + 1);
    await until('the plugin up again', () => plugin.health.current().state === 'up');
  });

  it('refuses node mode without a genesis file, an unreadable keystore and a malformed peers file, naming the config path, and a bad allow-list', async () => {
    assert.throws(
      () => boot(join(dir.path, 'bad1'), { mode: 'node' }),
      (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID') && /genesisFile/.test(e.message),
    );
    const genesisFile = join(dir.path, 'g.json');
    writeFileSync(genesisFile, JSON.stringify({ chainId: 4243, validators: [] }));
    const failure = async (config: JsonObject): Promise<string> => {
      const k = boot(join(dir.path, 'bad2'), { mode: 'node', genesisFile, rpc: { port: 0 }, ...config, p2p: { port: 0, ...(config.p2p as JsonObject | undefined) } });
      kernel = k;
      await k.load();
      await k.start();
      const health = k.plugins.find((p) => p.id === 'chain.empos')!.health.current();
      await k.stop();
      kernel = undefined;
      assert.equal(health.state, 'down');
      return health.reason ?? '';
    };
    assert.match(await failure({ keystoreFile: join(dir.path, 'missing.json') }), /missing\.json \(plugins\.chain\.empos\.keystoreFile\)/);
    const peersFile = join(dir.path, 'peers.txt');
    writeFileSync(peersFile, '# validators\n/ip4/127.0.0.1/tcp/1/p2p/x\n127.0.0.1:30303\n');
    assert.match(await failure({ p2p: { peersFile } }), /"127\.0\.0\.1:30303" is not a multiaddr/);
    assert.match(await failure({ p2p: { allowPeers: ['QmNotAPeerId'] } }), /invalid peer id "QmNotAPeerId"/);
    const allowFile = join(dir.path, 'allow.txt');
    writeFileSync(allowFile, '# nobody\n');
    assert.match(await failure({ p2p: { allowPeersFile: allowFile } }), /names no peer id/);
  });
});
