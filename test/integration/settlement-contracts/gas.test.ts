/**
 * Gas figures of the hot paths (printed, and bounded so a regression fails): registering meters, attested
 * readings per reading (first and steady-state intervals), placing orders, and settlement per fill — with
 * 60 meters and 10 sellers + 10 buyers, each its own account (the machine is shared; a run with 200 meters
 * and 200 fills gave the same per-unit figures within a few %).
 */
import assert from 'node:assert/strict';
import { id as keccakId, type Wallet } from 'ethers';
import { EnergyMarketClient, EnergyLedgerClient, MeshCoinClient, attestReadings, meterIdOf, type Reading } from '../../../chain/contracts/client.ts';
import { CHAIN_ID, EB, MC, clear, startHarness, type Harness } from './helpers.ts';

const N = 60;
const HALF = 10; // sellers, and as many buyers

describe('settlement contracts: gas per reading, per order and per fill', function () {
  this.timeout(180_000);
  let h: Harness;
  const figures: string[] = [];
  let c: bigint;
  const meters = Array.from({ length: N }, (_, i) => meterIdOf('gas', `meter-${i}`));

  before(async () => {
    h = await startHarness({ extraAccounts: N });
  });

  after(async () => {
    if (figures.length > 0) console.log(`      gas: ${figures.join('; ')}`);
    await h?.stop();
  });

  function batch(interval: bigint, count: number): Reading[] {
    return meters.slice(0, count).map((meterId, i) => ({ meterId, interval, exportWh: i % 2 === 0 ? 500n : 0n, importWh: i % 2 === 0 ? 0n : 300n, flags: 0 }));
  }

  async function submit(readings: Reading[]): Promise<bigint> {
    const sigs = await attestReadings(h.oracles.slice(0, 2), CHAIN_ID, h.addresses.registry, readings);
    return (await h.as('submitter').registry.submitReadings(readings, sigs, { gasLimit: 15_000_000n })).gasUsed;
  }

  it('readings: one slot per reading, one ledger call per batch', async () => {
    const reg = h.as('submitter').registry;
    const r = await reg.registerMeters(meters, h.extra.map((w) => w.address), keccakId('area/gas'));
    figures.push(`registerMeters ${r.gasUsed / BigInt(N)}/meter`);
    c = BigInt(await h.now()) / 300n;
    const first = await submit(batch(c - 3n, N));
    const steady = await submit(batch(c - 2n, N));
    const small = await submit(batch(c - 1n, 20));
    const marginal = (steady - small) / BigInt(N - 20);
    figures.push(`reading ${first / BigInt(N)} (first interval, new ledger accounts), ${steady / BigInt(N)} steady, ${marginal} marginal, batch of ${N} = ${steady}`);
    assert.ok(steady / BigInt(N) < 60_000n, `steady gas per reading ${steady / BigInt(N)}`);
    // the effects: exporters minted 3 × 500 Wh; importers (no balance) ran 300 Wh of deficit per interval
    const ledger = h.as('alice').ledger;
    assert.equal(await ledger.balanceOf(h.extra[0]!.address), 1500n * 10n ** 15n);
    assert.equal(await ledger.deficitOf(h.extra[1]!.address), 900n * 10n ** 15n);
    assert.equal(await ledger.deficitOf(h.extra[N - 1]!.address), 600n * 10n ** 15n); // not in the 20-meter batch
  });

  it('orders and fills: one slot per order, EB and MC conserved', async () => {
    const sellers = h.extra.slice(0, HALF);
    const buyers = h.extra.slice(HALF, 2 * HALF);
    // sellers put 1 EB on their ledger balance; buyers get 100 MC and approve the market
    const deployerMc = h.as('deployer').meshCoin;
    const nonce = await h.wallets.deployer.getNonce('pending');
    const transfers = await Promise.all(buyers.map((b, i) => deployerMc.contract.getFunction('transfer').send(b.address, 100n * MC, { nonce: nonce + i, gasLimit: 100_000n })));
    await Promise.all(transfers.map((t: { wait(): Promise<unknown> }) => t.wait()));
    await Promise.all([
      ...sellers.map((s) => new EnergyLedgerClient(h.addresses.ledger, s).deposit(EB)),
      ...buyers.map((b) => new MeshCoinClient(h.addresses.meshCoin, b).approve(h.addresses.market, 2n ** 256n - 1n)),
    ]);
    const market = (w: Wallet): EnergyMarketClient => new EnergyMarketClient(h.addresses.market, w);
    const start = BigInt(await h.now()) / 300n + 1n;
    await h.advanceTo(Number(start * 300n));
    const i1 = start + 1n;
    const place = async (interval: bigint): Promise<{ sell: bigint; buy: bigint }> => {
      const sells = await Promise.all(sellers.map((s, i) => market(s).placeOrder(interval, true, 100n, 100n * 10n ** 15n + BigInt(i))));
      const buys = await Promise.all(buyers.map((b, i) => market(b).placeOrder(interval, false, 100n, 300n * 10n ** 15n - BigInt(i))));
      const avg = (xs: { receipt: { gasUsed: bigint } }[]): bigint => xs.reduce((a, x) => a + x.receipt.gasUsed, 0n) / BigInt(xs.length);
      return { sell: avg(sells), buy: avg(buys) };
    };
    const firstOrders = await place(i1);
    const steadyOrders = await place(i1 + 1n);
    figures.push(`placeOrder sell ${steadyOrders.sell} (${firstOrders.sell} first order of an account), buy ${steadyOrders.buy} (${firstOrders.buy} first)`);
    assert.ok(steadyOrders.sell < 120_000n && steadyOrders.buy < 150_000n);

    const settle = async (interval: bigint): Promise<bigint> => {
      await h.advanceTo(Number(interval * 300n));
      const { orders } = await h.as('submitter').market.ordersOf(interval);
      const { price, fills } = clear(orders);
      assert.equal(fills.length, 2 * HALF);
      const r = await h.as('submitter').market.settleInterval(interval, price, fills, { gasLimit: 15_000_000n });
      return r.gasUsed;
    };
    const ledger = h.as('alice').ledger;
    const ebBefore = await Promise.all(buyers.map((b) => ledger.balanceOf(b.address)));
    const holders = [...h.extra.map((w) => w.address), h.wallets.deployer.address, h.addresses.market, h.addresses.multisig];
    const mcSum = async (): Promise<bigint> => (await Promise.all(holders.map((a) => h.as('alice').meshCoin.balanceOf(a)))).reduce((x, y) => x + y, 0n);
    const mcBefore = await mcSum();
    const first = await settle(i1);
    const steady = await settle(i1 + 1n);
    const fills = BigInt(2 * HALF);
    figures.push(`settleInterval ${first / fills}/fill (first), ${steady / fills}/fill steady, ${fills} fills = ${steady}`);
    assert.ok(steady / fills < 60_000n, `gas per fill ${steady / fills}`);
    // conservation: every seller's 200 Wh went to the buyers; MC only moved between the traders and the treasury
    for (const [i, b] of buyers.entries()) assert.equal(await ledger.balanceOf(b.address), ebBefore[i]! + 200n * 10n ** 15n); // 2 × 100 Wh
    for (const s of sellers) assert.equal(await ledger.lockedOf(s.address), 0n);
    assert.equal(await mcSum(), mcBefore);
    // the buyers (meters 10–19) now consume 150 Wh each: burned from the EB they bought
    const burnedBefore = await ledger.totalBurned();
    await submit(meters.slice(HALF, 2 * HALF).map((meterId) => ({ meterId, interval: c, exportWh: 0n, importWh: 150n, flags: 0 })));
    assert.equal(await ledger.totalBurned(), burnedBefore + BigInt(HALF) * 150n * 10n ** 15n);
    // EB over mint, burn and trades: ledger holdings + reserve + burned = the 10,000 EB reserve + 10 deposits of 1 EB
    let held = 0n;
    for (const w of [...h.extra, ...Object.values(h.wallets)]) held += (await ledger.balanceOf(w.address)) + (await ledger.lockedOf(w.address));
    const burned = await ledger.totalBurned();
    assert.ok(burned > 0n && (await ledger.totalMinted()) > 0n);
    assert.equal(held + (await ledger.reserve()) + burned, 10_000n * EB + BigInt(HALF) * EB);
    assert.equal(held + (await ledger.reserve()), await h.provider.getBalance(h.addresses.ledger));
    assert.equal(await h.as('alice').meshCoin.balanceOf(h.addresses.market), 0n);
  });
});
