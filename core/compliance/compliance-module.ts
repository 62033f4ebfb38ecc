/**
 * The compliance module contract. A module (a plugin of kind `compliance`, `compliance/<id>/`)
 * declares who it is (id, jurisdiction, the regulation it implements) and any of:
 *
 *   telemetry transforms   rewrite a record (pseudonymise, minimise) — same object back if untouched
 *   telemetry validators   accept (undefined) / flag / reject a record, with a kebab-case reason code
 *   trade transforms and validators, the same for market trades
 *   command gates          allow / deny / require a second approval for a command and its principal
 *   retention rules        min/max days per data class
 *   market parameters      settlement interval, gate closure, price floor and cap
 *   exports                reports such as interval-data CSV or AEMO NEM12
 *   change control         what a config/plugin change record must carry (CIP-010 flavour)
 *   alert policy           what a failed authorisation raises
 *   personal data          subject-access export and erasure over a store
 *
 * Order of application (stable, documented in compliance/README.md): a stage runs every active
 * module's transforms, then every active module's validators; within each, modules go by `order`
 * (default 100) then id. The first reject stops a record; flags accumulate. Ingest rules run in
 * the pipeline before the bus; egress rules run where records leave the site (external topics,
 * the chain).
 *
 * Rules are pure and synchronous; modules allocate their verdicts once so the hot path allocates
 * only for records it changes.
 */
import type { CommandRequest, TelemetryRecord } from '../model/telemetry.ts';

/** Where a telemetry rule runs: in the pipeline before the bus, or where records leave the site. */
export type RulePhase = 'ingest' | 'egress';

/** A validator's verdict when it does not accept. `reason` is kebab-case (it becomes a quality flag). */
export interface RuleVerdict {
  readonly action: 'flag' | 'reject';
  readonly reason: string;
}

/** What rules are told about the batch they run in. */
export interface RuleContext {
  /** Processing time, epoch ms (the manager's clock). */
  readonly now: number;
}

export interface TelemetryTransform {
  readonly id: string;
  readonly phase: RulePhase;
  /** Returns the record itself when nothing changes, a new record otherwise (never mutates). */
  apply(record: TelemetryRecord, ctx: RuleContext): TelemetryRecord;
}

export interface TelemetryValidator {
  readonly id: string;
  readonly phase: RulePhase;
  /** undefined accepts. */
  check(record: TelemetryRecord, ctx: RuleContext): RuleVerdict | undefined;
}

/** A trade as compliance sees it (the settlement layer maps its own type onto this). */
export interface ComplianceTrade {
  id: string;
  seller: string;
  buyer: string;
  /** Delivery interval, epoch ms, [start, end). */
  deliveryStart: number;
  deliveryEnd: number;
  energyWh: number;
  /** Price per MWh in the market currency. */
  price: number;
  currency?: string;
  /** When the trade was submitted, epoch ms. */
  submittedAt: number;
  tags?: Record<string, string>;
}

export interface TradeTransform {
  readonly id: string;
  apply(trade: ComplianceTrade, ctx: RuleContext): ComplianceTrade;
}

export interface TradeValidator {
  readonly id: string;
  check(trade: ComplianceTrade, ctx: RuleContext): RuleVerdict | undefined;
}

/** Who asks. Roles are the principal's effective roles (admin holding every role it includes). */
export interface Principal {
  id: string;
  roles: readonly string[];
}

export interface Approval {
  principal: Principal;
  /** Epoch ms. */
  at: number;
}

export interface GateRequest {
  command: CommandRequest & { id?: string };
  principal: Principal;
  /** Approvals given so far (by principals other than the requester, checked by the gate). */
  approvals: readonly Approval[];
  /** When the command was first requested, epoch ms. */
  requestedAt: number;
  now: number;
}

