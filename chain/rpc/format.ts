/** Ethereum JSON-RPC object formats (execution-apis): blocks, transactions, receipts, logs. */
import type { Block } from '@ethereumjs/block';
import type { TypedTransaction } from '@ethereumjs/tx';
import { bytesToHex, KECCAK256_RLP_ARRAY } from '@ethereumjs/util';
import type { IndexedLog, StoredReceipt } from '../execution/receipts.ts';
import { logsBloom } from '../execution/receipts.ts';

export type Json = Record<string, unknown>;

export function qty(n: bigint | number): string {
  return `0x${n.toString(16)}`;
}

export function formatHeader(block: Block): Json {
  const h = block.header;
  return {
    number: qty(h.number),
    hash: bytesToHex(block.hash()),
    parentHash: bytesToHex(h.parentHash),
    nonce: bytesToHex(h.nonce),
    sha3Uncles: bytesToHex(KECCAK256_RLP_ARRAY),
    logsBloom: bytesToHex(h.logsBloom),
    transactionsRoot: bytesToHex(h.transactionsTrie),
    stateRoot: bytesToHex(h.stateRoot),
    receiptsRoot: bytesToHex(h.receiptTrie),
    miner: h.coinbase.toString(),
    difficulty: '0x0',
    extraData: bytesToHex(h.extraData),
    gasLimit: qty(h.gasLimit),
    gasUsed: qty(h.gasUsed),
    timestamp: qty(h.timestamp),
    mixHash: bytesToHex(h.mixHash),
    baseFeePerGas: qty(h.baseFeePerGas ?? 0n),
    withdrawalsRoot: bytesToHex(h.withdrawalsRoot ?? KECCAK256_RLP_ARRAY),
    blobGasUsed: qty(h.blobGasUsed ?? 0n),
    excessBlobGas: qty(h.excessBlobGas ?? 0n),
    parentBeaconBlockRoot: bytesToHex(h.parentBeaconBlockRoot ?? new Uint8Array(32)),
  };
}

export function formatBlock(block: Block, fullTxs: boolean, senders: readonly string[]): Json {
  return {
    ...formatHeader(block),
    totalDifficulty: '0x0',
    size: qty(block.serialize().length),
    uncles: [],
    withdrawals: [],
    transactions: block.transactions.map((tx, i) =>
      fullTxs
        ? formatTx(tx, senders[i] ?? tx.getSenderAddress().toString(), { number: block.header.number, hash: bytesToHex(block.hash()), index: i, baseFee: block.header.baseFeePerGas ?? 0n })
        : bytesToHex(tx.hash()),
    ),
  };
}

export function formatTx(tx: TypedTransaction, from: string, at?: { number: bigint; hash: string; index: number; baseFee: bigint }): Json {
  const j = tx.toJSON() as Record<string, unknown>;
  const out: Json = {
    type: qty(tx.type),
    hash: bytesToHex(tx.hash()),
    nonce: qty(tx.nonce),
    blockHash: at?.hash ?? null,
    blockNumber: at === undefined ? null : qty(at.number),
    transactionIndex: at === undefined ? null : qty(at.index),
    from,
    to: tx.to === undefined ? null : tx.to.toString(),
    value: qty(tx.value),
    gas: qty(tx.gasLimit),
    input: bytesToHex(tx.data),
    v: qty(tx.v ?? 0n),
    r: qty(tx.r ?? 0n),
    s: qty(tx.s ?? 0n),
  };
  if ('maxFeePerGas' in tx) {
    out.maxFeePerGas = qty(tx.maxFeePerGas);
    out.maxPriorityFeePerGas = qty(tx.maxPriorityFeePerGas);
    out.gasPrice = qty(at === undefined ? tx.maxFeePerGas : at.baseFee + tx.getEffectivePriorityFee(at.baseFee));
  } else {
    out.gasPrice = qty(tx.gasPrice);
  }
  if (tx.type !== 0) {
    out.chainId = qty(tx.common.chainId());
    out.accessList = j.accessList ?? [];
    out.yParity = qty(tx.v ?? 0n);
  } else if (tx.supports(155)) {
    out.chainId = qty(tx.common.chainId());
  }
  return out;
}

export function formatLog(log: IndexedLog): Json {
  return {
    address: log.address,
    topics: log.topics,
    data: log.data,
    blockNumber: qty(log.blockNumber),
    blockHash: log.blockHash,
    transactionHash: log.transactionHash,
    transactionIndex: qty(log.transactionIndex),
    logIndex: qty(log.logIndex),
    removed: false,
  };
}

export function formatReceipt(block: Block, receipts: readonly StoredReceipt[], index: number): Json {
  const r = receipts[index]!;
  const tx = block.transactions[index]!;
  const blockHash = bytesToHex(block.hash());
  let logIndex = 0;
  for (let i = 0; i < index; i++) logIndex += receipts[i]!.logs.length;
  const txHash = bytesToHex(tx.hash());
  return {
    transactionHash: txHash,
    transactionIndex: qty(index),
    blockHash,
    blockNumber: qty(block.header.number),
    from: r.from,
    to: r.to,
    cumulativeGasUsed: qty(BigInt(r.cumulativeGasUsed)),
    gasUsed: qty(BigInt(r.gasUsed)),
    effectiveGasPrice: qty(BigInt(r.effectiveGasPrice)),
    contractAddress: r.contractAddress,
    logs: r.logs.map((l, i) =>
      formatLog({ ...l, blockNumber: block.header.number, blockHash, transactionHash: txHash, transactionIndex: index, logIndex: logIndex + i }),
    ),
    logsBloom: bytesToHex(logsBloom(r.logs)),
    type: qty(r.type),
    status: qty(r.status),
  };
}
