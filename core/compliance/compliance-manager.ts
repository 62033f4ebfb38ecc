/**
 * The ComplianceManager: which compliance modules exist (from the plugins), which are active when
 * (a timeline of enable/disable changes, each effective now or at a stated time, persisted in
 * `<dataDir>/state.json`), and applying the active ones:
 *
 *   stage()         the pipeline stage (ingest rules) — evaluates the active set at processing time,
 *                   so a scheduled change takes effect at its time without a restart
 *   egressStage()   the same for egress rules (where records leave the site: external topics, chain)
 *   gateCommand()   command gates; `approve()` for the two-person rule
 *   checkTrade()    trade rules and market parameters
 *   recordChange()  change-management records for config and plugin changes
 *   report()        what was active over a period and what each module did (JSON, Markdown, HTML)
 *
 * Every toggle, gate decision, approval, change and authorisation failure goes to the audit log.
 * Counters (per module, per hour) are kept in `<dataDir>/counters.json` (written at most once a
 * minute while processing and on `flush()`).
 *
 * Error policy: bad requests (unknown module, missing reason, malformed or past schedule, a no-op
 * toggle) throw INVALID_ARGUMENT; a change that would make two active modules conflict throws
 * COMPLIANCE_VIOLATION naming both; nothing is changed or persisted when a request is refused.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import type { ComplianceStage } from '../contributions.ts';
import { EnergyMeshError, errorMessage } from '../errors.ts';
import type { CommandRequest, CommandResult, DeviceEvent, TelemetryRecord } from '../model/telemetry.ts';
import { applicationOrder, effectiveRetention, findConflicts } from './compliance-module.ts';
import type {
  AuthorizationFailure,
  ChangeRequest,
  ComplianceAlert,
  ComplianceConflict,
  ComplianceModule,
  ComplianceTrade,
  ExportInput,
  GateDecision,
  MarketParameters,
  PersonalDataRules,
  PersonalDataStore,
  Principal,
  RuleContext,
  RulePhase,
  RuleVerdict,
  SubjectAccessReport,
  TelemetryTransform,
  TelemetryValidator,
} from './compliance-module.ts';
import { jsonDiffPaths, jsonDigest } from './json-diff.ts';
import { renderReportHtml, renderReportMarkdown } from './compliance-report.ts';

export interface ComplianceManagerOptions {
  /** Folder for state.json and counters.json (created on demand). */
  dataDir: string;
  /** Every module the loaded compliance plugins contribute. */
  modules: readonly ComplianceModule[];
  audit: Pick<AuditLog, 'append'>;
  /** Epoch ms; injectable for tests. */
  clock?: () => number;
  /** Off-chain personal data, for subject-access export and erasure. */
  personalData?: PersonalDataStore;
  /** How long a pending two-person approval stays open at most (default 15 min). */
  maxApprovalWindowMs?: number;
}

export interface ToggleOptions {
  /** Who (principal id). */
  by: string;
  /** Why (mandatory). */
  reason: string;
  /** When it takes effect: an ISO 8601 time with a zone (or epoch ms); now if left out. */
  at?: string | number;
}

export interface ComplianceChange {
  /** Order of recording, from 1. */
  seq: number;
  module: string;
  action: 'enable' | 'disable';
  /** When it takes effect, epoch ms. */
  at: number;
  by: string;
  reason: string;
  recordedAt: number;
}

export interface ModuleCounters {
  /** Records the module's stage rules saw. */
  records: number;
  transformed: number;
  flagged: number;
  rejected: number;
  /** Flag and reject counts per reason code. */
  reasons: Record<string, number>;
  gates: { allowed: number; denied: number; approvalRequired: number };
  trades: { checked: number; rejected: number };
}

export interface ModuleInfo {
  id: string;
  title: string;
  jurisdiction: string;
  regulation: string;
  active: boolean;
  exports: { id: string; title: string; mediaType: string }[];
  market?: MarketParameters;
}

export interface ComplianceStatus {
  now: string;
  active: { id: string; title: string; jurisdiction: string; since: string; by: string; reason: string }[];
  scheduled: { seq: number; module: string; action: 'enable' | 'disable'; at: string; by: string; reason: string }[];
  /** Modules active in the persisted state whose plugin is not loaded (their rules are not applied). */
  missing: string[];
  market: MarketParameters;
  retention: ReturnType<typeof effectiveRetention>;
  counters: Record<string, ModuleCounters>;
}

export type GateOutcome =
  | { decision: 'allow'; modules: string[] }
  | { decision: 'deny'; module: string; reason: string; message: string }
  | { decision: 'require-approval'; module: string; reason: string; message: string; pendingId: string; approverRoles: readonly string[]; expiresAt: string };

export type ApprovalOutcome =
  | { decision: 'allow'; pendingId: string; command: CommandRequest & { id?: string }; requestedBy: Principal; approvedBy: string[] }
  | { decision: 'deny'; pendingId: string; module?: string; reason: string; message: string };

export interface TradeCheck {
  trade: ComplianceTrade;
  accepted: boolean;
  verdicts: { module: string; action: 'flag' | 'reject'; reason: string }[];
}

export interface ComplianceAlertEvent extends ComplianceAlert {
  module: string;
  at: number;
  principal: string;
  what: string;
}

export interface ComplianceReport {
  from: string;
  to: string;
  generatedAt: string;
  modules: {
    id: string;
    title: string;
    jurisdiction: string;
    regulation: string;
    /** Intervals within the period during which the module was active. */
    active: { from: string; to: string }[];
    counters: ModuleCounters;
  }[];
  changes: { module: string; action: 'enable' | 'disable'; at: string; by: string; reason: string; recordedAt: string }[];
  /** Counters are kept per hour, per day once older than 31 days: counts cover whole hours/days overlapping the period. */
  counterResolution: string;
}

interface PendingApproval {
  id: string;
  command: CommandRequest & { id?: string };
  principal: Principal;
  requestedAt: number;
  expiresAt: number;
  module: string;
}

