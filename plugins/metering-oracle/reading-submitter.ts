/**
 * Submits final readings to the MeterRegistry, idempotently: before every batch it reads each meter's
 * `lastInterval` from the chain, so a reading already there (a restart after a lost response, a crash
 * between the transaction and the state write) is recognised — its transaction found from the
 * `ReadingAccepted` log — and never sent again. Batches are signed by k oracle keys (EIP-712,
 * docs/settlement.md) and capped by a reading count and by estimated gas (a batch over the cap is halved).
 *
 * Error policy: a refused batch (SETTLEMENT_REVERTED) or a network failure leaves the readings in the
 * outbox; the next run checks the chain again first. Readings of an unregistered meter wait (reported).
 */
import type { BaseWallet, Provider, Signer } from 'ethers';
import { EnergyMeshError, errorMessage } from '../../core/errors.ts';
import { MeterRegistryClient, attestReadings, settlementError, type Reading } from '../../chain/contracts/client.ts';
import type { PendingReading, ReadingRecord } from './oracle-store.ts';

/** The chain operations the submitter needs (an ethers implementation below; a fake in the spec). */
export interface OracleChain {
  /** The meter's last attested interval; undefined when none; throws when the meter is unknown. */
  lastInterval(meterId: string): Promise<bigint | undefined>;
  isRegistered(meterId: string): Promise<boolean>;
  latestBlockTimestamp(): Promise<number>;
  /** The transaction that accepted a reading, from the ReadingAccepted log. */
  acceptedTx(meterId: string, interval: bigint): Promise<{ txHash: string; blockNumber: number } | undefined>;
  sign(readings: readonly Reading[]): Promise<string[]>;
  estimateSubmit(readings: readonly Reading[], signatures: readonly string[]): Promise<bigint>;
  submit(readings: readonly Reading[], signatures: readonly string[], gasLimit: bigint): Promise<{ txHash: string; blockNumber: number }>;
}

export interface SubmitOptions {
  intervalSeconds: number;
  maxReadings: number;
  maxGas: bigint;
}

export interface SubmitOutcome {
  /** Readings now known on chain (attested by us or found there), in outbox order. */
  done: ReadingRecord[];
  /** Readings still waiting. */
  remaining: PendingReading[];
  batches: number;
  /** Why some readings wait (unregistered meter, refused batch, ...). */
  problems: string[];
}

export function toChainReading(r: PendingReading): Reading {
  return { meterId: r.meterId, interval: BigInt(r.interval), exportWh: BigInt(r.exportWh), importWh: BigInt(r.importWh), flags: r.flags };
}

