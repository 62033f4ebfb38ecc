/**
 * The data model. These types are kept in step with the JSON Schemas in schemas/ (a spec checks that
 * every property here is in the schema and the other way round).
 */

/** The verdict of a normalized quality. */
export type QualityStatus = 'good' | 'uncertain' | 'invalid';

/** Detail flags; protocols may add their own kebab-case flags. */
export type QualityFlag =
  | 'comm-lost'
  | 'timeout'
  | 'device-exception'
  | 'restart'
  | 'local-forced'
  | 'remote-forced'
  | 'over-range'
  | 'reference-error'
  | 'stale'
  | 'substituted'
  | 'out-of-service'
  | 'test'
  | 'overflow'
  | 'inaccurate'
  | 'bad-config'
  | 'not-connected'
  | (string & {});

/** Normalized quality (schemas/quality.schema.json). */
export interface Quality {
  status: QualityStatus;
  flags: QualityFlag[];
  /** The protocol's own quality information as received. */
  raw?: Record<string, string | number | boolean>;
}

export type PointKind = 'analog' | 'binary' | 'counter' | 'string' | 'enum';
export type PointValue = number | boolean | string | null;

/** A measurement or control address on a device (schemas/point.schema.json). */
export interface Point {
  deviceId: string;
  pointId: string;
  kind: PointKind;
  unit?: string;
  scale?: number;
  offset?: number;
  writable: boolean;
  description?: string;
  protocol?: string;
  address?: Record<string, unknown>;
}

/** One value of one point at one time (schemas/telemetry-record.schema.json). */
export interface TelemetryRecord {
  deviceId: string;
  pointId: string;
  /** Source time, epoch ms. */
  ts: number;
  /** Receive time, epoch ms. */
  receivedAt: number;
  value: PointValue;
  quality: Quality;
  protocol: string;
  /** Per-device sequence number assigned by the pipeline. */
  seq: number;
  unit?: string;
  tags?: Record<string, string>;
}

/** What a driver hands to the pipeline: a record before the pipeline stamps `seq` and `receivedAt`. */
export type Sample = Omit<TelemetryRecord, 'seq' | 'receivedAt'> & { receivedAt?: number };

export type EventType = 'soe' | 'alarm' | 'device-status' | 'command' | 'system';
export type EventSeverity = 'info' | 'warning' | 'critical';

/** Something that happened (schemas/event.schema.json). */
export interface DeviceEvent {
  deviceId: string;
  pointId?: string;
  type: EventType;
  severity: EventSeverity;
  ts: number;
  receivedAt: number;
  message: string;
  seq?: number;
  data?: Record<string, unknown>;
}

export type CommandAction = 'write' | 'operate' | 'select-operate';

/** A command as a client sends it (schemas/command.schema.json). */
export interface CommandRequest {
  deviceId: string;
  pointId: string;
  action?: CommandAction;
  value: number | boolean | string;
  timeoutMs?: number;
  reason?: string;
}

/** A command after the core accepted it. */
export interface Command extends CommandRequest {
  id: string;
  action: CommandAction;
  timeoutMs: number;
  issuedAt: number;
  issuedBy?: string;
}

export type CommandStatus = 'pending' | 'succeeded' | 'failed' | 'rejected' | 'timeout';

/** The outcome of a command (schemas/command-result.schema.json). */
export interface CommandResult {
  commandId: string;
  deviceId: string;
  pointId: string;
  status: CommandStatus;
  issuedAt: number;
  completedAt?: number;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  /** Set when a compliance module holds the command for a second person's approval (status pending). */
  approval?: { pendingId: string; module: string; message: string; approverRoles: string[]; expiresAt: string };
}

/** A device as a driver describes it. */
export interface DeviceDescriptor {
  deviceId: string;
  protocol: string;
  /** Driver-specific description (host:port, unit id, SunSpec models found, ...). */
  description?: string;
  points: Point[];
}

/** Whether a device currently answers. */
export interface DeviceStatus {
  deviceId: string;
  state: 'online' | 'offline' | 'degraded' | 'unknown';
  reason?: string;
  since: number;
}