interface RuleSlot<R> {
  rule: R;
  module: string;
  counters: ModuleCounters;
}

interface StagePlan {
  modules: string[];
  transforms: RuleSlot<TelemetryTransform>[];
  validators: RuleSlot<TelemetryValidator>[];
  counters: ModuleCounters[];
}

interface Plan {
  /** Valid for processing times in [from, until). */
  from: number;
  until: number;
  hour: number;
  active: ComplianceModule[];
  ingest: StagePlan;
  egress: StagePlan;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Hourly counters older than this are merged into daily ones (keeps counters.json small). */
const COMPACT_AFTER_MS = 31 * DAY;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const COUNTER_FLUSH_MS = 60_000;
/** How often the state file is checked for changes made by another process. */
const STATE_CHECK_MS = 1000;
/** A stated time this close in the past counts as now (clock skew between client and server). */
const PAST_TOLERANCE_MS = 5_000;

export class ComplianceManager {
  private readonly modules = new Map<string, ComplianceModule>();
  private readonly clock: () => number;
  private readonly stateFile: string;
  private readonly countersFile: string;
  private readonly pendingFile: string;
  private changes: ComplianceChange[] = [];
  /** hour start (epoch ms) → module id → counters */
  private readonly buckets = new Map<number, Map<string, ModuleCounters>>();
  /** day start (epoch ms, UTC) → module id → counters, for hours older than COMPACT_AFTER_MS */
  private readonly days = new Map<number, Map<string, ModuleCounters>>();
  private plan: Plan | undefined;
  private countersDirty = false;
  private countersWrittenAt = 0;
  private readonly pending = new Map<string, PendingApproval>();
  private readonly alertListeners = new Set<(alert: ComplianceAlertEvent) => void>();
  /** mtime of state.json as last read or written, and when it was last looked at (another process, e.g. the CLI, may change it). */
  private stateMtimeMs = -1;
  private stateCheckedAt = -Infinity;

  constructor(private readonly options: ComplianceManagerOptions) {
    for (const m of options.modules) {
      if (this.modules.has(m.id)) throw new EnergyMeshError('DUPLICATE_ID', `two compliance modules have the id ${m.id}`);
      this.modules.set(m.id, m);
    }
    this.clock = options.clock ?? Date.now;
    mkdirSync(options.dataDir, { recursive: true });
    this.stateFile = join(options.dataDir, 'state.json');
    this.countersFile = join(options.dataDir, 'counters.json');
    this.pendingFile = join(options.dataDir, 'pending-approvals.json');
    this.load();
    this.loadPending();
  }

  /** Requests awaiting a second person survive a restart (until they expire). */
  private loadPending(): void {
    let saved: unknown;
    try {
      saved = JSON.parse(readFileSync(this.pendingFile, 'utf8'));
    } catch {
      return; // none yet (or unreadable: the requests must be made again; nothing was executed)
    }
    if (!Array.isArray(saved)) return;
    const now = this.clock();
    for (const p of saved as PendingApproval[]) {
      if (typeof p?.id === 'string' && typeof p.expiresAt === 'number' && p.expiresAt >= now) this.pending.set(p.id, p);
    }
  }

  private savePending(): void {
    const tmp = `${this.pendingFile}.tmp`;
    writeFileSync(tmp, JSON.stringify([...this.pending.values()]));
    renameSync(tmp, this.pendingFile);
  }

  // -------------------------------------------------------------------------------------------
  // the active set

  /** Every available module, with whether it is active now. */
  list(): ModuleInfo[] {
    const active = new Set(this.activeIdsAt(this.clock()));
    return applicationOrder([...this.modules.values()]).map((m) => ({
      id: m.id,
      title: m.title,
      jurisdiction: m.jurisdiction,
      regulation: m.regulation,
      active: active.has(m.id),
      exports: (m.exports ?? []).map((x) => ({ id: x.id, title: x.title, mediaType: x.mediaType })),
      ...(m.market ? { market: m.market } : {}),
    }));
  }

  /** Ids of the modules active at `at` (epoch ms), including ones whose plugin is missing. */
  activeIdsAt(at: number): string[] {
    const set = new Set<string>();
    for (const c of this.changes) {
      if (c.at > at) continue;
      if (c.action === 'enable') set.add(c.module);
      else set.delete(c.module);
    }
    return [...set];
  }

  /** The module objects active now, in their order of application. */
  activeModules(at = this.clock()): ComplianceModule[] {
    return this.planAt(at).active;
  }

  enable(id: string, options: ToggleOptions): ComplianceChange {
    return this.toggle(id, 'enable', options);
  }

  disable(id: string, options: ToggleOptions): ComplianceChange {
    return this.toggle(id, 'disable', options);
  }

