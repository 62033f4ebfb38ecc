/**
 * Equivalence of `BlockStateManager` (writes buffered per block, roots computed once) with ethereumjs'
 * `MerkleStateManager` over `@ethereumjs/mpt` (the path the chain used before): the same transactions
 * run through two VMs block by block, and the state roots, receipts roots and transactions roots must
 * be identical — covering account creation, contract deployment (by transaction and by CREATE),
 * storage tries, SSTORE to zero (trie deletions), writes reverted by an out-of-gas frame, EIP-161 empty
 * accounts, and ERC-20 transfers. The nodes we store must also be readable by ethereumjs (past states).
 */
import assert from 'node:assert/strict';
import type { Common } from '@ethereumjs/common';
import { createBlock } from '@ethereumjs/block';
import { createMPT, MerklePatriciaTrie } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager';
import { createTxFromRLP } from '@ethereumjs/tx';
import { Account, Address, bytesToHex, createAddressFromString, hexToBytes, MapDB, type PrefixedHexString } from '@ethereumjs/util';
import { createVM, encodeReceipt, runTx, type VM } from '@ethereumjs/vm';
import type { EVMMockBlockchainInterface } from '@ethereumjs/evm';
import { compileToken } from '../../test/integration/chain/solc.ts';
import { erc20TransferData, GWEI, signTx, testAccount, type TestAccount } from '../../test/integration/chain/helpers.ts';
import { createChainCommon } from '../execution/chain-common.ts';
import { initChainCrypto, keccak256 } from '../execution/crypto.ts';
import { BlockStateManager } from './block-state-manager.ts';
import { orderedTrieRoot } from './merkle-trie.ts';
import { TrieOverlay } from './trie-overlay.ts';

/** Runtime: for each 64-byte word pair (slot, value) of the calldata, SSTORE(slot, value). */
const STORE_RUNTIME = '60005b8036111560185780602001358135556040016002565b00';
/** Init: SSTORE(0, 1) in the constructor, then return STORE_RUNTIME (26 bytes at offset 16). */
const STORE_INIT = '6001600055601a8060106000396000f3' + STORE_RUNTIME;
/** Runtime: CREATE(value 0, calldata as init code), store the new address in slot 0. Init returns it. */
const FACTORY_INIT = '601080600b6000396000f3' + '3660006000373660006000f060005500';

function word(n: bigint): string {
  return n.toString(16).padStart(64, '0');
}

function storeCall(pairs: [bigint, bigint][]): Uint8Array {
  return hexToBytes(`0x${pairs.map(([s, v]) => word(s) + word(v)).join('')}` as PrefixedHexString);
}

function contractAddress(from: string, nonce: bigint): string {
  const rlp = RLP.encode([hexToBytes(from as PrefixedHexString), nonce === 0n ? new Uint8Array() : hexToBytes(`0x${nonce.toString(16).padStart(2, '0')}` as PrefixedHexString)]);
  return bytesToHex(keccak256(rlp).subarray(12));
}

async function makeVm(common: Common, stateManager: MerkleStateManager | BlockStateManager): Promise<VM> {
  const blockchain: EVMMockBlockchainInterface = {
    getBlock: async () => ({ hash: () => new Uint8Array(32) }),
    putBlock: async () => {},
    shallowCopy() {
      return this;
    },
  };
  return createVM({ common, stateManager, blockchain });
}

