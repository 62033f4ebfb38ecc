/**
 * market.p2p in the real kernel with the settlement contracts on the embedded chain: orders through the
 * API → cleared and settled on chain at gate closure with exact EB and MC balances, the independent
 * recomputation (API and straight from JSON-RPC) equal to the settlement, the result on
 * `<prefix>.settlements`, malformed orders refused with 400 and no on-chain effect, and a restart that
 * settles nothing twice.
 *
 * Time: intervals are 5 minutes and the contract reads `block.timestamp`, which the embedded chain takes
 * from `Date.now()`. The test moves this process's `Date.now` forward (never back) to reach gate closure
 * instead of waiting; timers are unaffected.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Signer } from 'ethers';
import { inlineConfig } from '../../../core/config/config-file.ts';
import { startInstance, type Instance } from '../../../core/instance.ts';
import { topicName, type BusMessage } from '../../../core/bus/bus.ts';
import { SettlementServiceKey, type SettlementService } from '../../../plugins/settlement/settlement-api.ts';
import { EnergyLedgerClient, settlementClients, type SettlementClients } from '../../../chain/contracts/client.ts';
import { Command } from 'commander';
import { registerMarketCommands, verifyFromRpc } from '../../../plugins/market/cli.ts';
import type { SettlementResult } from '../../../plugins/market/market-engine.ts';

const EB = 10n ** 18n;
const MC = 10n ** 18n;
const WH = 10n ** 15n;
const API = '/api/v1/plugins/market.p2p';

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('market.p2p on the embedded chain', function () {
  this.timeout(240_000);
  const realNow = Date.now;
  let offsetMs = 0;
  let dir: string;
  let instance: Instance | undefined;
  let url: string;
  let admin: string;
  let operator: string;
  let viewer: string;
  let s: SettlementService;
  let c: SettlementClients;
  let settledInterval: bigint;

  const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> & { error?: { code: string; message: string } } }> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };

  async function boot(): Promise<void> {
    instance = await startInstance(
      inlineConfig(
        {
          dataDir: dir,
          site: { id: 'market-test' },
          api: { port: 0 },
          plugins: [
            { id: 'chain.empos', config: { blockTimeMs: 100, rpc: { port: 0 } } },
            { id: 'settlement.contracts', config: { intervalMinutes: 5, reserveEb: 1000, accountEb: 10, accountMc: 500 } },
            { id: 'market.p2p', config: { accounts: ['alice', 'bob', 'carol', 'dave', 'erin'], loop: { pollMs: 200 } } },
          ],
        },
        dir,
      ),
      { defaultMetrics: false, stepTimeoutMs: 120_000 },
    );
    url = instance.url as string;
    s = instance.kernel.services.get(SettlementServiceKey);
    c = settlementClients(s.addresses, s.provider());
  }

  /** Moves this process's clock (and so the chain's block time) to `unixSeconds` or later. */
  function jumpTo(unixSeconds: number): void {
    const delta = unixSeconds * 1000 - Date.now();
    if (delta > 0) offsetMs += delta;
  }

  async function chainTime(): Promise<number> {
    return (await s.provider().getBlock('latest'))?.timestamp ?? 0;
  }

  before(async () => {
    Date.now = () => realNow() + offsetMs;
    dir = mkdtempSync(join(tmpdir(), 'em-market-'));
    await boot();
    admin = instance?.initialAdminToken?.token as string;
    const mk = async (role: string): Promise<string> => (await call('POST', '/api/v1/tokens', admin, { name: `test ${role}`, role })).json.token as string;
    operator = await mk('operator');
    viewer = await mk('viewer');
  });

  after(async () => {
    await instance?.stop();
    Date.now = realNow;
    rmSync(dir, { recursive: true, force: true });
  });

  async function account(name: string): Promise<{ signer: Signer; address: string }> {
    const signer = await s.account(name);
    return { signer, address: await signer.getAddress() };
  }

  it('clears and settles API orders at gate closure with exact EB and MC balances, verifiable by anyone', async () => {
    const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(account));
    assert.ok(alice && bob && carol && dave);
    // sellers hold ledger EB (in production: minted from attested exports)
    await new EnergyLedgerClient(s.addresses.ledger, alice.signer).deposit(5n * EB);
    await new EnergyLedgerClient(s.addresses.ledger, dave.signer).deposit(2n * EB);

    const clock = (await call('GET', `${API}/intervals`, viewer, undefined)).json;
    assert.equal(clock.intervalSeconds, 300);
    const interval = BigInt(clock.nextOpen as string) + 1n; // a full interval of margin before its gate closes
    settledInterval = interval;
    const place = (body: Record<string, unknown>): ReturnType<typeof call> => call('POST', `${API}/orders`, operator, { interval: interval.toString(), ...body });
    const orders = [
      await place({ account: 'alice', side: 'sell', amountWh: 3000, limitPriceMc: '0.10' }),
      await place({ account: 'dave', side: 'sell', amountWh: '1000', limitPriceMc: '0.30' }),
      await place({ account: 'bob', side: 'buy', amountWh: 2000, limitPrice: (20n * MC / 100n).toString() }),
      await place({ account: 'carol', side: 'buy', amountWh: 1500, limitPriceMc: '0.16' }),
    ];
    for (const o of orders) assert.equal(o.status, 200, JSON.stringify(o.json));
    const ids = orders.map((o) => BigInt(o.json.orderId as string));
    assert.deepEqual(ids.map((id) => id >> 24n), [interval, interval, interval, interval], 'order ids carry their interval');

    const snapshot = async (): Promise<Record<string, { eb: bigint; locked: bigint; mc: bigint }>> => {
      const out: Record<string, { eb: bigint; locked: bigint; mc: bigint }> = {};
      for (const [n, a] of Object.entries({ alice, bob, carol, dave })) {
        out[n] = { eb: await c.ledger.balanceOf(a.address), locked: await c.ledger.lockedOf(a.address), mc: await c.meshCoin.balanceOf(a.address) };
      }
      return out;
    };
    const before = await snapshot();
    assert.equal(before.alice?.locked, 3000n * WH, 'the sell locked its EB');
    assert.equal(before.alice?.eb, 2n * EB);
    const treasuryBefore = await c.meshCoin.balanceOf(s.addresses.multisig);
    const listed = (await call('GET', `${API}/orders?interval=${interval}`, viewer)).json as unknown as { orderId: string; status: string; account: string }[];
    assert.deepEqual(listed.map((o) => [o.account, o.status]).sort(), [['alice', 'open'], ['bob', 'open'], ['carol', 'open'], ['dave', 'open']]);

    jumpTo(Number(interval) * 300 + 1); // gate closure (0 s before delivery)
    await until('interval settled', async () => (await call('GET', `${API}/results/${interval}`, viewer)).json.settled === true);
    await until('unfilled orders released', async () => (await c.ledger.lockedOf(dave.address)) === 0n);

    // bids: bob 2000 @0.20, carol 1500 @0.16; asks: alice 3000 @0.10, dave 1000 @0.30
    // walk: bob×alice 2000, carol×alice 1000; dave 0.30 > carol 0.16 stops → price (0.16 + 0.10) / 2 = 0.13
    const price = 13n * MC / 100n;
    const result = (await call('GET', `${API}/results/${interval}`, viewer)).json as unknown as SettlementResult;
    assert.equal(result.price, price.toString());
    assert.equal(result.volumeWh, '3000');
    assert.deepEqual(result.fills.map((f) => [f.orderId, f.amountWh]), [[ids[0], 3000n], [ids[2], 2000n], [ids[3], 1000n]].map(([id, a]) => [String(id), String(a)]));

    const after = await snapshot();
    const pay = (wh: bigint): bigint => (wh * price + 999n) / 1000n; // buyers pay the ceiling
    const fee = (paid: bigint): bigint => (paid * 10n) / 10_000n; // 0.1 %, no discount below 1,000 MC held
    // EB: the sold energy moved from alice's lock to the buyers; dave's lock came back
    assert.deepEqual(after.alice, { eb: 2n * EB, locked: 0n, mc: before.alice!.mc + (3000n * price) / 1000n });
    assert.deepEqual(after.bob, { eb: before.bob!.eb + 2000n * WH, locked: 0n, mc: before.bob!.mc + escrowOf(2000n, 20n * MC / 100n) - pay(2000n) - fee(pay(2000n)) });
    assert.deepEqual(after.carol, { eb: before.carol!.eb + 1000n * WH, locked: 0n, mc: before.carol!.mc + escrowOf(1500n, 16n * MC / 100n) - pay(1000n) - fee(pay(1000n)) });
    assert.deepEqual(after.dave, { eb: 2n * EB, locked: 0n, mc: before.dave!.mc });
    const ebBefore = Object.values(before).reduce((t, x) => t + x.eb + x.locked, 0n);
    const ebAfter = Object.values(after).reduce((t, x) => t + x.eb + x.locked, 0n);
    assert.equal(ebAfter, ebBefore, 'EB conserved');
    assert.equal(await c.meshCoin.balanceOf(s.addresses.multisig), treasuryBefore + fee(pay(2000n)) + fee(pay(1000n)) + pay(2000n) + pay(1000n) - (3000n * price) / 1000n, 'fees and rounding dust to the treasury');
    assert.equal(await c.meshCoin.balanceOf(s.addresses.market), 0n, 'no MC left in escrow');
    const state = await c.market.intervalState(interval);
    assert.deepEqual([state.status, state.price, state.volumeWh], ['settled', price, 3000n]);

    // independent recomputation: through the API and straight from JSON-RPC
    const v = (await call('GET', `${API}/verify/${interval}`, viewer)).json;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    const rpc = instance!.kernel.chainConnectors[0]!.rpcUrl();
    const direct = await verifyFromRpc(rpc, s.addresses.market, interval);
    assert.equal(direct.ok, true, direct.problems.join('; '));
    assert.equal(direct.expected.price, price);

    // the result on <prefix>.settlements
    const got: BusMessage<SettlementResult>[] = [];
    const bus = instance!.kernel.bus;
    const sub = await bus.subscribe<SettlementResult>(topicName(bus.prefix, 'settlements'), { group: 'market-test', fromBeginning: true }, (batch) => void got.push(...batch));
    try {
      await until('settlement published', () => got.some((m) => m.value.interval === interval.toString()));
    } finally {
      await sub.close();
    }
    const msg = got.find((m) => m.value.interval === interval.toString());
    assert.equal(msg?.key, `interval-${interval}`);
    assert.equal(msg?.value.price, price.toString());
    assert.equal(msg?.value.fills.length, 3);
    const health = (await call('GET', '/api/v1/health', viewer)).json as unknown as { plugins: { id: string; health: { state: string; reason?: string } }[] };
    assert.equal(health.plugins.find((p) => p.id === 'market.p2p')?.health.state, 'up', JSON.stringify(health.plugins));
  });

  it('answers the CLI (market order|orders|results|verify) as an API client', async () => {
    const run = async (...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
      const out: string[] = [];
      const err: string[] = [];
      let code = -1;
      const program = new Command('energymesh').exitOverride();
      registerMarketCommands(program, { out: (l) => out.push(l), err: (l) => err.push(l) }, (c) => (code = c));
      await program.parseAsync(['node', 'energymesh', 'market', ...args, '--url', url, '--token', args[0] === 'order' ? operator : viewer]);
      return { code, out, err };
    };
    const i = settledInterval.toString();
    const orders = await run('orders', '--interval', i);
    assert.equal(orders.code, 0, orders.err.join('\n'));
    assert.equal(orders.out.length, 5, orders.out.join('\n'));
    assert.match(orders.out.join('\n'), /sell +3000 +0\.1 +filled +3000 +alice/);
    assert.match(orders.out.join('\n'), /buy +1500 +0\.16 +partially-filled +1000 +carol/);
    const results = await run('results', '--interval', i);
    assert.equal(results.code, 0);
    assert.match(results.out[0] ?? '', new RegExp(`^interval ${i} .*price 0\\.13 MC/kWh, 3000 Wh, 3 fills`));
    const verify = await run('verify', '--interval', i);
    assert.equal(verify.code, 0, verify.err.join('\n'));
    assert.match(verify.out[0] ?? '', /OK — 4 orders recomputed: price 0\.13 MC\/kWh, 3000 Wh, 3 fills, equal to the settlement/);
    const direct = await run('verify', '--interval', i, '--rpc', instance!.kernel.chainConnectors[0]!.rpcUrl(), '--market', s.addresses.market);
    assert.equal(direct.code, 0, direct.err.join('\n'));
    const unsettled = await run('verify', '--interval', (settledInterval + 50n).toString());
    assert.equal(unsettled.code, 1);
    assert.match(unsettled.err[0] ?? '', /NOT SETTLED/);
    const refused = await run('order', '--account', 'alice', '--side', 'sell', '--amount-wh', '5', '--price-mc', '0.1', '--interval', '1');
    assert.equal(refused.code, 1);
    assert.match(refused.err[0] ?? '', /^energymesh: 400: the gate of interval 1 is closed/);
    const usage = await run('order', '--account', 'alice', '--side', 'sell', '--amount-wh', '5');
    assert.equal(usage.code, 2);
  });

  it('refuses malformed orders with 400 and a specific message, with no on-chain effect', async () => {
    const clock = (await call('GET', `${API}/intervals`, viewer)).json;
    const open = BigInt(clock.nextOpen as string);
    const target = (open + 1n).toString();
    const ordersBefore = (await c.market.intervalState(open + 1n)).orderCount;
    const headBefore = await s.provider().getBlockNumber();
    const cases: [unknown, number, RegExp][] = [
      [{ account: 'alice', amountWh: 5, limitPrice: '1', interval: target }, 400, /body\/side/],
      [{ account: 'alice', side: 'sell', amountWh: 'lots', limitPrice: '1', interval: target }, 400, /body\/amountWh: must match pattern/],
      [{ account: 'alice', side: 'sell', amountWh: -3, limitPrice: '1', interval: target }, 400, /body\/amountWh: must be >= 1/],
      [{ account: 'alice', side: 'sell', amountWh: 5, limitPrice: '1', interval: target, owner: '0xabc' }, 400, /must NOT have additional properties/],
      [{ account: 'alice', side: 'sell', amountWh: '18446744073709551616', limitPrice: '1', interval: target }, 400, /amountWh must be at most 18446744073709551615/],
      [{ account: 'alice', side: 'sell', amountWh: 5, interval: target }, 400, /exactly one of limitPrice .* and limitPriceMc/],
      [{ account: 'alice', side: 'sell', amountWh: 5, limitPrice: '1', limitPriceMc: '1', interval: target }, 400, /exactly one of limitPrice/],
      [{ account: 'alice', side: 'sell', amountWh: 5, limitPriceMc: '1.0000000000000000001', interval: target }, 400, /limitPriceMc: must match pattern/],
      [{ account: 'mallory', side: 'sell', amountWh: 5, limitPrice: '1', interval: target }, 400, /account "mallory" is not one this market trades for/],
      [{ account: 'alice', side: 'sell', amountWh: 5, limitPrice: '1', interval: (open - 1n).toString() }, 400, /gate of interval \d+ is closed/],
      [{ account: 'erin', side: 'sell', amountWh: 5000, limitPrice: '1', interval: target }, 400, /chain refused the order: InsufficientEB/],
      ['{"account": "alice", "side": ', 400, /JSON/i],
    ];
    for (const [body, status, text] of cases) {
      const r = await call('POST', `${API}/orders`, operator, body);
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${JSON.stringify(r.json)}`);
      assert.match(r.json.error?.message ?? '', text, JSON.stringify(body));
    }
    const asViewer = await call('POST', `${API}/orders`, viewer, { account: 'alice', side: 'sell', amountWh: 5, limitPrice: '1', interval: target });
    assert.equal(asViewer.status, 403, 'a viewer cannot trade');
    assert.equal((await c.market.intervalState(open + 1n)).orderCount, ordersBefore, 'no order reached the chain');
    const placed = await s.provider().getLogs({ address: s.addresses.market, fromBlock: headBefore + 1, toBlock: 'latest', topics: [c.market.contract.interface.getEvent('OrderPlaced')!.topicHash] });
    assert.equal(placed.length, 0, 'no OrderPlaced event');
    assert.equal(await c.ledger.lockedOf(await (await s.account('erin')).getAddress()), 0n);
  });

  it('after a restart settles nothing twice and keeps settling new intervals', async () => {
    await instance?.stop();
    instance = undefined;
    await boot();
    const settledTopic = c.market.contract.interface.getEvent('IntervalSettled')!.topicHash;
    const settledLogs = async (): Promise<bigint[]> =>
      (await s.provider().getLogs({ address: s.addresses.market, fromBlock: 0, toBlock: 'latest', topics: [settledTopic] })).map((l) => BigInt(l.topics[1] as string));
    // a new interval's orders after the restart
    const open = BigInt((await call('GET', `${API}/intervals`, viewer)).json.nextOpen as string);
    const next = open + 1n;
    assert.equal((await call('POST', `${API}/orders`, operator, { account: 'alice', side: 'sell', amountWh: 500, limitPriceMc: '0.05', interval: next.toString() })).status, 200);
    assert.equal((await call('POST', `${API}/orders`, operator, { account: 'bob', side: 'buy', amountWh: 500, limitPriceMc: '0.07', interval: next.toString() })).status, 200);
    jumpTo(Number(next) * 300 + 1);
    await until('the new interval settled', async () => (await call('GET', `${API}/results/${next}`, viewer)).json.settled === true);
    // let a few more loop rounds run over the already-settled intervals
    const t = await chainTime();
    await until('more loop rounds', async () => (await chainTime()) >= t + 1);
    await new Promise((r) => setTimeout(r, 1000));
    const logs = await settledLogs();
    assert.deepEqual(logs.filter((i) => i === settledInterval), [settledInterval], 'the first interval was settled once');
    assert.deepEqual(logs.filter((i) => i === next), [next]);
    assert.equal(new Set(logs).size, logs.length, 'no interval settled twice');
    const r = (await call('GET', `${API}/results/${next}`, viewer)).json as unknown as SettlementResult;
    assert.equal(r.price, (6n * MC / 100n).toString());
    const health = (await call('GET', '/api/v1/health', viewer)).json as unknown as { plugins: { id: string; health: { state: string; reason?: string } }[] };
    assert.equal(health.plugins.find((p) => p.id === 'market.p2p')?.health.state, 'up', JSON.stringify(health.plugins));
    // published once per interval across the restart (durable bus)
    const got: BusMessage<SettlementResult>[] = [];
    const bus = instance!.kernel.bus;
    const sub = await bus.subscribe<SettlementResult>(topicName(bus.prefix, 'settlements'), { group: 'market-test-2', fromBeginning: true }, (batch) => void got.push(...batch));
    try {
      await until('both published', () => got.some((m) => m.value.interval === next.toString()));
    } finally {
      await sub.close();
    }
    assert.deepEqual(got.map((m) => m.value.interval), [settledInterval.toString(), next.toString()]);
  });
});

/** MC a buy order escrows at 0.1 % fee (EnergyMarket.buyEscrow). */
function escrowOf(amountWh: bigint, limit: bigint): bigint {
  const pay = (amountWh * limit + 999n) / 1000n;
  return pay + (pay * 10n) / 10_000n;
}
