/**
 * IEC 61850 client (ACSI over MMS, IEC 61850-8-1): object references, discovery into an IedModel, typed reads
 * and writes of data attributes, data sets, report control blocks (reserve, enable, GI, BRCB resumption at an
 * EntryID), report decoding, the four control models with LastApplError / CommandTermination, and files.
 *
 * References: `LD/LN.DO.DA` with a functional constraint, or already-mapped MMS items `LD/LN$FC$DO$DA`.
 * Error policy: as MmsClient; control failures resolve with `{ ok: false, ... }` (never throw for a refusal).
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { bitAt, bitStringFromBools } from '../codec/ber.ts';
import { utcTimeFromMs } from '../codec/mms-data.ts';
import type { AccessResult, MmsData, TypeSpec } from '../codec/mms-data.ts';
import type { InformationReport, ObjectName } from '../codec/mms-pdu.ts';
import { isReport, optFlds, parseReport, trgOps } from '../codec/report.ts';
import type { OptFldName, Report, TrgOpName } from '../codec/report.ts';
import type { DataAttribute, DataObject, FunctionalConstraint, IedModel, LogicalDevice, LogicalNode, ReportControlDef } from '../model/ied-model.ts';
import { FUNCTIONAL_CONSTRAINTS } from '../model/ied-model.ts';
import { MmsClient } from './mms-client.ts';
import type { MmsClientOptions } from './mms-client.ts';

/** Splits `LD/LN.DO.DA` (or `LD/LN$FC$DO$DA`) into an MMS domain-specific name, inserting the FC. */
export function toObjectName(ref: string, fc?: FunctionalConstraint): ObjectName {
  const slash = ref.indexOf('/');
  if (slash <= 0) throw new EnergyMeshError('INVALID_ARGUMENT', `reference ${ref} has no logical device`);
  const domain = ref.slice(0, slash);
  const rest = ref.slice(slash + 1);
  if (rest.includes('$')) return { scope: 'domain', domain, item: rest };
  const parts = rest.split('.');
  if (fc === undefined) {
    if (parts.length > 1 && (FUNCTIONAL_CONSTRAINTS as readonly string[]).includes(parts[1] as string)) return { scope: 'domain', domain, item: parts.join('$') };
    return { scope: 'domain', domain, item: parts.join('$') };
  }
  return { scope: 'domain', domain, item: [parts[0], fc, ...parts.slice(1)].join('$') };
}

export interface RcbValues {
  rptId: string;
  rptEna: boolean;
  datSet: string;
  confRev: number;
  optFlds: OptFldName[];
  bufTm: number;
  sqNum: number;
  trgOps: TrgOpName[];
  intgPd: number;
  buffered: boolean;
  entryId?: Uint8Array;
  resv?: boolean;
  resvTms?: number;
}

export interface EnableReportingOptions {
  trgOps?: TrgOpName[];
  intgPd?: number;
  optFlds?: OptFldName[];
  bufTm?: number;
  /** Reserve a URCB before enabling (Resv := true). */
  reserve?: boolean;
  /** BRCB: purge the buffer before enabling. */
  purgeBuf?: boolean;
  /** BRCB: resume after this EntryID (the last one received before a disconnect). */
  entryId?: Uint8Array;
  /** Ask for a general interrogation right after enabling. */
  gi?: boolean;
  /**
   * Read the data set directory first so reports carry member references (default true). Without it the
   * references come from the reports' data-reference fields when OptFlds has dataRef.
   */
  resolveMembers?: boolean;
}

export interface ReceivedReport extends Report {
  /** Member references of the data set (`LD/LN$FC$DO$DA`), index-aligned with Report.entries[].index. */
  memberRefs: string[];
}

export interface ReportSubscription {
  readonly rcb: ObjectName;
  readonly rptId: string;
  /** The EntryID of the last report received (BRCB), to resume after a reconnect. */
  lastEntryId?: Uint8Array;
  gi(): Promise<void>;
  disable(): Promise<void>;
}