describe('BlockStateManager: identical roots to ethereumjs MerkleStateManager', function () {
  this.timeout(60_000);

  it('builds the same blocks (state, receipts and transactions roots) through both state managers', async () => {
    await initChainCrypto();
    const common = createChainCommon(4242n);
    const ref = new MerkleStateManager({ trie: await createMPT({ useKeyHashing: true, common }), common, caches: new Caches() });
    const overlay = new TrieOverlay(async () => undefined);
    const ours = new BlockStateManager({ store: overlay, hash: keccak256 });
    const vmRef = await makeVm(common, ref);
    const vmOurs = await makeVm(common, ours);

    const users: TestAccount[] = Array.from({ length: 6 }, (_, i) => testAccount(300 + i));
    for (const sm of [ref, ours]) {
      for (const u of users) await sm.putAccount(createAddressFromString(u.address), new Account(0n, 10n ** 24n));
    }
    const genesisRoot = await ref.getStateRoot();
    assert.equal(bytesToHex(await ours.getStateRoot()), bytesToHex(genesisRoot), 'genesis');

    const [a, b, c, d] = users as [TestAccount, TestAccount, TestAccount, TestAccount];
    const coinbase = testAccount(399).address;
    const store = contractAddress(a.address, 0n);
    const factory = contractAddress(b.address, 0n);
    const token = contractAddress(c.address, 0n);
    const { bytecode } = compileToken();
    const fresh = (i: number): string => testAccount(1000 + i).address;

    const blocks: Uint8Array[][] = [
      [
        signTx(common, a, { data: hexToBytes(`0x${STORE_INIT}`), gasLimit: 200_000n }), // deployment with constructor storage
        signTx(common, b, { data: hexToBytes(`0x${FACTORY_INIT}`), gasLimit: 200_000n }),
        signTx(common, c, { data: hexToBytes(`${bytecode}${word(10n ** 24n)}` as PrefixedHexString), gasLimit: 2_000_000n }),
        signTx(common, d, { to: fresh(0), value: 5n, gasLimit: 21_000n }), // account creation
        signTx(common, d, { to: fresh(1), value: 0n, gasLimit: 21_000n }), // touched empty account: never created (EIP-161)
      ],
      [
        signTx(common, a, { to: store, data: storeCall([[1n, 11n], [2n, 22n], [3n, 33n], [2n ** 255n, 7n], [4n, 44n]]), gasLimit: 300_000n }),
        signTx(common, b, { to: factory, data: hexToBytes(`0x${STORE_INIT}`), gasLimit: 300_000n }), // CREATE in execution
        ...Array.from({ length: 8 }, (_, i) => signTx(common, c, { to: token, data: erc20TransferData(fresh(10 + i), 1000n + BigInt(i)), gasLimit: 100_000n })),
      ],
      [
        // deletions: slots back to zero, one set and cleared in the same transaction, one never set
        signTx(common, a, { to: store, data: storeCall([[1n, 0n], [3n, 0n], [0n, 0n], [5n, 55n], [5n, 0n], [6n, 0n], [4n, 45n]]), gasLimit: 300_000n }),
        // out of gas after a few SSTOREs: all reverted, fee still paid
        signTx(common, a, { to: store, data: storeCall(Array.from({ length: 20 }, (_, i): [bigint, bigint] => [100n + BigInt(i), 1n])), gasLimit: 60_000n }),
        ...Array.from({ length: 4 }, (_, i) => signTx(common, c, { to: token, data: erc20TransferData(fresh(10 + i), 1n), gasLimit: 100_000n })),
        signTx(common, d, { to: fresh(0), value: 7n, gasLimit: 21_000n }),
      ],
      [
        // empty a whole storage trie except the constructor's slot, then the last one
        signTx(common, a, { to: store, data: storeCall([[2n, 0n], [4n, 0n], [2n ** 255n, 0n], [5n, 0n]]), gasLimit: 300_000n }),
        signTx(common, a, { to: store, data: storeCall([[0n, 0n]]), gasLimit: 300_000n }),
      ],
    ];

    let number = 0n;
    for (const raws of blocks) {
      number++;
      const block = createBlock(
        { header: { number, timestamp: 1_700_000_000n + number, gasLimit: 30_000_000n, baseFeePerGas: GWEI, coinbase: createAddressFromString(coinbase) } },
        { common },
      );
      const receipts: Uint8Array[][] = [[], []];
      const txs = raws.map((raw) => createTxFromRLP(raw, { common }));
      for (const [i, vm] of [vmRef, vmOurs].entries()) {
        for (const tx of txs) {
          const r = await runTx(vm, { tx, block, skipHardForkValidation: true });
          receipts[i]!.push(encodeReceipt(r.receipt, tx.type));
        }
      }
      const rootRef = await ref.getStateRoot();
      const rootOurs = await ours.getStateRoot();
      assert.equal(bytesToHex(rootOurs), bytesToHex(rootRef), `state root of block ${number}`);
      const refReceipts = new MerklePatriciaTrie({ useKeyHashing: false });
      const refTxs = new MerklePatriciaTrie({ useKeyHashing: false });
      for (let i = 0; i < txs.length; i++) {
        await refReceipts.put(RLP.encode(i), receipts[0]![i]!);
        await refTxs.put(RLP.encode(i), txs[i]!.serialize());
      }
      assert.equal(bytesToHex(orderedTrieRoot(receipts[1]!, keccak256)), bytesToHex(refReceipts.root()), `receipts root of block ${number}`);
      assert.equal(bytesToHex(orderedTrieRoot(txs.map((t) => t.serialize()), keccak256)), bytesToHex(refTxs.root()), `transactions root of block ${number}`);
    }

    // What the blocks did, as both see it.
    const storeAddr = createAddressFromString(store);
    for (const sm of [ref, ours]) {
      assert.equal((await sm.getAccount(createAddressFromString(fresh(0))))?.balance, 12n);
      assert.equal(await sm.getAccount(createAddressFromString(fresh(1))), undefined);
      assert.deepEqual(await sm.getStorage(storeAddr, hexToBytes(`0x${word(6n)}`)), new Uint8Array());
      assert.equal((await sm.getAccount(storeAddr))?.storageRoot.length, 32);
    }
    assert.equal(bytesToHex((await ours.getAccount(storeAddr))!.storageRoot), '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421', 'store emptied');
    const child = contractAddress(factory, 1n);
    assert.deepEqual(await ours.getStorage(createAddressFromString(child), new Uint8Array(32)), Uint8Array.of(1));
    assert.equal((await ours.getCode(createAddressFromString(child))).length, 26);

    // The nodes we wrote are a complete ethereumjs state: read every account of the final root through it.
    const db = new MapDB<string, Uint8Array>();
    for (const [k, v] of overlay.drainPending()) await db.put(k, v);
    const reader = new MerkleStateManager({ trie: await createMPT({ db, useKeyHashing: true, valueEncoding: 'view', common, root: await ours.getStateRoot() }), common });
    for (const addr of [...users.map((u) => u.address), store, factory, token, child, fresh(0), fresh(12)]) {
      const x = createAddressFromString(addr);
      assert.equal(bytesToHex((await reader.getAccount(x))?.serialize() ?? new Uint8Array()), bytesToHex((await ref.getAccount(x))?.serialize() ?? new Uint8Array()), addr);
      assert.equal(bytesToHex(await reader.getCode(x)), bytesToHex(await ref.getCode(x)));
    }
    const balanceSlot = keccak256(hexToBytes(`0x${fresh(12).slice(2).padStart(64, '0')}${word(0n)}` as PrefixedHexString));
    assert.equal(bytesToHex(await reader.getStorage(createAddressFromString(token), balanceSlot)), bytesToHex(await ref.getStorage(createAddressFromString(token), balanceSlot)));
  });

  it('reverts writes inside checkpoints and drops a block with setStateRoot', async () => {
    const overlay = new TrieOverlay(async () => undefined);
    const sm = new BlockStateManager({ store: overlay, hash: keccak256 });
    const x = new Address(new Uint8Array(20).fill(1));
    await sm.putAccount(x, new Account(1n, 100n));
    await sm.putStorage(x, new Uint8Array(32), Uint8Array.of(5));
    const root1 = await sm.getStateRoot();
    await sm.checkpoint();
    await sm.putStorage(x, new Uint8Array(32), Uint8Array.of(6));
    await sm.checkpoint();
    await sm.putAccount(x, new Account(2n, 50n));
    await sm.deleteAccount(x);
    assert.equal(await sm.getAccount(x), undefined);
    await sm.revert();
    assert.equal((await sm.getAccount(x))?.nonce, 1n);
    assert.deepEqual(await sm.getStorage(x, new Uint8Array(32)), Uint8Array.of(6));
    assert.deepEqual(await sm.originalStorageCache.get(x, new Uint8Array(32)), Uint8Array.of(6));
    await sm.revert();
    assert.deepEqual(await sm.getStorage(x, new Uint8Array(32)), Uint8Array.of(5));
    assert.deepEqual(await sm.getStateRoot(), root1);
    // A block computed and then abandoned: back to root1 with its values.
    await sm.putStorage(x, new Uint8Array(32), Uint8Array.of(9));
    const root2 = await sm.getStateRoot();
    assert.notDeepEqual(root2, root1);
    await sm.setStateRoot(root1);
    assert.deepEqual(await sm.getStorage(x, new Uint8Array(32)), Uint8Array.of(5));
    assert.deepEqual(await sm.getStateRoot(), root1);
    // Another block on root1 gives what a fresh manager on the same store computes.
    const y = new Address(new Uint8Array(20).fill(2));
    await sm.putAccount(y, new Account(0n, 7n));
    await sm.putStorage(x, new Uint8Array(32).fill(3), Uint8Array.of(8));
    const root3 = await sm.getStateRoot();
    const fresh = new BlockStateManager({ store: overlay, hash: keccak256, root: root1 });
    await fresh.putAccount(y, new Account(0n, 7n));
    await fresh.putStorage(x, new Uint8Array(32).fill(3), Uint8Array.of(8));
    assert.deepEqual(await fresh.getStateRoot(), root3);
    await assert.rejects(sm.setStateRoot(new Uint8Array(32).fill(7)));
  });
});
