import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../core/errors.ts';
import { clear, paymentFor, UINT64_MAX, type ClearingOrder, type ClearingResult } from './clearing.ts';
import { randomBook, SeededRandom } from './test-orders.ts';

const MC = 10n ** 18n;
const o = (id: number, side: 'buy' | 'sell', amountWh: number, limitPrice: bigint): ClearingOrder => ({ id: BigInt(id), side, amountWh: BigInt(amountWh), limitPrice });
const fills = (r: ClearingResult): [number, number][] => r.fills.map((f) => [Number(f.orderId), Number(f.amountWh)]);

/** Highest volume any uniform price allows, by brute force over every limit price. */
function bestVolume(book: readonly ClearingOrder[]): bigint {
  let best = 0n;
  for (const p of new Set(book.map((x) => x.limitPrice))) {
    const d = book.filter((x) => x.side === 'buy' && x.limitPrice >= p).reduce((s, x) => s + x.amountWh, 0n);
    const s = book.filter((x) => x.side === 'sell' && x.limitPrice <= p).reduce((t, x) => t + x.amountWh, 0n);
    const v = d < s ? d : s;
    if (v > best) best = v;
  }
  return best;
}

/** True when `a` comes before `b` in its book. */
function ahead(a: ClearingOrder, b: ClearingOrder): boolean {
  if (a.limitPrice !== b.limitPrice) return a.side === 'buy' ? a.limitPrice > b.limitPrice : a.limitPrice < b.limitPrice;
  return a.id < b.id;
}

function checkProperties(book: readonly ClearingOrder[], r: ClearingResult, seed: number): void {
  const ctx = `seed ${seed}`;
  const byId = new Map(book.map((x) => [x.id, x]));
  const fillOf = new Map(r.fills.map((f) => [f.orderId, f.amountWh]));
  let sold = 0n;
  let bought = 0n;
  for (const [i, f] of r.fills.entries()) {
    const ord = byId.get(f.orderId);
    assert.ok(ord, `${ctx}: fill for unknown order ${f.orderId}`);
    assert.ok(f.amountWh > 0n, `${ctx}: zero fill listed`);
    assert.ok(f.amountWh <= ord.amountWh, `${ctx}: fill above its order ${f.orderId}`);
    if (i > 0) assert.ok((r.fills[i - 1] as { orderId: bigint }).orderId < f.orderId, `${ctx}: fills ascending by id`);
    if (ord.side === 'sell') {
      sold += f.amountWh;
      assert.ok(ord.limitPrice <= r.price, `${ctx}: sell ${ord.id} filled below its limit`);
    } else {
      bought += f.amountWh;
      assert.ok(ord.limitPrice >= r.price, `${ctx}: buy ${ord.id} filled above its limit`);
    }
  }
  assert.equal(sold, bought, `${ctx}: EB conservation`);
  assert.equal(sold, r.volumeWh, `${ctx}: volume`);
  assert.equal(r.volumeWh, bestVolume(book), `${ctx}: maximal matched volume`);
  if (r.volumeWh === 0n) {
    assert.equal(r.price, 0n);
    assert.equal(r.marginalBid, undefined);
  } else {
    const mb = byId.get(r.marginalBid as bigint) as ClearingOrder;
    const ma = byId.get(r.marginalAsk as bigint) as ClearingOrder;
    assert.ok(ma.limitPrice <= r.price && r.price <= mb.limitPrice, `${ctx}: price between the marginal ask and bid`);
    assert.equal(r.price, (mb.limitPrice + ma.limitPrice) / 2n, `${ctx}: midpoint (floor)`);
  }
  // priority: an order ahead of one with a fill is filled completely (ties by lower id)
  for (const a of book) {
    for (const b of book) {
      if (a.side !== b.side || !ahead(a, b) || (fillOf.get(b.id) ?? 0n) === 0n) continue;
      assert.equal(fillOf.get(a.id), a.amountWh, `${ctx}: ${a.side} ${a.id} is ahead of ${b.id} but not filled completely`);
    }
  }
  // at most one partial fill per side (the marginal order)
  for (const side of ['buy', 'sell'] as const) {
    const partial = r.fills.filter((f) => byId.get(f.orderId)?.side === side && f.amountWh < (byId.get(f.orderId) as ClearingOrder).amountWh);
    assert.ok(partial.length <= 1, `${ctx}: ${partial.length} partial ${side} fills`);
  }
}

