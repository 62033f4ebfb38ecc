/**
 * Drops data changes a subscription delivers twice. After a reconnection the server may republish
 * notifications the client already had (transfer + Republish), and recreated monitored items send
 * their current value again as the initial value; both carry the same timestamps as the first
 * delivery. A change is a duplicate when its key — (sourceTimestamp incl. picoseconds, status, value),
 * or (serverTimestamp, status, value) when there is no source time — equals one of the last `depth`
 * keys seen for the same monitored item. Changes with neither timestamp are never dropped.
 * Pure and synchronous.
 */
export interface DedupChange {
  value: unknown;
  statusCode: number;
  sourceTimestamp?: number | undefined;
  sourcePicoseconds?: number | undefined;
  serverTimestamp?: number | undefined;
}

export class ValueDedup {
  private readonly recent = new Map<string, string[]>();
  private dropped = 0;

  constructor(private readonly depth = 8) {}

  /** Number of duplicates dropped so far. */
  get duplicates(): number {
    return this.dropped;
  }

  /** True when the change is new for `itemKey` (and remembers it); false for a replay. */
  accept(itemKey: string, change: DedupChange): boolean {
    let ts: string;
    if (change.sourceTimestamp !== undefined) ts = `s${change.sourceTimestamp}.${change.sourcePicoseconds ?? 0}`;
    else if (change.serverTimestamp !== undefined) ts = `v${change.serverTimestamp}`;
    else return true;
    const key = `${ts}|${change.statusCode}|${valueKey(change.value)}`;
    let ring = this.recent.get(itemKey);
    if (!ring) {
      ring = [];
      this.recent.set(itemKey, ring);
    }
    if (ring.includes(key)) {
      this.dropped++;
      return false;
    }
    ring.push(key);
    if (ring.length > this.depth) ring.shift();
    return true;
  }

  /** Forgets an item (when it is removed). */
  forget(itemKey: string): void {
    this.recent.delete(itemKey);
  }
}

function valueKey(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? 'n0' : `n${v}`;
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'boolean') return v ? 'b1' : 'b0';
  return `j${JSON.stringify(v)}`;
}
