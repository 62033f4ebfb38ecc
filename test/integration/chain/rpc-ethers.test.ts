/**
 * ethers v6 against the embedded node's JSON-RPC (HTTP and WebSocket): the calls a dapp makes, and bad
 * input answered with standard JSON-RPC errors.
 */
import assert from 'node:assert/strict';
import {
  ContractFactory,
  JsonRpcProvider,
  Transaction,
  Wallet,
  WebSocketProvider,
  getAddress,
  isError,
  type Contract,
  type ContractEventPayload,
  type Log,
} from 'ethers';
import { ChainNode } from '../../../chain/node/chain-node.ts';
import { WEI_PER_EB } from '../../../chain/execution/genesis.ts';
import { verifyCertificate, type FinalityCertificate } from '../../../chain/consensus/certificate.ts';
import { compileToken } from './solc.ts';
import { tempDir, testAccount } from './helpers.ts';

const CHAIN_ID = 4243;

async function rpc(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
  const text = await res.text();
  return { status: res.status, json: text.length === 0 ? undefined : JSON.parse(text) };
}

function errorOf(json: unknown): { code: number; message: string; data?: unknown } {
  const e = (json as { error?: { code: number; message: string; data?: unknown } }).error;
  assert.ok(e !== undefined, `expected an error, got ${JSON.stringify(json)}`);
  return e;
}