export type ControlModel = 'status-only' | 'direct-with-normal-security' | 'sbo-with-normal-security' | 'direct-with-enhanced-security' | 'sbo-with-enhanced-security';
export const CTL_MODELS: ControlModel[] = ['status-only', 'direct-with-normal-security', 'sbo-with-normal-security', 'direct-with-enhanced-security', 'sbo-with-enhanced-security'];

export interface ControlOptions {
  originCategory?: number;
  originIdent?: string;
  test?: boolean;
  interlockCheck?: boolean;
  synchroCheck?: boolean;
  /** How long to wait for CommandTermination (enhanced security); default 5000 ms. */
  terminationTimeoutMs?: number;
}

export interface LastApplError {
  cntrlObj: string;
  error: number;
  orCat: number;
  orIdent: string;
  ctlNum: number;
  addCause: number;
}

export interface ControlResult {
  ok: boolean;
  model: ControlModel;
  /** Set when the operation failed: where and why. */
  stage?: 'select' | 'operate' | 'termination';
  dataAccessError?: number;
  lastApplError?: LastApplError;
  /** CommandTermination outcome for enhanced security. */
  termination?: 'positive' | 'negative' | 'timeout';
}

function num(d: MmsData | undefined): number {
  return d && (d.type === 'integer' || d.type === 'unsigned') ? Number(d.value) : 0;
}

function str(d: MmsData | undefined): string {
  return d && (d.type === 'visible-string' || d.type === 'mms-string') ? d.value : '';
}

function parseLastApplError(d: AccessResult | undefined): LastApplError | undefined {
  if (!d || d.type !== 'structure') return undefined;
  const [obj, err, origin, ctlNum, cause] = d.value;
  const o = origin?.type === 'structure' ? origin.value : [];
  const ident = o[1]?.type === 'octet-string' ? Buffer.from(o[1].value).toString('latin1') : '';
  return { cntrlObj: str(obj), error: num(err), orCat: num(o[0]), orIdent: ident, ctlNum: num(ctlNum), addCause: num(cause) };
}

const OPT_NAMES: OptFldName[] = ['seqNum', 'timeStamp', 'reasonCode', 'dataSet', 'dataRef', 'bufOvfl', 'entryId', 'confRev', 'segmentation'];
const TRG_NAMES: TrgOpName[] = ['dchg', 'qchg', 'dupd', 'integrity', 'gi'];

export class Iec61850Client {
  private readonly reportHandlers = new Map<string, (r: ReceivedReport) => void>();
  private readonly subs = new Map<string, { memberRefs: string[]; sub: ReportSubscription & { lastEntryId?: Uint8Array } }>();
  private readonly lastApplErrors: LastApplError[] = [];
  private readonly terminationWaiters: { oper: string; resolve: (r: { positive: boolean; lae?: LastApplError }) => void }[] = [];
  private readonly typeCache = new Map<string, TypeSpec>();
  /** ctlNum per control object (as libiec61850 counts them), keyed by the Oper reference. */
  private readonly ctlNums = new Map<string, number>();

  constructor(readonly mms: MmsClient) {
    mms.onInformationReport((r) => this.onReport(r));
  }

  static async connect(host: string, port = 102, o: MmsClientOptions = {}): Promise<Iec61850Client> {
    return new Iec61850Client(await MmsClient.connectTcp(host, port, o));
  }

  close(): Promise<void> {
    return this.mms.close();
  }

  // -------------------------------------------------------------------------------------------
  // discovery

  /** Builds the model from the server: domains, variable names, LN types and data sets. */
  async discover(withDataSets = true): Promise<IedModel> {
    const domains = await this.mms.getDomainNames();
    const lds: LogicalDevice[] = [];
    for (const domain of domains) {
      const names = await this.mms.getVariableNames(domain);
      const lnNames = names.filter((n) => !n.includes('$'));
      const lns: LogicalNode[] = [];
      for (const lnName of lnNames) {
        const { typeSpec } = await this.mms.getVariableAccessAttributes({ scope: 'domain', domain, item: lnName });
        lns.push(lnFromType(lnName, typeSpec));
      }
      if (withDataSets) {
        for (const dsName of await this.mms.getVariableListNames(domain)) {
          const [lnName, name] = dsName.split('$');
          const ln = lns.find((l) => l.name === lnName);
          if (!ln || !name) continue;
          const attrs = await this.mms.getNamedVariableListAttributes({ scope: 'domain', domain, item: dsName });
          ln.dataSets.push({
            name,
            members: attrs.variables.map((v) => {
              const [l, fc, d, ...da] = v.item.split('$');
              const m = { ldInst: v.scope === 'domain' ? v.domain : domain, ln: l ?? '', fc: (fc ?? 'ST') as FunctionalConstraint, doName: d ?? '' };
              return da.length > 0 ? { ...m, daName: da.join('.') } : m;
            }),
          });
        }
      }
      lds.push({ name: domain, inst: domain, logicalNodes: lns });
    }
    const first = domains[0] ?? '';
    return { name: first, logicalDevices: lds };
  }

