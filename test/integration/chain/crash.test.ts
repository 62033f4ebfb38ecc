import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@ethereumjs/util';
import { Chain } from '../../../chain/execution/chain.ts';
import { parseGenesis, WEI_PER_EB } from '../../../chain/execution/genesis.ts';
import { signTx, tempDir, testAccount } from './helpers.ts';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** Runs the writer until it reports `killAt` blocks, then kill -9s it; returns the last block it reported. */
async function runAndKill(dir: string, killAt: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = -1;
  let seen = 0;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    const m = /^block (\d+)$/.exec(line);
    if (m === null) continue;
    last = Number(m[1]);
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

  it('reopens at the last committed block with matching state, twice in a row', async () => {
    const dir = tempDir();
    try {
      const genesis = parseGenesis({ chainId: 4242, timestamp: 1_700_000_000, alloc: { [testAccount(1).address]: (1000n * WEI_PER_EB).toString() } });
      for (const round of [1, 2]) {
        const reported = await runAndKill(dir.path, 8);
        const chain = await Chain.open({ dataDir: dir.path, genesis });
        try {
          const head = chain.head.header.number;
          // every block the writer reported was committed (it prints after the fsynced batch)
          assert.ok(head >= BigInt(reported), `round ${round}: head ${head} < reported ${reported}`);
          // the state is exactly that of the head: alice's nonce = transactions in blocks 1..head
          let txs = 0n;
          for (let n = 1n; n <= head; n++) txs += BigInt((await chain.getBlockByNumber(n))!.transactions.length);
          assert.equal((await chain.getAccount(testAccount(1).address)).nonce, txs);
          assert.ok(txs >= BigInt(reported) * 20n - 20n);
          // blocks link up to the head
          for (let n = head; n > 0n; n--) {
            const b = await chain.getBlockByNumber(n);
            const p = await chain.getBlockByNumber(n - 1n);
            assert.equal(bytesToHex(b!.header.parentHash), bytesToHex(p!.hash()));
          }
          // and the chain goes on from there
          const alice = testAccount(1);
          alice.nonce = txs;
          await chain.submitRawTransaction(signTx(chain.common, alice, { to: testAccount(5).address, value: 1n, gasLimit: 21_000n }));
          const { block } = await chain.produceBlock({ timestamp: chain.head.header.timestamp + 1n, coinbase: testAccount(99).address });
          assert.equal(block.header.number, head + 1n);
        } finally {
          await chain.close();
        }
      }
    } finally {
      dir.remove();
    }
  });
});
