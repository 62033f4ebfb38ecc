/**
 * node-opcua failures → EnergyMeshError. node-opcua reports most failures as plain Errors whose
 * message carries the StatusCode name (e.g. "... BadCertificateUntrusted (0x801a0000)"); we classify
 * by that name or the socket errno, keep the StatusCode in `details`, and say whether retrying may
 * help. Error policy of this layer: the client throws typed errors; it never retries an operation
 * itself (node-opcua's reconnection repairs the channel and session in the background).
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import type { ErrorCode } from '../../../core/errors.ts';
import { statusCodeName } from './opcua-quality.ts';

/** Builds the error of an operation that got a bad StatusCode back from the server. */
export function statusError(code: ErrorCode, what: string, statusCode: number, details: Record<string, unknown> = {}): EnergyMeshError {
  const name = statusCodeName(statusCode);
  return new EnergyMeshError(code, `${what}: ${name}`, { details: { ...details, statusCode: statusCode >>> 0, statusName: name } });
}

/** Classifies anything node-opcua threw during `what` (connect, read, write, ...). */
export function toOpcuaError(e: unknown, what: string, details: Record<string, unknown> = {}): EnergyMeshError {
  if (isEnergyMeshError(e)) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const msg = err.message;
  const errno = (err as NodeJS.ErrnoException).code;
  const status = /\b((?:Bad|Uncertain)[A-Za-z0-9]+)\b/.exec(msg)?.[1];
  const d = { ...details, ...(status ? { statusName: status } : {}), ...(errno ? { errno } : {}) };
  const make = (code: ErrorCode, retriable: boolean, text = msg): EnergyMeshError => new EnergyMeshError(code, `${what}: ${text}`, { retriable, details: d, cause: err });
  if (errno === 'ECONNREFUSED' || /ECONNREFUSED|connect ECONN/.test(msg)) return make('CONNECTION_REFUSED', true);
  if (errno === 'ENOTFOUND' || errno === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(msg)) return make('CONNECTION_REFUSED', true, `host not found (${msg})`);
  if (status === 'BadCertificateUntrusted' || /certificate verification failed/i.test(msg)) return make('CERTIFICATE_UNTRUSTED', true);
  if (status && /^Bad(UserAccessDenied|IdentityToken(Rejected|Invalid)|UserSignatureInvalid)$/.test(status)) return make('UNAUTHORIZED', false);
  if (status && /^Bad(SecurityPolicyRejected|SecurityModeRejected|TcpEndpointUrlInvalid|CertificateUriInvalid)$/.test(status)) return make('CONFIG_INVALID', false);
  if (status && /^Bad(NodeIdUnknown|NodeIdInvalid)$/.test(status)) return make('UNKNOWN_POINT', false);
  if (status && /^Bad(Timeout|RequestTimeout)$/.test(status)) return make('TIMEOUT', true);
  if (status && /^Bad(SessionClosed|SessionIdInvalid|SessionNotActivated|ServerNotConnected|SecureChannelClosed|ConnectionClosed|NotConnected)$/.test(status)) {
    return make('NOT_CONNECTED', true);
  }
  if (errno === 'ECONNRESET' || errno === 'EPIPE' || /socket|connection (break|closed|reset|aborted)|premature|ECONNRESET|closed by|has been closed/i.test(msg)) {
    return make('CONNECTION_CLOSED', true);
  }
  if (/not connected|no session|session.*(closed|invalid)|client.*disconnected|invalid channel/i.test(msg)) return make('NOT_CONNECTED', true);
  if (/timeout|timed out/i.test(msg) || errno === 'ETIMEDOUT') return make('TIMEOUT', true);
  return make('CONNECTION_CLOSED', true);
}
