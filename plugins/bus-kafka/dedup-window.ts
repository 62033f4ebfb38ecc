/**
 * De-duplication by (deviceId, seq) for consumers of the Kafka bus.
 *
 * The bus is at-least-once into Kafka (a record acknowledged by Kafka just before a crash is sent again
 * after the restart) and at-least-once to consumers (a batch whose handler failed, or whose commit was lost
 * in a rebalance, is delivered again). Within one device, records are in Kafka in seq order (the key is the
 * deviceId, so one device's records share a partition, and the spool forwards in order), and the pipeline's
 * seq only grows, even across restarts. So a consumer that remembers, per device, the highest seq it has
 * handled can drop every record at or below it: delivery becomes effectively once.
 *
 * The window is bounded: it remembers at most `maxDevices` devices, forgetting the least recently seen one
 * first (a forgotten device's next duplicate gets through — at-least-once still holds).
 */
export class DedupWindow {
  private readonly high = new Map<string, number>();
  duplicates = 0;

  constructor(readonly maxDevices = 100_000) {}

  /** True when (deviceId, seq) is new (and records it); false for a duplicate or an older record. */
  accept(deviceId: string, seq: number): boolean {
    const h = this.high.get(deviceId);
    if (h !== undefined && seq <= h) {
      this.duplicates++;
      return false;
    }
    if (h !== undefined) this.high.delete(deviceId); // re-insert: Map order is least recently seen first
    else if (this.high.size >= this.maxDevices) {
      const oldest = this.high.keys().next().value;
      if (oldest !== undefined) this.high.delete(oldest);
    }
    this.high.set(deviceId, seq);
    return true;
  }

  /** The highest seq handled for a device. */
  highWater(deviceId: string): number | undefined {
    return this.high.get(deviceId);
  }

  get size(): number {
    return this.high.size;
  }

  /**
   * Filters records that carry `deviceId` and `seq` (telemetry); others pass unchanged. Order is kept.
   */
  filter<T>(records: readonly T[], idOf: (r: T) => { deviceId: string; seq: number } | undefined): T[] {
    const out: T[] = [];
    for (const r of records) {
      const id = idOf(r);
      if (id === undefined || this.accept(id.deviceId, id.seq)) out.push(r);
    }
    return out;
  }
}

/** (deviceId, seq) of a value when it has both, else undefined. */
export function deviceSeqOf(value: unknown): { deviceId: string; seq: number } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as { deviceId?: unknown; seq?: unknown };
  if (typeof v.deviceId !== 'string' || typeof v.seq !== 'number' || !Number.isFinite(v.seq)) return undefined;
  return { deviceId: v.deviceId, seq: v.seq };
}
