/**
 * What the metering oracle keeps on disk (its plugin data dir):
 *
 * - `state.json` — the aggregation state (per meter: open intervals, last sample per channel, rounding
 *   remainders), the bus positions already applied (per partition), the watermark and the outbox of
 *   readings final but not yet confirmed on chain. Written after every bus batch and before the batch is
 *   acknowledged (write-temp + rename, so a kill -9 at any moment leaves the previous or the new state):
 *   a restart loses nothing already consumed, and a redelivered batch is skipped by its offsets.
 * - `readings.jsonl` — one line per reading once it is on chain (attested by this instance, or found
 *   already there), with its transaction hash and lineage. Appended; on load, the last line of a
 *   (meter, interval) wins, so a crash between the append and the state write only repeats a line.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FinalReading, MeterAggregationState } from './aggregation.ts';

/** A final reading waiting for the chain. */
export interface PendingReading extends FinalReading {
  /** The meter's device id (config key). */
  meter: string;
  /** The bytes32 pseudonymous meter id. */
  meterId: string;
  finalizedAt: number;
}

/** A reading on chain. */
export interface ReadingRecord extends PendingReading {
  status: 'attested' | 'already-on-chain';
  txHash?: string;
  blockNumber?: number;
  attestedAt: number;
}

export interface OracleCounters {
  records: number;
  counted: number;
  ignoredQuality: number;
  ignoredOrder: number;
  duplicates: number;
  lateRecords: number;
  lateWh: number;
  counterResets: number;
  counterRollovers: number;
  implausible: number;
  batchesSubmitted: number;
  readingsAttested: number;
  readingsSkippedOnChain: number;
}

export interface OracleState {
  version: 1;
  /** Highest receive time seen on the telemetry topic (ms). */
  watermark: number;
  /** Last applied bus offset per partition. */
  offsets: Record<string, number>;
  meters: Record<string, MeterAggregationState>;
  outbox: PendingReading[];
  counters: OracleCounters;
}

export function emptyCounters(): OracleCounters {
  return {
    records: 0,
    counted: 0,
    ignoredQuality: 0,
    ignoredOrder: 0,
    duplicates: 0,
    lateRecords: 0,
    lateWh: 0,
    counterResets: 0,
    counterRollovers: 0,
    implausible: 0,
    batchesSubmitted: 0,
    readingsAttested: 0,
    readingsSkippedOnChain: 0,
  };
}

export class OracleStore {
  private readonly stateFile: string;
  private readonly readingsFile: string;
  readonly readings = new Map<string, ReadingRecord>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.stateFile = join(dir, 'state.json');
    this.readingsFile = join(dir, 'readings.jsonl');
  }

  loadState(): OracleState {
    if (!existsSync(this.stateFile)) return { version: 1, watermark: 0, offsets: {}, meters: {}, outbox: [], counters: emptyCounters() };
    const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as OracleState;
    s.counters = { ...emptyCounters(), ...s.counters };
    return s;
  }

  saveState(state: OracleState): void {
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.stateFile);
  }

  loadReadings(): void {
    this.readings.clear();
    if (!existsSync(this.readingsFile)) return;
    const text = readFileSync(this.readingsFile, 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as ReadingRecord;
        this.readings.set(key(r.meter, r.interval), r);
      } catch {
        // a line cut short by a crash: the reading is still in the outbox or on chain and comes back
      }
    }
  }

  appendReadings(records: readonly ReadingRecord[]): void {
    if (records.length === 0) return;
    appendFileSync(this.readingsFile, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    for (const r of records) this.readings.set(key(r.meter, r.interval), r);
  }

  reading(meter: string, interval: number): ReadingRecord | undefined {
    return this.readings.get(key(meter, interval));
  }
}

function key(meter: string, interval: number): string {
  return `${meter}\u0000${interval}`;
}
