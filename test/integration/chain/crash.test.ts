import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@ethereumjs/util';
import { Chain } from '../../../chain/execution/chain.ts';
import { parseGenesis, WEI_PER_EB } from '../../../chain/execution/genesis.ts';
import { ChainNode } from '../../../chain/node/chain-node.ts';
import { NetworkNode } from '../../../chain/node/network-node.ts';
import { NODE_GENESIS, NODE_VALIDATOR } from './fixtures/crash-node.ts';
import { signTx, tempDir, testAccount } from './helpers.ts';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/**
 * Runs the writer until it printed `killAt` lines matching `pattern`, then kill -9s it; returns the
 * capture of the last such line.
 */
async function runAndKill(dir: string, killAt: number, pattern = /^block (\d+)$/, args: string[] = []): Promise<string | undefined> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last: string | undefined;
  let seen = 0;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    const m = pattern.exec(line);
    if (m === null) continue;
    last = m[1];
    if (++seen >= killAt) {
      child.kill('SIGKILL');
      break;
    }
  }
  assert.equal(await exited, 'SIGKILL');
  return last;
}

describe('chain crash consistency (kill -9)', function () {
  this.timeout(90_000);
  const alice = testAccount(1);
  const genesis = parseGenesis({ chainId: 4242, timestamp: 1_700_000_000, alloc: { [alice.address]: (1000n * WEI_PER_EB).toString() } });

  it('reopens at the last committed block with matching state, twice in a row; journaled transactions are pending again', async () => {
    const dir = tempDir();
    try {
      for (const round of [1, 2]) {
        const reported = Number(await runAndKill(dir.path, 8));
        const chain = await Chain.open({ dataDir: dir.path, genesis, persistMempool: true });
        try {
          const head = chain.head.header.number;
          // every block the writer reported was committed (it prints after the fsynced batch)
          assert.ok(head >= BigInt(reported), `round ${round}: head ${head} < reported ${reported}`);
          // the state is exactly that of the head: alice's nonce = transactions in blocks 1..head
          let txs = 0n;
          for (let n = 1n; n <= head; n++) txs += BigInt((await chain.getBlockByNumber(n))!.transactions.length);
          assert.equal((await chain.getAccount(alice.address)).nonce, txs);
          assert.ok(txs >= BigInt(reported) * 20n - 20n);
          // blocks link up to the head
          for (let n = head; n > 0n; n--) {
            const b = await chain.getBlockByNumber(n);
            const p = await chain.getBlockByNumber(n - 1n);
            assert.equal(bytesToHex(b!.header.parentHash), bytesToHex(p!.hash()));
          }
          // the transactions the writer had accepted but not mined came back from the journal (nonces
          // txs, txs + 1, …); the chain goes on from there, a client resuming at the 'pending' nonce
          const pending = (await chain.pendingNonce(alice.address)) - txs;
          assert.ok(pending >= 0n && pending <= 20n, `round ${round}: ${pending} pending`);
          alice.nonce = txs + pending;
          await chain.submitRawTransaction(signTx(chain.common, alice, { to: testAccount(5).address, value: 1n, gasLimit: 21_000n }));
          const { block } = await chain.produceBlock({ timestamp: chain.head.header.timestamp + 1n, coinbase: testAccount(99).address });
          assert.equal(block.header.number, head + 1n);
          assert.equal(BigInt(block.transactions.length), pending + 1n, 'the journaled transactions and the new one');
          assert.equal((await chain.getAccount(alice.address)).nonce, txs + pending + 1n);
        } finally {
          await chain.close();
        }
      }
    } finally {
      dir.remove();
    }
  });

  it('mines after a restart the transactions accepted before kill -9 and not yet in a block', async () => {
    const dir = tempDir();
    try {
      // a writer that had accepted (journaled) three transactions and made no block when it was killed
      const pooled = (await runAndKill(dir.path, 1, /^pooled (.+)$/, ['pool']))!.split(',');
      assert.equal(pooled.length, 3);
      const chain = await Chain.open({ dataDir: dir.path, genesis, persistMempool: true });
      try {
        const head = chain.head.header.number;
        for (const h of pooled) {
          const found = await chain.getTransaction(h);
          assert.ok(found !== undefined && found.block === undefined, `${h} is pending again, not mined`);
        }
        const { block } = await chain.produceBlock({ timestamp: chain.head.header.timestamp + 1n, coinbase: testAccount(99).address });
        assert.equal(block.header.number, head + 1n);
        const mined: string[] = block.transactions.map((tx) => bytesToHex(tx.hash()));
        for (const h of pooled) assert.ok(mined.includes(h), `${h} mined after the restart`);
        for (const h of pooled) assert.equal((await chain.getTransaction(h))?.block?.number, head + 1n);
        assert.equal((await chain.getAccount(testAccount(40).address)).balance, 7n);
      } finally {
        await chain.close();
      }
    } finally {
      dir.remove();
    }
  });

  for (const kind of ['embedded', 'network'] as const) {
    it(`a ${kind === 'embedded' ? 'ChainNode' : 'NetworkNode'} (journal on by default) mines after a restart the transactions accepted before kill -9`, async () => {
      const dir = tempDir();
      try {
        // the node accepted three transactions and made no block (paced at one an hour) when it was killed
        const pooled = (await runAndKill(dir.path, 1, /^pooled (.+)$/, [kind]))!.split(',');
        const node =
          kind === 'embedded'
            ? new ChainNode({ dataDir: dir.path, genesis: NODE_GENESIS, validatorKey: NODE_VALIDATOR.keyHex, rpc: false })
            : new NetworkNode({ dataDir: dir.path, genesis: NODE_GENESIS, validatorKeys: [NODE_VALIDATOR.keyHex], rpc: false });
        await node.start();
        try {
          // restarted at the genesis pace (200 ms): its first block carries what the journal gave back
          for (const h of pooled) {
            const end = Date.now() + 30_000;
            while ((await node.chain.getTransaction(h))?.block === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
            assert.equal((await node.chain.getTransaction(h))?.block?.number, 1n, `${h} mined in the first block after the restart`);
          }
          assert.equal((await node.chain.getBlockByNumber(1n))!.transactions.length, 3);
        } finally {
          await node.stop();
        }
      } finally {
        dir.remove();
      }
    });
  }
});