  /**
   * Cancels a scheduled change (by its seq, from `status().scheduled`) before it takes effect;
   * mandatory reason; refused if the timeline without it would have conflicts. Audited.
   */
  cancel(seq: number, options: { by: string; reason: string }): ComplianceChange {
    const now = this.clock();
    this.reloadIfChanged(now);
    const change = this.changes.find((c) => c.seq === seq);
    if (!change || change.at <= now) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `no scheduled change ${String(seq)} to cancel${change ? ` (it took effect at ${iso(change.at)})` : ''}; scheduled: ${this.changes.filter((c) => c.at > now).map((c) => c.seq).join(', ') || 'none'}`);
    }
    if (typeof options?.by !== 'string' || options.by.trim() === '') throw new EnergyMeshError('INVALID_ARGUMENT', `cancel change ${seq}: who cancels it is required`);
    if (typeof options.reason !== 'string' || options.reason.trim() === '') throw new EnergyMeshError('INVALID_ARGUMENT', `cancel change ${seq}: a reason is required (it goes to the audit log)`);
    const timeline = this.changes.filter((c) => c !== change);
    for (const t of [now, ...timeline.filter((c) => c.at > now).map((c) => c.at)]) {
      const conflicts = findConflicts(activeIdsIn(timeline, t).filter((m) => this.modules.has(m)).map((m) => this.modules.get(m) as ComplianceModule));
      if (conflicts[0]) {
        throw new EnergyMeshError('COMPLIANCE_VIOLATION', `cannot cancel change ${seq} (${change.action} ${change.module} at ${iso(change.at)}): from ${iso(t)} ${conflicts[0].message}`, { details: { conflicts } });
      }
    }
    this.audit({ type: 'compliance.toggle', actor: options.by, action: 'cancel', target: change.module, reason: options.reason.trim(), outcome: 'cancelled', details: { change: seq, cancelledAction: change.action, effectiveAt: iso(change.at) } });
    this.changes = timeline;
    this.plan = undefined;
    this.saveState();
    return change;
  }

  status(): ComplianceStatus {
    const now = this.clock();
    const since = new Map<string, ComplianceChange>();
    for (const c of this.changes) {
      if (c.at > now) continue;
      if (c.action === 'enable') since.set(c.module, c);
      else since.delete(c.module);
    }
    const active: ComplianceStatus['active'] = [];
    const missing: string[] = [];
    for (const [id, c] of since) {
      const m = this.modules.get(id);
      if (!m) {
        missing.push(id);
        continue;
      }
      active.push({ id, title: m.title, jurisdiction: m.jurisdiction, since: iso(c.at), by: c.by, reason: c.reason });
    }
    const counters: Record<string, ModuleCounters> = {};
    for (const map of [this.buckets, this.days]) for (const bucket of map.values()) for (const [id, c] of bucket) addCounters((counters[id] ??= newCounters()), c);
    const plan = this.planAt(now);
    return {
      now: iso(now),
      active,
      scheduled: this.changes.filter((c) => c.at > now).map((c) => ({ seq: c.seq, module: c.module, action: c.action, at: iso(c.at), by: c.by, reason: c.reason })),
      missing,
      market: mergedMarket(plan.active),
      retention: effectiveRetention(plan.active),
      counters,
    };
  }

  /** Market parameters in force now (the settlement layer reads them). */
  marketParameters(at = this.clock()): MarketParameters {
    return mergedMarket(this.planAt(at).active);
  }

  /** The whole timeline of changes, oldest first. */
  history(): readonly ComplianceChange[] {
    return this.changes;
  }

  private toggle(id: string, action: 'enable' | 'disable', options: ToggleOptions): ComplianceChange {
    const now = this.clock();
    this.reloadIfChanged(now);
    if (typeof id !== 'string' || !this.modules.has(id)) {
      const known = [...this.modules.keys()].sort();
      throw new EnergyMeshError('INVALID_ARGUMENT', `unknown compliance module ${JSON.stringify(id)}; available: ${known.length > 0 ? known.join(', ') : 'none (no compliance plugin is loaded)'}`, {
        details: { module: id, available: known },
      });
    }
    if (typeof options?.by !== 'string' || options.by.trim() === '') throw new EnergyMeshError('INVALID_ARGUMENT', `${action} ${id}: who makes the change is required`);
    if (typeof options.reason !== 'string' || options.reason.trim() === '') {
      throw new EnergyMeshError('INVALID_ARGUMENT', `${action} ${id}: a reason is required (it goes to the audit log)`);
    }
    const at = parseWhen(options.at, now, `${action} ${id}`);
    const activeThen = new Set(this.activeIdsAt(at));
    if (action === 'enable' && activeThen.has(id)) throw new EnergyMeshError('INVALID_ARGUMENT', `${id} is already active at ${iso(at)}`, { details: { module: id, at: iso(at) } });
    if (action === 'disable' && !activeThen.has(id)) throw new EnergyMeshError('INVALID_ARGUMENT', `${id} is not active at ${iso(at)}`, { details: { module: id, at: iso(at) } });
    const change: ComplianceChange = { seq: (this.changes.at(-1)?.seq ?? 0) + 1, module: id, action, at, by: options.by, reason: options.reason.trim(), recordedAt: now };
    const timeline = sortChanges([...this.changes, change]);
    // the set must stay conflict-free from the change on, through every later scheduled change
    for (const t of [at, ...timeline.filter((c) => c.at > at).map((c) => c.at)]) {
      const ids = activeIdsIn(timeline, t).filter((m) => this.modules.has(m));
      const conflicts = findConflicts(ids.map((m) => this.modules.get(m) as ComplianceModule));
      const mine = conflicts.filter((c) => c.a === id || c.b === id);
      const conflict = mine[0] ?? conflicts[0];
      if (conflict) {
        this.audit({ type: 'compliance.toggle', actor: options.by, action, target: id, reason: change.reason, outcome: 'refused', details: { at: iso(at), conflict: conflict.message } });
        throw new EnergyMeshError('COMPLIANCE_VIOLATION', `cannot ${action} ${id}${at > now ? ` at ${iso(at)}` : ''}: ${conflict.message}${t !== at ? ` (from ${iso(t)})` : ''}`, {
          details: { module: id, conflicts: (mine.length > 0 ? mine : conflicts) satisfies ComplianceConflict[], at: iso(t) },
        });
      }
    }
    this.audit({
      type: 'compliance.toggle',
      actor: options.by,
      action,
      target: id,
      reason: change.reason,
      outcome: at > now ? 'scheduled' : 'applied',
      details: { effectiveAt: iso(at), change: change.seq },
    });
    this.changes = timeline;
    this.plan = undefined;
    this.saveState();
    return change;
  }

  // -------------------------------------------------------------------------------------------
  // telemetry

  /** The pipeline stage: ingest rules of the modules active at processing time. */
  stage(): ComplianceStage {
    return { id: 'compliance', process: (records) => this.apply(records, 'ingest') };
  }

  /**
   * The egress stage: egress rules (pseudonymisation before records leave the site: Kafka topics
   * marked external, the chain). Works on a copy of the array (callers often hold a bus batch).
   */
  egressStage(): ComplianceStage {
    return { id: 'compliance.egress', process: (records) => this.apply(records.slice(), 'egress') };
  }

  /**
   * Egress rules for an event leaving the site: its deviceId and pointId become what a telemetry record
   * of that point would carry after the egress transforms (the same pseudonyms), and every occurrence of
   * the original ids in its message and in the string values of its data is replaced the same way (the
   * kernel's own messages name the device).
   */
  egressEvent(event: DeviceEvent): DeviceEvent {
    const now = this.clock();
    const transforms = this.planAt(now).egress.transforms;
    if (transforms.length === 0) return event;
    const pointId = event.pointId ?? 'event';
    let r: TelemetryRecord = { deviceId: event.deviceId, pointId, ts: event.ts, receivedAt: event.receivedAt, value: null, quality: { status: 'good', flags: [] }, protocol: 'event', seq: 0 };
    const ctx: RuleContext = { now };
    for (const slot of transforms) r = slot.rule.apply(r, ctx);
    if (r.deviceId === event.deviceId && r.pointId === pointId) return event;
    const replacements: [string, string][] = [[event.deviceId, r.deviceId]];
    if (event.pointId !== undefined && r.pointId !== pointId) replacements.push([pointId, r.pointId]);
    const scrub = (text: string): string => replacements.reduce((t, [from, to]) => t.split(from).join(to), text);
    const scrubValue = (v: unknown): unknown =>
      typeof v === 'string' ? scrub(v) : Array.isArray(v) ? v.map(scrubValue) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubValue(x)])) : v;
    return {
      ...event,
      deviceId: r.deviceId,
      ...(event.pointId !== undefined ? { pointId: r.pointId } : {}),
      message: scrub(event.message),
      ...(event.data !== undefined ? { data: scrubValue(event.data) as Record<string, unknown> } : {}),
    };
  }

  /** Applies the active modules' rules of `phase`; reuses `records` as the output array. */
  apply(records: TelemetryRecord[], phase: RulePhase): TelemetryRecord[] {
    const now = this.clock();
    const plan = this.planAt(now);
    const p = phase === 'ingest' ? plan.ingest : plan.egress;
    if (p.transforms.length === 0 && p.validators.length === 0) return records;
    const ctx: RuleContext = { now };
    for (const c of p.counters) c.records += records.length;
    const transforms = p.transforms;
    const validators = p.validators;
    let w = 0;
    outer: for (let i = 0; i < records.length; i++) {
      let r = records[i] as TelemetryRecord;
      for (let t = 0; t < transforms.length; t++) {
        const slot = transforms[t] as RuleSlot<TelemetryTransform>;
        const next = slot.rule.apply(r, ctx);
        if (next !== r) {
          slot.counters.transformed++;
          r = next;
        }
      }
      for (let v = 0; v < validators.length; v++) {
        const slot = validators[v] as RuleSlot<TelemetryValidator>;
        const verdict = slot.rule.check(r, ctx);
        if (verdict === undefined) continue;
        slot.counters.reasons[verdict.reason] = (slot.counters.reasons[verdict.reason] ?? 0) + 1;
        if (verdict.action === 'reject') {
          slot.counters.rejected++;
          continue outer;
        }
        slot.counters.flagged++;
        r = withFlag(r, verdict.reason);
      }
      records[w++] = r;
    }
    records.length = w;
    this.countersDirty = true;
    if (now - this.countersWrittenAt >= COUNTER_FLUSH_MS) this.flush();
    return records;
  }

  // -------------------------------------------------------------------------------------------
  // trades

  /** Applies trade transforms, trade validators and the market parameters of the active modules. */
  checkTrade(trade: ComplianceTrade): TradeCheck {
    const now = this.clock();
    const plan = this.planAt(now);
    const ctx: RuleContext = { now };
    let t = trade;
    const verdicts: TradeCheck['verdicts'] = [];
    for (const m of plan.active) for (const x of m.tradeTransforms ?? []) t = x.apply(t, ctx);
    for (const m of plan.active) {
      const c = this.countersFor(m.id, now);
      c.trades.checked++;
      const found: RuleVerdict[] = [];
      for (const v of m.tradeValidators ?? []) {
        const verdict = v.check(t, ctx);
        if (verdict) found.push(verdict);
      }
      if (m.market) found.push(...marketVerdicts(m.market, t));
      for (const v of found) {
        verdicts.push({ module: m.id, action: v.action, reason: v.reason });
        c.reasons[v.reason] = (c.reasons[v.reason] ?? 0) + 1;
      }
      if (found.some((v) => v.action === 'reject')) c.trades.rejected++;
    }
    this.countersDirty = true;
    return { trade: t, accepted: !verdicts.some((v) => v.action === 'reject'), verdicts };
  }

  // -------------------------------------------------------------------------------------------
  // commands

  /**
   * Runs the command gates of the active modules for `principal`. A deny wins over a required
   * approval; a required approval opens a pending request for `approve()`. Audited either way.
   */
  gateCommand(command: CommandRequest & { id?: string }, principal: Principal): GateOutcome {
    const now = this.clock();
    const target = `${command.deviceId}/${command.pointId}`;
    const result = this.runGates(command, principal, [], now, now);
    if (result.decision === 'allow') {
      this.audit({ type: 'compliance.gate', actor: principal.id, action: 'command', target, outcome: 'allowed', details: { command: commandSummary(command), modules: result.modules } });
      return result;
    }
    if (result.decision === 'deny') {
      this.audit({ type: 'compliance.gate', actor: principal.id, action: 'command', target, outcome: 'denied', reason: result.reason, details: { command: commandSummary(command), module: result.module, message: result.message } });
      this.authorizationFailed({ principal, what: `command ${target}`, reason: result.reason, at: now });
      return { decision: 'deny', module: result.module, reason: result.reason, message: result.message };
    }
    const window = Math.min(result.windowMs, this.options.maxApprovalWindowMs ?? 15 * 60_000);
    const pending: PendingApproval = { id: randomUUID(), command, principal, requestedAt: now, expiresAt: now + window, module: result.module };
    this.prunePending(now);
    this.pending.set(pending.id, pending);
    this.savePending();
    this.audit({
      type: 'compliance.gate',
      actor: principal.id,
      action: 'command',
      target,
      outcome: 'approval-required',
      reason: result.reason,
      details: { command: commandSummary(command), module: result.module, pendingId: pending.id, approverRoles: [...result.approverRoles], expiresAt: iso(pending.expiresAt) },
    });
    return { decision: 'require-approval', module: result.module, reason: result.reason, message: result.message, pendingId: pending.id, approverRoles: result.approverRoles, expiresAt: iso(pending.expiresAt) };
  }

  /** A second principal approves a pending command; `allow` hands back the command to execute. */
  approve(pendingId: string, approver: Principal): ApprovalOutcome {
    const now = this.clock();
    this.prunePending(now);
    const p = this.pending.get(pendingId);
    if (!p) {
      this.audit({ type: 'compliance.approval', actor: approver.id, action: 'approve', target: pendingId, outcome: 'denied', reason: 'no-such-request' });
      return { decision: 'deny', pendingId, reason: 'no-such-request', message: `no pending command ${pendingId} (unknown, already executed or expired)` };
    }
    const target = `${p.command.deviceId}/${p.command.pointId}`;
    const result = this.runGates(p.command, p.principal, [{ principal: approver, at: now }], p.requestedAt, now);
    if (result.decision === 'allow') {
      this.pending.delete(pendingId);
      this.savePending();
      this.audit({ type: 'compliance.approval', actor: approver.id, action: 'approve', target, outcome: 'allowed', details: { pendingId, requestedBy: p.principal.id, command: commandSummary(p.command), modules: result.modules } });
      return { decision: 'allow', pendingId, command: p.command, requestedBy: p.principal, approvedBy: [approver.id] };
    }
    const reason = result.reason;
    const message = result.decision === 'deny' ? result.message : `the approval by ${approver.id} does not satisfy ${result.module}: ${result.message}`;
    this.audit({ type: 'compliance.approval', actor: approver.id, action: 'approve', target, outcome: 'denied', reason, details: { pendingId, requestedBy: p.principal.id, module: result.module, message } });
    this.authorizationFailed({ principal: approver, what: `approval of ${target}`, reason, at: now });
    return { decision: 'deny', pendingId, module: result.module, reason, message };
  }

  /** Pending two-person approvals (kept in pending-approvals.json: a restart keeps them until they expire). */
  pendingApprovals(): { id: string; requestedBy: string; command: CommandRequest; module: string; expiresAt: string }[] {
    this.prunePending(this.clock());
    return [...this.pending.values()].map((p) => ({ id: p.id, requestedBy: p.principal.id, command: p.command, module: p.module, expiresAt: iso(p.expiresAt) }));
  }

  /** Records a command's outcome (session/command audit). */
  recordCommand(command: CommandRequest & { id?: string }, principal: Pick<Principal, 'id'>, result: Pick<CommandResult, 'status' | 'error' | 'commandId'>): void {
    this.audit({
      type: 'command',
      actor: principal.id,
      action: 'execute',
      target: `${command.deviceId}/${command.pointId}`,
      outcome: result.status,
      ...(command.reason ? { reason: command.reason } : {}),
      details: { command: commandSummary(command), commandId: result.commandId, ...(result.error ? { error: result.error } : {}) },
    });
  }

  /** Records an authorisation failure (the API/CLI call this for denied requests); raises alerts. */
  recordAuthorizationFailure(failure: AuthorizationFailure): void {
    this.audit({ type: 'auth.failure', actor: failure.principal.id, action: 'deny', target: failure.what, outcome: 'denied', reason: failure.reason, at: failure.at });
    this.authorizationFailed(failure);
  }

  /** Listens to alerts (failed authorisations and the like); returns the unsubscriber. */
  onDidRaiseAlert(listener: (alert: ComplianceAlertEvent) => void): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------
  // changes, exports, personal data

  /**
   * A change-management record for a config or plugin change: checked against the active modules'
   * change control (COMPLIANCE_VIOLATION if refused, and the refusal is audited), then audited with
   * the changed paths and the digests of before and after.
   */
  recordChange(change: ChangeRequest): { before: string; after: string; changed: string[] } {
    const now = this.clock();
    const problems: string[] = [];
    for (const m of this.planAt(now).active) for (const p of m.changeControl?.check(change) ?? []) problems.push(`${m.id}: ${p}`);
    const summary = { before: jsonDigest(change.before), after: jsonDigest(change.after), changed: jsonDiffPaths(change.before, change.after) };
    const type = change.kind === 'plugin' ? 'plugin.change' : 'config.change';
    const base = { type, actor: change.by || 'unknown', action: 'change', target: change.target, ...(change.reason ? { reason: change.reason } : {}) } as const;
    if (problems.length > 0) {
      this.audit({ ...base, outcome: 'refused', details: { ...summary, ...(change.ticket ? { ticket: change.ticket } : {}), problems } });
      throw new EnergyMeshError('COMPLIANCE_VIOLATION', `change to ${change.target} refused: ${problems.join('; ')}`, { details: { problems } });
    }
    this.audit({ ...base, outcome: 'recorded', details: { ...summary, ...(change.ticket ? { ticket: change.ticket } : {}) } });
    return summary;
  }

  /** Produces one of a module's exports (the module need not be active). */
  exportData(moduleId: string, exportId: string, input: Omit<ExportInput, 'now'>): { content: string; mediaType: string; fileName: string } {
    const m = this.modules.get(moduleId);
    if (!m) throw new EnergyMeshError('INVALID_ARGUMENT', `unknown compliance module ${JSON.stringify(moduleId)}`);
    const x = m.exports?.find((e) => e.id === exportId);
    if (!x) throw new EnergyMeshError('INVALID_ARGUMENT', `${moduleId} has no export ${JSON.stringify(exportId)}; it has: ${(m.exports ?? []).map((e) => e.id).join(', ') || 'none'}`);
    if (!Number.isFinite(input.from) || !Number.isFinite(input.to) || input.from >= input.to) throw new EnergyMeshError('INVALID_ARGUMENT', `${moduleId}/${exportId}: invalid period`);
    const now = this.clock();
    const content = x.produce({ ...input, now });
    return { content, mediaType: x.mediaType, fileName: `${moduleId}-${exportId}-${compactDate(input.from)}-${compactDate(input.to)}.${x.fileExtension}` };
  }

  /** A data subject's personal data (GDPR Art. 15) through the active module that handles it. */
  async subjectAccess(subjectId: string, by: string): Promise<SubjectAccessReport> {
    const { module, rules, store } = this.personalDataHandler('subject access');
    const report = await rules.subjectAccess(store, subjectId, this.clock());
    this.audit({ type: 'compliance.erasure', actor: by, action: 'subject-access', target: subjectId, outcome: 'exported', details: { module: module.id, records: report.records.length } });
    return report;
  }

  /** Erases a data subject's off-chain personal data (GDPR Art. 17); mandatory reason. */
  async erase(subjectId: string, options: { by: string; reason: string }): Promise<number> {
    if (!options.reason?.trim()) throw new EnergyMeshError('INVALID_ARGUMENT', `erasure of ${subjectId}: a reason is required`);
    const { module, rules, store } = this.personalDataHandler('erasure');
    const n = await rules.erase(store, subjectId);
    this.audit({ type: 'compliance.erasure', actor: options.by, action: 'erase', target: subjectId, reason: options.reason, outcome: 'erased', details: { module: module.id, records: n } });
    return n;
  }

  /** Deletes personal data older than the retention in force allows; returns how many went. */
  async purgeExpiredPersonalData(by = 'system'): Promise<number> {
    const now = this.clock();
    const max = effectiveRetention(this.planAt(now).active).personal?.maxDays;
    if (max === undefined || !this.options.personalData) return 0;
    const n = await this.options.personalData.purgeBefore(now - max * 86_400_000);
    this.audit({ type: 'compliance.erasure', actor: by, action: 'purge', target: 'personal', outcome: 'purged', details: { maxDays: max, records: n } });
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // reports

  /** What was active over [from, to) and what each module did. */
  report(from: number, to: number): ComplianceReport {
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) throw new EnergyMeshError('INVALID_ARGUMENT', `compliance report: invalid period ${String(from)}..${String(to)}`);
    const ids = new Set<string>();
    for (const c of this.changes) ids.add(c.module);
    const modules: ComplianceReport['modules'] = [];
    for (const id of [...ids].sort()) {
      const intervals = activeIntervals(this.changes, id, from, to);
      const counters = newCounters();
      for (const [map, span] of [
        [this.buckets, HOUR],
        [this.days, DAY],
      ] as const) {
        for (const [start, bucket] of map) {
          if (start + span <= from || start >= to) continue;
          const c = bucket.get(id);
          if (c) addCounters(counters, c);
        }
      }
      if (intervals.length === 0 && counters.records === 0 && counters.gates.allowed + counters.gates.denied + counters.gates.approvalRequired === 0) continue;
      const m = this.modules.get(id);
      modules.push({
        id,
        title: m?.title ?? `${id} (plugin not loaded)`,
        jurisdiction: m?.jurisdiction ?? '?',
        regulation: m?.regulation ?? '?',
        active: intervals.map(([a, b]) => ({ from: iso(a), to: iso(b) })),
        counters,
      });
    }
    return {
      from: iso(from),
      to: iso(to),
      generatedAt: iso(this.clock()),
      modules,
      changes: this.changes
        .filter((c) => c.at >= from && c.at < to)
        .map((c) => ({ module: c.module, action: c.action, at: iso(c.at), by: c.by, reason: c.reason, recordedAt: iso(c.recordedAt) })),
      counterResolution: 'hour (day for counts older than 31 days)',
    };
  }

  reportMarkdown(from: number, to: number): string {
    return renderReportMarkdown(this.report(from, to));
  }

  reportHtml(from: number, to: number): string {
    return renderReportHtml(this.report(from, to));
  }

  /** Writes the counters now (call on shutdown). */
  flush(): void {
    if (!this.countersDirty) return;
    const now = this.clock();
    for (const [hour, bucket] of this.buckets) {
      if (hour + HOUR > now - COMPACT_AFTER_MS || hour === this.plan?.hour) continue;
      const day = Math.floor(hour / DAY) * DAY;
      let into = this.days.get(day);
      if (!into) this.days.set(day, (into = new Map()));
      for (const [id, c] of bucket) addCounters(into.get(id) ?? (into.set(id, newCounters()).get(id) as ModuleCounters), c);
      this.buckets.delete(hour);
    }
    const dump = (map: Map<number, Map<string, ModuleCounters>>): Record<string, Record<string, ModuleCounters>> => {
      const out: Record<string, Record<string, ModuleCounters>> = {};
      for (const [start, bucket] of map) out[String(start)] = Object.fromEntries(bucket);
      return out;
    };
    writeAtomic(this.countersFile, JSON.stringify({ version: 1, buckets: dump(this.buckets), days: dump(this.days) }));
    this.countersDirty = false;
    this.countersWrittenAt = this.clock();
  }

  // -------------------------------------------------------------------------------------------

  private runGates(
    command: CommandRequest & { id?: string },
    principal: Principal,
    approvals: { principal: Principal; at: number }[],
    requestedAt: number,
    now: number,
  ): { decision: 'allow'; modules: string[] } | (Exclude<GateDecision, { decision: 'allow' }> & { module: string }) {
    let approval: (Extract<GateDecision, { decision: 'require-approval' }> & { module: string }) | undefined;
    const modules: string[] = [];
    for (const m of this.planAt(now).active) {
      if (!m.commandGates?.length) continue;
      const c = this.countersFor(m.id, now);
      let allowed = true;
      for (const g of m.commandGates) {
        const d = g.check({ command, principal, approvals, requestedAt, now });
        if (d.decision === 'deny') {
          c.gates.denied++;
          this.countersDirty = true;
          return { ...d, module: m.id };
        }
        if (d.decision === 'require-approval') {
          allowed = false;
          approval ??= { ...d, module: m.id };
        }
      }
      if (allowed) c.gates.allowed++;
      else c.gates.approvalRequired++;
      modules.push(m.id);
    }
    this.countersDirty = true;
    return approval ?? { decision: 'allow', modules };
  }

  private authorizationFailed(failure: AuthorizationFailure): void {
    for (const m of this.planAt(failure.at).active) {
      const alert = m.alerts?.onAuthorizationFailure(failure);
      if (!alert) continue;
      const event: ComplianceAlertEvent = { ...alert, module: m.id, at: failure.at, principal: failure.principal.id, what: failure.what };
      for (const l of this.alertListeners) {
        try {
          l(event);
        } catch {
          // a listener's bug must not break the command path
        }
      }
    }
  }

  private personalDataHandler(what: string): { module: ComplianceModule; rules: PersonalDataRules; store: PersonalDataStore } {
    const store = this.options.personalData;
    if (!store) throw new EnergyMeshError('INVALID_ARGUMENT', `${what}: no personal-data store is configured`);
    const module = this.planAt(this.clock()).active.find((m) => m.personalData);
    if (!module?.personalData) throw new EnergyMeshError('INVALID_ARGUMENT', `${what}: no active compliance module handles personal data (enable eu-gdpr)`);
    return { module, rules: module.personalData, store };
  }

  private prunePending(now: number): void {
    let pruned = false;
    for (const [id, p] of this.pending) {
      if (p.expiresAt < now) {
        this.pending.delete(id);
        pruned = true;
      }
    }
    if (pruned) this.savePending();
  }

  private audit(entry: AuditEntry): void {
    this.options.audit.append({ at: this.clock(), ...entry });
  }

  private planAt(now: number): Plan {
    if (now - this.stateCheckedAt >= STATE_CHECK_MS || now < this.stateCheckedAt) this.reloadIfChanged(now);
    const hour = Math.floor(now / HOUR) * HOUR;
    const p = this.plan;
    if (p && now >= p.from && now < p.until) {
      if (p.hour !== hour) this.rebindCounters(p, hour);
      return p;
    }
    let from = -Infinity;
    let until = Infinity;
    for (const c of this.changes) {
      if (c.at <= now) from = Math.max(from, c.at);
      else until = Math.min(until, c.at);
    }
    const active = applicationOrder(
      this.activeIdsAt(now)
        .map((id) => this.modules.get(id))
        .filter((m): m is ComplianceModule => m !== undefined),
    );
    const stagePlan = (phase: RulePhase): StagePlan => {
      const sp: StagePlan = { modules: [], transforms: [], validators: [], counters: [] };
      for (const m of active) {
        const ts = (m.telemetryTransforms ?? []).filter((t) => t.phase === phase);
        const vs = (m.telemetryValidators ?? []).filter((v) => v.phase === phase);
        if (ts.length + vs.length > 0) sp.modules.push(m.id);
        for (const rule of ts) sp.transforms.push({ rule, module: m.id, counters: newCounters() });
        for (const rule of vs) sp.validators.push({ rule, module: m.id, counters: newCounters() });
      }
      return sp;
    };
    const plan: Plan = { from, until, hour: Number.NaN, active, ingest: stagePlan('ingest'), egress: stagePlan('egress') };
    this.rebindCounters(plan, hour);
    this.plan = plan;
    return plan;
  }

  private rebindCounters(plan: Plan, hour: number): void {
    plan.hour = hour;
    for (const sp of [plan.ingest, plan.egress]) {
      for (const slot of [...sp.transforms, ...sp.validators]) slot.counters = this.countersFor(slot.module, hour);
      sp.counters = sp.modules.map((id) => this.countersFor(id, hour));
    }
  }

  private countersFor(id: string, at: number): ModuleCounters {
    const hour = Math.floor(at / HOUR) * HOUR;
    let bucket = this.buckets.get(hour);
    if (!bucket) this.buckets.set(hour, (bucket = new Map()));
    let c = bucket.get(id);
    if (!c) bucket.set(id, (c = newCounters()));
    return c;
  }

  private loadState(): void {
    this.stateMtimeMs = mtimeOf(this.stateFile);
    const state = readJson(this.stateFile) as { version?: number; changes?: ComplianceChange[] } | undefined;
    if (state !== undefined) {
      if (state === null || typeof state !== 'object' || !Array.isArray(state.changes)) {
        throw new EnergyMeshError('CONFIG_INVALID', `${this.stateFile}: not a compliance state file`);
      }
      this.changes = sortChanges(state.changes);
    }
  }

  /** Picks up changes another process (the CLI on the same data dir) wrote; a bad file keeps the current timeline. */
  private reloadIfChanged(now: number): void {
    this.stateCheckedAt = now;
    if (mtimeOf(this.stateFile) === this.stateMtimeMs) return;
    try {
      this.loadState();
      this.plan = undefined;
    } catch {
      // a half-written or damaged file: keep what we have; the next toggle rewrites it
    }
  }

  private load(): void {
    this.loadState();
    const counters = readJson(this.countersFile) as { buckets?: Record<string, Record<string, ModuleCounters>>; days?: Record<string, Record<string, ModuleCounters>> } | undefined;
    for (const [from, into] of [
      [counters?.buckets, this.buckets],
      [counters?.days, this.days],
    ] as const) {
      for (const [start, bucket] of Object.entries(from ?? {})) {
        const map = new Map<string, ModuleCounters>();
        for (const [id, c] of Object.entries(bucket)) map.set(id, addCounters(newCounters(), c));
        into.set(Number(start), map);
      }
    }
  }

  private saveState(): void {
    writeAtomic(this.stateFile, `${JSON.stringify({ version: 1, changes: this.changes }, null, 2)}\n`);
    this.stateMtimeMs = mtimeOf(this.stateFile);
  }
}

