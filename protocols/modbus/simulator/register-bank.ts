/**
 * The four Modbus tables of one simulated unit. Only defined ranges exist: reading or writing anything
 * else answers ILLEGAL DATA ADDRESS, like a real device. Registers live in 1024-register pages allocated
 * on demand, so a map at 40000 costs a few KB.
 */
import type { ModbusTable } from '../plan/read-planner.ts';

const PAGE = 1024;

export const EXCEPTION_ILLEGAL_FUNCTION = 1;
export const EXCEPTION_ILLEGAL_ADDRESS = 2;
export const EXCEPTION_ILLEGAL_VALUE = 3;
export const EXCEPTION_DEVICE_FAILURE = 4;

interface Range {
  start: number;
  end: number; // exclusive
  writable: boolean;
}

/** Called after a client wrote `count` items at `address` of `table`. */
export type WriteListener = (table: 'holding' | 'coil', address: number, count: number) => void;

export class RegisterBank {
  private readonly pages: Record<ModbusTable, Map<number, Uint16Array>> = {
    holding: new Map(),
    input: new Map(),
    coil: new Map(),
    discrete: new Map(),
  };
  private readonly ranges: Record<ModbusTable, Range[]> = { holding: [], input: [], coil: [], discrete: [] };
  private readonly listeners = new Set<WriteListener>();

  /** Makes `count` items at `start` exist (and writable by clients when `writable`). */
  define(table: ModbusTable, start: number, count: number, writable = false): void {
    if (start < 0 || count < 1 || start + count > 0x10000) throw new RangeError(`bad range ${start}+${count}`);
    this.ranges[table].push({ start, end: start + count, writable });
  }

  onWrite(listener: WriteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether every item of [address, address+count) is defined (and writable if asked). */
  covers(table: ModbusTable, address: number, count: number, writable = false): boolean {
    const ranges = this.ranges[table];
    // fast path: one range holds it all
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (r.start <= address && address + count <= r.end && (!writable || r.writable)) return true;
    }
    let a = address;
    const end = address + count;
    while (a < end) {
      const r = this.ranges[table].find((x) => x.start <= a && a < x.end && (!writable || x.writable));
      if (!r) return false;
      a = r.end;
    }
    return true;
  }

  get(table: ModbusTable, address: number): number {
    const page = this.pages[table].get(Math.floor(address / PAGE));
    return page ? page[address % PAGE]! : 0;
  }

  set(table: ModbusTable, address: number, value: number): void {
    const key = Math.floor(address / PAGE);
    let page = this.pages[table].get(key);
    if (!page) {
      page = new Uint16Array(PAGE);
      this.pages[table].set(key, page);
    }
    page[address % PAGE] = value & 0xffff;
  }

  /** Sets consecutive registers. */
  setMany(table: ModbusTable, address: number, values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.set(table, address + i, values[i]!);
  }

  /** Serves a client read straight into `out` (big-endian) at byte `pos`: undefined, or an exception code. */
  readInto(table: ModbusTable, address: number, count: number, out: Buffer, pos: number): number | undefined {
    if (!this.covers(table, address, count)) return EXCEPTION_ILLEGAL_ADDRESS;
    const pages = this.pages[table];
    let a = address;
    let o = pos;
    const end = address + count;
    while (a < end) {
      const key = Math.floor(a / PAGE);
      const page = pages.get(key);
      const stop = Math.min(end, (key + 1) * PAGE);
      for (; a < stop; a++, o += 2) {
        const v = page ? page[a % PAGE]! : 0;
        out[o] = v >> 8;
        out[o + 1] = v & 0xff;
      }
    }
    return undefined;
  }

  /** The page array holding `address` (created on demand), for simulators that update many registers. */
  page(table: ModbusTable, address: number): { array: Uint16Array; index: number } {
    const key = Math.floor(address / PAGE);
    let page = this.pages[table].get(key);
    if (!page) {
      page = new Uint16Array(PAGE);
      this.pages[table].set(key, page);
    }
    return { array: page, index: address % PAGE };
  }

  /** Serves a client read: the values, or an exception code. */
  read(table: ModbusTable, address: number, count: number): Uint16Array | number {
    if (!this.covers(table, address, count)) return EXCEPTION_ILLEGAL_ADDRESS;
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = this.get(table, address + i);
    return out;
  }

  /** Serves a client write to holding registers or coils: undefined, or an exception code. */
  write(table: 'holding' | 'coil', address: number, values: ArrayLike<number>): number | undefined {
    if (!this.covers(table, address, values.length, true)) return EXCEPTION_ILLEGAL_ADDRESS;
    this.setMany(table, address, values);
    for (const l of this.listeners) l(table, address, values.length);
    return undefined;
  }
}