  // -------------------------------------------------------------------------------------------
  // data

  /** Reads a data attribute (or a whole FCD). `ref` is `LD/LN.DO.DA` with `fc`, or `LD/LN$FC$...`. */
  read(ref: string, fc?: FunctionalConstraint): Promise<MmsData> {
    return this.mms.readOne(toObjectName(ref, fc));
  }

  /** Reads several references in one request; failures stay in the list. */
  readMany(refs: { ref: string; fc?: FunctionalConstraint }[]): Promise<AccessResult[]> {
    return this.mms.read(refs.map((r) => toObjectName(r.ref, r.fc)));
  }

  write(ref: string, fc: FunctionalConstraint | undefined, value: MmsData): Promise<void> {
    return this.mms.writeOne(toObjectName(ref, fc), value);
  }

  async typeOf(ref: string, fc?: FunctionalConstraint): Promise<TypeSpec> {
    const n = toObjectName(ref, fc);
    const k = `${n.scope === 'domain' ? n.domain : ''}/${n.item}`;
    const cached = this.typeCache.get(k);
    if (cached) return cached;
    const { typeSpec } = await this.mms.getVariableAccessAttributes(n);
    this.typeCache.set(k, typeSpec);
    return typeSpec;
  }

  /** Reads a data set (`LD/LN.DSName` or `LD/LN$DSName`). */
  readDataSet(ref: string): Promise<AccessResult[]> {
    return this.mms.readNamedList(dataSetName(ref));
  }

  async dataSetDirectory(ref: string): Promise<string[]> {
    const a = await this.mms.getNamedVariableListAttributes(dataSetName(ref));
    return a.variables.map((v) => (v.scope === 'domain' ? `${v.domain}/${v.item}` : v.item));
  }

  createDataSet(ref: string, members: { ref: string; fc?: FunctionalConstraint }[]): Promise<void> {
    return this.mms.defineNamedVariableList(dataSetName(ref), members.map((m) => toObjectName(m.ref, m.fc)));
  }

  async deleteDataSet(ref: string): Promise<boolean> {
    const r = await this.mms.deleteNamedVariableList(dataSetName(ref));
    return r.deleted === 1;
  }

  // -------------------------------------------------------------------------------------------
  // reports

