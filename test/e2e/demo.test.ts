/**
 * `npm start`'s demo, as a real process: the demo config (copied with free ports and a temp data
 * dir) → simulated devices of every protocol → drivers → pipeline → bus → API, and the settlement layer
 * on the embedded chain (contracts deployed, meters registered, services up). Values arrive with good
 * quality, a setpoint command goes through and is read back, and the process stops cleanly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult, TelemetryRecord } from '../../core/model/telemetry.ts';
import { PACKAGE_ROOT } from '../../core/paths.ts';
import { freePort } from '../support/ports.ts';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the demo (npm start)', function () {
  this.timeout(240_000);
  let dir: string;
  let child: ChildProcess | undefined;

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child?.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams SunSpec device values through the pipeline to the API and executes a setpoint', async () => {
    dir = mkdtempSync(join(tmpdir(), 'em-demo-'));
    let yaml = readFileSync(join(PACKAGE_ROOT, 'examples', 'demo', 'energymesh.yaml'), 'utf8');
    yaml = yaml.replace('dataDir: ./data', `dataDir: ${join(dir, 'data')}`).replace('port: 8080', 'port: 0');
    for (const p of ['15021', '15022', '15023', '15024', '10102', '20001', '4840', '8545']) {
      const free = await freePort();
      yaml = yaml.replaceAll(`port: ${p}`, `port: ${free}`).replaceAll(`127.0.0.1:${p}`, `127.0.0.1:${free}`);
    }
    writeFileSync(join(dir, 'energymesh.yaml'), yaml);
    // files the demo config names relative to itself
    cpSync(join(PACKAGE_ROOT, 'examples', 'demo', 'scl'), join(dir, 'scl'), { recursive: true });
    cpSync(join(PACKAGE_ROOT, 'examples', 'demo', 'dnp3-substation-rtu.yaml'), join(dir, 'dnp3-substation-rtu.yaml'));

    child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'energymesh.mjs'), 'start', '--config', join(dir, 'energymesh.yaml')], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ENERGYMESH_LOG_LEVEL: 'warn' },
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += String(d)));
    // the first start deploys the settlement contracts before the API opens
    const url = await until('the banner', async () => /health: +(http:\/\/[^/]+)\/api\/v1\/health/.exec(err)?.[1], 180_000);
    const token = /first admin API token[^\n]*\n\s+(em_\S+)/.exec(err)?.[1];
    assert.ok(token, 'the first start prints an admin token');

    const devices = await until('nine devices online', async () => {
      const d = (await (await fetch(`${url}/api/v1/devices`)).json()) as { deviceId: string; status: string; points: number; protocol: string }[];
      return d.length === 9 && d.every((x) => x.status === 'online' && x.points >= 5) ? d : undefined;
    });
    assert.deepEqual(
      devices.map((d) => `${d.protocol}:${d.deviceId}`).sort(),
      ['dnp3:substation-rtu-1', 'iec61850:feeder-ied', 'modbus:battery-1', 'modbus:house-1', 'modbus:house-2', 'modbus:house-3', 'modbus:meter-1', 'modbus:pv-1', 'opcua:der-server-1'],
    );
    // the settlement layer: every plugin up, the meters registered on chain by the oracle
    const health = (await (await fetch(`${url}/api/v1/health`)).json()) as { plugins: { id: string; health: { state: string; reason?: string } }[] };
    for (const id of ['chain.empos', 'settlement.contracts', 'metering.oracle', 'market.p2p', 'dispatch.incentives']) {
      const h = health.plugins.find((p) => p.id === id)?.health;
      assert.equal(h?.state, 'up', `${id}: ${h?.reason ?? 'missing'}`);
    }
    const oracle = (await (await fetch(`${url}/api/v1/plugins/metering.oracle/status`)).json()) as { intervalSeconds: number; problems: unknown[]; meters: { meter: string }[] };
    assert.equal(oracle.intervalSeconds, 300);
    assert.deepEqual(oracle.meters.map((m) => m.meter).sort(), ['house-1', 'house-2', 'house-3', 'pv-1']);
    assert.deepEqual(oracle.problems, [], 'every meter registered on chain');

    const values = await until('good values from every device', async () => {
      const pts = (await (await fetch(`${url}/api/v1/points?limit=1000`)).json()) as TelemetryRecord[];
      const good = (dev: string) => pts.some((p) => p.deviceId === dev && p.quality.status === 'good');
      return ['pv-1', 'battery-1', 'meter-1', 'house-1', 'house-2', 'house-3', 'feeder-ied', 'substation-rtu-1', 'der-server-1'].every(good) ? pts : undefined;
    });
    const serial = values.find((p) => p.deviceId === 'pv-1' && p.pointId === 'common.SN');
    assert.equal(serial?.value, 'SIM-PV-1', 'SunSpec strings decoded');
    assert.equal(values.find((p) => p.deviceId === 'pv-1' && p.pointId === 'common.SN')?.tags?.site, 'demo');
    assert.equal(values.find((p) => p.deviceId === 'substation-rtu-1' && p.pointId === 'bus-voltage')?.unit, 'kV');

    const denied = await fetch(`${url}/api/v1/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(denied.status, 403, 'anonymous users may read but not command');
    const res = await fetch(`${url}/api/v1/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ deviceId: 'pv-1', pointId: 'controls.WMaxLimPct', value: 40, reason: 'e2e curtailment' }),
    });
    const result = (await res.json()) as CommandResult;
    assert.equal(result.status, 'succeeded', JSON.stringify(result));
    await until('the setpoint read back', async () => {
      const pts = (await (await fetch(`${url}/api/v1/points?deviceId=pv-1&limit=1000`)).json()) as TelemetryRecord[];
      return pts.find((p) => p.pointId === 'controls.WMaxLimPct')?.value === 40 ? true : undefined;
    });

    child.kill('SIGTERM');
    const code = await new Promise((r) => child?.once('exit', r));
    assert.equal(code, 0, err);
  });
});