export type GateDecision =
  | { readonly decision: 'allow' }
  | { readonly decision: 'deny'; readonly reason: string; readonly message: string }
  | {
      readonly decision: 'require-approval';
      readonly reason: string;
      readonly message: string;
      /** Roles one of which the approver must hold. */
      readonly approverRoles: readonly string[];
      /** The approval must come within this many ms of the request. */
      readonly windowMs: number;
    };

export interface CommandGate {
  readonly id: string;
  check(request: GateRequest): GateDecision;
}

export type DataClass = 'telemetry' | 'meter-data' | 'personal' | 'audit' | 'commands' | (string & {});

export interface RetentionRule {
  dataClass: DataClass;
  /** Keep at least this many days. */
  minDays?: number;
  /** Keep at most this many days. */
  maxDays?: number;
  /** The provision that requires it, e.g. `GDPR Art. 5(1)(e)`. */
  source: string;
}

export interface MarketParameters {
  settlementIntervalMinutes?: number;
  /** Minutes before the start of delivery after which trades for it are refused. */
  gateClosureMinutes?: number;
  /** Per MWh, in `currency`. */
  priceFloor?: number;
  priceCap?: number;
  currency?: string;
  /** IANA zone of the market's trading day. */
  timeZone?: string;
}

export interface ExportInput {
  records: readonly TelemetryRecord[];
  /** Period, epoch ms, [from, to). */
  from: number;
  to: number;
  now: number;
  options?: Record<string, unknown>;
}

export interface ComplianceExport {
  readonly id: string;
  readonly title: string;
  readonly mediaType: string;
  readonly fileExtension: string;
  produce(input: ExportInput): string;
}

/** A change to config or plugins, as the change-management record needs it. */
export interface ChangeRequest {
  kind: 'config' | 'plugin';
  by: string;
  reason: string;
  /** The change ticket / work order, when the organisation uses one. */
  ticket?: string;
  /** What changed: a plugin id, `config`, a config section. */
  target: string;
  before?: unknown;
  after?: unknown;
}

export interface ChangeControl {
  /** Returns problems that make the change record unacceptable (empty: accepted). */
  check(change: ChangeRequest): string[];
}

export interface AuthorizationFailure {
  principal: Principal | { id: string; roles?: readonly string[] };
  what: string;
  reason: string;
  at: number;
}

export interface ComplianceAlert {
  severity: 'info' | 'warning' | 'critical';
  message: string;
}

export interface AlertPolicy {
  onAuthorizationFailure(failure: AuthorizationFailure): ComplianceAlert | undefined;
}

/** Off-chain personal data the site keeps (customer records, meter-to-customer links, ...). */
export interface PersonalDataStore {
  /** Every record about a data subject. */
  find(subjectId: string): Promise<PersonalDataRecord[]>;
  /** Deletes every record about a data subject; returns how many went. */
  erase(subjectId: string): Promise<number>;
  /** Deletes records stored before `before` (epoch ms); returns how many went. */
  purgeBefore(before: number): Promise<number>;
}

export interface PersonalDataRecord {
  subjectId: string;
  kind: string;
  /** When it was stored, epoch ms. */
  storedAt: number;
  data: Record<string, unknown>;
}

export interface SubjectAccessReport {
  subjectId: string;
  generatedAt: string;
  records: PersonalDataRecord[];
  /** The pseudonyms the subject's identifiers appear under outside the site, per key id. */
  pseudonyms: Record<string, Record<string, string>>;
  processing: string[];
}

export interface PersonalDataRules {
  subjectAccess(store: PersonalDataStore, subjectId: string, now: number): Promise<SubjectAccessReport>;
  erase(store: PersonalDataStore, subjectId: string): Promise<number>;
}

