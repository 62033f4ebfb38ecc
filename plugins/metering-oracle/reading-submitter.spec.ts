import assert from 'node:assert/strict';
import type { Reading } from '../../chain/contracts/client.ts';
import { EnergyMeshError } from '../../core/errors.ts';
import type { PendingReading } from './oracle-store.ts';
import { submitOutbox, type OracleChain } from './reading-submitter.ts';

/** A MeterRegistry in memory with the contract's refusals (replay, out of order, gap, not ended). */
class FakeRegistry implements OracleChain {
  readonly last = new Map<string, bigint>();
  readonly registered = new Set<string>();
  readonly accepted = new Map<string, string>();
  readonly submissions: Reading[][] = [];
  blockTime = 10_000_000;
  gasPerReading = 50_000n;
  /** Throw after applying the next submission (a response lost on the way back). */
  loseNextResponse = false;
  private txs = 0;

  async lastInterval(meterId: string): Promise<bigint | undefined> {
    return this.last.get(meterId);
  }
  async isRegistered(meterId: string): Promise<boolean> {
    return this.registered.has(meterId);
  }
  async latestBlockTimestamp(): Promise<number> {
    return this.blockTime;
  }
  async acceptedTx(meterId: string, interval: bigint): Promise<{ txHash: string; blockNumber: number } | undefined> {
    const tx = this.accepted.get(`${meterId}/${interval}`);
    return tx ? { txHash: tx, blockNumber: 1 } : undefined;
  }
  async sign(readings: readonly Reading[]): Promise<string[]> {
    return [`sig-${readings.length}`];
  }
  async estimateSubmit(readings: readonly Reading[]): Promise<bigint> {
    this.check(readings);
    return 21_000n + this.gasPerReading * BigInt(readings.length);
  }
  async submit(readings: readonly Reading[]): Promise<{ txHash: string; blockNumber: number }> {
    this.check(readings);
    const tx = `0xtx${++this.txs}`;
    for (const r of readings) {
      this.last.set(r.meterId, r.interval);
      this.accepted.set(`${r.meterId}/${r.interval}`, tx);
    }
    this.submissions.push([...readings]);
    if (this.loseNextResponse) {
      this.loseNextResponse = false;
      throw new EnergyMeshError('TIMEOUT', 'response lost', { retriable: true });
    }
    return { txHash: tx, blockNumber: this.txs };
  }
  private check(readings: readonly Reading[]): void {
    const last = new Map(this.last);
    for (const r of readings) {
      if (!this.registered.has(r.meterId)) throw new EnergyMeshError('SETTLEMENT_REVERTED', 'UnknownMeter');
      if ((r.interval + 1n) * 900n > BigInt(this.blockTime)) throw new EnergyMeshError('SETTLEMENT_REVERTED', 'IntervalNotEnded');
      const l = last.get(r.meterId);
      if (l !== undefined) {
        if (r.interval === l) throw new EnergyMeshError('SETTLEMENT_REVERTED', 'ReadingReplayed');
        if (r.interval < l) throw new EnergyMeshError('SETTLEMENT_REVERTED', 'IntervalOutOfOrder');
        if (r.interval !== l + 1n) throw new EnergyMeshError('SETTLEMENT_REVERTED', 'IntervalGap');
      }
      last.set(r.meterId, r.interval);
    }
  }
}

const opts = { intervalSeconds: 900, maxReadings: 100, maxGas: 10_000_000n };

function pending(meter: string, interval: number, importWh = 10): PendingReading {
  return { meter, meterId: `0x${meter}`, interval, exportWh: 0, importWh, flags: 0, coverage: {}, lineage: [], finalizedAt: 0 };
}

describe('metering oracle submission', () => {
  it('submits in batches capped by gas, meters interleaved, in order', async () => {
    const chain = new FakeRegistry();
    chain.registered.add('0xa').add('0xb');
    chain.gasPerReading = 1_000_000n;
    const outbox = [1, 2, 3, 4, 5].flatMap((i) => [pending('a', 100 + i), pending('b', 100 + i)]);
    const out = await submitOutbox(chain, outbox, { ...opts, maxGas: 4_000_000n });
    assert.deepEqual(out.problems, []);
    assert.equal(out.remaining.length, 0);
    assert.equal(out.done.length, 10);
    assert.ok(chain.submissions.every((s) => s.length <= 3), `batches of at most 3 under the gas cap: ${chain.submissions.map((s) => s.length).join(',')}`);
    assert.equal(chain.last.get('0xa'), 105n);
    assert.equal(out.batches, chain.submissions.length);
  });

  it('never replays: after a lost response the next pass finds the readings on chain with their transaction', async () => {
    const chain = new FakeRegistry();
    chain.registered.add('0xa');
    chain.loseNextResponse = true;
    const outbox = [pending('a', 7), pending('a', 8)];
    const first = await submitOutbox(chain, outbox, opts);
    assert.equal(first.done.length, 0);
    assert.equal(first.remaining.length, 2, 'kept in the outbox');
    assert.match(first.problems[0] ?? '', /response lost/);
    const second = await submitOutbox(chain, first.remaining, opts);
    assert.equal(chain.submissions.length, 1, 'not sent again');
    assert.deepEqual(
      second.done.map((d) => [d.interval, d.status, d.txHash]),
      [
        [7, 'already-on-chain', '0xtx1'],
        [8, 'already-on-chain', '0xtx1'],
      ],
    );
    assert.equal(second.remaining.length, 0);
  });

  it('keeps readings of an unregistered meter and of intervals the chain has not reached, and sends the rest', async () => {
    const chain = new FakeRegistry();
    chain.registered.add('0xa');
    chain.blockTime = 900 * 10 - 1; // interval 9 ends at 9000 s
    const out = await submitOutbox(chain, [pending('a', 8), pending('a', 9), pending('x', 5)], opts);
    assert.deepEqual(out.done.map((d) => d.interval), [8]);
    assert.deepEqual(out.remaining.map((r) => [r.meter, r.interval]), [
      ['a', 9],
      ['x', 5],
    ]);
    assert.match(out.problems.join('\n'), /meter x .* not registered/);
  });
});
