import assert from 'node:assert/strict';
import { clear, paymentFor } from './clearing.ts';
import { liveOrders, verifyInterval, type IntervalEvents, type PlacedEvent } from './recompute.ts';
import { randomBook, SeededRandom } from './test-orders.ts';

function placed(id: number, isSell: boolean, amountWh: number, limitPrice: bigint, interval = 7n): PlacedEvent {
  return { orderId: BigInt(id), interval, owner: `0x${String(id).padStart(40, '0')}`, isSell, amountWh: BigInt(amountWh), limitPrice };
}

/** A settlement exactly as the clearing says. */
function honest(events: Omit<IntervalEvents, 'settled' | 'filled'>): IntervalEvents {
  const live = liveOrders({ ...events, filled: [] });
  const r = clear(live);
  const side = new Map(live.map((o) => [o.id, o.side]));
  return {
    ...events,
    settled: { interval: events.interval, price: r.price, volumeWh: r.volumeWh, fillCount: BigInt(r.fills.length) },
    filled: r.fills.map((f) => ({ orderId: f.orderId, amountWh: f.amountWh, mcAmount: paymentFor(f.amountWh, r.price, side.get(f.orderId)) })),
  };
}

describe('market recomputation from chain events', () => {
  const base = { interval: 7n, placed: [placed(1, false, 1000, 100n), placed(2, true, 600, 80n), placed(3, true, 600, 90n), placed(4, false, 300, 95n), placed(5, true, 100, 50n, 8n)], cancelled: [4n] };

  it('ignores cancelled orders and other intervals', () => {
    assert.deepEqual(liveOrders({ ...base, filled: [] }).map((o) => o.id), [1n, 2n, 3n]);
  });

  it('accepts an honest settlement', () => {
    const v = verifyInterval(honest(base));
    assert.equal(v.ok, true, v.problems.join('; '));
    assert.deepEqual(v.problems, []);
    assert.equal(v.expected.volumeWh, 1000n);
    // bid #1 1000 Wh @100 takes ask #2 600 @80 then 400 of ask #3 @90: price (100 + 90) / 2
    assert.equal(v.expected.price, 95n);
    assert.deepEqual(v.expected.fills.map((f) => [f.orderId, f.amountWh]), [[1n, 1000n], [2n, 600n], [3n, 400n]]);
  });

  it('reports every difference', () => {
    const h = honest(base);
    const tampered: IntervalEvents = {
      ...h,
      settled: { ...(h.settled as NonNullable<IntervalEvents['settled']>), price: 94n },
      filled: [...h.filled.map((f) => (f.orderId === 3n ? { ...f, amountWh: f.amountWh + 1n } : f)), { orderId: 4n, amountWh: 1n, mcAmount: 0n }],
    };
    const v = verifyInterval(tampered);
    assert.equal(v.ok, false);
    assert.ok(v.problems.some((p) => p === 'price: settled 94, recomputed 95'), v.problems.join('; '));
    assert.ok(v.problems.some((p) => /^order 3: settled fill \d+ Wh, recomputed \d+ Wh$/.test(p)), v.problems.join('; '));
    assert.ok(v.problems.includes('order 4: settled fill 1 Wh, recomputed none'), v.problems.join('; '));
    const missing = verifyInterval({ ...h, filled: h.filled.slice(1) });
    assert.ok(missing.problems.some((p) => /recomputed fill .* settled none/.test(p)));
  });

  it('says when the interval is not settled', () => {
    const v = verifyInterval({ ...base, filled: [] });
    assert.equal(v.ok, false);
    assert.equal(v.settled, false);
    assert.deepEqual(v.problems, ['interval 7 is not settled']);
  });

  it('agrees with honest settlements of random books and catches a one-Wh change', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = new SeededRandom(seed);
      const book = randomBook(rnd);
      const events = honest({ interval: 3n, placed: book.map((o) => ({ orderId: o.id, interval: 3n, owner: '0x0', isSell: o.side === 'sell', amountWh: o.amountWh, limitPrice: o.limitPrice })), cancelled: [] });
      assert.equal(verifyInterval(events).ok, true, `seed ${seed}`);
      if (events.filled.length > 0) {
        const k = rnd.int(0, events.filled.length - 1);
        const bad = { ...events, filled: events.filled.map((f, i) => (i === k ? { ...f, amountWh: f.amountWh - 1n } : f)) };
        assert.equal(verifyInterval(bad).ok, false, `seed ${seed}: tampered fill not caught`);
      }
    }
  });
});
