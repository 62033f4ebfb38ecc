/**
 * Configuration and output types of the Modbus driver layer (standalone: no core types).
 * The plugin's config.schema.json describes the same shapes for users.
 */
import type { ByteOrder, RegisterType, WordOrder } from '../codec/register-codec.ts';
import type { ModbusTable } from '../plan/read-planner.ts';
import type { BackoffOptions, ModbusTransport } from '../session/modbus-session.ts';

export type { ModbusTransport, ModbusTable };

export interface ModbusPointConfig {
  id: string;
  table: ModbusTable;
  /** Zero-based protocol address (register 40001 of the old notation is holding address 0). */
  address: number;
  /** Register type; coil and discrete points are booleans and ignore it. Default u16. */
  type?: RegisterType;
  /** Registers of a string. */
  length?: number;
  /** Bit 0..15 of a `bit` point. */
  bit?: number;
  byteOrder?: ByteOrder;
  wordOrder?: WordOrder;
  /** engineering = raw × scale + offset. */
  scale?: number;
  offset?: number;
  unit?: string;
  /** Poll group name; default the device's first group. */
  pollGroup?: string;
  writable?: boolean;
  /** Engineering limits a write must respect. */
  min?: number;
  max?: number;
  description?: string;
  /** Force FC16/FC15 for one-register/one-coil writes (some devices lack FC6/FC5). */
  writeMultiple?: boolean;
  /** Id of a point of the same device holding a power-of-ten exponent (SunSpec _SF): value = raw × 10^sf. */
  scaleFactorPoint?: string;
  /** A raw value that means "not implemented" (SunSpec): such a reading has quality invalid. */
  notImplementedValue?: number;
  /** false: read (e.g. as a scale factor) but not emitted. */
  emit?: boolean;
  kind?: 'analog' | 'binary' | 'counter' | 'string' | 'enum';
}

export interface PollGroupConfig {
  name: string;
  intervalMs: number;
}

export interface SunSpecConfig {
  enabled: boolean;
  /** Where to look for 'SunS'; default 40000, then 0, then 50000. */
  baseAddress?: number;
  /** Poll group of the discovered points; default the device's first group. */
  pollGroup?: string;
  /** Leave out points that read as "not implemented" at discovery. Default true. */
  dropNotImplemented?: boolean;
}

export interface ConnectionTuning {
  connectTimeoutMs?: number;
  maxInFlight?: number;
  reconnect?: BackoffOptions;
  unitBackoff?: BackoffOptions;
  silentTimeoutsBeforeReconnect?: number;
}

export interface ModbusDeviceConfig {
  id: string;
  transport: ModbusTransport;
  /** Default 1. */
  unitId?: number;
  /** Per-request timeout for this unit id; default 1000 ms. */
  timeoutMs?: number;
  /** Default one group `default` every 1000 ms. */
  pollGroups?: PollGroupConfig[];
  sunspec?: SunSpecConfig;
  points?: ModbusPointConfig[];
  /** Largest hole read to join two register fields; default 8. */
  maxGapRegisters?: number;
  /** Largest hole read to join two coil/discrete fields; default 64. */
  maxGapBits?: number;
  /** Largest register read; default and max 125. */
  maxRegistersPerRead?: number;
  /** Largest bit read; default and max 2000. */
  maxBitsPerRead?: number;
  /** Connection tuning; devices sharing an endpoint use the first device's. */
  connection?: ConnectionTuning;
  description?: string;
}

/** Normalized quality (same shape as the core's). */
export interface ModbusQuality {
  status: 'good' | 'uncertain' | 'invalid';
  flags: string[];
  raw?: Record<string, string | number | boolean>;
}

/** One value of one point at one time. */
export interface ModbusSample {
  deviceId: string;
  pointId: string;
  /** Epoch ms when the response arrived (Modbus carries no source time). */
  ts: number;
  value: number | boolean | string | null;
  quality: ModbusQuality;
  protocol: 'modbus';
  unit?: string;
}

export interface ModbusDeviceStatus {
  deviceId: string;
  state: 'online' | 'offline' | 'degraded' | 'unknown';
  reason?: string;
  since: number;
}

/** A point as the driver serves it (for device descriptors). */
export interface ModbusPointInfo {
  deviceId: string;
  pointId: string;
  kind: 'analog' | 'binary' | 'counter' | 'string' | 'enum';
  unit?: string;
  scale?: number;
  offset?: number;
  writable: boolean;
  description?: string;
  address: { table: ModbusTable; address: number; unitId: number; type: RegisterType | 'bool'; registers: number };
}

export type WriteStatus = 'succeeded' | 'failed' | 'rejected' | 'timeout';

export interface WriteOutcome {
  status: WriteStatus;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  /** The registers (or coils) written, for logs and tests. */
  written?: { table: ModbusTable; address: number; functionCode: number; values: number[] | boolean[] };
}
