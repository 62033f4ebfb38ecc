import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../audit/audit-log.ts';
import { isEnergyMeshError } from '../errors.ts';
import type { TelemetryRecord } from '../model/telemetry.ts';
import { ComplianceManager } from './compliance-manager.ts';
import { alertToEvent } from './compliance-services.ts';
import type { ComplianceModule, Principal, RuleVerdict } from './compliance-module.ts';
import { applicationOrder, findConflicts } from './compliance-module.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0);
const MIN = 60_000;

/** A module that tags records with its id (transform) and rejects value < 0 / flags value > 100. */
function testModule(id: string, extra: Partial<ComplianceModule> = {}): ComplianceModule {
  const reject: RuleVerdict = { action: 'reject', reason: `${id}-negative` };
  const flag: RuleVerdict = { action: 'flag', reason: `${id}-high` };
  return {
    id,
    jurisdiction: 'XX',
    title: `test module ${id}`,
    regulation: 'Test Regulation 1',
    telemetryTransforms: [{ id: `${id}-tag`, phase: 'ingest', apply: (r) => ({ ...r, tags: { ...r.tags, [id]: 'seen' } }) }],
    telemetryValidators: [{ id: `${id}-range`, phase: 'ingest', check: (r) => (typeof r.value === 'number' && r.value < 0 ? reject : typeof r.value === 'number' && r.value > 100 ? flag : undefined) }],
    ...extra,
  };
}

function rec(value: number, deviceId = 'dev-1'): TelemetryRecord {
  return { deviceId, pointId: 'p', ts: T0, receivedAt: T0, value, quality: { status: 'good', flags: [] }, protocol: 'test', seq: 1 };
}

