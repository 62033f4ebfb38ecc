/**
 * The compliance plugins loaded by the real kernel from a config file (secrets from the
 * environment), their modules handed to a ComplianceManager whose stage is in the kernel's
 * pipeline — the wiring the kernel will do — and what reaches the bus scanned.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../../core/audit/audit-log.ts';
import { topicName } from '../../../core/bus/bus.ts';
import type { Subscription } from '../../../core/bus/bus.ts';
import { ComplianceManager } from '../../../core/compliance/compliance-manager.ts';
import type { ComplianceModule, Principal } from '../../../core/compliance/compliance-module.ts';
import { parseConfigText } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { ComplianceModuleContribution } from '../../../core/contributions.ts';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { Kernel } from '../../../core/kernel.ts';
import type { Sample, TelemetryRecord } from '../../../core/model/telemetry.ts';
import { validateNem12 } from '../../../compliance/engine/nem12.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0);
const MIN = 60_000;
const PERSONAL = ['meter-4711-0815', 'CUST-000123', 'NCCC001234', '12 Rue de la Paix', 'Jane Customer'];

const CONFIG = (dir: string): string => `
site: { id: it-site }
dataDir: ${JSON.stringify(dir)}
api: { enabled: false }
plugins:
  - id: compliance.eu-gdpr
    config:
      keys: [{ id: k1, secret: { $env: EM_IT_GDPR_KEY } }]
      activeKey: k1
      applyAt: ingest
      personalDevices: ["meter-*"]
      dropTags: [customerName, address]
  - id: compliance.us-nerc-cip
    config:
      criticalControls:
        - { devices: ["breaker-*"], points: [trip], approverRoles: [operator], windowSeconds: 300 }
  - id: compliance.us-ercot
    config: {}
  - id: compliance.gb-elexon
    config: {}
  - id: compliance.au-aemo
    config:
      nem12:
        fromParticipant: EMESHMDP
        toParticipant: RETAILER1
        meters:
          - { deviceId: meter-4711-0815, pointId: energy-interval-kwh, nmi: NCCC001234, nmiConfiguration: E1, registerId: "1", nmiSuffix: E1, mdmDataStreamIdentifier: N1, meterSerialNumber: MS1, uom: KWH }
`;

describe('compliance in the kernel', () => {
  let dir: string;
  let kernel: Kernel | undefined;
  let sub: Subscription | undefined;
  let now = T0;
  const clock = (): number => now;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-compliance-it-'));
    now = T0;
  });
  afterEach(async () => {
    await sub?.close();
    sub = undefined;
    await kernel?.stop();
    kernel = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function boot(): Promise<{ k: Kernel; modules: ComplianceModule[]; manager: ComplianceManager; audit: AuditLog; written: TelemetryRecord[] }> {
    const source = parseConfigText(CONFIG(dir), join(dir, 'energymesh.yaml'), { EM_IT_GDPR_KEY: 'integration-test-key-0123456789' });
    const k = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 3000 });
    kernel = k;
    await k.load();
    const modules = k.plugins.flatMap((p) => p.container?.getAll<ComplianceModuleContribution>(ComplianceModuleContribution).flatMap((c) => c.complianceModules()) ?? []);
    // its own dirs and clock: the kernel may run a manager of its own on <dataDir>/compliance
    const audit = new AuditLog({ dir: join(dir, 'it', 'audit'), clock });
    const manager = new ComplianceManager({ dataDir: join(dir, 'it', 'compliance'), modules, audit, clock });
    k.complianceStages.push(manager.stage());
    await k.start();
    const written: TelemetryRecord[] = [];
    sub = await k.bus.subscribe<TelemetryRecord>(topicName(k.bus.prefix, 'telemetry'), { group: 'it-scan', fromBeginning: true }, (batch) => {
      for (const m of batch) written.push(m.value);
    });
    return { k, modules, manager, audit, written };
  }

  async function until(cond: () => boolean): Promise<void> {
    const end = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > end) assert.fail('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  function meterSamples(ts: number): Sample[] {
    return [
      { deviceId: 'meter-4711-0815', pointId: 'energy-interval-kwh', ts, value: 0.21, quality: { status: 'good', flags: [] }, protocol: 'dlms', unit: 'kWh', tags: { customerId: 'CUST-000123', nmi: 'NCCC001234', address: '12 Rue de la Paix', customerName: 'Jane Customer', feeder: 'F12' } },
      { deviceId: 'inverter-9', pointId: 'p-ac', ts, value: 4200, quality: { status: 'good', flags: [] }, protocol: 'modbus', unit: 'W' },
    ];
  }

  it('loads the five compliance plugins from their folders with their configs', async () => {
    const { modules, manager } = await boot();
    assert.deepEqual(modules.map((m) => m.id).sort(), ['au-aemo', 'eu-gdpr', 'gb-elexon', 'us-ercot', 'us-nerc-cip']);
    assert.deepEqual(manager.list().map((m) => [m.id, m.active]), [
      ['eu-gdpr', false],
      ['us-nerc-cip', false],
      ['au-aemo', false],
      ['gb-elexon', false],
      ['us-ercot', false],
    ]);
    assert.throws(() => manager.enable('us-ercot', { by: 'co', reason: 'r' }) && manager.enable('au-aemo', { by: 'co', reason: 'r' }), (e: unknown) => isEnergyMeshError(e, 'COMPLIANCE_VIOLATION') && /au-aemo/.test(e.message) && /us-ercot/.test(e.message) && /au-aemo sets it to 5/.test(e.message));
  });

  it('GDPR on from a stated time: before it identifiers reach the bus, after it none of them does', async () => {
    const { k, manager, audit, written } = await boot();
    manager.enable('eu-gdpr', { by: 'officer-1', reason: 'DPIA approved', at: new Date(T0 + 15 * MIN).toISOString() });
    await k.pipeline.ingest(meterSamples(T0));
    await until(() => written.length === 2);
    assert.ok(JSON.stringify(written).includes('CUST-000123'), 'not yet active: passes unchanged');
    now = T0 + 15 * MIN; // the toggle takes effect, no restart
    await k.pipeline.ingest(meterSamples(T0 + 15 * MIN));
    await k.pipeline.ingest(meterSamples(T0 + 30 * MIN));
    await until(() => written.length === 6);
    const after = JSON.stringify(written.slice(2));
    for (const id of PERSONAL) assert.ok(!after.includes(id), `${id} reached the bus`);
    assert.match(after, /p-k1-[0-9a-f]{32}/);
    assert.ok(after.includes('inverter-9') && after.includes('F12'), 'non-personal data is kept');
    // what the latest-value store holds (what the API serves) is pseudonymised too
    assert.equal(k.latest.get('meter-4711-0815', 'energy-interval-kwh')?.ts, T0, 'only the record before the toggle is under the real id');
    const toggles = audit.readAll().filter((r) => r.type === 'compliance.toggle');
    assert.deepEqual(toggles.map((r) => [r.actor, r.action, r.target, r.reason, r.outcome]), [['officer-1', 'enable', 'eu-gdpr', 'DPIA approved', 'scheduled']]);
    assert.equal(manager.status().counters['eu-gdpr']?.transformed, 2);
  });

  it('ERCOT on: a misaligned meter interval is rejected before the bus, and the report says why', async () => {
    const { k, manager, written } = await boot();
    manager.enable('us-ercot', { by: 'officer-1', reason: 'Texas site' });
    await k.pipeline.ingest([{ deviceId: 'esiid-1', pointId: 'energy-interval-kwh', ts: T0 + 15 * MIN, value: 1, quality: { status: 'good', flags: [] }, protocol: 'modbus' }]);
    await k.pipeline.ingest([{ deviceId: 'esiid-1', pointId: 'energy-interval-kwh', ts: T0 + 22 * MIN, value: 1, quality: { status: 'good', flags: [] }, protocol: 'modbus' }]);
    await until(() => written.length === 1);
    assert.equal(k.pipeline.counters.dropped, 1);
    const md = manager.reportMarkdown(T0 - 60 * MIN, T0 + 60 * MIN);
    assert.match(md, /\| ercot-misaligned-interval \| 1 \|/);
  });

  it('NERC CIP: a critical control without a second approval is refused; with it, executed; both audited', async () => {
    const { manager, audit } = await boot();
    manager.enable('us-nerc-cip', { by: 'officer-1', reason: 'BES cyber system' });
    const alice: Principal = { id: 'alice', roles: ['viewer', 'operator'] };
    const bob: Principal = { id: 'bob', roles: ['viewer', 'operator'] };
    const executed: string[] = [];
    const execute = (command: { deviceId: string; pointId: string }, by: Principal): void => {
      executed.push(`${command.deviceId}/${command.pointId}`);
      manager.recordCommand({ ...command, value: true }, by, { commandId: 'c1', status: 'succeeded' });
    };
    const command = { deviceId: 'breaker-12', pointId: 'trip', value: true, action: 'operate' as const };
    const first = manager.gateCommand(command, alice);
    assert.equal(first.decision, 'require-approval');
    assert.deepEqual(executed, [], 'refused without a second approval');
    if (first.decision !== 'require-approval') return;
    now += 2 * MIN;
    const approved = manager.approve(first.pendingId, bob);
    assert.equal(approved.decision, 'allow');
    if (approved.decision === 'allow') execute(approved.command, approved.requestedBy);
    assert.deepEqual(executed, ['breaker-12/trip']);
    const trail = audit.readAll().filter((r) => ['compliance.gate', 'compliance.approval', 'command'].includes(r.type));
    assert.deepEqual(
      trail.map((r) => [r.type, r.actor, r.outcome]),
      [
        ['compliance.gate', 'alice', 'approval-required'],
        ['compliance.approval', 'bob', 'allowed'],
        ['command', 'alice', 'succeeded'],
      ],
    );
    assert.equal(audit.verify().ok, true);
    // the log is tamper-evident on disk
    const text = readFileSync(audit.file, 'utf8');
    writeFileSync(audit.file, text.replace('"actor":"bob"', '"actor":"eve"'));
    const v = audit.verify();
    assert.equal(v.ok, false);
    if (!v.ok) assert.equal(v.badRecord, trail[1]?.seq);
  });

  it('the active set survives a restart of the kernel and manager', async () => {
    const first = await boot();
    first.manager.enable('gb-elexon', { by: 'officer-1', reason: 'GB site' });
    await sub?.close();
    sub = undefined;
    await first.k.stop();
    kernel = undefined;
    const second = await boot();
    assert.deepEqual(second.manager.status().active.map((a) => a.id), ['gb-elexon']);
    await second.k.pipeline.ingest([{ deviceId: 'mpan-1', pointId: 'energy-interval-kwh', ts: T0 + 30 * MIN, value: 2, quality: { status: 'good', flags: [] }, protocol: 'dlms' }]);
    await until(() => second.written.length === 1);
    assert.equal(second.written[0]?.tags?.settlementPeriod, '13', '06:00-06:30 UTC in winter is SP13');
  });

  it('NEM12 export of what the bus carried validates', async () => {
    const { k, manager, written } = await boot();
    const day = Date.UTC(2026, 10, 23, 14, 0);
    const samples: Sample[] = [];
    for (let i = 1; i <= 288; i++) samples.push({ deviceId: 'meter-4711-0815', pointId: 'energy-interval-kwh', ts: day + i * 5 * MIN, value: 0.05, quality: { status: 'good', flags: [] }, protocol: 'dlms' });
    await k.pipeline.ingest(samples);
    await until(() => written.length === 288);
    const x = manager.exportData('au-aemo', 'nem12', { records: written, from: day, to: day + 86_400_000 });
    assert.match(x.fileName, /^au-aemo-nem12-/);
    assert.deepEqual(validateNem12(x.content), []);
    assert.equal(x.content.split('\r\n')[2]?.split(',').length, 295);
  });
});