/** A compliance module: see the file comment. */
export interface ComplianceModule {
  /** e.g. `eu-gdpr` (the plugin id is `compliance.<id>`). */
  readonly id: string;
  /** e.g. `EU`, `US`, `US-TX`, `GB`, `AU`. */
  readonly jurisdiction: string;
  readonly title: string;
  /** The regulation it implements, named. */
  readonly regulation: string;
  /** Position in the order of application (lower first; default 100; ties by id). */
  readonly order?: number;
  /** Module ids that may not be active together with this one. */
  readonly conflictsWith?: readonly string[];
  readonly telemetryTransforms?: readonly TelemetryTransform[];
  readonly telemetryValidators?: readonly TelemetryValidator[];
  readonly tradeTransforms?: readonly TradeTransform[];
  readonly tradeValidators?: readonly TradeValidator[];
  readonly commandGates?: readonly CommandGate[];
  readonly retention?: readonly RetentionRule[];
  readonly market?: MarketParameters;
  readonly exports?: readonly ComplianceExport[];
  readonly changeControl?: ChangeControl;
  readonly alerts?: AlertPolicy;
  readonly personalData?: PersonalDataRules;
}

/** A conflict between two modules. */
export interface ComplianceConflict {
  a: string;
  b: string;
  message: string;
}

/** Finds every conflict among `modules` (market parameters, retention, declared exclusions). */
export function findConflicts(modules: readonly ComplianceModule[]): ComplianceConflict[] {
  const out: ComplianceConflict[] = [];
  for (let i = 0; i < modules.length; i++) {
    for (let j = i + 1; j < modules.length; j++) {
      const a = modules[i] as ComplianceModule;
      const b = modules[j] as ComplianceModule;
      if (a.conflictsWith?.includes(b.id) || b.conflictsWith?.includes(a.id)) {
        out.push({ a: a.id, b: b.id, message: `${a.id} and ${b.id} declare that they cannot be active together` });
      }
      const ma = a.market ?? {};
      const mb = b.market ?? {};
      for (const key of Object.keys(ma) as (keyof MarketParameters)[]) {
        const va = ma[key];
        const vb = mb[key];
        if (va !== undefined && vb !== undefined && va !== vb) {
          out.push({ a: a.id, b: b.id, message: `${a.id} sets ${key} to ${String(va)} but ${b.id} sets it to ${String(vb)}` });
        }
      }
      for (const ra of a.retention ?? []) {
        for (const rb of b.retention ?? []) {
          if (ra.dataClass !== rb.dataClass) continue;
          if (ra.minDays !== undefined && rb.maxDays !== undefined && ra.minDays > rb.maxDays) {
            out.push({ a: a.id, b: b.id, message: `${a.id} keeps ${ra.dataClass} data at least ${ra.minDays} days (${ra.source}) but ${b.id} allows at most ${rb.maxDays} days (${rb.source})` });
          }
          if (rb.minDays !== undefined && ra.maxDays !== undefined && rb.minDays > ra.maxDays) {
            out.push({ a: a.id, b: b.id, message: `${b.id} keeps ${rb.dataClass} data at least ${rb.minDays} days (${rb.source}) but ${a.id} allows at most ${ra.maxDays} days (${ra.source})` });
          }
        }
      }
    }
  }
  return out;
}

/** Modules in their order of application: by `order` (default 100), then id. */
export function applicationOrder<T extends Pick<ComplianceModule, 'id' | 'order'>>(modules: readonly T[]): T[] {
  return [...modules].sort((x, y) => (x.order ?? 100) - (y.order ?? 100) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** Retention in force: per data class the largest minimum and smallest maximum, with their sources. */
export function effectiveRetention(modules: readonly ComplianceModule[]): Record<string, { minDays?: number; maxDays?: number; sources: string[] }> {
  const out: Record<string, { minDays?: number; maxDays?: number; sources: string[] }> = {};
  for (const m of modules) {
    for (const r of m.retention ?? []) {
      const e = (out[r.dataClass] ??= { sources: [] });
      if (r.minDays !== undefined && (e.minDays === undefined || r.minDays > e.minDays)) e.minDays = r.minDays;
      if (r.maxDays !== undefined && (e.maxDays === undefined || r.maxDays < e.maxDays)) e.maxDays = r.maxDays;
      e.sources.push(`${m.id}: ${r.source}`);
    }
  }
  return out;
}
