import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { isEnergyMeshError, type ErrorCode } from '../../core/errors.ts';
import { silentLogger } from '../../core/logging/logger.ts';
import type { ComplianceTrade } from '../../core/compliance/compliance-module.ts';
import type { TradeCheck } from '../../core/compliance/compliance-manager.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { MarketEngine, mcToWei, parseUint, type MarketEngineOptions, type SettlementResult } from './market-engine.ts';
import { MemoryMarketChain } from './memory-market-chain.ts';
import { evaluatePolicy, type DerPolicy } from './der-policy.ts';

const ADMIN = { id: 'tok1', name: 'ops', role: 'operator' };
const MC = 10n ** 18n;

function wallets(): (name: string) => Promise<Wallet> {
  const made = new Map<string, Wallet>();
  return (name) => {
    let w = made.get(name);
    if (!w) {
      w = Wallet.createRandom() as unknown as Wallet;
      made.set(name, w);
    }
    return Promise.resolve(w);
  };
}

interface Harness {
  engine: MarketEngine;
  chain: MemoryMarketChain;
  published: SettlementResult[];
  health: { state: string; reason?: string };
  trades: ComplianceTrade[];
  make(extra?: Partial<MarketEngineOptions>): MarketEngine;
}

describe('market engine (in-memory chain)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'em-market-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function harness(options: { reject?: string; flag?: string; policies?: DerPolicy[]; latest?: Map<string, TelemetryRecord> } = {}): Harness {
    const chain = new MemoryMarketChain(300, 1_800_000_010); // 10 s into interval 6,000,000
    const published: SettlementResult[] = [];
    const health = { state: 'up' } as { state: string; reason?: string };
    const trades: ComplianceTrade[] = [];
    const account = wallets();
    const make = (extra: Partial<MarketEngineOptions> = {}): MarketEngine =>
      new MarketEngine({
        chain,
        settler: Wallet.createRandom() as unknown as Wallet,
        account,
        accounts: ['alice', 'bob', 'carol'],
        checkTrade: (trade): TradeCheck => {
          trades.push(trade);
          const verdicts: TradeCheck['verdicts'] = [];
          if (options.reject) verdicts.push({ module: 'gb-elexon', action: 'reject', reason: options.reject });
          if (options.flag) verdicts.push({ module: 'eu-gdpr', action: 'flag', reason: options.flag });
          return { trade, accepted: !options.reject, verdicts };
        },
        latestValue: (d, p) => options.latest?.get(`${d}/${p}`),
        publish: (r) => {
          published.push(r);
          return Promise.resolve();
        },
        health: {
          up: () => {
            health.state = 'up';
            delete health.reason;
          },
          degraded: (reason) => {
            health.state = 'degraded';
            health.reason = reason;
          },
          current: () => health,
        },
        logger: silentLogger(),
        dataDir: dir,
        ...(options.policies ? { policies: options.policies } : {}),
        now: () => chain.time * 1000,
        ...extra,
      });
    return { engine: make(), chain, published, health, trades, make };
  }

  async function expectError(p: Promise<unknown>, code: ErrorCode, text: RegExp): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(isEnergyMeshError(e, code), `expected ${code}, got ${String(e)}`);
      assert.match(e.message, text);
      return true;
    });
  }

  it('parses amounts and MC prices exactly', () => {
    assert.equal(mcToWei('0.25'), 250_000_000_000_000_000n);
    assert.equal(mcToWei('12'), 12n * MC);
    assert.equal(mcToWei('0.000000000000000001'), 1n);
    assert.throws(() => mcToWei('1e3'), /at most 18 decimals/);
    assert.throws(() => mcToWei('0.0000000000000000001'), /at most 18 decimals/);
    assert.equal(parseUint('18446744073709551615', 'amountWh', (1n << 64n) - 1n), (1n << 64n) - 1n);
    assert.throws(() => parseUint('18446744073709551616', 'amountWh', (1n << 64n) - 1n), /amountWh must be at most 18446744073709551615/);
    assert.throws(() => parseUint(1.5, 'amountWh', 10n), /amountWh must be an integer/);
    assert.throws(() => parseUint('-1', 'amountWh', 10n), /amountWh must be a decimal integer/);
    assert.throws(() => parseUint(0, 'amountWh', 10n), /amountWh must be at least 1/);
  });

  it('places orders for the next open interval, clears and settles at gate closure, publishes once', async () => {
    const h = harness();
    const next = 6_000_001n;
    const a = await h.engine.placeOrder({ account: 'alice', side: 'sell', amountWh: 2000, limitPriceMc: '0.10' }, ADMIN);
    const b = await h.engine.placeOrder({ account: 'bob', side: 'buy', amountWh: '1500', limitPrice: (20n * MC / 100n).toString() }, ADMIN);
    await h.engine.placeOrder({ account: 'carol', side: 'buy', amountWh: 1000, limitPriceMc: '0.05' }, ADMIN);
    assert.equal(a.interval, next.toString());
    assert.equal(b.status, 'open');
    // compliance saw the order as a trade on settlement-interval boundaries, priced per MWh
    assert.equal(h.trades[0]?.deliveryStart, Number(next) * 300_000);
    assert.equal(h.trades[0]?.price, 100); // 0.10 MC/kWh = 100 MC/MWh
    assert.equal(h.trades[0]?.seller, a.owner);

    await h.engine.tick();
    assert.deepEqual(h.chain.settleCalls, [], 'nothing settles before gate closure');
    h.chain.time = Number(next) * 300; // delivery starts: the gate (0 s) closes
    await h.engine.tick();
    assert.deepEqual(h.chain.settleCalls, [next]);
    assert.equal(h.health.state, 'up');
    const r = await h.engine.result(next);
    assert.ok(r);
    assert.equal(r.volumeWh, '1500');
    assert.equal(r.price, (15n * MC / 100n).toString()); // (0.20 + 0.10) / 2
    assert.deepEqual(r.fills.map((f) => [f.orderId, f.side, f.amountWh, f.mcAmount]), [
      ['0', 'sell', '1500', (225n * MC / 1000n).toString()],
      ['1', 'buy', '1500', (225n * MC / 1000n).toString()],
    ]);
    assert.deepEqual(h.published.map((p) => p.interval), [next.toString()]);
    const orders = await h.engine.orders({ interval: next });
    assert.deepEqual(orders.map((o) => [o.orderId, o.status, o.filledWh, o.account]).sort(), [
      ['0', 'partially-filled', '1500', 'alice'],
      ['1', 'filled', '1500', 'bob'],
      ['2', 'unfilled', '0', 'carol'],
    ]);
    assert.deepEqual(h.chain.intervalEvents(next).released, [2n], "the unfilled buy's escrow is released after settlement");
    const v = await h.engine.verify(next);
    assert.equal(v.ok, true, v.problems.join('; '));

    // a second tick and a restarted engine neither settle nor publish again
    await h.engine.tick();
    const again = h.make();
    await again.tick();
    assert.deepEqual(h.chain.settleCalls, [next]);
    assert.deepEqual(h.published.map((p) => p.interval), [next.toString()]);
    assert.equal((await again.orders({ interval: next })).find((o) => o.orderId === '0')?.source, 'api:tok1', 'order metadata kept across restarts');
  });

  it('refuses malformed orders with a specific message and places nothing', async () => {
    const h = harness();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ account: 'mallory', side: 'sell', amountWh: 1, limitPrice: '1' }, /account "mallory" is not one this market trades for/],
      [{ account: 'alice', side: 'hold', amountWh: 1, limitPrice: '1' }, /side must be buy or sell/],
      [{ account: 'alice', side: 'sell', amountWh: 0, limitPrice: '1' }, /amountWh must be at least 1/],
      [{ account: 'alice', side: 'sell', amountWh: '18446744073709551616', limitPrice: '1' }, /amountWh must be at most/],
      [{ account: 'alice', side: 'sell', amountWh: 1 }, /exactly one of limitPrice .* and limitPriceMc/],
      [{ account: 'alice', side: 'sell', amountWh: 1, limitPrice: '1', limitPriceMc: '1' }, /exactly one of limitPrice/],
      [{ account: 'alice', side: 'sell', amountWh: 1, limitPriceMc: '0' }, /limitPriceMc must be above 0/],
      [{ account: 'alice', side: 'sell', amountWh: 1, limitPrice: (1n << 128n).toString() }, /limitPrice must be at most/],
      [{ account: 'alice', side: 'sell', amountWh: 1, limitPrice: '1', interval: 6_000_000 }, /gate of interval 6000000 is closed.*next open interval is 6000001/],
      [{ account: 'alice', side: 'sell', amountWh: 1, limitPrice: '1', interval: 7_000_000 }, /more than 96 intervals ahead/],
    ];
    for (const [body, text] of cases) await expectError(h.engine.placeOrder(body as never, ADMIN), 'INVALID_ARGUMENT', text);
    assert.deepEqual(h.chain.intervalsWithOrders(), [], 'nothing reached the chain');
    assert.deepEqual(await h.engine.orders(), []);
  });

  it('refuses an order compliance rejects, naming the module and reason; flags are reported', async () => {
    const h = harness({ reject: 'price-above-cap' });
    await expectError(h.engine.placeOrder({ account: 'alice', side: 'sell', amountWh: 5, limitPrice: '7' }, ADMIN), 'COMPLIANCE_VIOLATION', /gb-elexon: price-above-cap/);
    assert.deepEqual(h.chain.intervalsWithOrders(), []);
    const f = harness({ flag: 'personal-data' });
    const placed = await f.engine.placeOrder({ account: 'alice', side: 'sell', amountWh: 5, limitPrice: '7' }, ADMIN);
    assert.deepEqual(placed.complianceFlags, ['eu-gdpr: personal-data']);
  });

  it('degrades with the reason when the chain refuses a settlement and recovers at the next tick', async () => {
    const h = harness();
    await h.engine.placeOrder({ account: 'alice', side: 'sell', amountWh: 10, limitPrice: '5' }, ADMIN);
    h.chain.time += 300;
    h.chain.failNextSettle = 'Paused()';
    await h.engine.tick();
    assert.equal(h.health.state, 'degraded');
    assert.match(h.health.reason ?? '', /settlement of interval 6000001 refused: .*Paused\(\)/);
    assert.equal(h.published.length, 0);
    await h.engine.tick();
    assert.equal(h.health.state, 'up');
    assert.equal(h.published.length, 1);
    assert.equal(h.published[0]?.volumeWh, '0', 'an interval with nothing crossing is still settled, empty');
  });

  it('refuses to submit a settlement that cannot fit one transaction or one block, saying why', async () => {
    const h = harness();
    const small = h.make({ maxFillsPerSettlement: 3 });
    for (const [account, side] of [['alice', 'sell'], ['bob', 'buy'], ['carol', 'buy']] as const) await small.placeOrder({ account, side, amountWh: 10, limitPrice: '5' }, ADMIN);
    await small.placeOrder({ account: 'alice', side: 'sell', amountWh: 10, limitPrice: '5' }, ADMIN);
    h.chain.time += 300;
    await small.tick();
    assert.equal(h.health.state, 'degraded');
    assert.match(h.health.reason ?? '', /clears 4 fills; one settleInterval transaction carries at most 3/);
    assert.deepEqual(h.chain.settleCalls, [], 'nothing sent');
    h.chain.gasLimit = 200_000n;
    await h.make().tick();
    assert.match(h.health.reason ?? '', /about 310000 gas, above the block gas limit 200000: raise gasLimit/);
    h.chain.gasLimit = 30_000_000n;
    await h.make().tick();
    assert.equal(h.health.state, 'up');
    assert.deepEqual(h.chain.settleCalls, [6_000_001n]);
  });

  it('cancels an order before gate closure; cancelled orders take no part', async () => {
    const h = harness();
    const s = await h.engine.placeOrder({ account: 'alice', side: 'sell', amountWh: 10, limitPrice: '5' }, ADMIN);
    await h.engine.placeOrder({ account: 'bob', side: 'buy', amountWh: 10, limitPrice: '9' }, ADMIN);
    await h.engine.cancelOrder(s.orderId, ADMIN);
    await expectError(h.engine.cancelOrder('99', ADMIN), 'INVALID_ARGUMENT', /order 99 was not placed through this market service/);
    h.chain.time += 300;
    await h.engine.tick();
    assert.equal(h.published[0]?.volumeWh, '0');
    await expectError(h.engine.cancelOrder(s.orderId, ADMIN), 'INVALID_ARGUMENT', /chain refused the cancel: GateClosed/);
  });

  it('places policy orders once per interval from the latest values', async () => {
    const rec = (value: number, ts: number, status: 'good' | 'invalid' = 'good'): TelemetryRecord => ({ deviceId: 'bess-1', pointId: 'x', ts, receivedAt: ts, value, quality: { status, flags: [] }, protocol: 'sim', seq: 1 });
    const latest = new Map<string, TelemetryRecord>();
    const policy: DerPolicy = { id: 'bess', account: 'carol', deviceId: 'bess-1', sell: { point: 'W', aboveKw: 2, limitPrice: '100' }, buy: { point: 'SoC', belowPct: 20, amountWh: 800, limitPrice: '300' } };
    const h = harness({ policies: [policy], latest });
    const now = h.chain.time * 1000;
    latest.set('bess-1/W', rec(5000, now)); // 5 kW: 3 kW above 2 kW for 5 min = 250 Wh
    latest.set('bess-1/SoC', rec(50, now));
    await h.engine.tick();
    await h.engine.tick();
    const orders = await h.engine.orders();
    assert.deepEqual(orders.map((o) => [o.side, o.amountWh, o.limitPrice, o.source, o.account]), [['sell', '250', '100', 'policy:bess', 'carol']]);
    latest.set('bess-1/SoC', rec(10, now));
    h.chain.time += 300;
    await h.engine.tick();
    const next = await h.engine.orders({ interval: 6_000_002n });
    assert.deepEqual(next.map((o) => o.side).sort(), ['buy', 'sell']);
  });

  it('policy evaluation skips stale, bad-quality and missing values', () => {
    const policy: DerPolicy = { id: 'pv', account: 'a', deviceId: 'pv-1', sell: { point: 'P', unit: 'kW', aboveKw: 1, limitPrice: '1', maxWh: 100 } };
    const at = 1_000_000;
    const r = (value: number, ts: number, status: 'good' | 'uncertain' = 'good'): TelemetryRecord => ({ deviceId: 'pv-1', pointId: 'P', ts, receivedAt: ts, value, quality: { status, flags: [] }, protocol: 'sim', seq: 1 });
    assert.deepEqual(evaluatePolicy(policy, () => undefined, at, 300), [{ skip: 'no value of pv-1/P' }]);
    assert.deepEqual(evaluatePolicy(policy, () => r(5, at, 'uncertain'), at, 300), [{ skip: 'pv-1/P is uncertain' }]);
    assert.deepEqual(evaluatePolicy(policy, () => r(5, at - 601_000), at, 300), [{ skip: 'pv-1/P is 601 s old' }]);
    assert.match(JSON.stringify(evaluatePolicy(policy, () => r(0.5, at), at, 300)), /not above 1 kW/);
    const capped = evaluatePolicy(policy, () => r(5, at), at, 300)[0];
    assert.ok(capped && 'order' in capped);
    assert.equal(capped.order.amountWh, 100n, 'capped by maxWh');
  });
});
