/**
 * EnergyMarket: orders with escrow, gate closure, the batch settlement's checks (each refusal by its custom
 * error), the uniform price recomputed from the on-chain orders, fees with the MC-holder discount, MC and EB
 * conservation, release of unfilled orders, empty settlement and expiry — exact balances throughout.
 */
import assert from 'node:assert/strict';
import { WEI_PER_WH, intervalOfOrder, type Fill } from '../../../chain/contracts/client.ts';
import { EB, MC, ceil1000, clear, expectRevert, startHarness, type Harness, type WalletName } from './helpers.ts';

describe('settlement contracts: EnergyMarket', function () {
  this.timeout(90_000);
  let h: Harness;
  let i1: bigint;
  let i2: bigint;
  let i3: bigint;
  const ids: Record<string, bigint> = {};
  const MAX = 2n ** 256n - 1n;

  async function mc(name: WalletName | string): Promise<bigint> {
    const address = name.startsWith('0x') ? name : h.wallets[name as WalletName].address;
    return h.as('alice').meshCoin.balanceOf(address);
  }

  /** Every MC holder of the test (the deployer holds the rest of the 100,000,000 but the vesting share). */
  async function mcTotal(): Promise<bigint> {
    let sum = 0n;
    for (const w of Object.values(h.wallets)) sum += await mc(w.address);
    for (const a of [h.addresses.market, h.addresses.multisig, h.addresses.teamVesting]) sum += await mc(a);
    return sum;
  }

  before(async () => {
    h = await startHarness();
    // start at an interval boundary so the next interval's gate is a full 300 s away
    const c = BigInt(await h.now()) / 300n + 1n;
    await h.advanceTo(Number(c * 300n));
    i1 = c + 1n;
    i2 = c + 2n;
    i3 = c + 3n;
    const deployerMc = h.as('deployer').meshCoin;
    await deployerMc.transfer(h.wallets.carol.address, 2_000n * MC); // ≥ 1,000 MC: discounted fee
    await deployerMc.transfer(h.wallets.dave.address, 500n * MC);
    await h.as('carol').meshCoin.approve(h.addresses.market, MAX);
    await h.as('dave').meshCoin.approve(h.addresses.market, MAX);
    await h.as('alice').ledger.deposit(5n * EB);
    await h.as('bob').ledger.deposit(3n * EB);
    await h.as('erin').ledger.deposit(1n * EB);
  });

  after(async () => {
    await h?.stop();
  });

  it('places orders with their escrow: sells lock ledger EB, buys escrow MC plus the (discounted) fee', async () => {
    const params = await h.as('alice').market.parameters();
    assert.deepEqual(params, { treasury: h.addresses.multisig, feeBps: 10, discountBps: 5000, discountThreshold: 1_000n * MC, gateClosureSeconds: 0, settlementDeadlineSeconds: 86_400 });
    ids.alice = (await h.as('alice').market.placeOrder(i1, true, 3000n, 100n * 10n ** 15n)).orderId;
    ids.bob = (await h.as('bob').market.placeOrder(i1, true, 2000n, 150n * 10n ** 15n)).orderId;
    ids.carol = (await h.as('carol').market.placeOrder(i1, false, 2500n, 200n * 10n ** 15n)).orderId;
    ids.dave = (await h.as('dave').market.placeOrder(i1, false, 2000n, 120n * 10n ** 15n + 3n)).orderId;
    ids.erin = (await h.as('erin').market.placeOrder(i1, true, 1000n, 300n * 10n ** 15n)).orderId;
    ids.dave2 = (await h.as('dave').market.placeOrder(i1, false, 500n, 50n * 10n ** 15n)).orderId;
    ids.other = (await h.as('alice').market.placeOrder(i2, true, 100n, 10n ** 15n)).orderId;
    assert.equal(ids.alice, i1 << 24n);
    assert.equal(ids.dave2, (i1 << 24n) | 5n);
    assert.equal(intervalOfOrder(ids.other!), i2);
    const { ledger, market } = h.as('alice');
    assert.equal(await ledger.lockedOf(h.wallets.alice.address), 3100n * WEI_PER_WH);
    assert.equal(await ledger.balanceOf(h.wallets.alice.address), 5n * EB - 3100n * WEI_PER_WH);
    // carol: ceil(2500 × 0.2 MC) = 500 MC... in wei, fee 5 bps (half of 10, she holds ≥ 1,000 MC)
    const carolEscrow = 500n * 10n ** 15n + (500n * 10n ** 15n * 5n) / 10_000n;
    assert.equal(await market.buyEscrow(2500n, 200n * 10n ** 15n, 5), carolEscrow);
    assert.equal(await mc('carol'), 2_000n * MC - carolEscrow);
    const dave1 = ceil1000(2000n * (120n * 10n ** 15n + 3n));
    const daveEscrow = dave1 + (dave1 * 10n) / 10_000n + 25n * 10n ** 15n + (25n * 10n ** 15n * 10n) / 10_000n;
    assert.equal(await mc('dave'), 500n * MC - daveEscrow);
    assert.equal(await mc(h.addresses.market), carolEscrow + daveEscrow);
    const o = await market.order(ids.carol!);
    assert.deepEqual(o, { orderId: ids.carol, owner: h.wallets.carol.address, interval: i1, isSell: false, amountWh: 2500n, limitPrice: 200n * 10n ** 15n, status: 'open' });
    assert.deepEqual(await market.orderIds(i1), [0n, 1n, 2n, 3n, 4n, 5n].map((s) => (i1 << 24n) | s));
  });

  it('refuses invalid orders, missing escrow, a closed gate and foreign cancels', async () => {
    const m = h.as('alice').market;
    await expectRevert(m.placeOrder(i1, true, 0n, 1n), 'InvalidOrder', ['zero amount']);
    await expectRevert(m.placeOrder(i1, true, 1n, 0n), 'InvalidOrder', ['zero price']);
    await expectRevert(m.placeOrder(i1 - 1n, true, 1n, 1n), 'GateClosed', [i1 - 1n]);
    await expectRevert(m.placeOrder(i1, true, 10_000n, 1n), 'InsufficientEB', [h.wallets.alice.address, 10_000n * WEI_PER_WH, 5n * EB - 3100n * WEI_PER_WH]);
    await expectRevert(h.as('erin').market.placeOrder(i1, false, 1000n, 10n ** 15n), 'InsufficientMC', [10n ** 15n + 10n ** 12n]);
    await expectRevert(h.as('bob').market.cancelOrder(ids.dave2!), 'NotOrderOwner', [ids.dave2]);
    const daveBefore = await mc('dave');
    await h.as('dave').market.cancelOrder(ids.dave2!);
    assert.equal(await mc('dave'), daveBefore + 25n * 10n ** 15n + 25n * 10n ** 12n);
    assert.equal((await h.as('dave').market.order(ids.dave2!)).status, 'cancelled');
    await expectRevert(h.as('dave').market.cancelOrder(ids.dave2!), 'OrderAlreadyCancelled', [ids.dave2]);
    await expectRevert(h.as('dave').market.cancelOrder((i1 << 24n) | 99n), 'UnknownOrder');
    await expectRevert(h.as('submitter').market.settleInterval(i1, 1n, []), 'GateNotClosed', [i1]);
  });

  it('clears from the on-chain orders; refuses every malformed batch; settles once with exact balances', async () => {
    const { market } = h.as('submitter');
    const { orders, cancelled } = await market.ordersOf(i1);
    assert.deepEqual(cancelled, [ids.dave2]);
    assert.equal(orders.length, 5);
    const { price, fills } = clear(orders);
    assert.equal(price, 110n * 10n ** 15n + 1n); // floor((120e15 + 3 + 100e15) / 2)
    assert.deepEqual(fills, [
      { orderId: ids.alice, amountWh: 3000n },
      { orderId: ids.carol, amountWh: 2500n },
      { orderId: ids.dave, amountWh: 500n },
    ]);
    await h.advanceTo(Number(i1 * 300n));
    await expectRevert(h.as('alice').market.placeOrder(i1, true, 1n, 1n), 'GateClosed', [i1]);
    await expectRevert(h.as('bob').market.cancelOrder(ids.bob!), 'GateClosed', [i1]);
    await expectRevert(h.as('alice').market.settleInterval(i1, price, fills), 'AccessControlUnauthorizedAccount');
    await expectRevert(market.releaseOrders([ids.bob!]), 'IntervalNotClosed', [i1]);

    const [fa, fc, fd] = fills as [Fill, Fill, Fill];
    const bad: [Fill[], bigint, string, unknown[]?][] = [
      [[{ ...fa, amountWh: 3001n }, fc, fd], price, 'FillExceedsOrder', [ids.alice, 3001n, 3000n]],
      [[fc, fa, fd], price, 'FillsNotAscending', []],
      [[fa, fc, fc], price, 'FillsNotAscending', []],
      [[fa, fc, fd, { orderId: ids.other!, amountWh: 1n }], price, 'OrderNotInInterval', [ids.other, i1]],
      [[fa, fc, fd, { orderId: ids.dave2!, amountWh: 1n }], price, 'OrderAlreadyCancelled', [ids.dave2]],
      [[fa, { orderId: ids.bob!, amountWh: 1n }, fc, fd], price, 'PriceBelowAsk', [ids.bob]],
      [fills, 120n * 10n ** 15n + 4n, 'PriceAboveBid', [ids.dave]],
      [[fa, fc], price, 'EnergyNotConserved', [3000n, 2500n]],
      [[fa, fc, { ...fd, amountWh: 0n }], price, 'ZeroFill', [ids.dave]],
      [[fa, fc, fd, { orderId: (i1 << 24n) | 77n, amountWh: 1n }], price, 'UnknownOrder', [(i1 << 24n) | 77n]],
    ];
    for (const [f, p, name, args] of bad) await expectRevert(market.settleInterval(i1, p, f), name, args);

    const mcBefore = await mcTotal();
    const treasuryBefore = await mc(h.addresses.multisig);
    const aliceMc = await mc('alice');
    const carolMc = await mc('carol');
    const daveMc = await mc('dave');
    const receipt = await market.settleInterval(i1, price, fills);
    await expectRevert(market.settleInterval(i1, price, fills), 'IntervalAlreadySettled', [i1]);

    // MC: buyers pay ceil(fill × price / 1000) + fee, sellers get floor(...), the dust and fees go to the treasury
    const carolPaid = ceil1000(2500n * price);
    const davePaid = ceil1000(500n * price);
    const aliceGot = (3000n * price) / 1000n;
    assert.equal(carolPaid, 275n * 10n ** 15n + 3n);
    assert.equal(davePaid, 55n * 10n ** 15n + 1n);
    assert.equal(aliceGot, 330n * 10n ** 15n + 3n);
    const carolFee = (carolPaid * 5n) / 10_000n;
    const daveFee = (davePaid * 10n) / 10_000n;
    const carolEscrow = 500n * 10n ** 15n + (500n * 10n ** 15n * 5n) / 10_000n;
    const dave1 = ceil1000(2000n * (120n * 10n ** 15n + 3n));
    const daveEscrow = dave1 + (dave1 * 10n) / 10_000n;
    assert.equal(await mc('alice'), aliceMc + aliceGot);
    assert.equal(await mc('carol'), carolMc + carolEscrow - carolPaid - carolFee);
    assert.equal(await mc('dave'), daveMc + daveEscrow - davePaid - daveFee);
    assert.equal(await mc(h.addresses.multisig), treasuryBefore + carolFee + daveFee + (carolPaid + davePaid - aliceGot));
    assert.equal(await mc(h.addresses.market), 0n);
    assert.equal(await mcTotal(), mcBefore);
    assert.deepEqual(
      market.fillsIn(receipt),
      [
        { orderId: ids.alice, amountWh: 3000n, mcAmount: aliceGot },
        { orderId: ids.carol, amountWh: 2500n, mcAmount: carolPaid },
        { orderId: ids.dave, amountWh: 500n, mcAmount: davePaid },
      ],
    );
    assert.deepEqual(await market.intervalState(i1), { orderCount: 6, status: 'settled', price, volumeWh: 3000n });
    // EB: from the seller's lock to the buyers' ledger balances
    const ledger = h.as('alice').ledger;
    assert.equal(await ledger.lockedOf(h.wallets.alice.address), 100n * WEI_PER_WH); // its interval-2 order
    assert.equal(await ledger.balanceOf(h.wallets.alice.address), 5n * EB - 3100n * WEI_PER_WH);
    assert.equal(await ledger.balanceOf(h.wallets.carol.address), 2500n * WEI_PER_WH);
    assert.equal(await ledger.balanceOf(h.wallets.dave.address), 500n * WEI_PER_WH);
    assert.equal((await market.order(ids.alice!)).status, 'none'); // closed by its fill
    // unfilled orders: escrow back by anyone, closed ones skipped, twice is harmless
    assert.equal(await ledger.lockedOf(h.wallets.bob.address), 2n * EB);
    await h.as('carol').market.releaseOrders([ids.alice!, ids.bob!, ids.erin!, ids.dave2!]);
    await h.as('carol').market.releaseOrders([ids.bob!]);
    assert.equal(await ledger.lockedOf(h.wallets.bob.address), 0n);
    assert.equal(await ledger.balanceOf(h.wallets.bob.address), 3n * EB);
    assert.equal(await ledger.balanceOf(h.wallets.erin.address), 1n * EB);
    assert.equal(await mc(h.addresses.market), 0n);
    // EB conserved: the ledger holds exactly the deposits (no reserve movement here but the 10,000 EB)
    let held = 0n;
    for (const w of Object.values(h.wallets)) held += (await ledger.balanceOf(w.address)) + (await ledger.lockedOf(w.address));
    assert.equal(held, 9n * EB);
    assert.equal(await h.provider.getBalance(h.addresses.ledger), held + (await ledger.reserve()));
  });

  it('settles an interval without crossing empty, and expires an unsettled one after the deadline', async () => {
    // interval 3: no crossing (bid below ask)
    const sell = (await h.as('bob').market.placeOrder(i3, true, 1000n, 500n * 10n ** 15n)).orderId;
    const buy = (await h.as('carol').market.placeOrder(i3, false, 1000n, 100n * 10n ** 15n)).orderId;
    const { orders } = await h.as('submitter').market.ordersOf(i3);
    assert.deepEqual(clear(orders), { price: 0n, fills: [] });
    const carolMc = await mc('carol');
    await expectRevert(h.as('alice').market.expireInterval(i2), 'SettlementWindowOpen', [i2]);
    await h.advanceTo(Number(i3 * 300n));
    await h.as('submitter').market.settleInterval(i3, 0n, []);
    assert.deepEqual(await h.as('bob').market.intervalState(i3), { orderCount: 2, status: 'settled', price: 0n, volumeWh: 0n });
    await h.as('bob').market.releaseOrders([sell, buy]);
    assert.equal(await mc('carol'), carolMc + 100n * 10n ** 15n + (100n * 10n ** 15n * 5n) / 10_000n);
    assert.equal(await h.as('bob').ledger.lockedOf(h.wallets.bob.address), 0n);

    // interval 2 was never settled: expirable by anyone a day after its gate closure
    await expectRevert(h.as('alice').market.expireInterval(i2), 'SettlementWindowOpen', [i2]);
    await h.advanceTo(Number(i2 * 300n) + 86_400);
    await h.as('erin').market.expireInterval(i2);
    await expectRevert(h.as('erin').market.expireInterval(i2), 'IntervalAlreadyExpired', [i2]);
    await expectRevert(h.as('submitter').market.settleInterval(i2, 1n, []), 'IntervalAlreadyExpired', [i2]);
    await h.as('erin').market.releaseOrders([ids.other!]);
    assert.equal(await h.as('alice').ledger.lockedOf(h.wallets.alice.address), 0n);
    assert.equal(await h.as('alice').ledger.balanceOf(h.wallets.alice.address), 2n * EB);
    assert.deepEqual((await h.as('alice').market.intervalState(i2)).status, 'expired');
  });
});
