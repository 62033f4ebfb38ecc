/**
 * The receipts record stored with each block (JSON, hex strings) and its conversions: to the
 * consensus encoding used for the receipts root, and to logs with their position for RPC.
 */
import { Bloom } from '@ethereumjs/vm';
import { hexToBytes } from '@ethereumjs/util';

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

/** The 2048-bit bloom of a set of logs. */
export function logsBloom(logs: readonly StoredLog[]): Uint8Array {
  const bloom = new Bloom();
  for (const log of logs) {
    bloom.add(hexToBytes(log.address as `0x${string}`));
    for (const t of log.topics) bloom.add(hexToBytes(t as `0x${string}`));
  }
  return bloom.bitvector;
}
