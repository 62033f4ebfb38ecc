/**
 * Drops data changes a subscription delivers twice. After a reconnection the server may republish
 * notifications the client already had (transfer + Republish), and recreated monitored items send
 * their current value again as the initial value; both carry the same timestamps as the first
 * delivery. A change is a duplicate when its key — (sourceTimestamp incl. picoseconds, status, value),
 * or (serverTimestamp, status, value) when there is no source time — equals one of the last `depth`
 * keys seen for the same monitored item. Changes with neither timestamp are never dropped.
 * Pure and synchronous.
 *
 * Memory: each item keeps a ring of at most `depth` slots that are overwritten in place, and keys are
 * compared field by field (numbers as numbers), so a change costs no allocation here once an item's ring
 * is full — this runs once per data change (100k/s target). Only structured values (arrays, objects) are
 * compared through their JSON text.
 */
export interface DedupChange {
  value: unknown;
  statusCode: number;
  sourceTimestamp?: number | undefined;
  sourcePicoseconds?: number | undefined;
  serverTimestamp?: number | undefined;
}

/** One remembered key. `source` tells a source-time key from a server-time key. */
interface Slot {
  source: boolean;
  ts: number;
  pico: number;
  status: number;
  value: unknown;
}

interface Ring {
  slots: Slot[];
  /** Next slot to overwrite once the ring is full. */
  next: number;
}

export class ValueDedup {
  private readonly recent = new Map<string, Ring>();
  private dropped = 0;

  constructor(private readonly depth = 8) {}

  /** Number of duplicates dropped so far. */
  get duplicates(): number {
    return this.dropped;
  }

  /** True when the change is new for `itemKey` (and remembers it); false for a replay. */
  accept(itemKey: string, change: DedupChange): boolean {
    return this.acceptFields(itemKey, change.value, change.statusCode, change.sourceTimestamp, change.sourcePicoseconds, change.serverTimestamp);
  }

  /** accept() without the change object (the client's per-notification path). */
  acceptFields(itemKey: string, value: unknown, statusCode: number, sourceTimestamp: number | undefined, sourcePicoseconds: number | undefined, serverTimestamp: number | undefined): boolean {
    let source: boolean;
    let ts: number;
    if (sourceTimestamp !== undefined) {
      source = true;
      ts = sourceTimestamp;
    } else if (serverTimestamp !== undefined) {
      source = false;
      ts = serverTimestamp;
    } else return true;
    const pico = source ? (sourcePicoseconds ?? 0) : 0;
    const v = comparable(value);
    let ring = this.recent.get(itemKey);
    if (!ring) {
      ring = { slots: [], next: 0 };
      this.recent.set(itemKey, ring);
    }
    const slots = ring.slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i] as Slot;
      if (s.ts === ts && s.source === source && s.pico === pico && s.status === statusCode && sameValue(s.value, v)) {
        this.dropped++;
        return false;
      }
    }
    if (slots.length < this.depth) {
      slots.push({ source, ts, pico, status: statusCode, value: v });
    } else {
      const s = slots[ring.next] as Slot;
      s.source = source;
      s.ts = ts;
      s.pico = pico;
      s.status = statusCode;
      s.value = v;
      ring.next = (ring.next + 1) % this.depth;
    }
    return true;
  }

  /** Forgets an item (when it is removed). */
  forget(itemKey: string): void {
    this.recent.delete(itemKey);
  }
}

/** Primitives as they are (null for undefined); structured values as a tagged JSON text. */
function comparable(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return { json: JSON.stringify(v) };
  return v;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true; // also 0 === -0, as before
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') return (a as { json: string }).json === (b as { json: string }).json;
  return false;
}
