/**
 * Per-device sequence numbers. (deviceId, seq) identifies a record for de-duplication downstream,
 * so a device's seq must keep growing across restarts: a device's counter starts at
 * max(last persisted + 1, wall clock in microseconds) and the high-water marks are saved on
 * `flush()` (periodically and at stop). Starting from the clock covers a crash between saves; a
 * device would have to average more than one record per microsecond to outrun it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class SequenceStore {
  private readonly next = new Map<string, number>();
  private persisted: Record<string, number> = {};
  private readonly floor: number;

  constructor(
    private readonly file?: string,
    now: number = Date.now(),
  ) {
    this.floor = now * 1000;
    if (file) {
      try {
        this.persisted = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      } catch {
        this.persisted = {};
      }
    }
  }

  /** The next sequence number of `deviceId`. */
  take(deviceId: string): number {
    let n = this.next.get(deviceId);
    if (n === undefined) {
      const saved = this.persisted[deviceId];
      n = Math.max(this.floor, typeof saved === 'number' ? saved + 1 : 0);
    }
    this.next.set(deviceId, n + 1);
    return n;
  }

  /** Writes the high-water marks (atomically: temp file + rename). */
  flush(): void {
    if (!this.file) return;
    const out: Record<string, number> = { ...this.persisted };
    for (const [k, v] of this.next) out[k] = v - 1;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(out));
    renameSync(tmp, this.file);
    this.persisted = out;
  }
}
