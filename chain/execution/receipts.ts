/**
 * The receipts record stored with each block (JSON, hex strings) and its conversions: to the
 * consensus encoding used for the receipts root, and to logs with their position for RPC.
 */
import { hexToBytes } from '@ethereumjs/util';
import { keccak256 } from './crypto.ts';

export interface StoredLog {
  address: string;
  topics: string[];
  data: string;
}

export interface StoredReceipt {
  /** 1 success, 0 reverted. */
  status: 0 | 1;
  type: number;
  from: string;
  to: string | null;
  cumulativeGasUsed: string;
  gasUsed: string;
  effectiveGasPrice: string;
  contractAddress: string | null;
  logs: StoredLog[];
}

export interface StoredReceipts {
  receipts: StoredReceipt[];
}

/** A log with its position, as RPC returns it. */
export interface IndexedLog extends StoredLog {
  blockNumber: bigint;
  blockHash: string;
  transactionHash: string;
  transactionIndex: number;
  logIndex: number;
}

export function encodeStoredReceipts(r: StoredReceipts): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

export function decodeStoredReceipts(bytes: Uint8Array): StoredReceipts {
  return JSON.parse(new TextDecoder().decode(bytes)) as StoredReceipts;
}

/**
 * Adds one entry to a 2048-bit log bloom (Yellow Paper §4.3.1, M3:2048): of keccak256(entry), the first
 * three 16-bit big-endian pairs, each taken mod 2048, name bits counted from the low end of the
 * big-endian 256-byte vector.
 */
export function bloomAdd(bloom: Uint8Array, entry: Uint8Array): void {
  const h = keccak256(entry);
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
    bloom[255 - (bit >> 3)]! |= 1 << (bit & 7);
  }
}

/** The 2048-bit bloom of a set of logs. */
export function logsBloom(logs: readonly StoredLog[]): Uint8Array {
  const bloom = new Uint8Array(256);
  for (const log of logs) {
    bloomAdd(bloom, hexToBytes(log.address as `0x${string}`));
    for (const t of log.topics) bloomAdd(bloom, hexToBytes(t as `0x${string}`));
  }
  return bloom;
}
