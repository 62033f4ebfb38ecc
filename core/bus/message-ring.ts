/**
 * A bounded ring of the newest messages of one topic, addressed by offset. The in-memory bus stores its
 * topics in it; the durable bus keeps the tail of each log in it so consumers that keep up never read disk.
 * When full, pushing evicts the oldest messages (`startOffset` moves on); readers detect that by comparing
 * their position with `startOffset`.
 */
import type { BusMessage } from './bus.ts';

export class MessageRing {
  private readonly slots: (BusMessage | undefined)[];
  /** Index in `slots` of the message at `startOffset`. */
  private head = 0;
  private count = 0;
  /** Offset of the oldest message held. */
  private start: number;

  constructor(
    readonly capacity: number,
    firstOffset = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('ring capacity must be a positive integer');
    this.slots = new Array<BusMessage | undefined>(capacity);
    this.start = firstOffset;
  }

  /** Offset of the oldest message held (equals `endOffset` when empty). */
  get startOffset(): number {
    return this.start;
  }

  /** Offset the next pushed message gets. */
  get endOffset(): number {
    return this.start + this.count;
  }

  get size(): number {
    return this.count;
  }

  /** Appends messages whose offsets must continue `endOffset`; returns how many old messages were evicted. */
  push(messages: readonly BusMessage[]): number {
    let evicted = 0;
    for (const m of messages) {
      if (m.offset !== this.start + this.count) {
        throw new RangeError(`ring expects offset ${this.start + this.count}, got ${m.offset}`);
      }
      if (this.count === this.capacity) {
        this.slots[this.head] = m;
        this.head = (this.head + 1) % this.capacity;
        this.start++;
        evicted++;
      } else {
        this.slots[(this.head + this.count) % this.capacity] = m;
        this.count++;
      }
    }
    return evicted;
  }

  /** Messages from `from` (inclusive), at most `max`. Empty when `from` is outside the held range. */
  read(from: number, max: number): BusMessage[] {
    if (from < this.start || from >= this.start + this.count) return [];
    const n = Math.min(max, this.start + this.count - from);
    const out = new Array<BusMessage>(n);
    let idx = (this.head + (from - this.start)) % this.capacity;
    for (let i = 0; i < n; i++) {
      out[i] = this.slots[idx] as BusMessage;
      idx = idx + 1 === this.capacity ? 0 : idx + 1;
    }
    return out;
  }

  /** Forgets everything and restarts at `offset` (after the durable log dropped or truncated records). */
  reset(offset: number): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.start = offset;
  }
}
