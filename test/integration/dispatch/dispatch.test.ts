/**
 * dispatch.incentives in the real kernel: the embedded chain with the deployed contracts, a simulated
 * SunSpec battery served by simulator.modbus and read/written by protocol.modbus, the metering oracle and
 * dispatch. A balancing event is published through the API (a viewer is refused, malformed requests are
 * refused with nothing created on chain), its setpoints reach the battery's registers at window start and
 * are restored at its end, the meter's readings are attested, and the event is settled with the exact
 * reward on chain. The process clock is moved forward (Date.now, which the chain's block timestamps also
 * follow) so a 5-minute window passes in seconds; nothing asserts wall-clock time.
 */
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { inlineConfig } from '../../../core/config/config-file.ts';
import { startInstance, type Instance } from '../../../core/instance.ts';
import type { Sample } from '../../../core/model/telemetry.ts';
import { SettlementServiceKey } from '../../../plugins/settlement/settlement-api.ts';
import type { ModbusSimulatorLifecycle } from '../../../plugins/simulator-modbus/simulator-lifecycle.ts';
import type { Battery } from '../../../protocols/modbus/simulator/simulated-devices.ts';
import { WEI_PER_WH, settlementClients } from '../../../chain/contracts/client.ts';
import { addDispatchCommands } from '../../../plugins/dispatch/cli.ts';
import { tempDir } from '../chain/helpers.ts';
import { freePort } from '../modbus/helpers.ts';