describe('market clearing (uniform-price double auction)', () => {
  describe('worked examples', () => {
    it('crossing books: volume, midpoint price, marginal partial fill', () => {
      // bids: #1 3000 Wh @ 0.30, #2 2000 Wh @ 0.25, #5 1000 Wh @ 0.10
      // asks: #3 2500 Wh @ 0.12, #4 4000 Wh @ 0.22
      // walk: (#1,#3) 2500 → (#1,#4) 500 → (#2,#4) 2000 → #5 0.10 < #4 0.22 stops
      const r = clear([o(1, 'buy', 3000, 30n * MC / 100n), o(2, 'buy', 2000, 25n * MC / 100n), o(3, 'sell', 2500, 12n * MC / 100n), o(4, 'sell', 4000, 22n * MC / 100n), o(5, 'buy', 1000, 10n * MC / 100n)]);
      assert.equal(r.volumeWh, 5000n);
      assert.equal(r.price, (25n * MC / 100n + 22n * MC / 100n) / 2n); // 0.235 MC/kWh
      assert.equal(r.price, 235_000_000_000_000_000n);
      assert.deepEqual(fills(r), [[1, 3000], [2, 2000], [3, 2500], [4, 2500]]);
      assert.equal(r.marginalBid, 2n);
      assert.equal(r.marginalAsk, 4n);
      // buyer #1 pays 3000 Wh × 0.235 MC/kWh = 0.705 MC
      assert.equal(paymentFor(3000n, r.price), 705_000_000_000_000_000n);
    });

    it('no crossing: no fills, price 0', () => {
      const r = clear([o(1, 'buy', 100, 10n), o(2, 'sell', 100, 11n)]);
      assert.deepEqual(r, { price: 0n, volumeWh: 0n, fills: [] });
      assert.deepEqual(clear([]), { price: 0n, volumeWh: 0n, fills: [] });
      assert.deepEqual(clear([o(1, 'sell', 5, 1n)]), { price: 0n, volumeWh: 0n, fills: [] });
    });

    it('ties at the same price go to the lower order id', () => {
      const r = clear([o(9, 'sell', 600, 100n), o(4, 'sell', 600, 100n), o(7, 'buy', 1000, 200n)]);
      assert.deepEqual(fills(r), [[4, 600], [7, 1000], [9, 400]]);
      assert.equal(r.price, 150n);
      const b = clear([o(8, 'buy', 600, 100n), o(3, 'buy', 600, 100n), o(5, 'sell', 700, 50n)]);
      assert.deepEqual(fills(b), [[3, 600], [5, 700], [8, 100]]);
      assert.equal(b.price, 75n);
    });

    it('price is the floor of the midpoint and equal limits give that limit', () => {
      assert.equal(clear([o(1, 'buy', 10, 7n), o(2, 'sell', 10, 4n)]).price, 5n);
      assert.equal(clear([o(1, 'buy', 10, 5n), o(2, 'sell', 10, 5n)]).price, 5n);
    });

    it('sellers receive floor(amountWh × price / 1000), buyers pay the ceiling', () => {
      assert.equal(paymentFor(1n, 999n), 0n);
      assert.equal(paymentFor(1n, 999n, 'sell'), 0n);
      assert.equal(paymentFor(1n, 999n, 'buy'), 1n);
      assert.equal(paymentFor(2n, 500n, 'buy'), 1n);
      assert.equal(paymentFor(1500n, 200n * MC / 1000n), 300_000_000_000_000_000n); // 1.5 kWh at 0.2 MC
    });

    it('handles uint64 amounts without overflow', () => {
      const r = clear([o(1, 'buy', 0, 3n), o(2, 'sell', 0, 1n)].map((x) => ({ ...x, amountWh: UINT64_MAX })));
      assert.equal(r.volumeWh, UINT64_MAX);
      assert.equal(r.price, 2n);
    });

    it('refuses malformed orders naming the order and field', () => {
      const expectBad = (orders: ClearingOrder[], text: RegExp): void =>
        assert.throws(() => clear(orders), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT') && text.test(e.message));
      expectBad([o(1, 'buy', 0, 5n)], /order 1: amountWh/);
      expectBad([o(1, 'buy', 5, 0n)], /order 1: limitPrice/);
      expectBad([{ ...o(1, 'buy', 5, 1n), amountWh: UINT64_MAX + 1n }], /amountWh/);
      expectBad([o(1, 'buy', 5, 1n), o(1, 'sell', 5, 1n)], /order 1 appears twice/);
      expectBad([{ ...o(2, 'buy', 5, 1n), side: 'hold' as 'buy' }], /order 2: side/);
    });
  });

  describe('properties (seeded random books)', () => {
    it('hold for 3,000 random books', () => {
      for (let seed = 1; seed <= 3000; seed++) {
        const rnd = new SeededRandom(seed);
        const book = randomBook(rnd, seed % 5 === 0 ? { priceLevels: 2 } : {});
        checkProperties(book, clear(book), seed);
      }
    });

    it('are deterministic: the order of the input is irrelevant', () => {
      for (let seed = 1; seed <= 500; seed++) {
        const rnd = new SeededRandom(seed);
        const book = randomBook(rnd, { priceLevels: 3 });
        const a = clear(book);
        const b = clear(rnd.shuffle(book));
        const c = clear([...book].reverse());
        assert.deepEqual(b, a, `seed ${seed}`);
        assert.deepEqual(c, a, `seed ${seed}`);
      }
    });

    it('hold for large books with huge amounts', () => {
      for (let seed = 1; seed <= 20; seed++) {
        const rnd = new SeededRandom(10_000 + seed);
        const book = randomBook(rnd, { orders: 400, maxAmountWh: UINT64_MAX / 1000n, priceLevels: 30 });
        checkProperties(book, clear(book), 10_000 + seed);
      }
    });

    it('the generator is reproducible from its seed', () => {
      assert.deepEqual(randomBook(new SeededRandom(42)), randomBook(new SeededRandom(42)));
      assert.notDeepEqual(randomBook(new SeededRandom(42)), randomBook(new SeededRandom(43)));
    });
  });
});
