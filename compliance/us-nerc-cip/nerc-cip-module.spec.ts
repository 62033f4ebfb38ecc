import assert from 'node:assert/strict';
import type { GateDecision, GateRequest, Principal } from '../../core/compliance/compliance-module.ts';
import { createNercCipModule } from './nerc-cip-module.ts';

const op1: Principal = { id: 'op-alice', roles: ['viewer', 'operator'] };
const op2: Principal = { id: 'op-bob', roles: ['viewer', 'operator'] };
const viewer: Principal = { id: 'view-carol', roles: ['viewer'] };
const T0 = Date.UTC(2026, 10, 24, 6, 0);

const m = createNercCipModule({
  commandRoles: ['operator'],
  criticalControls: [{ devices: ['breaker-*'], points: ['trip', 'close'], approverRoles: ['operator'], windowSeconds: 300, description: 'feeder breaker' }],
  changeManagement: { requireTicket: true },
});

function decide(req: Partial<GateRequest> & Pick<GateRequest, 'principal'>): GateDecision {
  const full: GateRequest = { command: { deviceId: 'breaker-12', pointId: 'trip', value: true, action: 'operate' }, approvals: [], requestedAt: T0, now: T0, ...req };
  for (const g of m.commandGates ?? []) {
    const d = g.check(full);
    if (d.decision !== 'allow') return d;
  }
  return { decision: 'allow' };
}

describe('us-nerc-cip', () => {
  it('denies commands to principals without a command role', () => {
    const d = decide({ principal: viewer, command: { deviceId: 'inverter-1', pointId: 'p-limit', value: 50 } });
    assert.equal(d.decision, 'deny');
    if (d.decision === 'deny') assert.equal(d.reason, 'cip-role-not-authorized');
  });

  it('allows a non-critical command by an operator', () => {
    assert.deepEqual(decide({ principal: op1, command: { deviceId: 'inverter-1', pointId: 'p-limit', value: 50 } }), { decision: 'allow' });
    assert.deepEqual(decide({ principal: op1, command: { deviceId: 'breaker-12', pointId: 'status-led', value: 1 } }), { decision: 'allow' }, 'only the listed points are critical');
  });

  it('requires a second, different operator within the window for a critical control', () => {
    const none = decide({ principal: op1 });
    assert.equal(none.decision, 'require-approval');
    if (none.decision === 'require-approval') {
      assert.equal(none.reason, 'cip-second-approval-required');
      assert.deepEqual(none.approverRoles, ['operator']);
      assert.equal(none.windowMs, 300_000);
    }
    const self = decide({ principal: op1, approvals: [{ principal: op1, at: T0 + 1000 }], now: T0 + 1000 });
    assert.equal(self.decision, 'require-approval');
    if (self.decision === 'require-approval') assert.match(self.message, /cannot approve their own command/);
    const wrongRole = decide({ principal: op1, approvals: [{ principal: viewer, at: T0 + 1000 }], now: T0 + 1000 });
    assert.equal(wrongRole.decision, 'require-approval');
    assert.deepEqual(decide({ principal: op1, approvals: [{ principal: op2, at: T0 + 60_000 }], now: T0 + 60_000 }), { decision: 'allow' });
    const late = decide({ principal: op1, approvals: [{ principal: op2, at: T0 + 301_000 }], now: T0 + 301_000 });
    assert.equal(late.decision, 'deny');
    if (late.decision === 'deny') assert.equal(late.reason, 'cip-approval-window-expired');
  });

  it('raises a warning per failed authorisation and a critical alert at the threshold', () => {
    const a = m.alerts;
    assert.ok(a);
    const f = (at: number) => a.onAuthorizationFailure({ principal: viewer, what: 'command breaker-12/trip', reason: 'cip-role-not-authorized', at });
    assert.equal(f(T0)?.severity, 'warning');
    assert.equal(f(T0 + 1000)?.severity, 'warning');
    assert.equal(f(T0 + 2000)?.severity, 'critical');
    assert.equal(a.onAuthorizationFailure({ principal: viewer, what: 'x', reason: 'y', at: T0 + 3_600_000 })?.severity, 'warning', 'old failures leave the window');
  });

  it('change records need who, why and (when configured) a ticket', () => {
    const cc = m.changeControl;
    assert.ok(cc);
    assert.deepEqual(cc.check({ kind: 'config', by: 'admin-1', reason: 'raise poll rate', ticket: 'CHG-1', target: 'config' }), []);
    const problems = cc.check({ kind: 'plugin', by: 'admin-1', reason: '', target: 'protocol.modbus' });
    assert.equal(problems.length, 2);
    assert.match(problems.join(' '), /why/);
    assert.match(problems.join(' '), /ticket/);
  });

  it('keeps logs at least 90 days', () => {
    assert.deepEqual(
      m.retention?.map((r) => [r.dataClass, r.minDays]),
      [
        ['audit', 90],
        ['commands', 90],
      ],
    );
  });
});
