/**
 * BalancingIncentives: operator-only dispatch, enrolment rules, baseline over the previous days from attested
 * readings, delivery up and down, rewards into ledger balances capped by the pool, and reclaim — exact.
 * 30-minute intervals (48 a day), baselineDays 2.
 */
import assert from 'node:assert/strict';
import { id as keccakId } from 'ethers';
import { attestReadings, meterIdOf, type Reading } from '../../../chain/contracts/client.ts';
import { CHAIN_ID, EB, expectRevert, startHarness, type Harness } from './helpers.ts';

const AREA = keccakId('area/feeder-7');
const OTHER_AREA = keccakId('area/feeder-9');
const PER_DAY = 48n;

describe('settlement contracts: BalancingIncentives', function () {
  this.timeout(90_000);
  let h: Harness;
  let c: bigint; // the first interval not ended at the start
  let w: bigint; // the event window: [w, w + 2)
  let up: bigint;
  let down: bigint;
  const mA = meterIdOf('feeder-7', 'pv-a');
  const mB = meterIdOf('feeder-7', 'house-b');
  const mC = meterIdOf('feeder-9', 'house-c');
  const mD = meterIdOf('feeder-7', 'house-d');

  async function submit(readings: Reading[]): Promise<void> {
    const sigs = await attestReadings(h.oracles.slice(0, 2), CHAIN_ID, h.addresses.registry, readings);
    await h.as('submitter').registry.submitReadings(readings, sigs);
  }

  /** Readings of a meter over [from, to] with `special` values and zeros (flagged incomplete) elsewhere. */
  function series(meterId: string, from: bigint, to: bigint, special: Map<bigint, [bigint, bigint]>): Reading[] {
    const out: Reading[] = [];
    for (let i = from; i <= to; i++) {
      const v = special.get(i);
      out.push({ meterId, interval: i, exportWh: v?.[0] ?? 0n, importWh: v?.[1] ?? 0n, flags: v === undefined ? 2 : 0 });
    }
    return out;
  }

  before(async () => {
    h = await startHarness({ intervalSeconds: 1800, baselineDays: 2 });
    c = BigInt(await h.now()) / 1800n + 1n;
    await h.advanceTo(Number(c * 1800n));
    w = c + 1n;
    const reg = h.as('submitter').registry;
    await reg.registerMeter(mA, h.wallets.alice.address, AREA);
    await reg.registerMeter(mB, h.wallets.bob.address, AREA);
    await reg.registerMeter(mC, h.wallets.carol.address, OTHER_AREA);
    await reg.registerMeter(mD, h.wallets.dave.address, AREA);
    // history: A has two days (export 1000/800 and 500/300 at the window's intervals), B only yesterday
    const histA = new Map<bigint, [bigint, bigint]>([
      [w - PER_DAY, [1000n, 200n]],
      [w - 2n * PER_DAY, [800n, 400n]],
      [w + 1n - PER_DAY, [500n, 0n]],
      [w + 1n - 2n * PER_DAY, [300n, 100n]],
    ]);
    const histB = new Map<bigint, [bigint, bigint]>([
      [w - PER_DAY, [0n, 1000n]],
      [w + 1n - PER_DAY, [0n, 900n]],
    ]);
    await submit([...series(mA, w - 2n * PER_DAY, c - 1n, histA), ...series(mB, w - PER_DAY, c - 1n, histB)]);
  });

  after(async () => {
    await h?.stop();
  });

  it('lets only an operator publish an event, with a valid window, deadline and pool', async () => {
    const deadline = c * 1800n + 600n;
    const ev = { area: AREA, startInterval: w, endInterval: w + 2n, direction: 'up' as const, targetKw: 50n, rewardPerKwh: EB / 2n, enrolmentDeadline: deadline, poolWei: (6n * EB) / 10n };
    await expectRevert(h.as('alice').incentives.createEvent(ev), 'AccessControlUnauthorizedAccount');
    const op = h.as('operator').incentives;
    await expectRevert(op.createEvent({ ...ev, endInterval: w }), 'InvalidEvent', ['window']);
    await expectRevert(op.createEvent({ ...ev, endInterval: w + 289n }), 'InvalidEvent', ['window']);
    await expectRevert(op.createEvent({ ...ev, enrolmentDeadline: BigInt(await h.now()) - 1n }), 'InvalidEvent', ['enrolment deadline']);
    await expectRevert(op.createEvent({ ...ev, enrolmentDeadline: w * 1800n + 1n }), 'InvalidEvent', ['enrolment deadline']);
    await expectRevert(op.createEvent({ ...ev, poolWei: 0n }), 'InvalidEvent', ['pool']);
    await expectRevert(op.createEvent({ ...ev, rewardPerKwh: 0n }), 'InvalidEvent', ['reward']);
    up = (await op.createEvent(ev)).eventId;
    down = (await op.createEvent({ ...ev, direction: 'down', rewardPerKwh: EB, poolWei: EB })).eventId;
    assert.deepEqual(await op.eventOf(up), {
      eventId: up,
      area: AREA,
      startInterval: w,
      endInterval: w + 2n,
      enrolmentDeadline: deadline,
      targetKw: 50n,
      operator: h.wallets.operator.address,
      direction: 'up',
      baselineDays: 2,
      rewardPerKwh: EB / 2n,
      pool: (6n * EB) / 10n,
    });
    assert.equal(await h.provider.getBalance(h.addresses.incentives), (16n * EB) / 10n);
    await expectRevert(op.eventOf(99n), 'UnknownEvent', [99n]);
  });

  it('enrols meters of the area by their owner or an operator, once, before the deadline', async () => {
    await expectRevert(h.as('carol').incentives.enrol(up, mA), 'NotMeterOwner', [mA]);
    await expectRevert(h.as('carol').incentives.enrol(up, mC), 'WrongArea', [mC, OTHER_AREA]);
    await expectRevert(h.as('alice').incentives.enrol(up, meterIdOf('x', 'y')), 'UnknownMeter', [meterIdOf('x', 'y')]);
    await expectRevert(h.as('alice').incentives.enrol(42n, mA), 'UnknownEvent', [42n]);
    await h.as('alice').incentives.enrol(up, mA);
    await h.as('operator').incentives.enrol(up, mB); // on the owner's behalf
    await h.as('bob').incentives.enrol(down, mB);
    await h.as('dave').incentives.enrol(up, mD);
    await expectRevert(h.as('alice').incentives.enrol(up, mA), 'AlreadyEnrolled', [up, mA]);
    assert.equal(await h.as('alice').incentives.enrolment(up, mA), 'enrolled');
    assert.equal(await h.as('alice').incentives.enrolment(down, mA), 'none');
    await expectRevert(h.as('alice').incentives.settleMeter(up, mA), 'WindowNotEnded', [up]);
    await h.advanceTo(Number(c * 1800n + 601n));
    await expectRevert(h.as('alice').incentives.enrol(down, mA), 'EnrolmentClosed', [down]);
  });

  it('measures delivery against the baseline and pays rewards into ledger balances, capped by the pool', async () => {
    await h.advanceTo(Number((w + 2n) * 1800n));
    // the window's readings (and the interval before it)
    await submit([
      ...series(mA, c, w + 1n, new Map([[w, [1500n, 100n]], [w + 1n, [400n, 0n]]])),
      ...series(mB, c, w + 1n, new Map([[w, [0n, 400n]], [w + 1n, [0n, 1200n]]])),
    ]);
    const registry = h.as('alice').registry;
    // baseline: A at w = avg(1000, 800) export, avg(200, 400) import; B at w has one day only
    const inc = h.as('erin').incentives;
    // A up: (1500 − 900) + (300 − 100) = 800, then (400 − 400) + (50 − 0) = 50
    assert.equal(await inc.deliveryOf(up, mA), 850n);
    // B up: (0 − 0) + (1000 − 400) = 600, then 900 − 1200 < 0 → 0; B down: 0, then 300
    assert.equal(await inc.deliveryOf(up, mB), 600n);
    assert.equal(await inc.deliveryOf(down, mB), 300n);
    assert.equal((await registry.readingOf(mB, w - 2n * PER_DAY)), undefined);

    const ledger = h.as('alice').ledger;
    const aliceBefore = await ledger.balanceOf(h.wallets.alice.address);
    const bobBefore = await ledger.balanceOf(h.wallets.bob.address);
    const a = await inc.settleMeter(up, mA); // anyone may settle
    assert.equal(a.deliveredWh, 850n);
    assert.equal(a.rewardWei, (850n * (EB / 2n)) / 1000n); // 0.425 EB
    assert.equal(await ledger.balanceOf(h.wallets.alice.address), aliceBefore + (425n * EB) / 1000n);
    await expectRevert(inc.settleMeter(up, mA), 'AlreadySettled', [up, mA]);
    await expectRevert(inc.settleMeter(up, mC), 'NotEnrolled', [up, mC]);
    await expectRevert(inc.settleMeter(up, mD), 'MissingReading', [mD, w]);
    // B's 600 Wh would earn 0.3 EB; 0.175 EB is left in the pool
    await inc.settle(up, [mB]);
    assert.equal(await ledger.balanceOf(h.wallets.bob.address), bobBefore + (175n * EB) / 1000n);
    assert.equal((await inc.eventOf(up)).pool, 0n);
    const d = await inc.settleMeter(down, mB);
    assert.equal(d.deliveredWh, 300n);
    assert.equal(d.rewardWei, (3n * EB) / 10n);
    assert.equal(await ledger.balanceOf(h.wallets.bob.address), bobBefore + (175n * EB) / 1000n + (3n * EB) / 10n);
    assert.equal((await inc.eventOf(down)).pool, (7n * EB) / 10n);
    assert.equal(await h.provider.getBalance(h.addresses.incentives), (7n * EB) / 10n);
  });

  it('returns the rest of the pool to the event operator a day after the window', async () => {
    const op = h.as('operator').incentives;
    await expectRevert(h.as('alice').incentives.reclaim(down), 'NotEventOperator', [down]);
    const at = (w + 2n) * 1800n + 86_400n;
    await expectRevert(op.reclaim(down), 'ReclaimTooEarly', [down, at]);
    await h.advanceTo(Number(at));
    const before = await h.provider.getBalance(h.wallets.operator.address);
    const r = await op.reclaim(down);
    assert.equal(await h.provider.getBalance(h.wallets.operator.address), before + (7n * EB) / 10n - r.gasUsed * r.gasPrice);
    assert.equal(await h.provider.getBalance(h.addresses.incentives), 0n);
    await expectRevert(op.reclaim(down), 'NothingToReclaim', [down]);
    await expectRevert(op.reclaim(up), 'NothingToReclaim', [up]);
  });
});