/** One pass over the outbox. Never throws: failures are returned as problems, the readings kept. */
export async function submitOutbox(chain: OracleChain, outbox: readonly PendingReading[], options: SubmitOptions, now: () => number = Date.now): Promise<SubmitOutcome> {
  const done: ReadingRecord[] = [];
  const problems: string[] = [];
  let batches = 0;
  const byMeter = new Map<string, PendingReading[]>();
  for (const r of outbox) {
    let list = byMeter.get(r.meterId);
    if (list === undefined) byMeter.set(r.meterId, (list = []));
    list.push(r);
  }
  const sendable: PendingReading[] = [];
  const waiting = new Set<PendingReading>();
  let blockTime: number;
  try {
    blockTime = await chain.latestBlockTimestamp();
  } catch (e) {
    return { done, remaining: [...outbox], batches, problems: [`chain unreachable: ${errorMessage(e)}`] };
  }
  for (const [meterId, list] of byMeter) {
    list.sort((a, b) => a.interval - b.interval);
    let last: bigint | undefined;
    try {
      if (!(await chain.isRegistered(meterId))) {
        problems.push(`meter ${list[0]?.meter ?? meterId} (${meterId}) is not registered in the MeterRegistry: ${list.length} reading(s) wait`);
        for (const r of list) waiting.add(r);
        continue;
      }
      last = await chain.lastInterval(meterId);
    } catch (e) {
      problems.push(`lastInterval of ${meterId}: ${errorMessage(e)}`);
      for (const r of list) waiting.add(r);
      continue;
    }
    let expected = last === undefined ? undefined : Number(last) + 1;
    for (const r of list) {
      if (last !== undefined && BigInt(r.interval) <= last) {
        const tx = await chain.acceptedTx(meterId, BigInt(r.interval)).catch(() => undefined);
        done.push({ ...r, status: 'already-on-chain', ...(tx ? { txHash: tx.txHash, blockNumber: tx.blockNumber } : {}), attestedAt: now() });
        continue;
      }
      if (expected !== undefined && r.interval !== expected) {
        problems.push(`meter ${r.meter}: the chain expects interval ${expected} next, the oracle has ${r.interval} (readings in between are lost): waiting`);
        waiting.add(r);
        continue;
      }
      if ((r.interval + 1) * options.intervalSeconds > blockTime) {
        waiting.add(r); // not ended by chain time yet (IntervalNotEnded)
        expected = undefined;
        continue;
      }
      sendable.push(r);
      expected = r.interval + 1;
    }
  }
  // batches in outbox order (per meter ascending), capped by count and gas
  const order = new Map(outbox.map((r, i) => [r, i]));
  sendable.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  let i = 0;
  const failed = new Set<PendingReading>();
  while (i < sendable.length) {
    let n = Math.min(options.maxReadings, sendable.length - i);
    let sent = false;
    while (!sent) {
      const slice = sendable.slice(i, i + n);
      const readings = slice.map(toChainReading);
      try {
        const signatures = await chain.sign(readings);
        const gas = await chain.estimateSubmit(readings, signatures);
        if (gas > options.maxGas && n > 1) {
          n = Math.ceil(n / 2);
          continue;
        }
        const tx = await chain.submit(readings, signatures, (gas * 12n) / 10n);
        batches++;
        for (const r of slice) done.push({ ...r, status: 'attested', txHash: tx.txHash, blockNumber: tx.blockNumber, attestedAt: now() });
        sent = true;
      } catch (e) {
        problems.push(`batch of ${slice.length} reading(s) refused: ${errorMessage(e)}`);
        // this meter's later readings must wait too (the chain would see a gap)
        for (const r of sendable.slice(i)) failed.add(r);
        i = sendable.length;
        break;
      }
    }
    if (sent) i += n;
  }
  const doneSet = new Set(done.map((d) => `${d.meterId}/${d.interval}`));
  const remaining = outbox.filter((r) => !doneSet.has(`${r.meterId}/${r.interval}`));
  return { done, remaining, batches, problems };
}

/** The OracleChain over ethers and the typed MeterRegistry client. */
export class EthersOracleChain implements OracleChain {
  private readonly registry: MeterRegistryClient;

  constructor(
    registryAddress: string,
    submitter: Signer,
    private readonly provider: Provider,
    private readonly chainId: bigint,
    private readonly wallets: readonly BaseWallet[],
  ) {
    this.registry = new MeterRegistryClient(registryAddress, submitter);
  }

  lastInterval(meterId: string): Promise<bigint | undefined> {
    return this.registry.lastInterval(meterId);
  }

  async isRegistered(meterId: string): Promise<boolean> {
    return (await this.registry.meterOwner(meterId)) !== undefined;
  }

  async latestBlockTimestamp(): Promise<number> {
    const block = await this.provider.getBlock('latest');
    if (block === null) throw new EnergyMeshError('NOT_CONNECTED', 'no latest block');
    return block.timestamp;
  }

  async acceptedTx(meterId: string, interval: bigint): Promise<{ txHash: string; blockNumber: number } | undefined> {
    const filter = this.registry.contract.filters.ReadingAccepted;
    if (filter === undefined) return undefined;
    const logs = await this.registry.contract.queryFilter(filter(meterId, interval), 0, 'latest');
    const log = logs[logs.length - 1];
    return log ? { txHash: log.transactionHash, blockNumber: log.blockNumber } : undefined;
  }

  sign(readings: readonly Reading[]): Promise<string[]> {
    return attestReadings(this.wallets, this.chainId, this.registry.address, readings);
  }

  async estimateSubmit(readings: readonly Reading[], signatures: readonly string[]): Promise<bigint> {
    try {
      return await this.registry.contract.getFunction('submitReadings').estimateGas(
        readings.map((r) => [r.meterId, r.interval, r.exportWh, r.importWh, r.flags]),
        [...signatures],
      );
    } catch (e) {
      throw settlementError('submitReadings', e);
    }
  }

  async submit(readings: readonly Reading[], signatures: readonly string[], gasLimit: bigint): Promise<{ txHash: string; blockNumber: number }> {
    const receipt = await this.registry.submitReadings(readings, signatures, { gasLimit });
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
  }
}
