import { strict as assert } from 'node:assert';

import type { SegmentInfo } from './durable-log.ts';
import { planRetention } from './retention.ts';

/** Segments of 100 bytes and 10 records each; segment i ends at offset 10 * (i + 1), written at time i. */
function segments(n: number): SegmentInfo[] {
  return Array.from({ length: n }, (_, i) => ({ file: `s${i}`, baseOffset: i * 10, endOffset: (i + 1) * 10, bytes: 100, lastTimestamp: i }));
}

describe('bus retention plan', () => {
  it('keeps everything without limits', () => {
    const plan = planRetention(segments(5), new Map([['g', 0]]), {}, 1e12);
    assert.equal(plan.deleteSegments, 0);
  });

  it('over maxBytes deletes the oldest segments even if unread, and counts what each group lost', () => {
    const plan = planRetention(
      segments(5),
      new Map([
        ['slow', 5],
        ['fast', 50],
        ['middle', 15],
      ]),
      { maxBytes: 250 },
      0,
    );
    assert.equal(plan.deleteSegments, 3); // 500 → 200 bytes
    assert.equal(plan.droppedByGroup.get('slow'), 25); // offsets 5..29
    assert.equal(plan.droppedByGroup.get('middle'), 15); // offsets 15..29
    assert.equal(plan.droppedByGroup.has('fast'), false);
  });

  it('by age deletes only segments every group has passed', () => {
    const groups = new Map([
      ['a', 35],
      ['b', 22],
    ]);
    const plan = planRetention(segments(5), groups, { maxAgeMs: 1 }, 100);
    assert.equal(plan.deleteSegments, 2); // segment 2 (offsets 20..29) is still needed by b
    assert.equal(plan.droppedByGroup.size, 0);
    assert.equal(planRetention(segments(5), groups, { maxAgeMs: 1000 }, 100).deleteSegments, 0, 'nothing is old enough');
  });

  it('never deletes the last (active) segment', () => {
    const plan = planRetention(segments(3), new Map(), { maxBytes: 0, maxAgeMs: 0 }, 1e12);
    assert.equal(plan.deleteSegments, 2);
  });
});
