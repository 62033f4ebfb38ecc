import { strict as assert } from 'node:assert';

import type { BusMessage } from './bus.ts';
import { MessageRing } from './message-ring.ts';

function messages(from: number, n: number): BusMessage[] {
  return Array.from({ length: n }, (_, i) => ({ topic: 't', key: 'k', value: from + i, offset: from + i, partition: 0, timestamp: 0 }));
}

describe('bus message ring', () => {
  it('reads by offset across the wrap-around and evicts the oldest when full', () => {
    const ring = new MessageRing(8, 100);
    assert.equal(ring.push(messages(100, 6)), 0);
    assert.equal(ring.push(messages(106, 5)), 3);
    assert.equal(ring.startOffset, 103);
    assert.equal(ring.endOffset, 111);
    assert.deepEqual(
      ring.read(104, 100).map((m) => m.offset),
      [104, 105, 106, 107, 108, 109, 110],
    );
    assert.deepEqual(
      ring.read(103, 3).map((m) => m.value),
      [103, 104, 105],
    );
    assert.deepEqual(ring.read(102, 10), [], 'evicted');
    assert.deepEqual(ring.read(111, 10), [], 'not yet written');
  });

  it('refuses offsets that do not follow on', () => {
    const ring = new MessageRing(4);
    ring.push(messages(0, 2));
    assert.throws(() => ring.push(messages(5, 1)), RangeError);
  });
});