// ---------------------------------------------------------------------------------------------

function parseWhen(at: string | number | undefined, now: number, what: string): number {
  if (at === undefined || at === 'now') return now;
  let t: number;
  if (typeof at === 'number') t = at;
  else if (typeof at === 'string' && ISO.test(at)) t = Date.parse(at);
  else {
    throw new EnergyMeshError('INVALID_ARGUMENT', `${what}: the time ${JSON.stringify(at)} is not an ISO 8601 time with a zone (e.g. 2026-12-01T00:00:00Z) or "now"`, { details: { at } });
  }
  if (!Number.isFinite(t)) throw new EnergyMeshError('INVALID_ARGUMENT', `${what}: the time ${JSON.stringify(at)} is not a valid date`, { details: { at } });
  if (t < now - PAST_TOLERANCE_MS) {
    throw new EnergyMeshError('INVALID_ARGUMENT', `${what}: the time ${iso(t)} is in the past (now is ${iso(now)}); a change takes effect now or later`, { details: { at: iso(t), now: iso(now) } });
  }
  return Math.max(t, now);
}

function sortChanges(changes: ComplianceChange[]): ComplianceChange[] {
  return [...changes].sort((a, b) => a.at - b.at || a.seq - b.seq);
}

function activeIdsIn(changes: readonly ComplianceChange[], at: number): string[] {
  const set = new Set<string>();
  for (const c of changes) {
    if (c.at > at) continue;
    if (c.action === 'enable') set.add(c.module);
    else set.delete(c.module);
  }
  return [...set];
}

