/**
 * De-duplication by (deviceId, seq) for consumers of the Kafka bus.
 *
 * The bus is at-least-once into Kafka (a record acknowledged by Kafka just before a crash is sent again
 * after the restart) and at-least-once to consumers (a batch whose handler failed, or whose commit was lost
 * in a rebalance or a crash, is delivered again). Within one device, records are in Kafka in seq order (the
 * key is the deviceId, so one device's records share a partition, and the spool forwards in order), and the
 * pipeline's seq only grows, even across restarts. So a consumer that remembers, per device, the highest seq
 * it has handled can drop every record at or below it: delivery becomes effectively once.
 *
 * Two steps, so a record counts as seen only once its handler succeeded: `check()` picks the new records of
 * a batch without changing the window; `commit()` records them after the handler resolved (a failed handler's
 * records are not marked, and come back through the dedup when redelivered).
 *
 * Persistence (`DedupWindow.open(file)`): each commit appends the batch's new high-waters to a journal file
 * (`["deviceId",seq]` JSON lines, one write into the page cache, so kill -9 keeps it) *before* the consumer
 * commits the Kafka offsets; on open the journal is read back (a torn last line is ignored), so a restarted
 * consumer still drops what was handled before the restart — the uncommitted tail redelivered to it and a
 * publisher's re-sends alike. The journal is rewritten compactly when it holds several times more lines than
 * devices. What stays: records handled but not yet journaled when the process died (handler resolved, journal
 * write not reached) pass once more; the journal is per instance (a partition that moves to another
 * instance's consumer finds no high-water there).
 *
 * The window is bounded: it remembers at most `maxDevices` devices, forgetting the least recently seen one
 * first (a forgotten device's next duplicate gets through — at-least-once still holds).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** New high-waters of a batch, to commit once its handler succeeded. */
export type DedupPending = Map<string, number>;

export class DedupWindow {
  private readonly high = new Map<string, number>();
  private fd: number | null = null;
  private file: string | null = null;
  private journalLines = 0;
  duplicates = 0;

  constructor(readonly maxDevices = 100_000) {}

  /** A window backed by a journal file (created if missing, read back if present). */
  static open(file: string, maxDevices = 100_000): DedupWindow {
    const w = new DedupWindow(maxDevices);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let entry: unknown;
        try {
          entry = JSON.parse(line);
        } catch {
          continue; // a line torn by a crash
        }
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') continue;
        const h = w.high.get(entry[0]);
        if (h === undefined || entry[1] > h) w.set(entry[0], entry[1]);
        w.journalLines++;
      }
      if (!text.endsWith('\n') && text !== '') w.journalLines = Number.MAX_SAFE_INTEGER; // rewrite: drop the torn tail
    }
    w.file = file;
    w.fd = fs.openSync(file, 'a');
    if (w.journalLines > 4 * w.high.size + 10_000) w.compact();
    return w;
  }

  /** True when (deviceId, seq) is new (and records it); false for a duplicate or an older record. */
  accept(deviceId: string, seq: number): boolean {
    const h = this.high.get(deviceId);
    if (h !== undefined && seq <= h) {
      this.duplicates++;
      return false;
    }
    this.set(deviceId, seq);
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
   * Filters records that carry `deviceId` and `seq` (telemetry) and records them at once; others pass
   * unchanged. Order is kept. (The bus uses check() + commit() instead.)
   */
  filter<T>(records: readonly T[], idOf: (r: T) => { deviceId: string; seq: number } | undefined): T[] {
    const { fresh, pending } = this.check(records, idOf);
    this.commit(pending);
    return fresh;
  }

  /** The records that are new (not at or below a device's high-water, nor repeated within the batch), without recording them. */
  check<T>(records: readonly T[], idOf: (r: T) => { deviceId: string; seq: number } | undefined): { fresh: T[]; pending: DedupPending } {
    const fresh: T[] = [];
    const pending: DedupPending = new Map();
    for (const r of records) {
      const id = idOf(r);
      if (id === undefined) {
        fresh.push(r);
        continue;
      }
      const h = pending.get(id.deviceId) ?? this.high.get(id.deviceId);
      if (h !== undefined && id.seq <= h) {
        this.duplicates++;
        continue;
      }
      pending.set(id.deviceId, id.seq);
      fresh.push(r);
    }
    return { fresh, pending };
  }

  /** Records a handled batch's high-waters (journaled first when the window is persistent). */
  commit(pending: DedupPending): void {
    if (pending.size === 0) return;
    if (this.fd !== null) {
      let text = '';
      for (const [d, s] of pending) text += `${JSON.stringify([d, s])}\n`;
      fs.writeSync(this.fd, text);
      this.journalLines += pending.size;
    }
    for (const [d, s] of pending) {
      const h = this.high.get(d);
      if (h === undefined || s > h) this.set(d, s);
    }
    if (this.fd !== null && this.journalLines > 4 * this.high.size + 10_000) this.compact();
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private set(deviceId: string, seq: number): void {
    if (this.high.has(deviceId)) this.high.delete(deviceId); // re-insert: Map order is least recently seen first
    else if (this.high.size >= this.maxDevices) {
      const oldest = this.high.keys().next().value;
      if (oldest !== undefined) this.high.delete(oldest);
    }
    this.high.set(deviceId, seq);
  }

  /** Rewrites the journal with one line per device (temporary file, then rename). */
  private compact(): void {
    if (this.file === null) return;
    const tmp = `${this.file}.tmp`;
    let text = '';
    for (const [d, s] of this.high) text += `${JSON.stringify([d, s])}\n`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, this.file);
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = fs.openSync(this.file, 'a');
    this.journalLines = this.high.size;
  }
}

/** (deviceId, seq) of a value when it has both, else undefined. */
export function deviceSeqOf(value: unknown): { deviceId: string; seq: number } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as { deviceId?: unknown; seq?: unknown };
  if (typeof v.deviceId !== 'string' || typeof v.seq !== 'number' || !Number.isFinite(v.seq)) return undefined;
  return { deviceId: v.deviceId, seq: v.seq };
}