describe('JSON-RPC with ethers v6 (embedded node)', function () {
  this.timeout(60_000);
  const dir = tempDir();
  const alice = testAccount(1);
  const bob = testAccount(2);
  const validator = testAccount(50);
  let node: ChainNode;
  let provider: JsonRpcProvider;
  let wallet: Wallet;
  let token: Contract;
  let tokenAddress: string;

  before(async () => {
    node = new ChainNode({
      dataDir: dir.path,
      validatorKey: validator.keyHex,
      blockTimeMs: 100,
      rpc: { port: 0, maxBodyBytes: 256 * 1024 },
      genesis: { chainId: CHAIN_ID, alloc: { [alice.address]: (1000n * WEI_PER_EB).toString(), [bob.address]: (1n * WEI_PER_EB).toString() } },
    });
    await node.start();
    provider = new JsonRpcProvider(node.rpcUrl, undefined, { pollingInterval: 50, cacheTimeout: -1 });
    wallet = new Wallet(alice.keyHex, provider);
    const { abi, bytecode } = compileToken();
    const factory = new ContractFactory(abi as never[], bytecode, wallet);
    token = (await factory.deploy(10n ** 24n)) as Contract;
    await token.waitForDeployment();
    tokenAddress = await token.getAddress();
  });

  after(async () => {
    provider.destroy();
    await node.stop();
    dir.remove();
  });

  it('answers the basic methods', async () => {
    const network = await provider.getNetwork();
    assert.equal(network.chainId, BigInt(CHAIN_ID));
    assert.equal(await provider.send('net_version', []), String(CHAIN_ID));
    assert.match(await provider.send('web3_clientVersion', []), /^EnergyMesh-EMPoS\//);
    const n = await provider.getBlockNumber();
    assert.ok(n >= 1);
    assert.ok((await provider.getBalance(alice.address)) < 1000n * WEI_PER_EB, 'alice paid for the deployment');
    assert.equal(await provider.getBalance(bob.address), WEI_PER_EB);
    const fee = await provider.getFeeData();
    assert.ok(fee.maxFeePerGas !== null && fee.maxPriorityFeePerGas === 1_000_000_000n);
    // four blocks to report on (at 100 ms blocks the deployment can be in block 1 and this call come before block 4)
    while ((await provider.getBlockNumber()) < 4) await new Promise((resolve) => setTimeout(resolve, 50));
    const history = (await provider.send('eth_feeHistory', ['0x4', 'latest', [25, 75]])) as { baseFeePerGas: string[]; gasUsedRatio: number[]; reward: string[][] };
    assert.equal(history.baseFeePerGas.length, 5);
    assert.equal(history.gasUsedRatio.length, 4);
    assert.equal(history.reward.length, 4);
  });

  it('deploys a contract, sends transactions, reads receipts and logs', async () => {
    assert.ok((await provider.getCode(tokenAddress)).length > 100);
    const tx = await token.getFunction('transfer')(bob.address, 1234n);
    const receipt = await tx.wait();
    assert.equal(receipt?.status, 1);
    assert.equal(receipt?.logs.length, 1);
    const parsed = token.interface.parseLog(receipt!.logs[0] as Log);
    assert.equal(parsed?.name, 'Transfer');
    assert.equal(parsed?.args[1], getAddress(bob.address));
    assert.equal(parsed?.args[2], 1234n);
    assert.equal(await token.getFunction('balanceOf')(bob.address), 1234n);
    // the receipt's bloom contains the token address
    const bloom = receipt!.logsBloom;
    assert.notEqual(bloom, '0x' + '0'.repeat(512));
    const fetched = await provider.getTransaction(tx.hash);
    assert.equal(fetched?.from, getAddress(alice.address));
    assert.equal(fetched?.blockNumber, receipt?.blockNumber);
    const block = await provider.getBlock(receipt!.blockNumber, true);
    assert.ok(block?.transactions.includes(tx.hash));
    assert.equal((await provider.getBlock(block!.hash!))?.number, block?.number);
    const logs = await token.queryFilter(token.filters.Transfer!(alice.address, bob.address), 0, 'latest');
    assert.equal(logs.length, 1);
    // storage slot 4 = totalSupply (name, symbol, decimals take slots 0..2; totalSupply is slot 3)
    assert.equal(BigInt(await provider.getStorage(tokenAddress, 3)), 10n ** 24n);
    // historical state: bob had no tokens before the transfer block
    assert.equal(await token.getFunction('balanceOf')(bob.address, { blockTag: receipt!.blockNumber - 1 }), 0n);
  });

  it('estimates gas and reports revert reasons and custom errors', async () => {
    const gas = await token.getFunction('transfer').estimateGas(bob.address, 1n);
    assert.ok(gas > 21_000n && gas < 80_000n);
    await assert.rejects(token.getFunction('transfer').staticCall('0x' + '00'.repeat(20), 1n), (e: unknown) => {
      assert.ok(isError(e, 'CALL_EXCEPTION'));
      assert.equal(e.reason, 'transfer to the zero address');
      return true;
    });
    const asBob = token.connect(new Wallet(bob.keyHex, provider)) as Contract;
    // custom error through eth_call: ethers decodes it with the ABI
    await assert.rejects(asBob.getFunction('transfer').staticCall(alice.address, 10n ** 30n), (e: unknown) => {
      assert.ok(isError(e, 'CALL_EXCEPTION'));
      assert.equal(e.revert?.name, 'Insufficient');
      assert.deepEqual([...(e.revert?.args ?? [])], [1234n, 10n ** 30n]);
      return true;
    });
    // and through eth_estimateGas: the revert data is in the error (code 3)
    await assert.rejects(asBob.getFunction('transfer').estimateGas(alice.address, 10n ** 30n), (e: unknown) => {
      assert.ok(isError(e, 'CALL_EXCEPTION'));
      const parsed = token.interface.parseError(e.data!);
      assert.equal(parsed?.name, 'Insufficient');
      assert.deepEqual([...(parsed?.args ?? [])], [1234n, 10n ** 30n]);
      return true;
    });
  });

  it('subscribes to new heads and contract events over WebSocket', async () => {
    const ws = new WebSocketProvider(node.wsUrl);
    try {
      const wsToken = token.connect(ws) as Contract;
      const heads: number[] = [];
      const gotHead = new Promise<void>((resolve) => {
        void ws.on('block', (n: number) => {
          heads.push(n);
          if (heads.length >= 2) resolve();
        });
      });
      const gotEvent = new Promise<bigint>((resolve) => {
        // with a prepared topic filter ethers passes the event payload (decoded args inside)
        void wsToken.on(wsToken.filters.Transfer!(alice.address, bob.address), (payload: ContractEventPayload) => resolve(payload.args[2] as bigint));
      });
      // the subscription may reach the node after a first transfer: send until the event arrives
      let received: bigint | undefined;
      void gotEvent.then((v) => {
        received = v;
      });
      for (let attempt = 0; attempt < 10 && received === undefined; attempt++) {
        const tx = await token.getFunction('transfer')(bob.address, 77n);
        await tx.wait();
        await Promise.race([gotEvent, new Promise((r) => setTimeout(r, 500))]);
      }
      assert.equal(received, 77n);
      await gotHead;
      assert.ok(heads[1]! > heads[0]!);
      assert.equal(Number(await ws.send('eth_chainId', [])), CHAIN_ID);
    } finally {
      await ws.destroy();
    }
  });

  it('rejects a wrong chain id, a bad signature and a used nonce with standard errors', async () => {
    const nonce = await provider.getTransactionCount(alice.address, 'pending');
    const wrong = await wallet.signTransaction({ to: bob.address, value: 1n, nonce, gasLimit: 21_000n, chainId: 1n, maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 9n });
    const r1 = await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: [wrong] });
    assert.deepEqual(errorOf(r1.json), { code: -32000, message: 'invalid chain id for signer' });

    const good = Transaction.from(await wallet.signTransaction({ to: bob.address, value: 1n, nonce, gasLimit: 21_000n, chainId: BigInt(CHAIN_ID), maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 9n }));
    const bad = good.clone();
    bad.signature = { r: '0x' + 'ff'.repeat(32), s: good.signature!.s, v: good.signature!.v };
    const r2 = await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 2, method: 'eth_sendRawTransaction', params: [bad.serialized] });
    assert.equal(errorOf(r2.json).code, -32000);

    await assert.rejects(wallet.sendTransaction({ to: bob.address, value: 1n, nonce: 0 }), (e: unknown) => isError(e, 'NONCE_EXPIRED'));
  });

  it('queues a nonce gap until it is filled', async () => {
    const nonce = await provider.getTransactionCount(alice.address, 'pending');
    const ahead = await wallet.sendTransaction({ to: bob.address, value: 1n, nonce: nonce + 1 });
    await new Promise((r) => setTimeout(r, 400)); // several blocks
    assert.equal(await provider.getTransactionReceipt(ahead.hash), null);
    assert.equal((await provider.getTransaction(ahead.hash))?.blockNumber, null);
    const fill = await wallet.sendTransaction({ to: bob.address, value: 1n, nonce });
    const [r1, r2] = await Promise.all([fill.wait(), ahead.wait()]);
    assert.equal(r1?.status, 1);
    assert.equal(r2?.status, 1);
    assert.ok(r2!.blockNumber >= r1!.blockNumber);
  });

  it('answers malformed requests with JSON-RPC errors and keeps serving', async () => {
    assert.equal(errorOf((await rpc(node.rpcUrl, '{"jsonrpc":"2.0",')).json).code, -32700);
    assert.equal(errorOf((await rpc(node.rpcUrl, '42')).json).code, -32600);
    assert.equal(errorOf((await rpc(node.rpcUrl, { jsonrpc: '1.0', id: 1, method: 'eth_chainId' })).json).code, -32600);
    assert.equal(errorOf((await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_nope' })).json).code, -32601);
    assert.equal(errorOf((await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: ['0x12'] })).json).code, -32602);
    assert.equal(errorOf((await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: 'x' })).json).code, -32600);
    assert.equal(errorOf((await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: ['0xzz'] })).json).code, -32602);
    assert.equal(errorOf((await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: ['0x02c0'] })).json).code, -32000);
    assert.equal(errorOf((await rpc(node.rpcUrl, [])).json).code, -32600);
    const batch = await rpc(node.rpcUrl, [
      { jsonrpc: '2.0', id: 'a', method: 'eth_chainId' },
      { jsonrpc: '2.0', id: 'b', method: 'eth_nope' },
      { jsonrpc: '2.0', method: 'eth_chainId' },
      7,
    ]);
    const items = batch.json as { id: unknown; result?: unknown; error?: { code: number } }[];
    assert.equal(items.length, 3, 'the notification gets no answer');
    assert.deepEqual(items.map((i) => i.id), ['a', 'b', null]);
    assert.equal(items[0]?.result, `0x${CHAIN_ID.toString(16)}`);
    assert.equal(items[1]?.error?.code, -32601);
    assert.equal(items[2]?.error?.code, -32600);
    const big = await rpc(node.rpcUrl, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ data: '0x' + '00'.repeat(300 * 1024) }] }));
    assert.equal(big.status, 413);
    assert.equal(errorOf(big.json).code, -32600);
    const get = await fetch(node.rpcUrl);
    assert.equal(get.status, 405);
    await get.text();
    const sub = await rpc(node.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] });
    assert.equal(errorOf(sub.json).code, -32601);
    assert.equal(await provider.getBlockNumber() > 0, true, 'still serving');
  });

  it('answers junk over WebSocket with errors and keeps the connection', async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(node.wsUrl);
    const replies: unknown[] = [];
    ws.on('message', (d) => replies.push(JSON.parse(String(d))));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      ws.send('not json');
      ws.send(Buffer.from([1, 2, 3]), { binary: true });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'eth_subscribe', params: ['nope'] }));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'eth_unsubscribe', params: ['0x1'] }));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'eth_chainId' }));
      const end = Date.now() + 10_000;
      while (replies.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      const byId = new Map(replies.map((r) => [(r as { id: unknown }).id, r as { result?: unknown; error?: { code: number } }]));
      assert.equal(replies.filter((r) => (r as { error?: { code: number } }).error?.code === -32700).length, 1);
      assert.equal(replies.filter((r) => (r as { error?: { code: number } }).error?.code === -32600).length, 1, 'binary frame');
      assert.equal(byId.get(5)?.error?.code, -32602);
      assert.equal(byId.get(6)?.result, false);
      assert.equal(byId.get(7)?.result, `0x${CHAIN_ID.toString(16)}`);
    } finally {
      ws.close();
    }
  });

  it('serves verifiable finality certificates (empos_certificate)', async () => {
    const n = await provider.getBlockNumber();
    const cert = (await provider.send('empos_certificate', [`0x${n.toString(16)}`])) as { proposer: string; certificate: FinalityCertificate & { number: string } };
    const block = await provider.getBlock(n);
    assert.equal(cert.certificate.blockHash, block?.hash);
    assert.equal(cert.proposer, validator.address.toLowerCase());
    assert.equal(block?.miner, getAddress(validator.address));
    const validators = (await provider.send('empos_validators', [])) as { address: string; stake: string }[];
    const check = verifyCertificate(BigInt(CHAIN_ID), { ...cert.certificate, number: BigInt(cert.certificate.number) }, validators.map((v) => ({ address: v.address, stake: BigInt(v.stake) })));
    assert.equal(check.valid, true, check.reason);
    const schedule = (await provider.send('empos_schedule', [])) as { epoch: string; firstHeight: string; active: string[]; proposerOrder: string[]; proposer: string };
    assert.equal(schedule.epoch, '0x0', '6.4 h epochs: still the first');
    assert.equal(schedule.firstHeight, '0x1');
    assert.deepEqual(schedule.active, [validator.address.toLowerCase()]);
    assert.equal(schedule.proposer, validator.address.toLowerCase());
    assert.equal((validators[0] as unknown as { status: string }).status, 'active');
    const finality = (await provider.send('empos_finality', [])) as { finalized: string };
    assert.ok(Number(finality.finalized) >= n);
    const finalized = await provider.getBlock('finalized');
    assert.ok(finalized !== null && finalized.number >= n);
  });
});
