/**
 * JSON-RPC 2.0 framing (https://www.jsonrpc.org/specification) with Ethereum's error conventions
 * (EIP-1474): -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid
 * params, -32603 internal error, -32000 server errors with geth's messages (`nonce too low`, ...),
 * 3 `execution reverted` with the revert data in `error.data`, -32005 limit exceeded.
 * Error policy: a handler throws `RpcError`; anything else becomes -32603 without internals leaking.
 */
import { isEnergyMeshError } from '../../core/errors.ts';

export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  SERVER: -32000,
  LIMIT_EXCEEDED: -32005,
  EXECUTION_REVERTED: 3,
} as const;

export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id?: JsonRpcId;
  method: string;
  params?: unknown[] | Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcErrorObject };

/** Checks the shape of one request; returns it or an RpcError (-32600). */
export function validateRequest(value: unknown): JsonRpcRequest | RpcError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return new RpcError(RpcErrorCode.INVALID_REQUEST, 'invalid request');
  const r = value as Record<string, unknown>;
  if (r.jsonrpc !== '2.0') return new RpcError(RpcErrorCode.INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"');
  if (typeof r.method !== 'string' || r.method.length === 0 || r.method.length > 100) return new RpcError(RpcErrorCode.INVALID_REQUEST, 'invalid request: method');
  if (r.id !== undefined && r.id !== null && typeof r.id !== 'string' && typeof r.id !== 'number') return new RpcError(RpcErrorCode.INVALID_REQUEST, 'invalid request: id');
  if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) return new RpcError(RpcErrorCode.INVALID_REQUEST, 'invalid request: params');
  return r as unknown as JsonRpcRequest;
}

/** Converts anything a handler threw into a JSON-RPC error object. */
export function toErrorObject(e: unknown): JsonRpcErrorObject {
  if (e instanceof RpcError) return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
  if (isEnergyMeshError(e, 'SETTLEMENT_REVERTED')) {
    return { code: RpcErrorCode.EXECUTION_REVERTED, message: e.message, data: e.details.revertData };
  }
  if (isEnergyMeshError(e, 'INVALID_ARGUMENT') && typeof e.details.rpcMessage === 'string') {
    return { code: RpcErrorCode.SERVER, message: e.details.rpcMessage };
  }
  if (isEnergyMeshError(e, 'NOT_CONNECTED')) return { code: RpcErrorCode.SERVER, message: 'node is shutting down' };
  return { code: RpcErrorCode.INTERNAL, message: 'internal error' };
}

export function errorResponse(id: JsonRpcId, e: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: toErrorObject(e) };
}
