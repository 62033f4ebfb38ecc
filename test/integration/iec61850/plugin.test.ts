/**
 * The protocol.iec61850 plugin: manifest and config schema under the core's strict ajv, its ContainerModule in
 * a container, and the driver run against the IED simulator with a DriverContext that collects samples,
 * device status and command results (SCL-driven BRCB points, quality mapping, source time, controls).
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Container } from 'inversify';
import { compileSchema, createAjv } from '../../../core/config/schema-validator.ts';
import type { DriverContext, PluginContext, ProtocolDriver, ProtocolDriverContribution } from '../../../core/contributions.ts';
import { PluginContext as PluginContextId, ProtocolDriverContribution as DriverContributionId } from '../../../core/contributions.ts';
import { silentLogger } from '../../../core/logging/logger.ts';
import type { Command, DeviceStatus, Sample } from '../../../core/model/telemetry.ts';
import protocolModule, { Iec61850ProtocolDriver } from '../../../plugins/protocol-iec61850/index.ts';
import type { Iec61850PluginConfig } from '../../../plugins/protocol-iec61850/index.ts';
import { encodeQuality } from '../../../protocols/iec61850/codec/report.ts';
import { mapQuality } from '../../../protocols/iec61850/driver/iec61850-driver.ts';
import { loadSclFile } from '../../../protocols/iec61850/model/scl.ts';
import { IedServer } from '../../../protocols/iec61850/simulator/ied-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(root, p), 'utf8')) as Record<string, unknown>;
const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;
const LD = 'simpleIOGenericIO';

class CollectingDriverContext implements DriverContext {
  readonly samples: Sample[] = [];
  readonly statuses: DeviceStatus[] = [];
  readonly logger = silentLogger();
  readonly ingest = {
    ingest: async (samples: readonly Sample[]): Promise<void> => {
      this.samples.push(...samples);
    },
    ingestEvents: async (): Promise<void> => undefined,
  };
  readonly metrics = { observePoll: (): void => undefined, countError: (): void => undefined };
  reportDeviceStatus(status: DeviceStatus): void {
    this.statuses.push(status);
  }
}

function pluginContext<C>(config: C): PluginContext<C> {
  const health = { state: 'up' as const, since: Date.now() };
  return {
    id: 'protocol.iec61850',
    manifest: { id: 'protocol.iec61850', kind: 'protocol', version: '0.1.0', apiVersion: '1', entry: './index.ts' },
    config,
    logger: silentLogger(),
    dataDir: '/nonexistent',
    health: { up: () => undefined, degraded: () => undefined, down: () => undefined, current: () => health },
    guard: (_w: string, fn: () => unknown) => {
      void fn();
    },
  };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cmd = (pointId: string, value: boolean | number, action: Command['action'] = 'operate'): Command => ({ id: `c-${pointId}-${String(value)}`, deviceId: 'ied1', pointId, value, action, timeoutMs: 2000, issuedAt: Date.now() });

describe('protocol.iec61850 plugin', function () {
  this.timeout(30_000);

  it('manifest and config schema pass the core strict ajv, with defaults', () => {
    const ajv = createAjv();
    const validManifest = compileSchema(ajv, readJson('schemas/plugin-manifest.schema.json'), 'plugin-manifest');
    assert.ok(validManifest(readJson('plugins/protocol-iec61850/plugin.json')), JSON.stringify(validManifest.errors));
    const validate = compileSchema<Iec61850PluginConfig>(ajv, readJson('plugins/protocol-iec61850/config.schema.json'), 'protocol.iec61850');
    const config = {
      devices: [{
        id: 'ied1', host: '127.0.0.1', scl: { file: 'x.cid', iedName: 'simpleIO' },
        reports: [{ rcb: `${LD}/LLN0.BR.Measurements01`, trgOps: ['dchg', 'gi'] }],
        points: [{ ref: `${LD}/GGIO1.AnIn1.mag.f`, fc: 'MX', unit: 'V' }, { ref: `${LD}/GGIO1.SPCSO1`, control: true }],
      }],
    };
    assert.ok(validate(config), JSON.stringify(validate.errors));
    const dev = config.devices[0] as unknown as Record<string, unknown>;
    assert.equal(dev['port'], 102);
    assert.equal(dev['reconnectDelayMs'], 2000);
    assert.equal((dev['reports'] as Record<string, unknown>[])[0]?.['gi'], true);
    const example = readJson('test/fixtures/iec61850/plugin-config.example.json');
    assert.ok(validate(example), JSON.stringify(validate.errors));
    for (const bad of [{ devices: [{ id: 'x' }] }, { devices: [{ id: 'x', host: 'h', port: 0 }] }, { devices: [{ id: 'x', host: 'h', points: [{ ref: 'no-ld' }] }] }, { devices: [{ id: 'x', host: 'h', reports: [{ rcb: 'a/b', trgOps: ['bogus'] }] }] }]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
    }
  });

  it('maps IEC 61850 quality to normalized quality, raw bits kept', () => {
    assert.deepEqual(mapQuality({ type: 'bit-string', value: encodeQuality() }), { status: 'good', flags: [], raw: { q: 0, validity: 'good' } });
    const q = mapQuality({ type: 'bit-string', value: encodeQuality({ validity: 'invalid', oldData: true, test: true }) });
    assert.equal(q.status, 'invalid');
    assert.deepEqual(q.flags, ['stale', 'test']);
    assert.equal(mapQuality({ type: 'bit-string', value: encodeQuality({ validity: 'questionable', substituted: true }) }).status, 'uncertain');
  });

  it('binds the contribution, streams the SCL-driven points of a report data set with source time, executes controls, degrades on loss', async () => {
    const server = new IedServer({ model: loadSclFile(`${VECTORS}scl/simpleIO_control_tests.cid`).model(), failingControls: ['GGIO1.SPCSO9'], updateIntervalMs: 50 });
    const port = await server.listen(0, '127.0.0.1');
    const config: Iec61850PluginConfig = {
      devices: [{
        id: 'ied1', host: '127.0.0.1', port, reconnectDelayMs: 200, requestTimeoutMs: 2000, pollIntervalMs: 0,
        scl: { file: `${VECTORS}scl/simpleIO_control_tests.cid`, iedName: 'simpleIO' },
        reports: [{ rcb: `${LD}/LLN0.RP.ControlEventsRCB01`, trgOps: ['dchg', 'gi'], gi: true, reserve: true }],
        points: [{ id: 'anin1', ref: `${LD}/GGIO1.AnIn1`, fc: 'MX', unit: 'V' }],
      }],
    };
    const container = new Container();
    container.bind(PluginContextId).toConstantValue(pluginContext(config));
    await container.load(protocolModule);
    const contributions = container.getAll<ProtocolDriverContribution>(DriverContributionId);
    assert.equal(contributions.length, 1);
    const drivers: ProtocolDriver[] = [];
    contributions[0]?.registerDrivers({ register: (d) => { drivers.push(d); return { dispose: () => undefined }; } });
    const driver = drivers[0];
    assert.ok(driver instanceof Iec61850ProtocolDriver);
    const points = driver.devices()[0]?.points.map((p) => p.pointId) ?? [];
    assert.ok(points.includes(`${LD}/GGIO1.SPCSO1.stVal`), points.join());
    assert.ok(points.includes(`${LD}/GGIO1.SPCSO1`));
    assert.ok(points.includes('anin1'));
    const ctx = new CollectingDriverContext();
    await driver.start(ctx);
    try {
      await until(() => ctx.statuses.some((s) => s.state === 'online'));
      // GI report of ControlEvents + the polled analog
      await until(() => ctx.samples.some((s) => s.pointId === `${LD}/GGIO1.SPCSO1.stVal`) && ctx.samples.some((s) => s.pointId === 'anin1'));
      const an = ctx.samples.find((s) => s.pointId === 'anin1');
      assert.equal(typeof an?.value, 'number');
      assert.equal(an?.quality.status, 'good');
      assert.equal(an?.unit, 'V');
      const ok = await driver.execute(cmd(`${LD}/GGIO1.SPCSO1`, true));
      assert.equal(ok.status, 'succeeded', JSON.stringify(ok));
      await until(() => ctx.samples.some((s) => s.pointId === `${LD}/GGIO1.SPCSO1.stVal` && s.value === true));
      const stVal = ctx.samples.filter((s) => s.pointId === `${LD}/GGIO1.SPCSO1.stVal`).at(-1);
      assert.ok(stVal && Math.abs(stVal.ts - Date.now()) < 60_000, 'report TimeOfEntry used as source time');
      assert.equal((await driver.execute(cmd(`${LD}/GGIO1.SPCSO4`, true))).status, 'succeeded');
      const neg = await driver.execute(cmd(`${LD}/GGIO1.SPCSO9`, true));
      assert.equal(neg.status, 'failed');
      assert.equal(neg.error?.details?.['termination'], 'negative');
      assert.equal((await driver.execute(cmd('nope', 1))).status, 'rejected');
      // the IED goes away: offline + comm-lost, then back online after it returns
      await server.close();
      await until(() => ctx.statuses.some((s) => s.state === 'offline'));
      await until(() => ctx.samples.some((s) => s.pointId === 'anin1' && s.quality.flags.includes('comm-lost')));
    } finally {
      await driver.stop();
      await server.close();
    }
  });

  it('pairs a data set q member with its value (quality change → invalid) and resumes the BRCB after a drop', async () => {
    const server = new IedServer({ model: loadSclFile(`${VECTORS}scl/simpleIO_direct_control.cid`).model() });
    const port = await server.listen(0, '127.0.0.1');
    const driver = new Iec61850ProtocolDriver({
      devices: [{
        id: 'ied1', host: '127.0.0.1', port, reconnectDelayMs: 100, requestTimeoutMs: 2000, pollIntervalMs: 0,
        scl: { file: `${VECTORS}scl/simpleIO_direct_control.cid` },
        reports: [{ rcb: `${LD}/LLN0.BR.Measurements01`, trgOps: ['dchg', 'qchg', 'gi'], bufTm: 10, gi: true, purgeBuf: true }],
      }],
    });
    const points = driver.devices()[0]?.points.map((p) => p.pointId);
    assert.deepEqual(points?.filter((p) => p.includes('AnIn')), [1, 2, 3, 4].map((i) => `${LD}/GGIO1.AnIn${i}.mag.f`));
    const ctx = new CollectingDriverContext();
    await driver.start(ctx);
    const id = `${LD}/GGIO1.AnIn1.mag.f`;
    try {
      await until(() => ctx.samples.some((s) => s.pointId === id && s.quality.status === 'good'));
      server.setValue(LD, 'GGIO1$MX$AnIn1$q', { type: 'bit-string', value: encodeQuality({ validity: 'invalid', failure: true }) });
      await until(() => ctx.samples.some((s) => s.pointId === id && s.quality.status === 'invalid'));
      const bad = ctx.samples.filter((s) => s.pointId === id).at(-1);
      assert.deepEqual(bad?.quality.flags, ['device-exception']);
      assert.equal(bad?.quality.raw?.['validity'], 'invalid');
      // drop the association: the driver reconnects and resumes at the last EntryID
      for (const c of server.mms.connections) c.drop();
      await until(() => ctx.statuses.filter((s) => s.state === 'online').length >= 2);
      const before = ctx.samples.length;
      server.setValue(LD, 'GGIO1$MX$AnIn2$mag$f', { type: 'float', value: 42 });
      await until(() => ctx.samples.slice(before).some((s) => s.pointId === `${LD}/GGIO1.AnIn2.mag.f` && s.value === 42));
    } finally {
      await driver.stop();
      await server.close();
    }
  });
});