const L = 300_000;
const CUTOFF_S = 30;
const EB = 10n ** 18n;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('dispatch in the kernel', function () {
  this.timeout(120_000);
  const dir = tempDir('em-dispatch-');
  const realNow = Date.now.bind(Date);
  let offset = 0;
  let instance: Instance | undefined;
  let url = '';
  const tokens = { admin: '', operator: '', viewer: '' };

  before(() => {
    Date.now = () => realNow() + offset;
  });
  after(async () => {
    await instance?.stop();
    Date.now = realNow;
    dir.remove();
  });

  async function start(port: number): Promise<Instance> {
    const i = await startInstance(
      inlineConfig(
        {
          dataDir: dir.path,
          api: { port: 0 },
          plugins: [
            { id: 'simulator.modbus', config: { tickMs: 100, devices: [{ id: 'SIM-BAT', kind: 'battery', port, ratedW: 5000, capacityWh: 13500, initialSoc: 80 }] } },
            {
              id: 'protocol.modbus',
              config: { devices: [{ id: 'battery-1', transport: { type: 'tcp', host: '127.0.0.1', port }, sunspec: { enabled: true }, pollGroups: [{ name: 'fast', intervalMs: 200 }] }] },
            },
            { id: 'chain.empos', config: { blockTimeMs: 200, rpc: { port: 0 } } },
            { id: 'settlement.contracts', config: { intervalMinutes: 5, reserveEb: 1000, accountEb: 1, accountMc: 0 } },
            {
              id: 'metering.oracle',
              config: {
                cutoffSeconds: CUTOFF_S,
                idleSeconds: 86_400,
                tickMs: 100,
                registerMeters: true,
                intervalMinutes: 5,
                meters: [
                  { deviceId: 'house-1', area: 'north', import: { pointId: 'energy-import', unit: 'Wh' }, export: { pointId: 'energy-export', unit: 'Wh' } },
                  { deviceId: 'house-2', area: 'south', import: { pointId: 'energy-import', unit: 'Wh' } },
                ],
              },
            },
            { id: 'dispatch.incentives', config: { tickMs: 100, meters: [{ deviceId: 'house-1', power: { deviceId: 'battery-1', pointId: 'battery.W', unit: 'W', positive: 'export' } }] } },
          ],
        },
        dir.path,
      ),
      { defaultMetrics: false, stepTimeoutMs: 60_000 },
    );
    instance = i;
    url = i.url ?? '';
    return i;
  }

  const post = (path: string, token: string, body: unknown): Promise<Response> =>
    fetch(`${url}/api/v1/plugins/dispatch.incentives/${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const get = async (path: string): Promise<unknown> => (await fetch(`${url}/api/v1/plugins/dispatch.incentives/${path}`, { headers: { authorization: `Bearer ${tokens.viewer}` } })).json();

  it('publishes an event, sends the battery setpoints, survives a restart mid-window, restores them, and pays the exact reward once the readings are attested', async () => {
    const i = await start(await freePort());
    tokens.admin = i.initialAdminToken?.token ?? '';
    for (const role of ['operator', 'viewer'] as const) {
      const res = await fetch(`${url}/api/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `test ${role}`, role }) });
      tokens[role] = ((await res.json()) as { token: string }).token;
    }
    for (const id of ['dispatch.incentives', 'metering.oracle', 'protocol.modbus']) {
      assert.equal(i.kernel.plugins.find((p) => p.id === id)?.health.current().state, 'up', id);
    }
    const sim = (i.kernel.plugins.find((p) => p.id === 'simulator.modbus')?.lifecycle[0] as ModbusSimulatorLifecycle).running!;
    const battery = sim.device<Battery>('SIM-BAT');
    await until('battery points polled', () => i.kernel.latest.get('battery-1', 'storage.OutWRte') !== undefined && i.kernel.latest.get('battery-1', 'storage.StorCtl_Mod') !== undefined);
    assert.equal(battery.image?.get('storage', 'OutWRte'), 100);
    assert.equal(battery.image?.getRaw('storage', 'StorCtl_Mod'), 0);

    let s = i.kernel.services.get(SettlementServiceKey);
    let c = settlementClients(s.addresses, s.provider());
    const house = s.meterId('house-1');
    const W = Math.ceil((Date.now() + 40_000) / L); // the window's interval, at least 40 s ahead
    const body = {
      area: 'north',
      start: new Date(W * L).toISOString(),
      end: new Date((W + 1) * L).toISOString(),
      direction: 'up',
      targetKw: 4,
      rewardEbPerKwh: '0.5',
      poolEb: '10',
      reason: 'evening peak',
      meters: [
        {
          meter: 'house-1',
          setpoints: [
            { deviceId: 'battery-1', pointId: 'storage.OutWRte', value: 80 },
            { deviceId: 'battery-1', pointId: 'storage.StorCtl_Mod', value: 2 },
          ],
        },
      ],
    };

    // refused: a viewer; malformed or impossible requests — and nothing half-applied
    const denied = await post('events', tokens.viewer, body);
    assert.equal(denied.status, 403);
    for (const [bad, why] of [
      [{ ...body, direction: 'sideways' }, /direction/],
      [{ ...body, start: new Date(W * L + 1000).toISOString() }, /interval boundaries/],
      [{ ...body, poolEb: 'lots' }, /poolEb/],
      [{ ...body, meters: [] }, /meters/],
      [{ ...body, meters: [{ meter: 'house-2' }] }, /not in area north/],
      [{ ...body, meters: [...body.meters, { meter: 'house-9' }] }, /house-9 is not registered/],
      [{ ...body, meters: [{ meter: 'house-1', setpoints: [{ deviceId: 'battery-1', pointId: 'no-such-point', value: 1 }] }] }, /no value to restore/],
    ] as const) {
      const res = await post('events', tokens.operator, bad);
      assert.equal(res.status, 400, JSON.stringify(bad).slice(0, 80));
      assert.match(((await res.json()) as { error: { message: string } }).error.message, why);
    }
    assert.equal((await c.incentives.contract.getFunction('eventCount').staticCall()) as bigint, 0n, 'no event created on chain');
    assert.deepEqual(await get('events'), []);

    const res = await post('events', tokens.operator, body);
    assert.equal(res.status, 200, await res.clone().text());
    const published = (await res.json()) as { id: number; status: string };
    assert.deepEqual([published.id, published.status], [1, 'scheduled']);
    const onChain = await c.incentives.eventOf(1n);
    assert.deepEqual([onChain.startInterval, onChain.endInterval, onChain.direction, onChain.targetKw, onChain.rewardPerKwh, onChain.pool], [BigInt(W), BigInt(W + 1), 'up', 4n, EB / 2n, 10n * EB]);
    assert.equal(await c.incentives.enrolment(1n, house), 'enrolled');
    assert.equal(battery.image?.get('storage', 'OutWRte'), 100, 'nothing sent before the window');

    // the window starts: the setpoints reach the battery's registers through the driver
    offset += W * L + 1000 - Date.now();
    await until('setpoints applied', () => battery.image?.getRaw('storage', 'StorCtl_Mod') === 2 && battery.image?.get('storage', 'OutWRte') === 80);
    const active = (await get('events/1')) as { status: string; meters: { setpoints: { sent?: { status: string; commandId: string } }[] }[] };
    assert.equal(active.status, 'active');
    assert.deepEqual(active.meters[0]?.setpoints.map((sp) => sp.sent?.status), ['succeeded', 'succeeded']);
    const commandIds = active.meters[0]?.setpoints.map((sp) => sp.sent?.commandId);

    // EnergyMesh restarts in the middle of the window (the battery keeps its setpoints meanwhile)
    await i.stop();
    instance = undefined;
    const i2 = await start(await freePort());
    s = i2.kernel.services.get(SettlementServiceKey);
    c = settlementClients(s.addresses, s.provider());
    const battery2 = ((i2.kernel.plugins.find((p) => p.id === 'simulator.modbus')?.lifecycle[0] as ModbusSimulatorLifecycle).running!).device<Battery>('SIM-BAT');
    battery2.image?.set('storage', 'OutWRte', 80);
    battery2.image?.setRaw('storage', 'StorCtl_Mod', 2);
    await until('battery points polled again', () => i2.kernel.latest.get('battery-1', 'battery.W') !== undefined);
    const resumed = (await get('events/1')) as { status: string; meters: { setpoints: { sent?: { commandId: string } }[] }[] };
    assert.equal(resumed.status, 'active');
    assert.deepEqual(resumed.meters[0]?.setpoints.map((sp) => sp.sent?.commandId), commandIds, 'setpoints not sent again');
    // 80 % of the battery's 5 kW: 4 kW discharged (the meter's power for the live view), the target met
    await until('live response', async () => ((await get('events/1')) as { response?: { deliveredKw: number; ratio: number } }).response?.ratio === 1);
    await until('live response on the bus', () => i2.kernel.latest.get('dispatch', 'event-1.delivered-kw')?.value === 4);

    // the meter measures the response: 1200 Wh exported in the window, nothing imported (baseline: no history → 0)
    const meterSample = (pointId: string, ts: number, value: number): Sample => ({ deviceId: 'house-1', pointId, ts, receivedAt: ts + 500, value, quality: { status: 'good', flags: [] }, protocol: 'test', unit: 'Wh' });
    await i2.kernel.pipeline.ingest([meterSample('energy-import', W * L, 5000), meterSample('energy-export', W * L, 100), meterSample('energy-import', W * L + 150_000, 5000), meterSample('energy-export', W * L + 150_000, 700)]);

    // the window ends: previous setpoints restored
    offset += (W + 1) * L + 1000 - Date.now();
    await until('setpoints restored', () => battery2.image?.getRaw('storage', 'StorCtl_Mod') === 0 && battery2.image?.get('storage', 'OutWRte') === 100);
    await i2.kernel.pipeline.ingest([meterSample('energy-import', (W + 1) * L, 5000), meterSample('energy-export', (W + 1) * L, 1300)]);
    offset += (W + 1) * L + (CUTOFF_S + 2) * 1000 - Date.now();
    await i2.kernel.pipeline.ingest([{ deviceId: 'clock', pointId: 'tick', ts: Date.now(), value: 0, quality: { status: 'good', flags: [] }, protocol: 'test' }]);

    await until('event settled', async () => ((await get('events/1')) as { status: string }).status === 'settled', 60_000);
    assert.deepEqual(await c.registry.readingOf(house, BigInt(W)), { meterId: house, interval: BigInt(W), exportWh: 1200n, importWh: 0n, flags: 0 });
    const settled = (await get('events/1')) as { settlement: { txHash: string; payouts: { meter: string; deliveredWh: string; rewardWei: string }[] } };
    assert.deepEqual(settled.settlement.payouts.map((p) => [p.meter, p.deliveredWh, p.rewardWei]), [['house-1', '1200', (6n * 10n ** 17n).toString()]], '1200 Wh × 0.5 EB/kWh = 0.6 EB');
    const owner = await (await s.account('house-1')).getAddress();
    assert.equal(await c.ledger.balanceOf(owner), 1200n * WEI_PER_WH + 6n * 10n ** 17n, 'minted export + reward');
    assert.equal(await c.incentives.enrolment(1n, house), 'settled');
    assert.equal((await c.incentives.eventOf(1n)).pool, 10n * EB - 6n * 10n ** 17n);

    // the CLI, as an API client
    const out: string[] = [];
    let code = -1;
    const program = new Command('energymesh').exitOverride();
    addDispatchCommands(program, { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) }, (c2) => (code = c2));
    await program.parseAsync(['node', 'energymesh', 'dispatch', 'list', '--url', url, '--token', tokens.viewer]);
    assert.equal(code, 0, out.join('\n'));
    assert.match(out.join('\n'), /^1\s+settled\s+north .* up 4 kW paid 0\.6 EB$/m);
    out.length = 0;
    const program2 = new Command('energymesh').exitOverride();
    addDispatchCommands(program2, { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) }, (c2) => (code = c2));
    await program2.parseAsync(['node', 'energymesh', 'dispatch', 'settle', '1', '--url', url, '--token', tokens.viewer]);
    assert.equal(code, 1);
    assert.match(out.join('\n'), /ERR energymesh: 403/);
  });
});
