/**
 * Waits for a transaction's receipt by polling `eth_getTransactionReceipt`, in place of ethers' `tx.wait()`.
 *
 * Why not `tx.wait()`: while a receipt is pending, ethers (6.x) registers an async event listener that calls
 * `eth_blockNumber` and never handles that call's rejection. A provider destroyed at that moment — a plugin
 * stopping while one of its transactions is being mined — then raises an unhandled rejection ("provider
 * destroyed; cancelled request"), which ends a Node 20 process (seen in CI when a kernel stopped). Here every
 * request is awaited by the caller, so a destroyed provider or a failing node surfaces as this function's
 * rejection, where the caller's error handling already is.
 *
 * The receipt is returned whatever its status: callers decide what a revert means (`status === 0`).
 * There is no replacement detection (our signers never replace a transaction) and, like `tx.wait()`, no
 * timeout unless `signal` aborts.
 */
import type { Provider, TransactionReceipt } from 'ethers';
import { EnergyMeshError } from '../../core/errors.ts';

export interface WaitReceiptOptions {
  /** Poll period (default: the provider's `pollingInterval`, else 250 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

export async function waitForReceipt(tx: { hash: string; provider: Provider | null }, options: WaitReceiptOptions = {}): Promise<TransactionReceipt> {
  const provider = tx.provider;
  if (provider === null) throw new EnergyMeshError('NOT_CONNECTED', `no provider to wait for transaction ${tx.hash}`);
  const configured = (provider as { pollingInterval?: unknown }).pollingInterval;
  const pollMs = options.pollMs ?? (typeof configured === 'number' && configured > 0 ? configured : 250);
  for (;;) {
    if (options.signal?.aborted === true) throw new EnergyMeshError('NOT_CONNECTED', `stopped waiting for transaction ${tx.hash}`, { retriable: true });
    const receipt = await provider.getTransactionReceipt(tx.hash);
    if (receipt !== null) return receipt;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