/** [start, end) intervals within [from, to) during which `id` was active. */
function activeIntervals(changes: readonly ComplianceChange[], id: string, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  let since: number | undefined;
  for (const c of changes) {
    if (c.module !== id) continue;
    if (c.action === 'enable') since ??= c.at;
    else if (since !== undefined) {
      out.push([since, c.at]);
      since = undefined;
    }
  }
  if (since !== undefined) out.push([since, Infinity]);
  return out.filter(([a, b]) => b > from && a < to).map(([a, b]) => [Math.max(a, from), Math.min(b, to)]);
}

function mergedMarket(modules: readonly ComplianceModule[]): MarketParameters {
  const out: MarketParameters = {};
  for (const m of modules) Object.assign(out, m.market ?? {});
  return out;
}

function marketVerdicts(market: MarketParameters, t: ComplianceTrade): RuleVerdict[] {
  const out: RuleVerdict[] = [];
  if (market.settlementIntervalMinutes) {
    const ms = market.settlementIntervalMinutes * 60_000;
    if (t.deliveryStart % ms !== 0 || t.deliveryEnd % ms !== 0 || t.deliveryEnd <= t.deliveryStart) out.push({ action: 'reject', reason: 'delivery-not-on-settlement-intervals' });
  }
  if (market.gateClosureMinutes !== undefined && t.submittedAt > t.deliveryStart - market.gateClosureMinutes * 60_000) out.push({ action: 'reject', reason: 'after-gate-closure' });
  if (market.priceFloor !== undefined && t.price < market.priceFloor) out.push({ action: 'reject', reason: 'price-below-floor' });
  if (market.priceCap !== undefined && t.price > market.priceCap) out.push({ action: 'reject', reason: 'price-above-cap' });
  if (market.currency && t.currency && t.currency !== market.currency) out.push({ action: 'reject', reason: 'wrong-currency' });
  return out;
}

