/**
 * Maps what modbus-serial reports (plain Errors with English messages, `modbusCode` on exception
 * responses) to EnergyMeshError codes. Modbus exception codes go in `details.exceptionCode`.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';

/** Exception codes of the Modbus Application Protocol §7. */
export const MODBUS_EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'ILLEGAL FUNCTION',
  2: 'ILLEGAL DATA ADDRESS',
  3: 'ILLEGAL DATA VALUE',
  4: 'SERVER DEVICE FAILURE',
  5: 'ACKNOWLEDGE',
  6: 'SERVER DEVICE BUSY',
  8: 'MEMORY PARITY ERROR',
  10: 'GATEWAY PATH UNAVAILABLE',
  11: 'GATEWAY TARGET DEVICE FAILED TO RESPOND',
};

/** Exceptions after which the same request may succeed later. */
const RETRIABLE_EXCEPTIONS = new Set([5, 6, 10, 11]);

export type RequestDescription = {
  unitId: number;
  functionCode: number;
  address: number;
  count?: number;
};

/** A typed DEVICE_EXCEPTION for a Modbus exception response. */
export function deviceException(code: number, req: RequestDescription): EnergyMeshError {
  return new EnergyMeshError(
    'DEVICE_EXCEPTION',
    `unit ${req.unitId} answered FC${req.functionCode} at ${req.address} with exception ${code} (${MODBUS_EXCEPTION_NAMES[code] ?? 'unknown'})`,
    { retriable: RETRIABLE_EXCEPTIONS.has(code), details: { exceptionCode: code, ...req } },
  );
}

interface ClientErrorShape {
  name?: unknown;
  message?: unknown;
  modbusCode?: unknown;
  errno?: unknown;
}

/** Turns anything modbus-serial passed to a callback into an EnergyMeshError. */
export function mapClientError(err: unknown, req: RequestDescription): EnergyMeshError {
  if (isEnergyMeshError(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ClientErrorShape;
  if (typeof e.modbusCode === 'number') return deviceException(e.modbusCode, req);
  const message = typeof e.message === 'string' ? e.message : String(err);
  const details = { ...req, clientMessage: message };
  if (message.startsWith('CRC error')) {
    return new EnergyMeshError('CRC_MISMATCH', `bad CRC in the response from unit ${req.unitId}`, { retriable: true, details, cause: err });
  }
  if (message.startsWith('Data length error')) {
    return new EnergyMeshError('FRAME_MALFORMED', `response of the wrong length from unit ${req.unitId}: ${message}`, {
      retriable: true,
      details,
      cause: err,
    });
  }
  if (message.startsWith('Unexpected data error')) {
    return new EnergyMeshError('UNEXPECTED_RESPONSE', `unexpected response to FC${req.functionCode} for unit ${req.unitId}: ${message}`, {
      retriable: true,
      details,
      cause: err,
    });
  }
  if (e.name === 'PortNotOpenError' || message === 'Port Not Open') {
    return new EnergyMeshError('NOT_CONNECTED', 'not connected', { retriable: true, details, cause: err });
  }
  if (e.name === 'TransactionTimedOutError' || message === 'Timed out') {
    return new EnergyMeshError('TIMEOUT', `unit ${req.unitId} did not answer`, { retriable: true, details, cause: err });
  }
  if (err instanceof RangeError) {
    return new EnergyMeshError('FRAME_MALFORMED', `malformed response from unit ${req.unitId}: ${message}`, {
      retriable: true,
      details,
      cause: err,
    });
  }
  return new EnergyMeshError('UNEXPECTED_RESPONSE', `request to unit ${req.unitId} failed: ${message}`, {
    retriable: true,
    details,
    cause: err,
  });
}
