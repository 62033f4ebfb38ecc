/**
 * metering.oracle in the real kernel on the embedded chain with the deployed settlement contracts:
 * telemetry (energy counters and a power point, ingested with their source and receive times) → readings
 * attested by k oracle keys → exact Wh on chain and EB minted/burned in the ledger; the lineage query
 * names the very records and bus offsets; a restart after a lost response never replays; bad queries → 400.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inlineConfig } from '../../../core/config/config-file.ts';
import { startInstance, type Instance } from '../../../core/instance.ts';
import { topicName } from '../../../core/bus/bus.ts';
import type { Sample, TelemetryRecord } from '../../../core/model/telemetry.ts';
import { SettlementServiceKey } from '../../../plugins/settlement/settlement-api.ts';
import { WEI_PER_WH, settlementClients } from '../../../chain/contracts/client.ts';
import { tempDir } from '../chain/helpers.ts';

const L = 300_000; // 5-minute intervals
const CUTOFF_S = 60;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('metering oracle in the kernel', function () {
  this.timeout(120_000);
  const dir = tempDir('em-oracle-');
  let instance: Instance | undefined;
  let X = 0; // the first interval of the test data

  after(async () => {
    await instance?.stop();
    dir.remove();
  });

  async function start(): Promise<Instance> {
    const i = await startInstance(
      inlineConfig(
        {
          dataDir: dir.path,
          api: { port: 0 },
          plugins: [
            { id: 'chain.empos', config: { blockTimeMs: 200, rpc: { port: 0 } } },
            { id: 'settlement.contracts', config: { intervalMinutes: 5, reserveEb: 1000, accountEb: 1, accountMc: 0 } },
            {
              id: 'metering.oracle',
              config: {
                intervalMinutes: 5,
                cutoffSeconds: CUTOFF_S,
                idleSeconds: 86_400, // the stream's receive times drive finality in this test
                tickMs: 100,
                registerMeters: true,
                meters: [
                  { deviceId: 'house-1', area: 'north', import: { pointId: 'energy-import', unit: 'kWh' }, export: { pointId: 'energy-export', unit: 'kWh' } },
                  { deviceId: 'pv-1', area: 'north', power: { pointId: 'ac-power', unit: 'W', positive: 'export' } },
                ],
              },
            },
          ],
        },
        dir.path,
      ),
      { defaultMetrics: false, stepTimeoutMs: 60_000 },
    );
    instance = i;
    return i;
  }

  function api(i: Instance, path: string): Promise<Response> {
    return fetch(`${i.url}/api/v1/plugins/metering.oracle/${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  }
  let adminToken = '';

  it('attests readings with exact Wh, mints and burns EB, and serves their lineage', async () => {
    const i = await start();
    adminToken = i.initialAdminToken?.token ?? '';
    const oracle = i.kernel.plugins.find((p) => p.id === 'metering.oracle');
    assert.equal(oracle?.health.current().state, 'up', oracle?.health.current().reason);
    const s = i.kernel.services.get(SettlementServiceKey);
    const c = settlementClients(s.addresses, s.provider());
    const house = s.meterId('house-1');
    const pv = s.meterId('pv-1');
    const houseOwner = await (await s.account('house-1')).getAddress();
    const pvOwner = await (await s.account('pv-1')).getAddress();
    assert.equal(await c.registry.meterOwner(house), houseOwner, 'registered at start with its owner');

    X = Math.floor(Date.now() / L) - 5;
    const t = (k: number, sec: number): number => (X + k) * L + sec * 1000;
    const samples: Sample[] = [];
    const add = (deviceId: string, pointId: string, ts: number, value: number, unit: string): void => {
      samples.push({ deviceId, pointId, ts, receivedAt: ts + 1000, value, quality: { status: 'good', flags: [] }, protocol: 'test', unit });
    };
    // house-1: interval X imports 500 Wh and exports 100 Wh; X+1 imports 200 Wh and exports 300 Wh
    for (const [k, sec, imp, exp] of [
      [0, 0, 10.0, 5.0],
      [0, 150, 10.25, 5.0],
      [1, 0, 10.5, 5.1],
      [1, 150, 10.6, 5.4],
      [2, 0, 10.7, 5.4],
    ] as const) {
      add('house-1', 'energy-import', t(k, sec), imp, 'kWh');
      add('house-1', 'energy-export', t(k, sec), exp, 'kWh');
    }
    // pv-1: 1200 W for 10 minutes, a sample a minute → 100 Wh per interval
    for (let m = 0; m <= 10; m++) add('pv-1', 'ac-power', t(0, 60 * m), 1200, 'W');
    samples.sort((a, b) => a.ts - b.ts);
    await i.kernel.pipeline.ingest(samples);
    // something else received after the cut-off of X+1 moves the watermark on
    add('other', 'x', t(2, CUTOFF_S + 1), 0, '');
    await i.kernel.pipeline.ingest(samples.slice(-1));

    await until('both meters attested through X+1', async () => (await c.registry.lastInterval(house)) === BigInt(X + 1) && (await c.registry.lastInterval(pv)) === BigInt(X + 1));
    assert.deepEqual(await c.registry.readingOf(house, BigInt(X)), { meterId: house, interval: BigInt(X), exportWh: 100n, importWh: 500n, flags: 0 });
    assert.deepEqual(await c.registry.readingOf(house, BigInt(X + 1)), { meterId: house, interval: BigInt(X + 1), exportWh: 300n, importWh: 200n, flags: 0 });
    assert.deepEqual(await c.registry.readingOf(pv, BigInt(X)), { meterId: pv, interval: BigInt(X), exportWh: 100n, importWh: 0n, flags: 0 });
    assert.deepEqual(await c.registry.readingOf(pv, BigInt(X + 1)), { meterId: pv, interval: BigInt(X + 1), exportWh: 100n, importWh: 0n, flags: 0 });
    // EB: X mints 100 Wh then burns 500 (100 covered, 400 owed); X+1 mints 300 and burns 200
    assert.equal(await c.ledger.balanceOf(houseOwner), 100n * WEI_PER_WH);
    assert.equal(await c.ledger.deficitOf(houseOwner), 400n * WEI_PER_WH);
    assert.equal(await c.ledger.balanceOf(pvOwner), 200n * WEI_PER_WH);

    // the readings API and their chain transaction
    await until('readings listed', async () => ((await (await api(i, 'readings?meter=house-1')).json()) as unknown[]).length === 2);
    const list = (await (await api(i, 'readings?meter=house-1')).json()) as { interval: number; txHash: string; status: string }[];
    assert.deepEqual(list.map((r) => [r.interval, r.status]), [
      [X + 1, 'attested'],
      [X, 'attested'],
    ]);
    const receipt = await s.provider().getTransactionReceipt(list[1]!.txHash);
    assert.equal(receipt?.status, 1, 'the listed transaction is the one on chain');

    // lineage: exactly the records of the interval's span, by seq and bus offset
    const res = await api(i, `readings/house-1/${X}/lineage`);
    assert.equal(res.status, 200);
    const lineage = (await res.json()) as { sources: { deviceId: string; pointId: string; seqFirst: number; seqLast: number; count: number; offsetFirst: number; offsetLast: number }[]; topic: string };
    const seen: { value: TelemetryRecord; offset: number }[] = [];
    const sub = await i.kernel.bus.subscribe<TelemetryRecord>(topicName(i.kernel.bus.prefix, 'telemetry'), { group: 'test.lineage', fromBeginning: true }, (batch) => {
      for (const m of batch) seen.push({ value: m.value, offset: m.offset });
    });
    await until('the topic read back', () => seen.length >= samples.length);
    await sub.close();
    for (const pointId of ['energy-import', 'energy-export']) {
      const expected = seen.filter((m) => m.value.deviceId === 'house-1' && m.value.pointId === pointId && m.value.ts >= t(0, 0) && m.value.ts <= t(1, 0));
      assert.equal(expected.length, 3);
      const src = lineage.sources.find((x) => x.pointId === pointId);
      assert.deepEqual(src && [src.deviceId, src.count, src.seqFirst, src.seqLast, src.offsetFirst, src.offsetLast], [
        'house-1',
        3,
        expected[0]!.value.seq,
        expected[2]!.value.seq,
        expected[0]!.offset,
        expected[2]!.offset,
      ]);
    }
    assert.equal(lineage.topic, 'energymesh.telemetry');

    // each attested reading is published on <prefix>.readings
    const published: { meter: string; interval: number; exportWh: number; importWh: number; txHash?: string }[] = [];
    const rsub = await i.kernel.bus.subscribe<(typeof published)[number]>(topicName(i.kernel.bus.prefix, 'readings'), { group: 'test.readings', fromBeginning: true }, (batch) => {
      for (const m of batch) published.push(m.value);
    });
    await until('readings on the bus', () => published.length >= 4);
    await rsub.close();
    assert.deepEqual(
      published.map((r) => [r.meter, r.interval - X, r.exportWh, r.importWh, typeof r.txHash]).sort(),
      [
        ['house-1', 0, 100, 500, 'string'],
        ['house-1', 1, 300, 200, 'string'],
        ['pv-1', 0, 100, 0, 'string'],
        ['pv-1', 1, 100, 0, 'string'],
      ],
    );
  });

  it('after a restart with a lost response (readings back in the outbox) finds them on chain and never replays', async () => {
    const i0 = instance!;
    const s0 = i0.kernel.services.get(SettlementServiceKey);
    const house = s0.meterId('house-1');
    const c0 = settlementClients(s0.addresses, s0.provider());
    const filter = c0.registry.contract.filters.ReadingAccepted;
    const before = await c0.registry.contract.queryFilter(filter!(house), 0, 'latest');
    assert.equal(before.length, 2);
    await i0.stop();
    instance = undefined;
    // the crash left the readings in the outbox and the readings log without them
    const pluginDir = join(dir.path, 'plugins', 'metering.oracle');
    const state = JSON.parse(readFileSync(join(pluginDir, 'state.json'), 'utf8')) as { outbox: unknown[] };
    const log = readFileSync(join(pluginDir, 'readings.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    state.outbox = log.map(({ status: _s, txHash: _t, blockNumber: _b, attestedAt: _a, ...rest }) => rest);
    writeFileSync(join(pluginDir, 'state.json'), JSON.stringify(state));
    rmSync(join(pluginDir, 'readings.jsonl'));

    const i = await start();
    const s = i.kernel.services.get(SettlementServiceKey);
    const c = settlementClients(s.addresses, s.provider());
    await until('the outbox resolved', async () => ((await (await api(i, 'status')).json()) as { pending: number }).pending === 0);
    const after = await c.registry.contract.queryFilter(filter!(house), 0, 'latest');
    assert.equal(after.length, 2, 'nothing submitted twice');
    const r = (await (await api(i, `readings/house-1/${X}`)).json()) as { status: string; txHash: string };
    assert.equal(r.status, 'already-on-chain');
    assert.equal(r.txHash, before[0]!.transactionHash, 'its transaction found from the ReadingAccepted log');
    assert.equal(i.kernel.plugins.find((p) => p.id === 'metering.oracle')?.health.current().state, 'up');

    // the aggregation continues where it stopped: X+2 from the restored channel state
    const t = (k: number, sec: number): number => (X + k) * L + sec * 1000;
    const sample = (pointId: string, k: number, sec: number, value: number, receivedAt: number): Sample => ({
      deviceId: 'house-1',
      pointId,
      ts: t(k, sec),
      receivedAt,
      value,
      quality: { status: 'good', flags: [] },
      protocol: 'test',
    });
    await i.kernel.pipeline.ingest([
      sample('energy-import', 2, 150, 10.8, t(3, 0)),
      sample('energy-export', 2, 150, 5.4, t(3, 0)),
      sample('energy-import', 3, 0, 10.9, t(3, 1)),
      sample('energy-export', 3, 0, 5.4, t(3, 1)),
      { ...sample('energy-import', 0, 200, 99, t(3, 2)), deviceId: 'other' },
    ]);
    await i.kernel.pipeline.ingest([{ ...sample('x', 3, CUTOFF_S + 2, 0, t(3, CUTOFF_S + 2)), deviceId: 'other' }]);
    await until('X+2 attested', async () => (await c.registry.lastInterval(house)) === BigInt(X + 2));
    assert.deepEqual(await c.registry.readingOf(house, BigInt(X + 2)), { meterId: house, interval: BigInt(X + 2), exportWh: 0n, importWh: 200n, flags: 0 });
    // pv-1 sent nothing after X+2 began: its X+2 is submitted all the same, 0 Wh flagged incomplete
    const pv = s.meterId('pv-1');
    assert.deepEqual(await c.registry.readingOf(pv, BigInt(X + 2)), { meterId: pv, interval: BigInt(X + 2), exportWh: 0n, importWh: 0n, flags: 2 });

    // pv-1 data for X+2 arriving after its cut-off is late: counted, not attested; the next reading says so
    await i.kernel.pipeline.ingest([{ deviceId: 'pv-1', pointId: 'ac-power', ts: t(2, 120), receivedAt: t(3, 90), value: 1200, quality: { status: 'good', flags: [] }, protocol: 'test' }]);
    await until('late data counted', async () => ((await (await api(i, 'status')).json()) as { counters: { lateRecords: number } }).counters.lateRecords === 1);
    const status = (await (await api(i, 'status')).json()) as { counters: { lateRecords: number; lateWh: number } };
    assert.ok(Math.abs(status.counters.lateWh - 40) < 1e-9, `1200 W for 120 s = 40 Wh late, got ${status.counters.lateWh}`);
    await i.kernel.pipeline.ingest([{ deviceId: 'other', pointId: 'x', ts: t(4, CUTOFF_S + 3), receivedAt: t(4, CUTOFF_S + 3), value: 0, quality: { status: 'good', flags: [] }, protocol: 'test' }]);
    await until('X+3 attested', async () => (await c.registry.lastInterval(pv)) === BigInt(X + 3));
    assert.equal((await c.registry.readingOf(pv, BigInt(X + 2)))?.exportWh, 0n, 'never re-attested');
    assert.equal((await c.registry.readingOf(pv, BigInt(X + 3)))?.flags, 2 | 4, 'incomplete, and late data was refused since the last reading');
  });

  it('answers malformed or unknown reading queries with 400 and a reason', async () => {
    const i = instance!;
    const bad = await api(i, 'readings/house-1/not-a-number/lineage');
    assert.equal(bad.status, 400);
    const unknown = await api(i, `readings/nobody/${X}/lineage`);
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /unknown meter nobody/);
    const missing = await api(i, `readings/house-1/${X - 100}`);
    assert.equal(missing.status, 400);
    assert.equal((await api(i, 'readings?limit=0')).status, 400);
  });
});
