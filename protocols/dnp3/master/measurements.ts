/** Turning decoded object blocks into typed measurements (shared by master and driver). */
import type { ObjectBlock } from '../codec/apdu.ts';
import type { PointType } from '../codec/object-library.ts';
import { objectType } from '../codec/object-library.ts';

export interface Measurement {
  readonly type: PointType;
  readonly index: number;
  /** Binaries: boolean; double-bit: DoubleBit number; others: number. */
  readonly value: number | boolean;
  /** Flags byte as received (undefined for variations without flags: the point is then ONLINE). */
  readonly flags?: number;
  /** Source time of events (epoch ms), when the variation carries one. */
  readonly time?: number;
  /** True for event objects (g2, g4, g11, g22, g23, g32, g42). */
  readonly event: boolean;
  readonly group: number;
  readonly variation: number;
}

export function measurementsOf(blocks: readonly ObjectBlock[]): Measurement[] {
  const out: Measurement[] = [];
  for (const b of blocks) {
    const t = objectType(b.header.group, b.header.variation);
    if (!t?.pointType || (t.role !== 'static' && t.role !== 'event')) continue;
    for (const o of b.objects) {
      if (o.value.kind !== 'point') continue;
      out.push({
        type: t.pointType,
        index: o.index,
        value: o.value.value,
        ...(o.value.flags !== undefined ? { flags: o.value.flags } : {}),
        ...(o.value.time !== undefined ? { time: o.value.time } : {}),
        event: t.role === 'event',
        group: b.header.group,
        variation: b.header.variation,
      });
    }
  }
  return out;
}
