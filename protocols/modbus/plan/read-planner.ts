/**
 * Read planner: coalesces the fields of one device (unit id) into as few reads as the protocol
 * allows. Fields are grouped per table; inside a table they are sorted by address and merged while
 *
 *   - the merged read stays within the function's limit (FC3/FC4: 125 registers, FC1/FC2: 2000 bits,
 *     Modbus Application Protocol V1.1b3 §6.1–6.4), and
 *   - the hole between two fields is at most `maxGap` registers (or bits).
 *
 * Overlapping fields (several bits of one register, a u32 and its low u16) share a read. A field wider
 * than one read, or a limit above the protocol's, is refused with CONFIG_INVALID. Pure.
 */
import { EnergyMeshError } from '../../../core/errors.ts';

export type ModbusTable = 'holding' | 'input' | 'coil' | 'discrete';

export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;

/** Something to read: `count` registers (or bits for coil/discrete) at `address`. */
export interface PlanField {
  table: ModbusTable;
  address: number;
  count: number;
}

/** One read request and the fields it serves. */
export interface ReadBlock<F extends PlanField = PlanField> {
  table: ModbusTable;
  address: number;
  count: number;
  fields: F[];
}

export interface PlannerOptions {
  /** Largest register read (≤ 125). */
  maxRegisters?: number;
  /** Largest coil/discrete-input read (≤ 2000). */
  maxBits?: number;
  /** Largest hole (registers) read to join two fields. Default 0: only adjacent or overlapping. */
  maxGapRegisters?: number;
  /** Largest hole (bits) read to join two coil/discrete fields. */
  maxGapBits?: number;
}

export function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

function checkLimit(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new EnergyMeshError('CONFIG_INVALID', `${name} must be an integer from 1 to ${max}, got ${value}`, {
      details: { option: name, value, max },
    });
  }
  return value;
}

const TABLE_ORDER: ModbusTable[] = ['holding', 'input', 'coil', 'discrete'];

/** Plans the reads for one device's fields (one poll group). */
export function planReads<F extends PlanField>(fields: readonly F[], options: PlannerOptions = {}): ReadBlock<F>[] {
  const maxRegisters = checkLimit('maxRegisters', options.maxRegisters ?? MAX_READ_REGISTERS, MAX_READ_REGISTERS);
  const maxBits = checkLimit('maxBits', options.maxBits ?? MAX_READ_BITS, MAX_READ_BITS);
  const gapRegisters = options.maxGapRegisters ?? 0;
  const gapBits = options.maxGapBits ?? 0;
  if (!Number.isInteger(gapRegisters) || gapRegisters < 0) {
    throw new EnergyMeshError('CONFIG_INVALID', `maxGapRegisters must be a non-negative integer, got ${gapRegisters}`);
  }
  if (!Number.isInteger(gapBits) || gapBits < 0) {
    throw new EnergyMeshError('CONFIG_INVALID', `maxGapBits must be a non-negative integer, got ${gapBits}`);
  }

  const blocks: ReadBlock<F>[] = [];
  for (const table of TABLE_ORDER) {
    const bits = isBitTable(table);
    const limit = bits ? maxBits : maxRegisters;
    const gap = bits ? gapBits : gapRegisters;
    const inTable = fields.filter((f) => f.table === table);
    if (inTable.length === 0) continue;
    for (const f of inTable) {
      if (!Number.isInteger(f.address) || f.address < 0 || f.address > 0xffff) {
        throw new EnergyMeshError('CONFIG_INVALID', `address ${f.address} is outside 0..65535`, { details: { address: f.address } });
      }
      if (!Number.isInteger(f.count) || f.count < 1 || f.count > limit) {
        throw new EnergyMeshError(
          'CONFIG_INVALID',
          `a field of ${f.count} ${bits ? 'bits' : 'registers'} at ${table} ${f.address} does not fit one read (max ${limit})`,
          { details: { table, address: f.address, count: f.count, max: limit } },
        );
      }
      if (f.address + f.count > 0x10000) {
        throw new EnergyMeshError('CONFIG_INVALID', `field at ${table} ${f.address} runs past address 65535`, {
          details: { table, address: f.address, count: f.count },
        });
      }
    }
    const sorted = [...inTable].sort((a, b) => a.address - b.address || b.count - a.count);
    let current: ReadBlock<F> | undefined;
    for (const f of sorted) {
      const end = f.address + f.count;
      if (current) {
        const currentEnd = current.address + current.count;
        const newEnd = Math.max(currentEnd, end);
        if (f.address - currentEnd <= gap && newEnd - current.address <= limit) {
          current.count = newEnd - current.address;
          current.fields.push(f);
          continue;
        }
      }
      current = { table, address: f.address, count: f.count, fields: [f] };
      blocks.push(current);
    }
  }
  return blocks;
}

/** Splits a block into runs of touching fields (no holes): used when a device refuses the holes. */
export function splitAtGaps<F extends PlanField>(block: ReadBlock<F>): ReadBlock<F>[] {
  return planReads(block.fields, { maxGapRegisters: 0, maxGapBits: 0 });
}