describe('ComplianceManager', () => {
  let dir: string;
  let now: number;
  let audit: AuditLog;
  const clock = (): number => now;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-compliance-'));
    now = T0;
    audit = new AuditLog({ dir: join(dir, 'audit'), clock });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function manager(modules: ComplianceModule[] = [testModule('alpha'), testModule('beta')]): ComplianceManager {
    return new ComplianceManager({ dataDir: join(dir, 'compliance'), modules, audit, clock });
  }

  it('applies nothing when nothing is active, and the active modules when enabled now', () => {
    const m = manager();
    const stage = m.stage();
    const batch = [rec(5)];
    assert.equal(stage.process(batch), batch);
    assert.equal((stage.process([rec(5)]) as TelemetryRecord[])[0]?.tags, undefined);
    m.enable('alpha', { by: 'officer-1', reason: 'EU site goes live' });
    const out = stage.process([rec(5), rec(-1), rec(500)]) as TelemetryRecord[];
    assert.equal(out.length, 2, 'the negative value is rejected');
    assert.equal(out[0]?.tags?.alpha, 'seen');
    assert.deepEqual(out[1]?.quality.flags, ['alpha-high'], 'the high value is flagged');
    const c = m.status().counters.alpha;
    assert.equal(c?.records, 3);
    assert.equal(c?.transformed, 3);
    assert.equal(c?.rejected, 1);
    assert.equal(c?.flagged, 1);
    assert.deepEqual(c?.reasons, { 'alpha-negative': 1, 'alpha-high': 1 });
  });

  it('a scheduled enable takes effect from its stated time, without a restart; a scheduled disable too', () => {
    const m = manager();
    const stage = m.stage();
    const at = new Date(T0 + 10 * MIN).toISOString();
    const change = m.enable('alpha', { by: 'officer-1', reason: 'new tariff from 06:10', at });
    assert.equal(change.at, T0 + 10 * MIN);
    assert.deepEqual(m.status().scheduled.map((s) => [s.module, s.action, s.at]), [['alpha', 'enable', at]]);
    now = T0 + 10 * MIN - 1;
    assert.equal((stage.process([rec(-5)]) as TelemetryRecord[]).length, 1, 'not yet active one ms before');
    now = T0 + 10 * MIN;
    assert.equal((stage.process([rec(-5)]) as TelemetryRecord[]).length, 0, 'active from the stated time');
    m.disable('alpha', { by: 'officer-2', reason: 'tariff ends', at: new Date(T0 + 20 * MIN).toISOString() });
    now = T0 + 20 * MIN;
    assert.equal((stage.process([rec(-5)]) as TelemetryRecord[]).length, 1, 'inactive from the disable time');
    assert.deepEqual(m.status().active, []);
  });

  it('persists the active set and schedule across a new manager on the same dir', () => {
    const a = manager();
    a.enable('alpha', { by: 'officer-1', reason: 'go live' });
    a.enable('beta', { by: 'officer-1', reason: 'later', at: T0 + 60 * MIN });
    const b = manager();
    assert.deepEqual(b.status().active.map((x) => x.id), ['alpha']);
    assert.equal(b.status().active[0]?.reason, 'go live');
    assert.deepEqual(b.status().scheduled.map((x) => x.module), ['beta']);
    now = T0 + 60 * MIN;
    assert.deepEqual(b.status().active.map((x) => x.id).sort(), ['alpha', 'beta']);
  });

  it('a running manager picks up a change another process (the CLI) made on the same dir within a second', () => {
    const running = manager();
    const stage = running.stage();
    assert.equal((stage.process([rec(-1)]) as TelemetryRecord[]).length, 1);
    const cli = manager();
    cli.enable('alpha', { by: 'officer-1', reason: 'from the CLI' });
    now += 1000;
    assert.equal((stage.process([rec(-1)]) as TelemetryRecord[]).length, 0, 'alpha is active in the running manager');
    assert.throws(() => running.enable('alpha', { by: 'o', reason: 'r' }), /already active/);
  });

  it('refuses unknown ids, a missing reason, malformed, invalid and past times, and no-op toggles, with clear messages', () => {
    const m = manager();
    const bad = (fn: () => unknown, code: string, pattern: RegExp): void => {
      assert.throws(fn, (e: unknown) => isEnergyMeshError(e) && e.code === code && pattern.test(e.message), String(pattern));
    };
    bad(() => m.enable('xx-nowhere', { by: 'o', reason: 'r' }), 'INVALID_ARGUMENT', /unknown compliance module "xx-nowhere"; available: alpha, beta/);
    bad(() => m.enable('alpha', { by: 'o', reason: '  ' }), 'INVALID_ARGUMENT', /reason is required/);
    bad(() => m.enable('alpha', { by: '', reason: 'r' }), 'INVALID_ARGUMENT', /who makes the change/);
    bad(() => m.enable('alpha', { by: 'o', reason: 'r', at: 'tomorrow-ish' }), 'INVALID_ARGUMENT', /not an ISO 8601 time with a zone/);
    bad(() => m.enable('alpha', { by: 'o', reason: 'r', at: '2026-11-24T07:00:00' }), 'INVALID_ARGUMENT', /not an ISO 8601 time with a zone/);
    bad(() => m.enable('alpha', { by: 'o', reason: 'r', at: '2026-13-45T99:00:00Z' }), 'INVALID_ARGUMENT', /not a valid date/);
    bad(() => m.enable('alpha', { by: 'o', reason: 'r', at: '2026-11-24T05:00:00Z' }), 'INVALID_ARGUMENT', /in the past/);
    bad(() => m.disable('alpha', { by: 'o', reason: 'r' }), 'INVALID_ARGUMENT', /alpha is not active/);
    m.enable('alpha', { by: 'o', reason: 'r' });
    bad(() => m.enable('alpha', { by: 'o', reason: 'r' }), 'INVALID_ARGUMENT', /alpha is already active/);
    assert.equal(m.history().length, 1, 'refused requests change nothing');
  });

  it('refuses conflicting modules naming both, now and against a scheduled change', () => {
    const fifteen = testModule('m15', { market: { settlementIntervalMinutes: 15 } });
    const thirty = testModule('m30', { market: { settlementIntervalMinutes: 30 } });
    const keep = testModule('keep', { retention: [{ dataClass: 'audit', minDays: 90, source: 'rule K' }] });
    const purge = testModule('purge', { retention: [{ dataClass: 'audit', maxDays: 30, source: 'rule P' }] });
    const m = manager([fifteen, thirty, keep, purge]);
    m.enable('m15', { by: 'o', reason: 'r' });
    assert.throws(
      () => m.enable('m30', { by: 'o', reason: 'r' }),
      (e: unknown) => isEnergyMeshError(e, 'COMPLIANCE_VIOLATION') && /m15/.test(e.message) && /m30/.test(e.message) && /settlementIntervalMinutes/.test(e.message),
    );
    m.enable('keep', { by: 'o', reason: 'r', at: T0 + 30 * MIN });
    assert.throws(
      () => m.enable('purge', { by: 'o', reason: 'r' }),
      (e: unknown) => isEnergyMeshError(e, 'COMPLIANCE_VIOLATION') && /keep keeps audit data at least 90 days \(rule K\) but purge allows at most 30 days \(rule P\)/.test(e.message) && /from 2026-11-24T06:30/.test(e.message),
    );
    // disabling m15 first (scheduled) lets m30 start at that time
    m.disable('m15', { by: 'o', reason: 'switch market', at: T0 + 5 * MIN });
    m.enable('m30', { by: 'o', reason: 'switch market', at: T0 + 5 * MIN });
    now = T0 + 5 * MIN;
    assert.deepEqual(m.marketParameters(), { settlementIntervalMinutes: 30 });
    const refused = audit.readAll().filter((r) => r.outcome === 'refused');
    assert.equal(refused.length, 2, 'refusals are audited');
  });

  it('audits every toggle with who, when, what and why', () => {
    const m = manager();
    m.enable('alpha', { by: 'officer-1', reason: 'go live' });
    m.enable('beta', { by: 'officer-2', reason: 'scheduled', at: T0 + MIN });
    m.disable('alpha', { by: 'officer-3', reason: 'pause' });
    const toggles = audit.readAll().filter((r) => r.type === 'compliance.toggle');
    assert.deepEqual(
      toggles.map((r) => [r.actor, r.action, r.target, r.reason, r.outcome]),
      [
        ['officer-1', 'enable', 'alpha', 'go live', 'applied'],
        ['officer-2', 'enable', 'beta', 'scheduled', 'scheduled'],
        ['officer-3', 'disable', 'alpha', 'pause', 'applied'],
      ],
    );
    assert.equal(toggles[1]?.details?.effectiveAt, new Date(T0 + MIN).toISOString());
    assert.equal(audit.verify().ok, true);
  });

  it('applies transforms before validators, modules by order then id', () => {
    const seen: string[] = [];
    const mk = (id: string, order?: number): ComplianceModule => ({
      id,
      jurisdiction: 'XX',
      title: id,
      regulation: 'R',
      ...(order !== undefined ? { order } : {}),
      telemetryTransforms: [{ id: `${id}-t`, phase: 'ingest', apply: (r) => (seen.push(`${id}:t`), r) }],
      telemetryValidators: [{ id: `${id}-v`, phase: 'ingest', check: () => (seen.push(`${id}:v`), undefined) }],
    });
    const m = manager([mk('zeta', 1), mk('beta'), mk('alpha')]);
    for (const id of ['alpha', 'beta', 'zeta']) m.enable(id, { by: 'o', reason: 'r' });
    m.stage().process([rec(1)]);
    assert.deepEqual(seen, ['zeta:t', 'alpha:t', 'beta:t', 'zeta:v', 'alpha:v', 'beta:v']);
    assert.deepEqual(applicationOrder([mk('b'), mk('a', 200), mk('c', 5)]).map((x) => x.id), ['c', 'b', 'a']);
  });

  it('runs egress rules only in the egress stage', () => {
    const egress = testModule('egress', {
      telemetryTransforms: [{ id: 'strip', phase: 'egress', apply: (r) => ({ ...r, deviceId: 'hidden' }) }],
      telemetryValidators: [],
    });
    const m = manager([egress]);
    m.enable('egress', { by: 'o', reason: 'r' });
    assert.equal((m.stage().process([rec(1)]) as TelemetryRecord[])[0]?.deviceId, 'dev-1');
    assert.equal((m.egressStage().process([rec(1)]) as TelemetryRecord[])[0]?.deviceId, 'hidden');
  });

  it('keeps a pending two-person approval across a restart until it expires', () => {
    const alice: Principal = { id: 'alice', roles: ['operator'] };
    const bob: Principal = { id: 'bob', roles: ['operator'] };
    const gated = testModule('gated', {
      commandGates: [
        {
          id: 'g',
          check: (req) =>
            req.approvals.some((a) => a.principal.id !== req.principal.id)
              ? { decision: 'allow' }
              : { decision: 'require-approval', reason: 'two-person', message: 'needs a second person', approverRoles: ['operator'], windowMs: 5 * MIN },
        },
      ],
    });
    const m = manager([gated]);
    m.enable('gated', { by: 'officer', reason: 'CIP site' });
    const first = m.gateCommand({ deviceId: 'b1', pointId: 'trip', value: true }, alice);
    const second = m.gateCommand({ deviceId: 'b2', pointId: 'trip', value: true }, alice);
    assert.ok(first.decision === 'require-approval' && second.decision === 'require-approval');
    const restarted = manager([gated]);
    assert.deepEqual(restarted.pendingApprovals().map((p) => p.id).sort(), [first.pendingId, second.pendingId].sort(), 'both survive the restart');
    now += MIN;
    const ok = restarted.approve(first.pendingId, bob);
    assert.equal(ok.decision, 'allow');
    if (ok.decision === 'allow') assert.equal(ok.command.deviceId, 'b1');
    now += 5 * MIN;
    const later = manager([gated]);
    assert.deepEqual(later.pendingApprovals(), [], 'an approval used before the restart and one expired since are gone');
    assert.equal(later.approve(second.pendingId, bob).decision, 'deny');
  });

  it('gates commands: deny, two-person approval (different principal), audited and alerted', () => {
    const alice: Principal = { id: 'alice', roles: ['operator'] };
    const bob: Principal = { id: 'bob', roles: ['operator'] };
    const gated = testModule('gated', {
      commandGates: [
        {
          id: 'g',
          check: (req) => {
            if (req.command.pointId === 'forbidden') return { decision: 'deny', reason: 'no-way', message: 'never' };
            if (req.command.pointId !== 'trip') return { decision: 'allow' };
            return req.approvals.some((a) => a.principal.id !== req.principal.id)
              ? { decision: 'allow' }
              : { decision: 'require-approval', reason: 'two-person', message: 'needs a second person', approverRoles: ['operator'], windowMs: 5 * MIN };
          },
        },
      ],
      alerts: { onAuthorizationFailure: (f) => ({ severity: 'warning', message: `failed: ${f.what}` }) },
    });
    const m = manager([gated]);
    const alerts: string[] = [];
    const events: ReturnType<typeof alertToEvent>[] = [];
    m.onDidRaiseAlert((a) => alerts.push(`${a.module}:${a.principal}:${a.message}`));
    m.onDidRaiseAlert((a) => events.push(alertToEvent(a)));
    assert.equal(m.gateCommand({ deviceId: 'b1', pointId: 'trip', value: true }, alice).decision, 'allow', 'nothing active: allowed');
    m.enable('gated', { by: 'officer', reason: 'CIP site' });
    assert.deepEqual(m.gateCommand({ deviceId: 'b1', pointId: 'status', value: 1 }, alice), { decision: 'allow', modules: ['gated'] });
    const denied = m.gateCommand({ deviceId: 'b1', pointId: 'forbidden', value: 1 }, alice);
    assert.equal(denied.decision, 'deny');
    assert.deepEqual(alerts, ['gated:alice:failed: command b1/forbidden']);
    assert.deepEqual(events, [{ deviceId: 'compliance', type: 'alarm', severity: 'warning', ts: T0, message: 'gated: failed: command b1/forbidden', data: { module: 'gated', principal: 'alice', what: 'command b1/forbidden' } }]);
    const pending = m.gateCommand({ deviceId: 'b1', pointId: 'trip', value: true, action: 'operate' }, alice);
    assert.equal(pending.decision, 'require-approval');
    if (pending.decision !== 'require-approval') return;
    assert.equal(pending.expiresAt, new Date(T0 + 5 * MIN).toISOString());
    const self = m.approve(pending.pendingId, alice);
    assert.equal(self.decision, 'deny', 'the requester cannot approve');
    now += MIN;
    const ok = m.approve(pending.pendingId, bob);
    assert.equal(ok.decision, 'allow');
    if (ok.decision === 'allow') assert.deepEqual([ok.command.pointId, ok.requestedBy.id, ok.approvedBy], ['trip', 'alice', ['bob']]);
    assert.equal(m.approve(pending.pendingId, bob).decision, 'deny', 'an approval is used once');
    const expiring = m.gateCommand({ deviceId: 'b1', pointId: 'trip', value: true }, alice);
    now += 6 * MIN;
    if (expiring.decision === 'require-approval') assert.match((m.approve(expiring.pendingId, bob) as { message: string }).message, /expired/);
    const gates = audit.readAll().filter((r) => r.type === 'compliance.gate' || r.type === 'compliance.approval');
    assert.deepEqual(
      gates.map((r) => [r.type, r.actor, r.outcome]),
      [
        ['compliance.gate', 'alice', 'allowed'],
        ['compliance.gate', 'alice', 'allowed'],
        ['compliance.gate', 'alice', 'denied'],
        ['compliance.gate', 'alice', 'approval-required'],
        ['compliance.approval', 'alice', 'denied'],
        ['compliance.approval', 'bob', 'allowed'],
        ['compliance.approval', 'bob', 'denied'],
        ['compliance.gate', 'alice', 'approval-required'],
        ['compliance.approval', 'bob', 'denied'],
      ],
    );
    const c = m.status().counters.gated;
    assert.deepEqual(c?.gates, { allowed: 2, denied: 1, approvalRequired: 3 });
  });

  it('records change-management records, refusing those an active module rejects', () => {
    const cc = testModule('cc', { changeControl: { check: (c) => (c.ticket ? [] : ['a ticket is required']) } });
    const m = manager([cc]);
    m.enable('cc', { by: 'o', reason: 'r' });
    assert.throws(() => m.recordChange({ kind: 'config', by: 'admin', reason: 'faster polls', target: 'config', before: { a: 1 }, after: { a: 2 } }), (e: unknown) => isEnergyMeshError(e, 'COMPLIANCE_VIOLATION') && /ticket/.test(e.message));
    const s = m.recordChange({ kind: 'plugin', by: 'admin', reason: 'upgrade', ticket: 'CHG-7', target: 'protocol.modbus', before: { version: '1.0.0', config: { x: 1 } }, after: { version: '1.1.0', config: { x: 1 } } });
    assert.deepEqual(s.changed, ['/version']);
    assert.notEqual(s.before, s.after);
    const recs = audit.readAll().filter((r) => r.type === 'config.change' || r.type === 'plugin.change');
    assert.deepEqual(recs.map((r) => [r.type, r.outcome]), [
      ['config.change', 'refused'],
      ['plugin.change', 'recorded'],
    ]);
    assert.equal(recs[1]?.details?.ticket, 'CHG-7');
  });

  it('checks trades against market parameters', () => {
    const mkt = testModule('mkt', { market: { settlementIntervalMinutes: 15, gateClosureMinutes: 60, priceCap: 5000, priceFloor: -250, currency: 'USD' } });
    const m = manager([mkt]);
    m.enable('mkt', { by: 'o', reason: 'r' });
    const start = T0 + 2 * 60 * MIN;
    const good = { id: 't', seller: 's', buyer: 'b', deliveryStart: start, deliveryEnd: start + 15 * MIN, energyWh: 1000, price: 42, currency: 'USD', submittedAt: T0 };
    assert.equal(m.checkTrade(good).accepted, true);
    const bad = m.checkTrade({ ...good, deliveryStart: start + 7 * MIN, price: 9000, submittedAt: start - 10 * MIN });
    assert.equal(bad.accepted, false);
    assert.deepEqual(bad.verdicts.map((v) => v.reason).sort(), ['after-gate-closure', 'delivery-not-on-settlement-intervals', 'price-above-cap']);
  });

  it('reports what was active over a period and what each module did, as JSON, Markdown and HTML', () => {
    const m = manager();
    m.enable('alpha', { by: 'officer-1', reason: 'go <live>' });
    m.stage().process([rec(1), rec(-1), rec(200)]);
    now = T0 + 90 * MIN;
    m.disable('alpha', { by: 'officer-1', reason: 'done' });
    m.flush();
    const r = m.report(T0 - 60 * MIN, T0 + 120 * MIN);
    assert.equal(r.modules.length, 1);
    assert.deepEqual(r.modules[0]?.active, [{ from: new Date(T0).toISOString(), to: new Date(T0 + 90 * MIN).toISOString() }]);
    assert.deepEqual([r.modules[0]?.counters.transformed, r.modules[0]?.counters.rejected, r.modules[0]?.counters.flagged], [3, 1, 1]);
    assert.equal(r.changes.length, 2);
    const md = m.reportMarkdown(T0 - 60 * MIN, T0 + 120 * MIN);
    assert.match(md, /### alpha — test module alpha/);
    assert.match(md, /\| alpha-negative \| 1 \|/);
    const html = m.reportHtml(T0 - 60 * MIN, T0 + 120 * MIN);
    assert.match(html, /go &lt;live&gt;/);
    assert.ok(!html.includes('go <live>'));
    // counters survive a restart
    const again = manager();
    assert.equal(again.report(T0 - 60 * MIN, T0 + 120 * MIN).modules[0]?.counters.rejected, 1);
    assert.throws(() => m.report(T0, T0 - 1), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
  });

  it('cancels a scheduled change before it takes effect, audited; refuses an applied one', () => {
    const m = manager();
    const applied = m.enable('alpha', { by: 'o', reason: 'now' });
    const scheduled = m.disable('alpha', { by: 'o', reason: 'later', at: T0 + 30 * MIN });
    assert.throws(() => m.cancel(applied.seq, { by: 'o', reason: 'oops' }), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT') && /took effect/.test(e.message));
    assert.throws(() => m.cancel(scheduled.seq, { by: 'o', reason: '' }), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT') && /reason/.test(e.message));
    m.cancel(scheduled.seq, { by: 'officer-9', reason: 'keep it on' });
    now = T0 + 31 * MIN;
    assert.deepEqual(m.status().active.map((a) => a.id), ['alpha'], 'the cancelled disable never happened');
    assert.deepEqual(m.status().scheduled, []);
    const last = audit.readAll().at(-1);
    assert.deepEqual([last?.actor, last?.action, last?.outcome, last?.reason], ['officer-9', 'cancel', 'cancelled', 'keep it on']);
  });

  it('compacts hourly counters older than 31 days into daily ones, still reported and persisted', () => {
    const m = manager();
    m.enable('alpha', { by: 'o', reason: 'r' });
    m.stage().process([rec(-1)]);
    now = T0 + 3 * MIN;
    m.stage().process([rec(-1)]);
    now = T0 + 40 * 24 * 60 * MIN;
    m.stage().process([rec(-1)]);
    m.flush();
    const again = manager();
    assert.equal(again.report(T0 - 24 * 60 * MIN, T0 + 24 * 60 * MIN).modules[0]?.counters.rejected, 2, 'the day bucket');
    assert.equal(again.report(T0, now + MIN).modules[0]?.counters.rejected, 3);
    assert.equal(again.status().counters.alpha?.rejected, 3);
  });

  it('findConflicts reports declared exclusions', () => {
    const a = testModule('a', { conflictsWith: ['b'] });
    assert.deepEqual(findConflicts([a, testModule('b')]).map((c) => [c.a, c.b]), [['a', 'b']]);
  });
});
