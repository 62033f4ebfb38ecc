/**
 * The latest value of every point, fed from the telemetry topic, and a fan-out to live listeners
 * (the WebSocket stream). A record older (by seq) than the one held is ignored, so redelivery
 * after a restart never moves a value backwards.
 */
import type { TelemetryRecord } from '../model/telemetry.ts';

export type RecordListener = (records: readonly TelemetryRecord[]) => void;

export class LatestValueStore {
  private readonly byDevice = new Map<string, Map<string, TelemetryRecord>>();
  private readonly listeners = new Set<RecordListener>();
  /** Records this store has consumed (fresh or not). */
  consumed = 0;

  /** Applies a batch and notifies listeners with the records that were new. */
  apply(records: readonly TelemetryRecord[]): void {
    const fresh: TelemetryRecord[] = [];
    this.consumed += records.length;
    for (const r of records) {
      let points = this.byDevice.get(r.deviceId);
      if (!points) {
        points = new Map();
        this.byDevice.set(r.deviceId, points);
      }
      const old = points.get(r.pointId);
      if (old && old.seq >= r.seq) continue;
      points.set(r.pointId, r);
      fresh.push(r);
    }
    if (fresh.length > 0) for (const l of this.listeners) l(fresh);
  }

  get(deviceId: string, pointId: string): TelemetryRecord | undefined {
    return this.byDevice.get(deviceId)?.get(pointId);
  }

  device(deviceId: string): TelemetryRecord[] {
    return [...(this.byDevice.get(deviceId)?.values() ?? [])];
  }

  deviceIds(): string[] {
    return [...this.byDevice.keys()];
  }

  /** Number of points with a value. */
  size(): number {
    let n = 0;
    for (const m of this.byDevice.values()) n += m.size;
    return n;
  }

  listen(listener: RecordListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
