/**
 * Parsers for Ethereum JSON-RPC parameters (EIP-1474 value encodings). Each throws RpcError -32602
 * naming the parameter: quantities are 0x hex without leading zeros (leniently: leading zeros accepted),
 * data is 0x hex of even length, addresses are 20 bytes.
 */
import { RpcError, RpcErrorCode } from './json-rpc.ts';

const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
const DATA = /^0x([0-9a-fA-F]{2})*$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;

export function invalidParams(message: string): RpcError {
  return new RpcError(RpcErrorCode.INVALID_PARAMS, `invalid argument: ${message}`);
}

export function quantity(v: unknown, name: string): bigint {
  if (typeof v !== 'string' || !QUANTITY.test(v)) throw invalidParams(`${name}: expected a 0x-prefixed hex quantity`);
  return BigInt(v);
}

export function optionalQuantity(v: unknown, name: string): bigint | undefined {
  return v === undefined || v === null ? undefined : quantity(v, name);
}

export function data(v: unknown, name: string, maxBytes = 256 * 1024): string {
  if (typeof v !== 'string' || !DATA.test(v)) throw invalidParams(`${name}: expected 0x-prefixed hex bytes`);
  if ((v.length - 2) / 2 > maxBytes) throw invalidParams(`${name}: too long`);
  return v.toLowerCase();
}

export function address(v: unknown, name: string): string {
  if (typeof v !== 'string' || !ADDRESS.test(v)) throw invalidParams(`${name}: expected a 20-byte address`);
  return v.toLowerCase();
}

export function hash(v: unknown, name: string): string {
  if (typeof v !== 'string' || !HASH.test(v)) throw invalidParams(`${name}: expected a 32-byte hash`);
  return v.toLowerCase();
}

export function bool(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalidParams(`${name}: expected a boolean`);
  return v;
}

export type BlockTag = 'latest' | 'pending' | 'earliest' | 'safe' | 'finalized';

/** A block parameter: a tag, a number, or an EIP-1898 object `{ blockNumber } | { blockHash }`. */
export type BlockRef = { tag: BlockTag } | { number: bigint } | { hash: string };

export function blockRef(v: unknown, name: string): BlockRef {
  if (v === undefined || v === null) return { tag: 'latest' };
  if (typeof v === 'string') {
    if (v === 'latest' || v === 'pending' || v === 'earliest' || v === 'safe' || v === 'finalized') return { tag: v };
    return { number: quantity(v, name) };
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (o.blockHash !== undefined) return { hash: hash(o.blockHash, `${name}.blockHash`) };
    if (o.blockNumber !== undefined) return blockRef(o.blockNumber, `${name}.blockNumber`);
  }
  throw invalidParams(`${name}: expected a block number, tag or {blockHash}`);
}

/** Positional params as an array (named params are not used by eth_*). */
export function positional(params: unknown, min: number, max: number): unknown[] {
  const list = params === undefined ? [] : params;
  if (!Array.isArray(list)) throw invalidParams('expected positional parameters');
  if (list.length < min) throw invalidParams(`missing value for required argument ${list.length}`);
  if (list.length > max) throw invalidParams(`too many arguments, want at most ${max}`);
  return list;
}
