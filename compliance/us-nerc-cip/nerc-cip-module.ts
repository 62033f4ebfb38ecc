/**
 * us-nerc-cip: role-based command authorisation, two-person approval for critical controls,
 * change-management records (CIP-010 flavour), alerts on failed authorisations, and the log
 * retention these need. Pure rules; see README.md for the requirement behind each.
 */
import type {
  AlertPolicy,
  AuthorizationFailure,
  ChangeControl,
  ChangeRequest,
  CommandGate,
  ComplianceAlert,
  ComplianceModule,
  GateDecision,
  GateRequest,
} from '../../core/compliance/compliance-module.ts';
import { Matcher } from '../engine/matcher.ts';

export interface CriticalControl {
  /** Globs of device ids. */
  devices: string[];
  /** Globs of point ids (default: every point). */
  points?: string[];
  /** Roles the second person must hold (one of). */
  approverRoles: string[];
  /** The approval must come within this many seconds of the request. */
  windowSeconds: number;
  description?: string;
}

export interface NercCipConfig {
  /** Roles allowed to issue commands at all (one of). */
  commandRoles?: string[];
  criticalControls?: CriticalControl[];
  failedAuthorizations?: { threshold?: number; windowSeconds?: number };
  changeManagement?: { requireTicket?: boolean };
  /** Days audit and command records are kept at least. */
  logRetentionDays?: number;
}

export const NERC_CIP_DEFAULTS = {
  commandRoles: ['operator'],
  threshold: 3,
  windowSeconds: 900,
  logRetentionDays: 90,
} as const;

class RoleGate implements CommandGate {
  readonly id = 'cip-004-role-authorisation';
  private readonly roles: Set<string>;
  private readonly deny: GateDecision;

  constructor(roles: readonly string[]) {
    this.roles = new Set(roles);
    this.deny = { decision: 'deny', reason: 'cip-role-not-authorized', message: `commands need one of the roles ${[...roles].join(', ')} (CIP-004-7 R4 access management)` };
  }

  check(req: GateRequest): GateDecision {
    for (const r of req.principal.roles) if (this.roles.has(r)) return ALLOW;
    return this.deny;
  }
}

const ALLOW: GateDecision = Object.freeze({ decision: 'allow' });

class TwoPersonGate implements CommandGate {
  readonly id = 'cip-two-person-rule';
  private readonly controls: { devices: Matcher; points: Matcher | undefined; c: CriticalControl }[];

  constructor(controls: readonly CriticalControl[]) {
    this.controls = controls.map((c) => ({ devices: new Matcher(c.devices), points: c.points && c.points.length > 0 ? new Matcher(c.points) : undefined, c }));
  }

  check(req: GateRequest): GateDecision {
    const hit = this.controls.find((x) => x.devices.matches(req.command.deviceId) && (x.points === undefined || x.points.matches(req.command.pointId)));
    if (!hit) return ALLOW;
    const windowMs = hit.c.windowSeconds * 1000;
    const what = `${req.command.deviceId}/${req.command.pointId} is a critical control${hit.c.description ? ` (${hit.c.description})` : ''}`;
    if (req.now - req.requestedAt > windowMs) {
      return { decision: 'deny', reason: 'cip-approval-window-expired', message: `${what}: the approval window of ${hit.c.windowSeconds} s after the request has passed; request the command again` };
    }
    const problems: string[] = [];
    for (const a of req.approvals) {
      if (a.principal.id === req.principal.id) problems.push(`${a.principal.id} cannot approve their own command`);
      else if (!a.principal.roles.some((r) => hit.c.approverRoles.includes(r))) problems.push(`${a.principal.id} does not hold ${hit.c.approverRoles.join(' or ')}`);
      else if (a.at < req.requestedAt || a.at - req.requestedAt > windowMs) problems.push(`the approval by ${a.principal.id} is outside the ${hit.c.windowSeconds} s window`);
      else return ALLOW;
    }
    return {
      decision: 'require-approval',
      reason: problems.length > 0 ? 'cip-approval-not-valid' : 'cip-second-approval-required',
      message: `${what}: a second person holding ${hit.c.approverRoles.join(' or ')} must approve within ${hit.c.windowSeconds} s${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`,
      approverRoles: hit.c.approverRoles,
      windowMs,
    };
  }
}

class FailedAuthorizationAlerts implements AlertPolicy {
  private readonly recent = new Map<string, number[]>();
  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  onAuthorizationFailure(f: AuthorizationFailure): ComplianceAlert {
    const list = (this.recent.get(f.principal.id) ?? []).filter((t) => f.at - t < this.windowMs);
    list.push(f.at);
    this.recent.set(f.principal.id, list);
    if (list.length >= this.threshold) {
      return { severity: 'critical', message: `${list.length} failed authorisations by ${f.principal.id} within ${this.windowMs / 1000} s (threshold ${this.threshold}); last: ${f.what}: ${f.reason} (CIP-007-6 R5.7)` };
    }
    return { severity: 'warning', message: `failed authorisation by ${f.principal.id}: ${f.what}: ${f.reason} (CIP-007-6 R4.1.2)` };
  }
}

class CipChangeControl implements ChangeControl {
  constructor(private readonly requireTicket: boolean) {}

  check(change: ChangeRequest): string[] {
    const out: string[] = [];
    if (!change.by?.trim()) out.push('the change record must name who made the change (CIP-010-4 R1.2)');
    if (!change.reason?.trim()) out.push('the change record must say why (CIP-010-4 R1.2: authorise and document changes)');
    if (this.requireTicket && !change.ticket?.trim()) out.push('the change record must reference a change ticket (CIP-010-4 R1.2)');
    return out;
  }
}

/** Builds the us-nerc-cip module from its (validated) config. */
export function createNercCipModule(config: NercCipConfig = {}): ComplianceModule {
  const days = config.logRetentionDays ?? NERC_CIP_DEFAULTS.logRetentionDays;
  return {
    id: 'us-nerc-cip',
    jurisdiction: 'US',
    title: 'NERC Critical Infrastructure Protection: command authorisation, two-person rule, change management, failed-access alerts',
    regulation: 'NERC CIP-004-7 R4, CIP-007-6 R4 and R5, CIP-010-4 R1 (plus site two-person policy for critical controls)',
    order: 20,
    commandGates: [new RoleGate(config.commandRoles ?? [...NERC_CIP_DEFAULTS.commandRoles]), new TwoPersonGate(config.criticalControls ?? [])],
    alerts: new FailedAuthorizationAlerts(config.failedAuthorizations?.threshold ?? NERC_CIP_DEFAULTS.threshold, (config.failedAuthorizations?.windowSeconds ?? NERC_CIP_DEFAULTS.windowSeconds) * 1000),
    changeControl: new CipChangeControl(config.changeManagement?.requireTicket ?? false),
    retention: [
      { dataClass: 'audit', minDays: days, source: 'CIP-007-6 R4.3 (retain security event logs at least 90 consecutive days)' },
      { dataClass: 'commands', minDays: days, source: 'CIP-007-6 R4.3' },
    ],
  };
}