  async getRcbValues(rcbRef: string): Promise<RcbValues> {
    const name = rcbName(rcbRef);
    const d = await this.mms.readOne(name);
    if (d.type !== 'structure') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'RCB is not a structure');
    const buffered = name.item.includes('$BR$');
    const v = d.value;
    const bitsOf = (x: MmsData | undefined, names: readonly string[]): string[] =>
      x?.type === 'bit-string' ? names.filter((_, i) => bitAt(x.value, i + 1)) : [];
    if (buffered) {
      const out: RcbValues = {
        rptId: str(v[0]), rptEna: v[1]?.type === 'boolean' && v[1].value, datSet: str(v[2]), confRev: num(v[3]), optFlds: bitsOf(v[4], OPT_NAMES) as OptFldName[],
        bufTm: num(v[5]), sqNum: num(v[6]), trgOps: bitsOf(v[7], TRG_NAMES) as TrgOpName[], intgPd: num(v[8]), buffered,
      };
      if (v[11]?.type === 'octet-string') out.entryId = v[11].value;
      if (v[13]) out.resvTms = num(v[13]);
      return out;
    }
    return {
      rptId: str(v[0]), rptEna: v[1]?.type === 'boolean' && v[1].value, resv: v[2]?.type === 'boolean' && v[2].value, datSet: str(v[3]), confRev: num(v[4]),
      optFlds: bitsOf(v[5], OPT_NAMES) as OptFldName[], bufTm: num(v[6]), sqNum: num(v[7]), trgOps: bitsOf(v[8], TRG_NAMES) as TrgOpName[], intgPd: num(v[9]), buffered,
    };
  }

  /**
   * Configures and enables an RCB with one Write in libiec61850's order (Resv, OptFlds, BufTm, TrgOps, IntgPd,
   * PurgeBuf, EntryID, RptEna), then GI in a second Write if asked. Reports go to `listener`.
   */
  async enableReporting(rcbRef: string, o: EnableReportingOptions, listener: (r: ReceivedReport) => void): Promise<ReportSubscription> {
    const name = rcbName(rcbRef);
    const values = await this.getRcbValues(rcbRef);
    const memberRefs = values.datSet && o.resolveMembers !== false ? await this.dataSetDirectory(values.datSet) : [];
    const at = (attr: string): ObjectName => ({ ...name, item: `${name.item}$${attr}` });
    const vars: ObjectName[] = [];
    const data: MmsData[] = [];
    if (o.reserve && !values.buffered) {
      vars.push(at('Resv'));
      data.push({ type: 'boolean', value: true });
    }
    if (o.optFlds) {
      vars.push(at('OptFlds'));
      data.push({ type: 'bit-string', value: optFlds(o.optFlds) });
    }
    if (o.bufTm !== undefined) {
      vars.push(at('BufTm'));
      data.push({ type: 'unsigned', value: o.bufTm });
    }
    if (o.trgOps) {
      vars.push(at('TrgOps'));
      data.push({ type: 'bit-string', value: trgOps(o.trgOps) });
    }
    if (o.intgPd !== undefined) {
      vars.push(at('IntgPd'));
      data.push({ type: 'unsigned', value: o.intgPd });
    }
    if (values.buffered && o.purgeBuf) {
      vars.push(at('PurgeBuf'));
      data.push({ type: 'boolean', value: true });
    }
    if (values.buffered && o.entryId) {
      vars.push(at('EntryID'));
      data.push({ type: 'octet-string', value: o.entryId });
    }
    vars.push(at('RptEna'));
    data.push({ type: 'boolean', value: true });
    const sub: ReportSubscription & { lastEntryId?: Uint8Array } = {
      rcb: name,
      rptId: values.rptId,
      gi: async () => {
        await this.mms.writeOne(at('GI'), { type: 'boolean', value: true });
      },
      disable: async () => {
        this.reportHandlers.delete(values.rptId);
        this.subs.delete(values.rptId);
        if (this.mms.isOpen) await this.mms.writeOne(at('RptEna'), { type: 'boolean', value: false });
      },
    };
    if (o.entryId) sub.lastEntryId = o.entryId;
    this.reportHandlers.set(values.rptId, listener);
    this.subs.set(values.rptId, { memberRefs, sub });
    const results = await this.mms.write(vars, data);
    const failed = results.findIndex((r) => r.type === 'failure');
    if (failed >= 0) {
      this.reportHandlers.delete(values.rptId);
      this.subs.delete(values.rptId);
      const r = results[failed] as { type: 'failure'; error: number };
      throw new EnergyMeshError('DEVICE_EXCEPTION', `enabling ${rcbRef}: write of ${vars[failed]?.item} refused`, { details: { dataAccessError: r.error, attribute: vars[failed]?.item } });
    }
    if (o.gi) await sub.gi();
    return sub;
  }

  private onReport(r: InformationReport): void {
    if (isReport(r)) {
      let rep: Report;
      try {
        rep = parseReport(r.results);
      } catch {
        return;
      }
      const h = this.reportHandlers.get(rep.rptId);
      const s = this.subs.get(rep.rptId);
      if (!h || !s) return;
      if (rep.entryId) s.sub.lastEntryId = rep.entryId;
      h({ ...rep, memberRefs: s.memberRefs });
      return;
    }
    if (r.spec.type !== 'list') return;
    const vars = r.spec.variables;
    const laeIdx = vars.findIndex((v) => v.scope === 'vmd' && v.item === 'LastApplError');
    const lae = laeIdx >= 0 ? parseLastApplError(r.results[laeIdx]) : undefined;
    if (lae) this.lastApplErrors.push(lae);
    if (this.lastApplErrors.length > 32) this.lastApplErrors.shift();
    const oper = vars.find((v) => v.scope === 'domain' && /\$CO\$.*\$Oper$/.test(v.item));
    if (oper && oper.scope === 'domain') {
      const ref = `${oper.domain}/${oper.item}`;
      const i = this.terminationWaiters.findIndex((w) => w.oper === ref);
      if (i >= 0) {
        const [w] = this.terminationWaiters.splice(i, 1);
        w?.resolve(lae ? { positive: false, lae } : { positive: true });
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // controls

  private nextCtlNum(operRef: string): number {
    const n = ((this.ctlNums.get(operRef) ?? 0) + 1) % 256;
    this.ctlNums.set(operRef, n);
    return n;
  }

  /** Type of Oper / SBOw / Cancel, from one GetVariableAccessAttributes of the whole CO data object (cached). */
  private async coComponent(domain: string, coItem: string, name: string): Promise<TypeSpec> {
    const t = await this.typeOf(`${domain}/${coItem}`);
    const c = t.type === 'structure' ? t.components.find((x) => x.name === name) : undefined;
    if (!c) throw new EnergyMeshError('DEVICE_EXCEPTION', `${domain}/${coItem} has no ${name}`, { details: { component: name } });
    return c.spec;
  }

  async controlModel(objectRef: string): Promise<ControlModel> {
    const v = await this.read(`${objectRef}.ctlModel`, 'CF');
    return CTL_MODELS[num(v)] ?? 'status-only';
  }

  private takeLae(oper: string): LastApplError | undefined {
    const i = this.lastApplErrors.findIndex((e) => e.cntrlObj === oper);
    return i >= 0 ? this.lastApplErrors.splice(i, 1)[0] : undefined;
  }

  private buildOper(type: TypeSpec, ctlVal: MmsData | boolean | number, o: ControlOptions, ctlNum: number, withCheck: boolean): MmsData {
    if (type.type !== 'structure') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'Oper is not a structure');
    const now = Date.now();
    const value: MmsData[] = [];
    for (const c of type.components) {
      if (c.name === 'Check' && !withCheck) continue;
      switch (c.name) {
        case 'ctlVal':
          value.push(typeof ctlVal === 'object' ? ctlVal : coerce(c.spec, ctlVal));
          break;
        case 'operTm':
        case 'T':
          value.push({ type: 'utc-time', value: utcTimeFromMs(now, 0) });
          break;
        case 'origin':
          value.push({ type: 'structure', value: [{ type: 'integer', value: o.originCategory ?? 3 }, { type: 'octet-string', value: new Uint8Array(Buffer.from(o.originIdent ?? 'energymesh', 'latin1')) }] });
          break;
        case 'ctlNum':
          value.push({ type: 'unsigned', value: ctlNum });
          break;
        case 'Test':
          value.push({ type: 'boolean', value: o.test ?? false });
          break;
        case 'Check':
          value.push({ type: 'bit-string', value: bitStringFromBools([o.synchroCheck ?? false, o.interlockCheck ?? false]) });
          break;
        default:
          throw new EnergyMeshError('UNEXPECTED_RESPONSE', `unknown Oper component ${c.name}`);
      }
    }
    return { type: 'structure', value };
  }

  /**
   * Operates a controllable object (`LD/LN.DO`) following its ctlModel: direct or SBO (select by reading SBO, or
   * SBOw with the Oper values), normal or enhanced security (waits for CommandTermination). Never throws for a refusal.
   */
  async operate(objectRef: string, ctlVal: MmsData | boolean | number, o: ControlOptions = {}): Promise<ControlResult> {
    const model = await this.controlModel(objectRef);
    const base = toObjectName(objectRef, 'CO');
    const domain = base.scope === 'domain' ? base.domain : '';
    const operName: ObjectName = { ...base, item: `${base.item}$Oper` };
    const operRef = `${domain}/${operName.item}`;
    if (model === 'status-only') return { ok: false, model, stage: 'operate', dataAccessError: 3 };
    const type = await this.coComponent(domain, base.item, 'Oper');
    const oper = this.buildOper(type, ctlVal, o, this.nextCtlNum(operRef), true);
    if (model === 'sbo-with-normal-security') {
      const sel = await this.mms.read([{ ...base, item: `${base.item}$SBO` }]);
      const s = sel[0];
      if (!s || s.type !== 'visible-string' || s.value === '') return { ok: false, model, stage: 'select', ...(s?.type === 'failure' ? { dataAccessError: s.error } : {}) };
    }
    if (model === 'sbo-with-enhanced-security') {
      const [r] = await this.mms.write([{ ...base, item: `${base.item}$SBOw` }], [oper]);
      if (r?.type === 'failure') {
        const lae = this.takeLae(operRef);
        return { ok: false, model, stage: 'select', dataAccessError: r.error, ...(lae ? { lastApplError: lae } : {}) };
      }
    }
    const enhanced = model === 'direct-with-enhanced-security' || model === 'sbo-with-enhanced-security';
    let termination: Promise<{ positive: boolean; lae?: LastApplError } | undefined> | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (enhanced) {
      termination = new Promise((resolve) => {
        const w = { oper: operRef, resolve };
        this.terminationWaiters.push(w);
        timer = setTimeout(() => {
          const i = this.terminationWaiters.indexOf(w);
          if (i >= 0) this.terminationWaiters.splice(i, 1);
          resolve(undefined);
        }, o.terminationTimeoutMs ?? 5000);
      });
    }
    try {
      const [r] = await this.mms.write([operName], [oper]);
      if (r?.type === 'failure') {
        const lae = this.takeLae(operRef);
        return { ok: false, model, stage: 'operate', dataAccessError: r.error, ...(lae ? { lastApplError: lae } : {}) };
      }
      if (!termination) return { ok: true, model };
      const t = await termination;
      if (!t) return { ok: false, model, stage: 'termination', termination: 'timeout' };
      if (t.positive) return { ok: true, model, termination: 'positive' };
      return { ok: false, model, stage: 'termination', termination: 'negative', ...(t.lae ? { lastApplError: t.lae } : {}) };
    } finally {
      clearTimeout(timer);
      const i = this.terminationWaiters.findIndex((w) => w.oper === operRef);
      if (i >= 0) this.terminationWaiters.splice(i, 1);
    }
  }

  /** Cancels a selection (SBO models). */
  async cancel(objectRef: string, ctlVal: MmsData | boolean | number, o: ControlOptions = {}): Promise<boolean> {
    const base = toObjectName(objectRef, 'CO');
    const domain = base.scope === 'domain' ? base.domain : '';
    const type = await this.coComponent(domain, base.item, 'Cancel');
    const cancel = this.buildOper(type, ctlVal, o, this.ctlNums.get(`${domain}/${base.item}$Oper`) ?? 0, false);
    const [r] = await this.mms.write([{ ...base, item: `${base.item}$Cancel` }], [cancel]);
    return r?.type === 'success';
  }

  /** Selects with value (SBOw) without operating (sbo-with-enhanced-security). */
  async selectWithValue(objectRef: string, ctlVal: MmsData | boolean | number, o: ControlOptions = {}): Promise<boolean> {
    const base = toObjectName(objectRef, 'CO');
    const domain = base.scope === 'domain' ? base.domain : '';
    const type = await this.coComponent(domain, base.item, 'SBOw');
    const ctlNum = this.nextCtlNum(`${domain}/${base.item}$Oper`);
    const [r] = await this.mms.write([{ ...base, item: `${base.item}$SBOw` }], [this.buildOper(type, ctlVal, o, ctlNum, true)]);
    return r?.type === 'success';
  }

  // -------------------------------------------------------------------------------------------
  // files

  fileDirectory(spec?: string): ReturnType<MmsClient['fileDirectory']> {
    return this.mms.fileDirectory(spec);
  }

  readFile(name: string): Promise<Uint8Array> {
    return this.mms.readFile(name);
  }
}

/** Coerces a JS value to the MMS type of a ctlVal / setpoint. */
export function coerce(t: TypeSpec, v: boolean | number | string): MmsData {
  switch (t.type) {
    case 'boolean':
      return { type: 'boolean', value: typeof v === 'string' ? v === 'true' || v === '1' : Boolean(v) };
    case 'integer':
      return { type: 'integer', value: Math.round(Number(v)) };
    case 'unsigned':
      return { type: 'unsigned', value: Math.max(0, Math.round(Number(v))) };
    case 'float':
      return t.formatWidth === 64 ? { type: 'float', value: Number(v), double: true } : { type: 'float', value: Math.fround(Number(v)) };
    case 'visible-string':
      return { type: 'visible-string', value: String(v) };
    case 'mms-string':
      return { type: 'mms-string', value: String(v) };
    case 'bit-string': {
      // Dbpos/Tcmd: 2 bits, value as number (0..3)
      const n = Number(typeof v === 'boolean' ? (v ? 2 : 1) : v);
      return { type: 'bit-string', value: bitStringFromBools([(n & 2) !== 0, (n & 1) !== 0]) };
    }
    default:
      throw new EnergyMeshError('INVALID_ARGUMENT', `cannot write a ${typeof v} to a ${t.type}`);
  }
}

function dataSetName(ref: string): ObjectName {
  const slash = ref.indexOf('/');
  if (slash <= 0) throw new EnergyMeshError('INVALID_ARGUMENT', `data set reference ${ref} has no logical device`);
  return { scope: 'domain', domain: ref.slice(0, slash), item: ref.slice(slash + 1).replace('.', '$') };
}

function rcbName(ref: string): ObjectName {
  const slash = ref.indexOf('/');
  if (slash <= 0) throw new EnergyMeshError('INVALID_ARGUMENT', `RCB reference ${ref} has no logical device`);
  return { scope: 'domain', domain: ref.slice(0, slash), item: ref.slice(slash + 1).replace(/\./g, '$') };
}

function attributesFromType(name: string, fc: FunctionalConstraint, t: TypeSpec): DataAttribute {
  const children = t.type === 'structure' ? t.components.map((c) => attributesFromType(c.name, fc, c.spec)) : [];
  return { name, fc, type: t, children };
}

/** Builds an LN from its MMS type description (FC → DO → DA). */
export function lnFromType(lnName: string, t: TypeSpec): LogicalNode {
  const m = /^(.*?)([A-Z]{4})(\d*)$/.exec(lnName);
  const ln: LogicalNode = { name: lnName, lnClass: m?.[2] ?? lnName, prefix: m?.[1] ?? '', inst: m?.[3] ?? '', dataObjects: [], dataSets: [], reportControls: [], gseControls: [] };
  if (t.type !== 'structure') return ln;
  for (const fcComp of t.components) {
    const fc = fcComp.name as FunctionalConstraint;
    if (fcComp.spec.type !== 'structure') continue;
    if (fc === 'RP' || fc === 'BR') {
      for (const r of fcComp.spec.components) {
        const def: ReportControlDef = { name: r.name, rptId: '', datSet: '', confRev: 0, buffered: fc === 'BR', intgPd: 0, bufTime: 0, trgOps: [], optFields: [], max: 1, indexed: false };
        ln.reportControls.push(def);
      }
      continue;
    }
    if (!(FUNCTIONAL_CONSTRAINTS as readonly string[]).includes(fc)) continue;
    for (const doComp of fcComp.spec.components) {
      let d: DataObject | undefined = ln.dataObjects.find((x) => x.name === doComp.name);
      if (!d) {
        d = { name: doComp.name, attributes: [], subObjects: [] };
        ln.dataObjects.push(d);
      }
      if (doComp.spec.type === 'structure') for (const da of doComp.spec.components) d.attributes.push(attributesFromType(da.name, fc, da.spec));
    }
  }
  return ln;
}
