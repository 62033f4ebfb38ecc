import assert from 'node:assert/strict';
import { planMonitoredItems } from './subscription-plan.ts';

describe('opcua subscription plan', () => {
  it('splits by the smaller of the server and our limits, per subscription and per call', () => {
    const keys = Array.from({ length: 25 }, () => 'p');
    const plan = planMonitoredItems(keys, { serverPerCall: 4, serverPerSubscription: 10, perSubscription: 0 });
    assert.equal(plan.length, 3);
    assert.deepEqual(plan.map((s) => s.calls.map((c) => c.items.length)), [[4, 4, 2], [4, 4, 2], [4, 1]]);
    assert.deepEqual(plan.flatMap((s) => s.calls.flatMap((c) => c.items)), keys.map((_, i) => i), 'every item exactly once, in order');
    const ours = planMonitoredItems(keys, { serverPerCall: 0, serverPerSubscription: 0, perCall: 20, perSubscription: 12 });
    assert.deepEqual(ours.map((s) => s.calls.map((c) => c.items.length)), [[12], [12], [1]]);
  });

  it('puts one subscription and one call when there is no limit, and groups parameter sets', () => {
    const plan = planMonitoredItems(['a', 'b', 'a', 'b', 'c'], { serverPerCall: 0, serverPerSubscription: 0 });
    assert.equal(plan.length, 1);
    assert.deepEqual(plan[0]?.calls, [
      { items: [0, 2], paramsKey: 'a' },
      { items: [1, 3], paramsKey: 'b' },
      { items: [4], paramsKey: 'c' },
    ]);
    assert.deepEqual(planMonitoredItems([], { serverPerCall: 1, serverPerSubscription: 1 }), []);
  });
});
