/**
 * End to end on the settlement layer (issue 7, "Tests → End to end"): the real kernel in this process with
 * simulated SunSpec devices (simulator.modbus: a PV inverter, a battery, two household meters behind one
 * gateway, one with rooftop PV) read by the real Modbus driver, the embedded EMPoS chain, the settlement
 * contracts, the metering oracle, the P2P market (API orders and a DER policy) and dispatch.
 *
 *  (a) telemetry → oracle → readings attested on chain: EB minted/burned per meter equal to the attested Wh
 *      (the import of a household without EB becomes a deficit); an interval's API orders
 *      cleared and settled on chain, equal to an independent recomputation from the chain's events, MC
 *      conserved, the result on `<prefix>.settlements`;
 *  (b) a balancing event published through the API (operator token) → the setpoints reach the simulated
 *      battery (read back through the driver) → the battery's metered export in the window is attested →
 *      the payout on chain = delivered Wh × reward / 1000; every account's ledger EB equals what its events
 *      (minted − burned + deposited − sold + bought) say.
 *
 * Time: the contracts read `block.timestamp`, which the embedded chain takes from `Date.now()`; the test
 * moves this process's `Date.now` forward (never back) instead of waiting for 5-minute intervals (the
 * simulator integrates its counters over the jumped time, the oracle integrates power across it with a
 * one-hour `maxGapSeconds`). Nothing asserts wall-clock time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from 'ethers';
import { inlineConfig, type JsonObject } from '../../core/config/config-file.ts';
import { startInstance, type Instance } from '../../core/instance.ts';
import { topicName, type BusMessage } from '../../core/bus/bus.ts';
import { SettlementServiceKey, type SettlementService } from '../../plugins/settlement/settlement-api.ts';
import { settlementClients, type SettlementClients } from '../../chain/contracts/client.ts';
import type { ModbusSimulatorLifecycle } from '../../plugins/simulator-modbus/simulator-lifecycle.ts';
import type { Battery } from '../../protocols/modbus/simulator/simulated-devices.ts';
import { verifyFromRpc } from '../../plugins/market/cli.ts';
import type { SettlementResult } from '../../plugins/market/market-engine.ts';
import { freePort } from '../support/ports.ts';

const L = 300_000; // interval length, ms
const CUTOFF_S = 20;
const WH = 10n ** 15n;
const EB = 10n ** 18n;
const MC = 10n ** 18n;
const MARKET = '/api/v1/plugins/market.p2p';
const DISPATCH = '/api/v1/plugins/dispatch.incentives';
const ACCOUNTS = ['house-1', 'house-2', 'pv-1', 'battery-1'] as const;
const METERS = ['house-1', 'house-2', 'pv-1', 'battery-1'] as const;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 45_000, diagnose?: () => Promise<unknown>): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) {
      // what the pipeline looked like when it stopped (a CI failure leaves no other trace)
      const state = diagnose === undefined ? '' : `\n${JSON.stringify(await diagnose().catch((e: unknown) => String(e)), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
      assert.fail(`timed out waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Json {
  status: number;
  json: Record<string, unknown> & { error?: { code: string; message: string } };
}

describe('settlement end to end: simulated devices → oracle → chain → market → dispatch', function () {
  this.timeout(240_000);
  const realNow = Date.now;
  let offsetMs = 0;
  let dir = '';
  let instance: Instance | undefined;
  let url = '';
  let s: SettlementService;
  let c: SettlementClients;
  const tokens = { admin: '', operator: '', viewer: '' };
  const owners = new Map<string, string>();
  let I0 = 0;
  let marketInterval = 0n;

  const call = async (method: string, path: string, token: string, body?: unknown): Promise<Json> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Json['json'] };
  };

  /** Moves this process's clock (and so the chain's block time) to `ms` or later. */
  function jumpTo(ms: number): void {
    const delta = ms - Date.now();
    if (delta > 0) offsetMs += delta;
  }

  async function events(contract: SettlementClients[keyof SettlementClients], name: string): Promise<EventLog[]> {
    const logs = await contract.contract.queryFilter(contract.contract.getEvent(name), 0, 'latest');
    return logs.filter((l): l is EventLog => 'args' in l);
  }

  /** ReadingAccepted events of one meter: interval → [exportWh, importWh]. */
  async function readingsOf(meter: string): Promise<Map<bigint, [bigint, bigint]>> {
    const id = s.meterId(meter);
    const out = new Map<bigint, [bigint, bigint]>();
    for (const e of await events(c.registry, 'ReadingAccepted')) {
      if (e.args[0] === id) out.set(e.args[1] as bigint, [e.args[2] as bigint, e.args[3] as bigint]);
    }
    return out;
  }

  /** Oracle status, plugin health, chain head and the meters' latest samples (for a timeout's message). */
  async function diagnose(): Promise<unknown> {
    const k = instance!.kernel;
    const head = await s.provider().getBlock('latest');
    return {
      now: new Date(Date.now()).toISOString(),
      head: { number: head?.number, timestamp: head === null ? null : new Date(head.timestamp * 1000).toISOString() },
      plugins: k.plugins.map((p) => ({ id: p.id, ...p.health.current() })),
      oracle: (await call('GET', '/api/v1/plugins/metering.oracle/status', tokens.admin)).json,
      lastInterval: Object.fromEntries(await Promise.all(METERS.map(async (m) => [m, (await c.registry.lastInterval(s.meterId(m)))?.toString() ?? null]))),
      samples: Object.fromEntries(
        [['house-1', 'ac_meter.TotWhImp'], ['house-2', 'ac_meter.TotWhImp'], ['pv-1', 'inverter.W'], ['battery-1', 'battery.W']].map(([d, p]) => [`${d}/${p}`, k.latest.get(d!, p!)]),
      ),
    };
  }

  async function attested(meter: string, interval: number): Promise<boolean> {
    const last = await c.registry.lastInterval(s.meterId(meter));
    return last !== undefined && last >= BigInt(interval);
  }

  before(async () => {
    Date.now = () => realNow() + offsetMs;
    dir = mkdtempSync(join(tmpdir(), 'em-e2e-settlement-'));
    const [pvPort, batPort, gwPort] = [await freePort(), await freePort(), await freePort()];
    const modbus = (id: string, port: number, unitId?: number): JsonObject => ({
      id,
      transport: { type: 'tcp', host: '127.0.0.1', port },
      ...(unitId === undefined ? {} : { unitId }),
      sunspec: { enabled: true },
      pollGroups: [{ name: 'fast', intervalMs: 250 }],
    });
    const meter = (deviceId: string): JsonObject => ({ deviceId, area: 'e2e-feeder', import: { pointId: 'ac_meter.TotWhImp', unit: 'Wh' }, export: { pointId: 'ac_meter.TotWhExp', unit: 'Wh' } });
    instance = await startInstance(
      inlineConfig(
        {
          dataDir: dir,
          site: { id: 'e2e' },
          api: { port: 0 },
          plugins: [
            {
              id: 'simulator.modbus',
              config: {
                tickMs: 200,
                devices: [
                  { id: 'SIM-PV-1', kind: 'pv', port: pvPort, ratedW: 8000, dayLengthS: 86_400 },
                  { id: 'SIM-BAT-1', kind: 'battery', port: batPort, ratedW: 5000, capacityWh: 13_500, initialSoc: 40 },
                  { id: 'SIM-HOUSE-1', kind: 'meter', port: gwPort, unitId: 1, dayLengthS: 3600, ratedW: 9000 },
                  { id: 'SIM-HOUSE-2', kind: 'meter', port: gwPort, unitId: 2, dayLengthS: 3600 },
                ],
              },
            },
            { id: 'protocol.modbus', config: { devices: [modbus('pv-1', pvPort), modbus('battery-1', batPort), modbus('house-1', gwPort, 1), modbus('house-2', gwPort, 2)] } },
            { id: 'chain.empos', config: { blockTimeMs: 200, rpc: { port: 0 } } },
            { id: 'settlement.contracts', config: { intervalMinutes: 5, reserveEb: 1000, accountEb: 5, accountMc: 500 } },
            {
              id: 'metering.oracle',
              config: {
                cutoffSeconds: CUTOFF_S,
                tickMs: 100,
                maxGapSeconds: 3600,
                registerMeters: true,
                meters: [
                  meter('house-1'),
                  meter('house-2'),
                  { deviceId: 'pv-1', area: 'e2e-feeder', power: { pointId: 'inverter.W', unit: 'W', positive: 'export' } },
                  { deviceId: 'battery-1', area: 'e2e-feeder', power: { pointId: 'battery.W', unit: 'W', positive: 'export' } },
                ],
              },
            },
            {
              id: 'market.p2p',
              config: {
                accounts: [...ACCOUNTS],
                loop: { pollMs: 200 },
                // the battery (40 % charged) tops up through the market: a buy order for every open interval
                policies: [{ id: 'battery-top-up', account: 'battery-1', deviceId: 'battery-1', buy: { point: 'storage.ChaState', belowPct: 90, amountWh: 300, limitPrice: '150000000000000000' } }],
              },
            },
            { id: 'dispatch.incentives', config: { tickMs: 100, meters: [{ deviceId: 'battery-1', power: { pointId: 'battery.W', unit: 'W', positive: 'export' } }] } },
          ],
        },
        dir,
      ),
      { defaultMetrics: false, stepTimeoutMs: 120_000 },
    );
    url = instance.url ?? '';
    s = instance.kernel.services.get(SettlementServiceKey);
    c = settlementClients(s.addresses, s.provider());
    tokens.admin = instance.initialAdminToken?.token ?? '';
    for (const role of ['operator', 'viewer'] as const) {
      tokens[role] = (await call('POST', '/api/v1/tokens', tokens.admin, { name: `e2e ${role}`, role })).json.token as string;
    }
    for (const a of ACCOUNTS) owners.set(a, await (await s.account(a)).getAddress());
  });

  after(async () => {
    try {
      await instance?.stop();
    } finally {
      Date.now = realNow;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const t0 = performance.now();
  const mark = (what: string): void => {
    if (process.env.E2E_TRACE) console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s ${what}`);
  };

  it('(a) attests the simulated meters on chain, mints and burns EB to the Wh, and clears and settles an interval of API orders', async () => {
    mark('started');
    const k = instance!.kernel;
    for (const id of ['protocol.modbus', 'metering.oracle', 'market.p2p', 'dispatch.incentives']) {
      assert.equal(k.plugins.find((p) => p.id === id)?.health.current().state, 'up', id);
    }
    await until('devices polled', () => ['house-1', 'house-2'].every((d) => k.latest.get(d, 'ac_meter.TotWhImp') !== undefined) && k.latest.get('pv-1', 'inverter.W') !== undefined && k.latest.get('battery-1', 'storage.ChaState') !== undefined);
    for (const m of METERS) assert.equal(await c.registry.meterOwner(s.meterId(m)), owners.get(m), `${m} registered to its account`);
    // the oracle starts a meter at the interval of the first sample it consumes: before the clock jumps over
    // this interval's end, every meter must have one (the API's latest values can be ahead of the oracle)
    await until(
      'the oracle has a sample of every meter',
      async () => ((await call('GET', '/api/v1/plugins/metering.oracle/status', tokens.admin)).json.meters as { nextInterval: number | null }[]).every((m) => m.nextInterval !== null),
      45_000,
      diagnose,
    );
    mark('oracle has every meter');

    // the current interval ends and its cut-off passes: every meter gets its reading on chain
    I0 = Math.floor(Date.now() / L);
    jumpTo((I0 + 1) * L + 2000);
    await new Promise((r) => setTimeout(r, 1500)); // a few polls after the boundary
    jumpTo((I0 + 1) * L + (CUTOFF_S + 2) * 1000);
    mark('jumped to I0 cut-off');
    await until(`interval ${I0} attested for every meter`, async () => (await Promise.all(METERS.map((m) => attested(m, I0)))).every(Boolean), 45_000, diagnose);

    mark('I0 attested');
    // EB per meter equals its attested Wh: Minted/Burned events keyed by keccak(meterId, interval)
    const minted = await events(c.ledger, 'Minted');
    const burned = await events(c.ledger, 'Burned');
    for (const m of METERS) {
      const rs = await readingsOf(m);
      assert.ok(rs.size >= 1, `${m} has readings`);
      const expExport = [...rs.values()].reduce((t, [e]) => t + e * WH, 0n);
      const expImport = [...rs.values()].reduce((t, [, i]) => t + i * WH, 0n);
      const owner = owners.get(m)!;
      const mine = minted.filter((e) => e.args[0] === owner).reduce((t, e) => t + (e.args[1] as bigint), 0n);
      const gone = burned.filter((e) => e.args[0] === owner).reduce((t, e) => t + (e.args[1] as bigint) + (e.args[2] as bigint), 0n);
      assert.equal(mine, expExport, `${m}: EB minted = Σ exportWh × 1e15`);
      assert.equal(gone, expImport, `${m}: EB burned + deficit = Σ importWh × 1e15`);
      assert.equal(await c.ledger.balanceOf(owner), mine - burned.filter((e) => e.args[0] === owner).reduce((t, e) => t + (e.args[1] as bigint), 0n), `${m}: ledger = minted − burned`);
      for (const [interval, [e, i]] of rs) {
        const r = await c.registry.readingOf(s.meterId(m), interval);
        assert.deepEqual([r?.exportWh, r?.importWh], [e, i], `${m}@${interval} stored as attested`);
      }
    }
    // house-2 has no PV: it only imports, had no EB → everything it imported is owed to the utility
    const h2 = await readingsOf('house-2');
    const h2Import = [...h2.values()].reduce((t, [, i]) => t + i, 0n);
    assert.equal([...h2.values()].reduce((t, [e]) => t + e, 0n), 0n, 'house-2 exported nothing');
    assert.equal(await c.ledger.deficitOf(owners.get('house-2')!), h2Import * WH, 'house-2 deficit = its import');
    assert.equal(await c.ledger.balanceOf(owners.get('house-2')!), 0n, 'never a negative balance');

    // --- the market: the next open interval, orders through the API
    const clock = (await call('GET', `${MARKET}/intervals`, tokens.viewer)).json;
    marketInterval = BigInt(clock.nextOpen as string);
    assert.equal(marketInterval, BigInt(I0 + 2));
    const mcAccounts = [...owners.values(), s.addresses.multisig, s.addresses.market];
    const mcTotal = async (): Promise<bigint> => (await Promise.all(mcAccounts.map((a) => c.meshCoin.balanceOf(a)))).reduce((t, x) => t + x, 0n);
    const mcBefore = await mcTotal();
    // the seller: whichever producer holds the most minted EB (its export attested above)
    const producers = await Promise.all((['house-1', 'pv-1'] as const).map(async (a) => ({ a, eb: await c.ledger.balanceOf(owners.get(a)!) })));
    const seller = producers.reduce((x, y) => (y.eb > x.eb ? y : x));
    const sellWh = seller.eb / WH > 800n ? 800n : seller.eb / WH;
    assert.ok(sellWh > 0n, `a producer has minted EB to sell (${JSON.stringify(producers.map((p) => [p.a, p.eb.toString()]))})`);
    const orders: Json[] = [
      await call('POST', `${MARKET}/orders`, tokens.operator, { account: seller.a, side: 'sell', amountWh: sellWh.toString(), limitPriceMc: '0.10', interval: marketInterval.toString() }),
      await call('POST', `${MARKET}/orders`, tokens.operator, { account: 'house-2', side: 'buy', amountWh: 1000, limitPriceMc: '0.20', interval: marketInterval.toString() }),
    ];
    for (const o of orders) assert.equal(o.status, 200, JSON.stringify(o.json));
    assert.equal(await c.ledger.lockedOf(owners.get(seller.a)!), sellWh * WH, 'the sell locked its EB');
    // the DER policy placed the battery's buy order for an open interval by itself
    let policyOrder: { source?: string; interval: string } | undefined;
    await until('the battery policy order on chain', async () => {
      const listed = (await call('GET', `${MARKET}/orders?account=battery-1`, tokens.viewer)).json as unknown as { source?: string; interval: string }[];
      policyOrder = listed.find((o) => o.source === 'policy:battery-top-up');
      return policyOrder !== undefined;
    });
    assert.ok(policyOrder !== undefined && BigInt(policyOrder.interval) >= marketInterval - 1n, 'for an interval that was open');
    mark('orders placed');
    // gate closure: the service clears, settles, publishes and releases
    jumpTo(Number(marketInterval) * L + 1000);
    await until('interval settled', async () => (await c.market.intervalState(marketInterval)).status === 'settled');
    mark('settled');
    const book = await c.market.ordersOf(marketInterval);
    await until('unfilled escrow released', async () => (await Promise.all(book.orders.map((o) => c.market.order(o.orderId)))).every((o) => o.status === 'none'));
    const state = await c.market.intervalState(marketInterval);
    const sold = book.orders.filter((o) => o.isSell).reduce((t, o) => t + o.amountWh, 0n);
    const bid = book.orders.filter((o) => !o.isSell).reduce((t, o) => t + o.amountWh, 0n);
    assert.ok(state.volumeWh <= sold && state.volumeWh <= bid);
    assert.ok(state.volumeWh >= sellWh, `${seller.a} sold all it offered to bids above its ask`);
    assert.ok(state.price >= 10n * MC / 100n && state.price <= 20n * MC / 100n, 'price between the ask and the bid');
    // independent recomputation straight from JSON-RPC (plugins/market/recompute.ts) equals the settlement
    const v = await verifyFromRpc(k.chainConnectors[0]!.rpcUrl(), s.addresses.market, marketInterval);
    assert.equal(v.ok, true, v.problems.join('; '));
    assert.equal(v.expected.price, state.price);
    assert.equal(await mcTotal(), mcBefore, 'MC conserved (accounts + treasury + escrow)');
    // what stays in escrow is the battery policy's buys for intervals still open: 300 Wh at ≤ 0.15 MC/kWh = 0.045 MC
    // plus the 0.1 % maximum fee each
    const stillOpen = ((await call('GET', `${MARKET}/orders?account=battery-1`, tokens.viewer)).json as unknown as { source?: string; status: string }[]).filter(
      (o) => o.source === 'policy:battery-top-up' && o.status === 'open',
    );
    assert.equal(await c.meshCoin.balanceOf(s.addresses.market), BigInt(stillOpen.length) * 45_045_000_000_000_000n, 'no MC left in escrow but the open orders');
    // the result on <prefix>.settlements
    const got: BusMessage<SettlementResult>[] = [];
    const sub = await k.bus.subscribe<SettlementResult>(topicName(k.bus.prefix, 'settlements'), { group: 'e2e-settlement', fromBeginning: true }, (batch) => void got.push(...batch));
    try {
      await until('settlement published', () => got.some((m) => m.value.interval === marketInterval.toString()));
    } finally {
      await sub.close();
    }
    const msg = got.find((m) => m.value.interval === marketInterval.toString())!;
    assert.equal(msg.key, `interval-${marketInterval}`);
    assert.deepEqual([msg.value.price, msg.value.volumeWh], [state.price.toString(), state.volumeWh.toString()]);
  });

  it('(b) dispatches a balancing event to the battery, attests its delivery and pays delivered Wh × rate on chain', async () => {
    assert.ok(marketInterval > 0n, 'runs after (a)');
    const k = instance!.kernel;
    const sim = (k.plugins.find((p) => p.id === 'simulator.modbus')?.lifecycle[0] as ModbusSimulatorLifecycle).running!;
    const battery = sim.device<Battery>('SIM-BAT-1');
    assert.equal(battery.image?.getRaw('storage', 'StorCtl_Mod'), 0);
    const W = Number(marketInterval) + 1; // the window: the next interval, > 4 minutes of chain time ahead
    const reward = EB / 2n; // 0.5 EB per kWh
    const body = {
      area: 'e2e-feeder',
      start: new Date(W * L).toISOString(),
      end: new Date((W + 1) * L).toISOString(),
      direction: 'up',
      targetKw: 4,
      rewardEbPerKwh: '0.5',
      poolEb: '10',
      reason: 'e2e peak',
      meters: [{ meter: 'battery-1', setpoints: [{ deviceId: 'battery-1', pointId: 'storage.OutWRte', value: 80 }, { deviceId: 'battery-1', pointId: 'storage.StorCtl_Mod', value: 2 }] }],
    };
    assert.equal((await call('POST', `${DISPATCH}/events`, tokens.viewer, body)).status, 403, 'a viewer cannot dispatch');
    const res = await call('POST', `${DISPATCH}/events`, tokens.operator, body);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const eventId = BigInt(res.json.id as number);
    const onChain = await c.incentives.eventOf(eventId);
    assert.deepEqual([onChain.startInterval, onChain.endInterval, onChain.direction, onChain.rewardPerKwh, onChain.pool], [BigInt(W), BigInt(W + 1), 'up', reward, 10n * EB]);
    const meterId = s.meterId('battery-1');
    assert.equal(await c.incentives.enrolment(eventId, meterId), 'enrolled');

    // the window starts: the setpoints go through the driver to the battery, and the driver reads them back
    jumpTo(W * L + 1000);
    await until('setpoints in the battery', () => battery.image?.getRaw('storage', 'StorCtl_Mod') === 2 && battery.image?.get('storage', 'OutWRte') === 80);
    await until('setpoints read back by the driver', () => k.latest.get('battery-1', 'storage.StorCtl_Mod')?.value === 2 && k.latest.get('battery-1', 'storage.OutWRte')?.value === 80);
    await until('battery discharging 4 kW', () => k.latest.get('battery-1', 'battery.W')?.value === 4000);

    mark('window active');
    // half-way through the window, a sample at 4 kW: the oracle integrates power between samples less than
    // maxGap (300 s = L) apart, so one jump over the whole window could leave it uncovered
    jumpTo(W * L + L / 2);
    await until('a 4 kW sample half-way through the window', () => {
      const w = k.latest.get('battery-1', 'battery.W');
      return w !== undefined && w.ts >= W * L + L / 2 && w.value === 4000;
    });
    // the window ends (setpoints restored), its readings become final and are attested; dispatch settles
    jumpTo((W + 1) * L + 1000);
    await until('setpoints restored', () => battery.image?.getRaw('storage', 'StorCtl_Mod') === 0 && battery.image?.get('storage', 'OutWRte') === 100);
    jumpTo((W + 1) * L + (CUTOFF_S + 2) * 1000);
    await until('event settled on chain', async () => (await c.incentives.enrolment(eventId, meterId)) === 'settled', 60_000);

    mark('event settled');
    const r = await c.registry.readingOf(meterId, BigInt(W));
    assert.ok(r, 'the window reading is attested');
    const delivered = r.exportWh > r.importWh ? r.exportWh - r.importWh : 0n; // up, baseline 0 (no history)
    assert.ok(delivered > 0n, `the battery delivered energy in the window (${r.exportWh} Wh exported)`);
    const settledEv = (await events(c.incentives, 'DeliverySettled')).find((e) => e.args[0] === eventId && e.args[1] === meterId);
    assert.ok(settledEv, 'DeliverySettled emitted');
    assert.equal(settledEv.args[2], delivered, 'delivered Wh from the attested reading');
    assert.equal(settledEv.args[3], (delivered * reward) / 1000n, 'payout = delivered Wh × rate');
    assert.equal((await c.incentives.eventOf(eventId)).pool, 10n * EB - (delivered * reward) / 1000n);

    // every account's ledger EB is accounted for by its on-chain events
    const minted = await events(c.ledger, 'Minted');
    const burned = await events(c.ledger, 'Burned');
    const deposited = await events(c.ledger, 'Deposited');
    const fills = await events(c.market, 'Filled');
    const placed = await events(c.market, 'OrderPlaced');
    const orderOf = new Map(placed.map((e) => [e.args[0] as bigint, { owner: e.args[2] as string, isSell: e.args[3] as boolean }]));
    for (const [name, a] of owners) {
      const sum = (xs: EventLog[], who: number, amount: number): bigint => xs.filter((e) => e.args[who] === a).reduce((t, e) => t + (e.args[amount] as bigint), 0n);
      let traded = 0n;
      for (const f of fills) {
        const o = orderOf.get(f.args[0] as bigint);
        if (o?.owner === a) traded += (o.isSell ? -1n : 1n) * (f.args[1] as bigint) * WH;
      }
      const expected = sum(minted, 0, 1) - sum(burned, 0, 1) + sum(deposited, 0, 2) + traded;
      assert.equal((await c.ledger.balanceOf(a)) + (await c.ledger.lockedOf(a)), expected, `${name}: ledger = minted − burned + deposited ± traded`);
    }
    await until('dispatch reports the event settled', async () => (await call('GET', `${DISPATCH}/events/${eventId}`, tokens.viewer)).json.status === 'settled');
  });
});
