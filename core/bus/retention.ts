/**
 * Retention of the durable log, as a pure decision over segment descriptions (no I/O).
 *
 * Whole segments are deleted, oldest first, never the segment being written:
 * - by **size**: while the topic holds more than `maxBytes`, the oldest segment goes even if some group has
 *   not read it yet; the records a group loses that way are counted per group (the bus logs and exposes
 *   them: loss is never silent);
 * - by **age**: a segment whose newest record is older than `maxAgeMs` goes only when every consumer group
 *   has committed past it.
 * Without limits nothing is deleted.
 */
import type { SegmentInfo } from './durable-log.ts';

export interface RetentionPolicy {
  /** Upper bound of a topic's log size on disk (whole segments, so the bound can be exceeded by one segment). */
  maxBytes?: number;
  /** Segments older than this are deleted once every group has read them. */
  maxAgeMs?: number;
}

export interface RetentionPlan {
  /** How many of the oldest segments to delete. */
  deleteSegments: number;
  /** Records deleted before a group committed past them, per group. */
  droppedByGroup: Map<string, number>;
}

export function planRetention(
  segments: readonly SegmentInfo[],
  groupOffsets: ReadonlyMap<string, number>,
  policy: RetentionPolicy,
  now: number,
): RetentionPlan {
  const droppedByGroup = new Map<string, number>();
  let total = 0;
  for (const s of segments) total += s.bytes;
  let minGroup = Infinity;
  for (const o of groupOffsets.values()) minGroup = Math.min(minGroup, o);
  let deleteSegments = 0;
  for (let i = 0; i < segments.length - 1; i++) {
    const s = segments[i] as SegmentInfo;
    const overSize = policy.maxBytes !== undefined && total > policy.maxBytes;
    const expired = policy.maxAgeMs !== undefined && now - s.lastTimestamp > policy.maxAgeMs && minGroup >= s.endOffset;
    if (!overSize && !expired) break;
    if (overSize) {
      for (const [group, offset] of groupOffsets) {
        const lost = s.endOffset - Math.max(offset, s.baseOffset);
        if (lost > 0) droppedByGroup.set(group, (droppedByGroup.get(group) ?? 0) + lost);
      }
    }
    total -= s.bytes;
    deleteSegments++;
  }
  return { deleteSegments, droppedByGroup };
}