/** The record with `flag` added to its quality flags (a new record; kept once, at most 32 flags). */
function withFlag(r: TelemetryRecord, flag: string): TelemetryRecord {
  if (r.quality.flags.includes(flag) || r.quality.flags.length >= 32) return r;
  return { ...r, quality: { ...r.quality, flags: [...r.quality.flags, flag] } };
}

function commandSummary(c: CommandRequest & { id?: string }): Record<string, unknown> {
  return { ...(c.id ? { id: c.id } : {}), deviceId: c.deviceId, pointId: c.pointId, action: c.action ?? 'write', value: c.value, ...(c.reason ? { reason: c.reason } : {}) };
}

function newCounters(): ModuleCounters {
  return { records: 0, transformed: 0, flagged: 0, rejected: 0, reasons: {}, gates: { allowed: 0, denied: 0, approvalRequired: 0 }, trades: { checked: 0, rejected: 0 } };
}

function addCounters(into: ModuleCounters, c: Partial<ModuleCounters>): ModuleCounters {
  into.records += c.records ?? 0;
  into.transformed += c.transformed ?? 0;
  into.flagged += c.flagged ?? 0;
  into.rejected += c.rejected ?? 0;
  for (const [k, v] of Object.entries(c.reasons ?? {})) into.reasons[k] = (into.reasons[k] ?? 0) + v;
  into.gates.allowed += c.gates?.allowed ?? 0;
  into.gates.denied += c.gates?.denied ?? 0;
  into.gates.approvalRequired += c.gates?.approvalRequired ?? 0;
  into.trades.checked += c.trades?.checked ?? 0;
  into.trades.rejected += c.trades?.rejected ?? 0;
  return into;
}

function iso(t: number): string {
  return Number.isFinite(t) ? new Date(t).toISOString() : 'open';
}

function compactDate(t: number): string {
  return new Date(t).toISOString().slice(0, 16).replace(/[-:T]/g, '');
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EnergyMeshError('CONFIG_INVALID', `${file}: cannot read: ${errorMessage(e)}`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new EnergyMeshError('CONFIG_INVALID', `${file}: not valid JSON: ${errorMessage(e)}`, { cause: e });
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
