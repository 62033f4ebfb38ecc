/**
 * `energymesh chain node --allow-peers` end to end: two validator processes (500 ms blocks) with an
 * allow-list — validator 0 from a file (`@FILE`, comments), validator 1 as a comma list — that names a
 * full node neither lists in `--peers`:
 *  - the network makes blocks and the allowed full node (it dials the validators) syncs them;
 *  - an outsider that dials validator 0 is dropped; validator 0 logs it once and keeps 2 peers;
 *  - a malformed id in the argument or the file stops `chain node` with CONFIG_INVALID naming it.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { chainCommand } from '../../../chain/cli/chain-cli.ts';
import { loadOrCreatePeerKey, peerIdOf } from '../../../chain/p2p/peer-key.ts';
import { P2pNetwork } from '../../../chain/p2p/p2p-network.ts';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { TestNetwork, rpc, waitFor } from '../chain-network/net-helpers.ts';

describe('chain node --allow-peers (processes)', function () {
  this.timeout(180_000);
  let net: TestNetwork;
  let outsider: P2pNetwork | undefined;

  before(async () => {
    net = await TestNetwork.create(2, 500);
  });

  after(async () => {
    await outsider?.stop();
    await net.close();
  });

  it('validators keep only the allowed full node and each other; an outsider is dropped and logged once', async () => {
    const full = await net.addFullNode();
    mkdirSync(full.dataDir, { recursive: true });
    const fullId = peerIdOf(await loadOrCreatePeerKey(join(full.dataDir, 'p2p.key'))); // the id the full node will use
    const allowFile = join(net.dir, 'allow-peers.txt');
    writeFileSync(allowFile, `# permissioned network: the full node of the control room\n${fullId}  # full node\n\n`);
    await Promise.all([net.start(0, ['--allow-peers', `@${allowFile}`]), net.start(1, ['--allow-peers', fullId])]);
    await net.start(2); // the full node lists both validators

    await waitFor('the allowed full node synced blocks', async () => (await net.head(2)) >= 3, 60_000);
    await waitFor('validator 0 has both peers', async () => Number(await rpc<string>(net.nodes[0]!.rpcUrl, 'net_peerCount')) === 2, 30_000);

    const v0Addr = multiaddr(`/ip4/127.0.0.1/tcp/${net.nodes[0]!.p2pPort}`).encapsulate(`/p2p/${multiaddr(net.peers[0]!).getPeerId() ?? ''}`).toString();
    outsider = new P2pNetwork({
      chainId: 0x454dn,
      privateKey: await generateKeyPair('Ed25519'),
      peers: [v0Addr],
      discovery: false,
      handlers: { validate: () => 'accept', deliver: () => undefined, status: () => ({ head: 0n, finalized: 0n }), blocks: () => Promise.resolve([]) },
    });
    await outsider.start();
    const outsiderId = outsider.peerId;
    const logged = (): number => net.nodes[0]!.stderr.join('').split('\n').filter((l) => l.includes(`refused peer ${outsiderId}`)).length;
    await waitFor('validator 0 logged the outsider', () => Promise.resolve(logged() >= 1), 30_000);
    // it re-dials with back-off: still refused, logged once
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(logged(), 1);
    assert.equal(Number(await rpc<string>(net.nodes[0]!.rpcUrl, 'net_peerCount')), 2, 'validator 0: validator 1 and the full node only');
    assert.ok(!outsider.peers().includes(multiaddr(v0Addr).getPeerId() ?? ''), 'the outsider keeps no connection');
    const before = await net.head(2);
    await waitFor('the chain goes on', async () => (await net.head(2)) > before, 30_000);
  });

  it('a malformed id (argument or file) stops chain node with CONFIG_INVALID naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'empos-allow-'));
    try {
      const run = async (allow: string): Promise<unknown> => {
        const lines: string[] = [];
        const cmd = chainCommand({ out: (l) => lines.push(l), err: (l) => lines.push(l) });
        try {
          await cmd.parseAsync(['node', 'chain', 'node', '--genesis', net.genesisFile, '--data', join(dir, 'data'), '--rpc-port', '0', '--p2p-port', '0', '--allow-peers', allow]);
        } catch (e) {
          return e;
        }
        throw new Error(`chain node started with --allow-peers ${allow}: ${lines.join(' | ')}`);
      };
      const e1 = await run('12D3KooWbogus');
      assert.ok(isEnergyMeshError(e1, 'CONFIG_INVALID'), String(e1));
      assert.match(e1.message, /"12D3KooWbogus"/);
      const file = join(dir, 'allow.txt');
      writeFileSync(file, `# ok\n${net.peers[1]!.split('/p2p/')[1]!}\nnot-a-peer\n`);
      const e2 = await run(`@${file}`);
      assert.ok(isEnergyMeshError(e2, 'CONFIG_INVALID'), String(e2));
      assert.match(e2.message, /"not-a-peer" \(.*allow\.txt line 3\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
