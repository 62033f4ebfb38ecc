/**
 * The one error class of EnergyMesh. `code` is a string union grouped by layer; wire codes (Modbus
 * exception, DNP3 IIN, OPC UA StatusCode, MMS DataAccessError) go in `details`, never in `code`.
 * `retriable` says whether trying the same operation again may succeed; only retriable errors are retried.
 */

/** Error codes, grouped by the layer that raises them. */
export type ErrorCode =
  // wire / codec
  | 'CRC_MISMATCH'
  | 'FRAME_TOO_LONG'
  | 'FRAME_TRUNCATED'
  | 'FRAME_MALFORMED'
  | 'UNEXPECTED_RESPONSE'
  // transport / session
  | 'TIMEOUT'
  | 'CONNECTION_CLOSED'
  | 'CONNECTION_REFUSED'
  | 'NOT_CONNECTED'
  /** A peer's certificate is not in our trust list (OPC UA, TLS); details name how to trust it. */
  | 'CERTIFICATE_UNTRUSTED'
  // device
  | 'DEVICE_EXCEPTION'
  | 'UNKNOWN_DEVICE'
  | 'UNKNOWN_POINT'
  | 'POINT_NOT_WRITABLE'
  | 'VALUE_OUT_OF_RANGE'
  // kernel
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'SECRET_NOT_FOUND'
  | 'PLUGIN_INVALID'
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_INCOMPATIBLE'
  | 'PLUGIN_DUPLICATE'
  | 'PLUGIN_FAILED'
  | 'DEPENDENCY_CYCLE'
  | 'DUPLICATE_ID'
  | 'BUS_CLOSED'
  | 'LOG_CORRUPT'
  | 'LOG_LOCKED'
  | 'LOG_WRITE_FAILED'
  | 'BUS_OVERRUN'
  | 'INVALID_ARGUMENT'
  | 'SCHEMA_VIOLATION'
  // later layers
  | 'COMPLIANCE_VIOLATION'
  | 'SETTLEMENT_REVERTED'
  /** A plugin asked for a service (core/services) that no enabled plugin provides. */
  | 'SERVICE_UNAVAILABLE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'INTERNAL';

export interface EnergyMeshErrorOptions {
  readonly retriable?: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/**
 * Brand set on every EnergyMeshError. `isEnergyMeshError` checks it rather than `instanceof`, so an
 * error thrown by a plugin that loaded another copy of this module (an npm-installed plugin, or a
 * test runner that loads CommonJS and ESM copies) is still recognised.
 */
const BRAND = Symbol.for('energymesh.EnergyMeshError');

/** The error every EnergyMesh layer throws: a short message, a `code`, and details for machines. */
export class EnergyMeshError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: EnergyMeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EnergyMeshError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; retriable: boolean; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, retriable: this.retriable, details: this.details };
  }
}

/** Narrows `e` to an EnergyMeshError, optionally of one `code`. */
export function isEnergyMeshError(e: unknown, code?: ErrorCode): e is EnergyMeshError {
  return typeof e === 'object' && e !== null && (e as { [BRAND]?: unknown })[BRAND] === true && (code === undefined || (e as EnergyMeshError).code === code);
}

/** A readable one-line message for anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
