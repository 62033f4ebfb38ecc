import assert from 'node:assert/strict';
import { bytesToHex, hexToBytes } from '@ethereumjs/util';
import { createMPT } from '@ethereumjs/mpt';
import { isEnergyMeshError } from '../../core/errors.ts';
import { compileToken } from '../../test/integration/chain/solc.ts';
import { erc20TransferData, GWEI, signTx, tempDir, testAccount, type TestAccount } from '../../test/integration/chain/helpers.ts';
import { Chain } from './chain.ts';
import { createChainCommon } from './chain-common.ts';
import { parseGenesis, WEI_PER_EB } from './genesis.ts';
import { logsBloom } from './receipts.ts';
import { keccak256 } from './crypto.ts';
import { STAKING_ADDRESS } from '../system/system-contract.ts';

const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

describe('Chain (execution + storage)', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let chain: Chain;
  let alice: TestAccount;
  let bob: TestAccount;
  const proposer = testAccount(99).address;
  let t = 1_700_000_000n;
  const genesisFile = (): ReturnType<typeof parseGenesis> =>
    parseGenesis({ chainId: 4242, timestamp: 1_700_000_000, alloc: { [testAccount(1).address]: (1000n * WEI_PER_EB).toString(), [testAccount(2).address]: (10n * WEI_PER_EB).toString() } });

  beforeEach(async () => {
    dir = tempDir();
    alice = testAccount(1);
    bob = testAccount(2);
    chain = await Chain.open({ dataDir: dir.path, genesis: genesisFile() });
  });
  afterEach(async () => {
    await chain.close();
    dir.remove();
  });

  const produce = (): ReturnType<Chain['produceBlock']> => chain.produceBlock({ timestamp: ++t, coinbase: proposer });

  async function deployToken(): Promise<string> {
    const { bytecode } = compileToken();
    const data = hexToBytes(`0x${bytecode.slice(2)}${(10n ** 24n).toString(16).padStart(64, '0')}` as `0x${string}`);
    await chain.submitRawTransaction(signTx(chain.common, alice, { data, gasLimit: 2_000_000n }));
    const { receipts } = await produce();
    assert.equal(receipts[0]?.status, 1);
    return receipts[0]!.contractAddress!;
  }

  it('writes a genesis block with the allocations in its state root', async () => {
    assert.equal(chain.head.header.number, 0n);
    assert.equal((await chain.getAccount(alice.address)).balance, 1000n * WEI_PER_EB);
    assert.notEqual(bytesToHex(chain.head.header.stateRoot), '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
  });

  it('executes a value transfer, pays the proposer reward, the fee to the validators\' pool, and charges the sender', async () => {
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, value: 5n * WEI_PER_EB, gasLimit: 21_000n }));
    const baseFee = chain.nextBaseFee();
    const pool = (await chain.getAccount(STAKING_ADDRESS)).balance;
    const { block, receipts } = await produce();
    assert.equal(block.header.number, 1n);
    assert.equal(block.transactions.length, 1);
    assert.equal(receipts[0]?.status, 1);
    assert.equal(receipts[0]?.gasUsed, '21000');
    const price = baseFee + GWEI;
    assert.equal((await chain.getAccount(alice.address)).balance, 1000n * WEI_PER_EB - 5n * WEI_PER_EB - 21_000n * price);
    assert.equal((await chain.getAccount(bob.address)).balance, 15n * WEI_PER_EB);
    // the proposer gets the block reward; every fee (base + priority) goes to the staking contract's fee pool
    assert.equal((await chain.getAccount(proposer)).balance, 2n * WEI_PER_EB);
    assert.equal((await chain.getAccount(STAKING_ADDRESS)).balance, pool + 21_000n * price);
    assert.equal(block.header.baseFeePerGas, baseFee);
  });

  it('builds Ethereum-format blocks: transactions and receipts roots, bloom, parent link', async () => {
    const token = await deployToken();
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: token, data: erc20TransferData(bob.address, 7n) }));
    const { block, receipts } = await produce();
    const parent = await chain.getBlockByNumber(1n);
    assert.equal(bytesToHex(block.header.parentHash), bytesToHex(parent!.hash()));
    assert.equal(await block.transactionsTrieIsValid(), true);
    const log = receipts[0]!.logs[0]!;
    assert.equal(log.address, token.toLowerCase());
    assert.equal(log.topics[0], TRANSFER_TOPIC);
    assert.equal(BigInt(log.data), 7n);
    assert.deepEqual(block.header.logsBloom, logsBloom(receipts[0]!.logs));
    assert.ok(block.header.logsBloom.some((b) => b !== 0));
    const empty = await createMPT();
    assert.notDeepEqual(block.header.receiptTrie, empty.root());
    const logs = await chain.getLogs({ fromBlock: 0n, toBlock: 2n, addresses: [token], topics: [[TRANSFER_TOPIC], null, ['0x' + bob.address.slice(2).padStart(64, '0')]] });
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.blockNumber, 2n);
    assert.equal(logs[0]!.transactionHash, bytesToHex(block.transactions[0]!.hash()));
    const call = await chain.call({ to: token, data: '0x70a08231' + bob.address.slice(2).padStart(64, '0') });
    assert.equal(BigInt(bytesToHex(call.returnValue)), 7n);
  });

  it('returns revert data from calls and gas estimation', async () => {
    const token = await deployToken();
    const res = await chain.call({ from: bob.address, to: token, data: bytesToHex(erc20TransferData(alice.address, 1n)) });
    assert.equal(res.error?.message, 'execution reverted');
    // Insufficient(uint256 have = 0, uint256 want = 1)
    const selector = bytesToHex(keccak256(new TextEncoder().encode('Insufficient(uint256,uint256)'))).slice(0, 10);
    assert.equal(bytesToHex(res.error!.data), selector + '0'.repeat(64) + '0'.repeat(63) + '1');
    await assert.rejects(
      chain.estimateGas({ from: bob.address, to: token, data: bytesToHex(erc20TransferData(alice.address, 1n)) }),
      (e: unknown) => isEnergyMeshError(e, 'SETTLEMENT_REVERTED') && typeof e.details.revertData === 'string',
    );
    const gas = await chain.estimateGas({ from: alice.address, to: token, data: bytesToHex(erc20TransferData(bob.address, 1n)) });
    assert.ok(gas > 21_000n && gas < 100_000n, `estimate ${gas}`);
    // The estimate is enough: the transaction succeeds with exactly that gas limit.
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: token, data: erc20TransferData(bob.address, 1n), gasLimit: gas }));
    const { receipts } = await produce();
    assert.equal(receipts[0]?.status, 1);
  });

  it('orders by nonce, queues a nonce gap until it is filled', async () => {
    const n0 = signTx(chain.common, alice, { to: bob.address, value: 1n, gasLimit: 21_000n, nonce: 0n });
    const n2 = signTx(chain.common, alice, { to: bob.address, value: 1n, gasLimit: 21_000n, nonce: 2n });
    const n1 = signTx(chain.common, alice, { to: bob.address, value: 1n, gasLimit: 21_000n, nonce: 1n });
    await chain.submitRawTransaction(n2);
    await chain.submitRawTransaction(n0);
    let { block } = await produce();
    assert.equal(block.transactions.length, 1, 'only nonce 0 is executable');
    assert.equal(chain.mempool.size, 1);
    await chain.submitRawTransaction(n1);
    assert.equal(await chain.pendingNonce(alice.address), 3n);
    ({ block } = await produce());
    assert.deepEqual(block.transactions.map((tx) => tx.nonce), [1n, 2n]);
    assert.equal((await chain.getAccount(alice.address)).nonce, 3n);
  });

  it('rejects bad transactions with geth-style messages', async () => {
    const rpcMessage = (e: unknown): string => (isEnergyMeshError(e) ? String(e.details.rpcMessage) : 'not an EnergyMeshError');
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, gasLimit: 21_000n }));
    await produce();
    const cases: [string, Uint8Array, string][] = [
      ['nonce too low', signTx(chain.common, alice, { to: bob.address, gasLimit: 21_000n, nonce: 0n }), 'nonce too low'],
      ['wrong chain id', signTx(createChainCommon(1n), alice, { to: bob.address, gasLimit: 21_000n }), 'invalid chain id for signer'],
      ['insufficient funds', signTx(chain.common, bob, { to: alice.address, value: 100n * WEI_PER_EB, gasLimit: 21_000n }), 'insufficient funds for gas * price + value'],
      ['intrinsic gas', signTx(chain.common, bob, { to: alice.address, gasLimit: 20_000n, nonce: 0n }), 'intrinsic gas too low'],
      ['gas above block limit', signTx(chain.common, bob, { to: alice.address, gasLimit: 40_000_000n, nonce: 0n }), 'exceeds block gas limit'],
      ['junk bytes', Uint8Array.from([0x02, 0xc0, 0x01]), 'rlp: invalid transaction'],
      ['oversize', new Uint8Array(200 * 1024), 'oversized data'],
    ];
    for (const [name, raw, message] of cases) {
      await assert.rejects(chain.submitRawTransaction(raw), (e: unknown) => rpcMessage(e) === message, name);
    }
    // a tampered signature recovers another (unfunded) sender or fails: either way it is refused
    const good = signTx(chain.common, bob, { to: alice.address, gasLimit: 21_000n, nonce: 0n });
    const tampered = Uint8Array.from(good);
    tampered[tampered.length - 5]! ^= 0xff;
    await assert.rejects(chain.submitRawTransaction(tampered), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    // replacement must bump the fee
    await chain.submitRawTransaction(good);
    await assert.rejects(chain.submitRawTransaction(signTx(chain.common, bob, { to: alice.address, gasLimit: 21_000n, nonce: 0n, value: 1n })), (e: unknown) => rpcMessage(e) === 'replacement transaction underpriced');
  });

  it('persists: a reopened chain has the same head, state and receipts', async () => {
    const token = await deployToken();
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: token, data: erc20TransferData(bob.address, 9n) }));
    const { block } = await produce();
    const txHash = bytesToHex(block.transactions[0]!.hash());
    await chain.close();
    chain = await Chain.open({ dataDir: dir.path, genesis: genesisFile() });
    assert.equal(chain.head.header.number, 2n);
    assert.equal(bytesToHex(chain.head.hash()), bytesToHex(block.hash()));
    const bal = await chain.call({ to: token, data: '0x70a08231' + bob.address.slice(2).padStart(64, '0') });
    assert.equal(BigInt(bytesToHex(bal.returnValue)), 9n);
    const found = await chain.getTransaction(txHash);
    assert.equal(found?.block?.number, 2n);
    assert.equal(found?.sender, alice.address.toLowerCase());
    // and goes on producing from there
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, gasLimit: 21_000n, value: 1n }));
    const next = await produce();
    assert.equal(next.block.header.number, 3n);
  });

  it('refuses to reopen a store with a different genesis', async () => {
    await chain.close();
    await assert.rejects(
      Chain.open({ dataDir: dir.path, genesis: parseGenesis({ chainId: 4242, alloc: { [bob.address]: '1' } }) }),
      (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'),
    );
    chain = await Chain.open({ dataDir: dir.path, genesis: genesisFile() });
  });

  it('drops a transaction that fails at execution and keeps building', async () => {
    // bob (10 EB) can pay each 6 EB transfer alone, so both are admitted, but not both in a row
    await chain.submitRawTransaction(signTx(chain.common, bob, { to: alice.address, gasLimit: 21_000n, value: 6n * WEI_PER_EB }));
    const second = await chain.submitRawTransaction(signTx(chain.common, bob, { to: alice.address, gasLimit: 21_000n, value: 6n * WEI_PER_EB }));
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, gasLimit: 21_000n, value: 1n }));
    const { block, dropped } = await produce();
    assert.equal(block.transactions.length, 2);
    assert.deepEqual(dropped.map((d) => d.hash), [second]);
    assert.equal(chain.mempool.size, 0);
    assert.equal((await chain.getAccount(bob.address)).nonce, 1n);
  });

  it('is deterministic: another node importing the blocks reaches the same state roots, and refuses tampered ones', async () => {
    const token = await deployToken();
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: token, data: erc20TransferData(bob.address, 5n) }));
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, value: 3n, gasLimit: 21_000n }));
    await chain.submitRawTransaction(signTx(chain.common, bob, { to: alice.address, value: 1n, gasLimit: 21_000n }));
    await produce();
    const follower = tempDir();
    const other = await Chain.open({ dataDir: follower.path, genesis: genesisFile() });
    try {
      assert.equal(bytesToHex(other.head.hash()), bytesToHex((await chain.getBlockByNumber(0n))!.hash()));
      for (let n = 1n; n <= chain.head.header.number; n++) {
        const block = (await chain.getBlockByNumber(n))!;
        if (n === 2n) {
          // tampered copies are refused and leave the follower at its head
          const { createBlock } = await import('@ethereumjs/block');
          const forged = createBlock({ header: { ...block.header.toJSON(), stateRoot: new Uint8Array(32).fill(1) }, transactions: block.transactions, withdrawals: [] }, { common: other.common });
          await assert.rejects(other.importBlock(forged), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT') && /state root mismatch/.test(e.message));
          const reordered = createBlock({ header: block.header.toJSON(), transactions: [...block.transactions].reverse(), withdrawals: [] }, { common: other.common });
          await assert.rejects(other.importBlock(reordered), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
          const wrongParent = createBlock({ header: { ...block.header.toJSON(), parentHash: new Uint8Array(32) }, transactions: block.transactions, withdrawals: [] }, { common: other.common });
          await assert.rejects(other.importBlock(wrongParent), /parent hash/);
          assert.equal(other.head.header.number, 1n);
        }
        const { block: imported } = await other.importBlock(block);
        assert.equal(bytesToHex(imported.hash()), bytesToHex(block.hash()));
      }
      assert.equal(bytesToHex(other.head.header.stateRoot), bytesToHex(chain.head.header.stateRoot));
      assert.deepEqual(await other.getReceipts(2n), await chain.getReceipts(2n));
    } finally {
      await other.close();
      follower.remove();
    }
  });

  it('executes a block once: a proposal built or verified and then finalized is committed from that execution', async () => {
    const token = await deployToken();
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: token, data: erc20TransferData(bob.address, 7n) }));
    await chain.submitRawTransaction(signTx(chain.common, bob, { to: alice.address, value: 1n, gasLimit: 21_000n }));
    const follower = tempDir();
    const other = await Chain.open({ dataDir: follower.path, genesis: genesisFile() });
    try {
      await other.importBlock((await chain.getBlockByNumber(1n))!);
      // the proposer builds two candidates for height 2 (two rounds), the second becomes final
      const first = await chain.buildProposal({ timestamp: ++t, coinbase: proposer });
      const proposal = await chain.buildProposal({ timestamp: ++t, coinbase: proposer });
      assert.notEqual(bytesToHex(first.block.hash()), bytesToHex(proposal.block.hash()));
      assert.equal(chain.head.header.number, 1n, 'a proposal is not committed');
      const built = chain.stats.executedBlocks;
      const { block } = await chain.importBlock(proposal.block);
      assert.equal(chain.stats.executedBlocks, built, 'the proposer did not execute the final block again');
      assert.equal(chain.stats.committedPrepared, 1);
      assert.equal(bytesToHex(chain.head.header.stateRoot), bytesToHex(proposal.block.header.stateRoot));
      assert.equal(chain.mempool.size, 0, 'the included transactions left the pool');
      // a validator verifies the proposal (one execution) and commits it without another
      await other.verifyBlock(block);
      const verified = other.stats.executedBlocks;
      await other.importBlock(block);
      assert.equal(other.stats.executedBlocks, verified);
      assert.equal(bytesToHex(other.head.header.stateRoot), bytesToHex(block.header.stateRoot));
      assert.deepEqual(await other.getReceipts(2n), await chain.getReceipts(2n));
      // the committed state is the block's, and the next block builds on it
      assert.equal((await other.getAccount(bob.address)).balance, (await chain.getAccount(bob.address)).balance);
      await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, value: 2n, gasLimit: 21_000n }));
      const next = await produce();
      await other.importBlock(next.block);
      assert.equal(bytesToHex(other.head.header.stateRoot), bytesToHex(chain.head.header.stateRoot));
      // a reopened store holds the committed block and its state (the kept execution reached the disk)
      await other.close();
      const reopened = await Chain.open({ dataDir: follower.path, genesis: genesisFile() });
      try {
        assert.equal(reopened.head.header.number, 3n);
        assert.equal((await reopened.getAccount(bob.address)).balance, (await chain.getAccount(bob.address)).balance);
      } finally {
        await reopened.close();
      }
    } finally {
      await other.close();
      follower.remove();
    }
  });

  it('decodes a block from the network: same hash and senders, malformed bytes refused with INVALID_ARGUMENT', async () => {
    await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, value: 1n, gasLimit: 21_000n }));
    await chain.submitRawTransaction(signTx(chain.common, bob, { to: alice.address, value: 2n, gasLimit: 21_000n }));
    const { block } = await produce();
    const decoded = chain.decodeBlock(block.serialize());
    assert.equal(bytesToHex(decoded.hash()), bytesToHex(block.hash()));
    assert.deepEqual(decoded.transactions.map((tx) => tx.getSenderAddress().toString()), [alice.address.toLowerCase(), bob.address.toLowerCase()]);
    assert.equal(bytesToHex(decoded.serialize()), bytesToHex(block.serialize()));
    const viaWorkers = await chain.decodeBlockAsync(block.serialize());
    assert.equal(bytesToHex(viaWorkers.hash()), bytesToHex(block.hash()));
    assert.deepEqual(viaWorkers.transactions.map((tx) => tx.getSenderAddress().toString()), [alice.address.toLowerCase(), bob.address.toLowerCase()]);
    assert.ok(viaWorkers.transactions.every((tx) => Object.isFrozen(tx)));
    for (const junk of [new Uint8Array([0xc0]), new Uint8Array([1, 2, 3]), block.serialize().subarray(0, 100)]) {
      assert.throws(() => chain.decodeBlock(junk), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT') && /invalid block/.test(e.message));
    }
  });

  it('admits a gossip batch: counts what the pool took, refused by its rules, and what is invalid everywhere', async () => {
    const good = [1n, 2n].map((v) => signTx(chain.common, alice, { to: bob.address, value: v, gasLimit: 21_000n }));
    const junk = new Uint8Array([0x02, 0xc1, 0x80]);
    const wrongChain = signTx(createChainCommon(1n, true), bob, { to: alice.address, value: 1n, gasLimit: 21_000n });
    const r = await chain.admitRawTransactions([...good, good[0]!, junk, wrongChain]);
    assert.equal(r.admitted.length, 2);
    assert.equal(r.refused, 1, 'already known is a pool rule');
    assert.equal(r.invalid, 2, 'malformed and wrong chain id are invalid everywhere');
    assert.equal(chain.mempool.size, 2);
  });

  it('a block from the network reuses the transactions this node already admitted (no second decode or recovery)', async () => {
    const raw = signTx(chain.common, alice, { to: bob.address, value: 3n, gasLimit: 21_000n });
    await chain.submitRawTransaction(raw);
    const follower = tempDir();
    const other = await Chain.open({ dataDir: follower.path, genesis: genesisFile() });
    try {
      const hash = await other.submitRawTransaction(raw);
      const { block } = await produce();
      const decoded = await other.decodeBlockAsync(block.serialize());
      assert.equal(decoded.transactions[0], other.mempool.get(hash)!.tx, 'the pooled object itself');
      assert.equal(bytesToHex(decoded.hash()), bytesToHex(block.hash()));
      await other.importBlock(decoded);
      assert.equal(bytesToHex(other.head.header.stateRoot), bytesToHex(block.header.stateRoot));
      assert.equal(other.mempool.size, 0);
    } finally {
      await other.close();
      follower.remove();
    }
  });

  it('a build budget caps the block: what does not fit in time waits for the next block', async () => {
    for (let i = 0; i < 100; i++) await chain.submitRawTransaction(signTx(chain.common, alice, { to: bob.address, value: 1n, gasLimit: 21_000n }));
    // budget 0: the executor checks the clock before every 64th transaction, so the block holds the first 63
    const { block } = await chain.produceBlock({ timestamp: ++t, coinbase: proposer, budgetMs: 0 });
    assert.equal(block.transactions.length, 63);
    assert.equal(chain.mempool.size, 37);
    const next = await produce();
    assert.equal(next.block.transactions.length, 37);
  });
});
