/**
 * IED simulator: an MMS server (our own stack) that serves an IedModel built from SCL. It answers
 * discovery (GetNameList with paging by PDU size, GetVariableAccessAttributes), reads and writes of data
 * attributes, data sets (persistent from SCL and dynamic), unbuffered and buffered reports (reservation,
 * enable, GI, integrity, data change with BufTm aggregation, a report buffer with EntryIDs for resumption,
 * PurgeBuf), the four control models (with LastApplError and CommandTermination), and file services.
 *
 * Error policy: client mistakes become DataAccessErrors / ServiceErrors on the wire; nothing throws out.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bitAt, bitStringFromBools } from '../codec/ber.ts';
import type { BitString } from '../codec/ber.ts';
import { binaryTimeFromMs, utcTimeFromMs } from '../codec/mms-data.ts';
import type { AccessResult, MmsData, TypeSpec } from '../codec/mms-data.ts';
import { ErrorClass, ObjectClass } from '../codec/mms-pdu.ts';
import type { ConfirmedRequest, ConfirmedResponse, ObjectName } from '../codec/mms-pdu.ts';
import { buildReport, encodeQuality, OptFld, TrgOp } from '../codec/report.ts';
import type { OptFldName, ReasonCode, TrgOpName } from '../codec/report.ts';
import { compareNames, defaultValue, fcdaItem, leafAttributes, lnType, typeAt } from '../model/ied-model.ts';
import type { DataAttribute, IedModel, LogicalDevice, LogicalNode, ReportControlDef } from '../model/ied-model.ts';
import { MmsServer, MmsServiceError } from '../server/mms-server.ts';
import type { MmsServerConnection, MmsServerHandler } from '../server/mms-server.ts';
import type { ByteChannel } from '../transport/byte-channel.ts';
import type { Aarq } from '../codec/acse.ts';

export interface IedServerOptions {
  model: IedModel;
  /** Directory served by the file services. */
  fileStore?: string;
  maxPduSize?: number;
  /** Control objects (`LN.DO`, e.g. `GGIO1.SPCSO9`) whose operation fails (LastApplError / CommandTermination-). */
  failingControls?: string[];
  /** Period of the changing measurements (MX floats follow sine waves); 0 disables. */
  updateIntervalMs?: number;
  /** Entries kept per BRCB. */
  bufferSize?: number;
  identity?: { vendor: string; model: string; revision: string };
  /** servicesSupportedCalled announced in the initiate response (default: libiec61850's control/file servers). */
  servicesSupported?: BitString;
  /** ACSE password authentication: associations without this password are refused. */
  password?: string;
  now?: () => number;
}

const URCB_ATTRS: [string, TypeSpec][] = [
  ['RptID', { type: 'visible-string', size: -129 }], ['RptEna', { type: 'boolean' }], ['Resv', { type: 'boolean' }],
  ['DatSet', { type: 'visible-string', size: -129 }], ['ConfRev', { type: 'unsigned', size: 32 }], ['OptFlds', { type: 'bit-string', size: 10 }],
  ['BufTm', { type: 'unsigned', size: 32 }], ['SqNum', { type: 'unsigned', size: 8 }], ['TrgOps', { type: 'bit-string', size: 6 }],
  ['IntgPd', { type: 'unsigned', size: 32 }], ['GI', { type: 'boolean' }],
];
const BRCB_ATTRS: [string, TypeSpec][] = [
  ['RptID', { type: 'visible-string', size: -129 }], ['RptEna', { type: 'boolean' }], ['DatSet', { type: 'visible-string', size: -129 }],
  ['ConfRev', { type: 'unsigned', size: 32 }], ['OptFlds', { type: 'bit-string', size: 10 }], ['BufTm', { type: 'unsigned', size: 32 }],
  ['SqNum', { type: 'unsigned', size: 16 }], ['TrgOps', { type: 'bit-string', size: 6 }], ['IntgPd', { type: 'unsigned', size: 32 }],
  ['GI', { type: 'boolean' }], ['PurgeBuf', { type: 'boolean' }], ['EntryID', { type: 'octet-string', size: 8 }],
  ['TimeofEntry', { type: 'binary-time', withDate: true }], ['ResvTms', { type: 'integer', size: 16 }],
];
const CONFIG_ATTRS = new Set(['DatSet', 'OptFlds', 'BufTm', 'TrgOps', 'IntgPd', 'RptID', 'ConfRev']);

const DAE = { accessDenied: 3, typeInconsistent: 7, nonExistent: 10, temporarilyUnavailable: 2, valueInvalid: 11 } as const;

interface BufferedEntry {
  id: bigint;
  results: AccessResult[];
}

interface Rcb {
  ld: LogicalDevice;
  ln: LogicalNode;
  def: ReportControlDef;
  name: string;
  item: string;
  buffered: boolean;
  owner?: MmsServerConnection;
  resvBy?: MmsServerConnection;
  integrityTimer?: NodeJS.Timeout;
  bufTimer?: NodeJS.Timeout;
  pending: Map<number, Set<ReasonCode>>;
  buffer: BufferedEntry[];
  overflow: boolean;
  /** Id of the last entry sent to the client (BRCB). */
  lastSent: bigint;
  /** Entry to resume after, set by a client write of EntryID. */
  resumeAfter?: bigint;
}

interface DataSetRuntime {
  domain: string;
  name: string;
  /** Items `domain/LN$FC$...` of the members. */
  members: { domain: string; item: string }[];
  deletable: boolean;
}

interface ControlState {
  selectedBy?: MmsServerConnection;
  selectTimer?: NodeJS.Timeout;
}

const key = (domain: string, item: string): string => `${domain}/${item}`;

function sameType(a: MmsData, t: TypeSpec): boolean {
  if (t.type === 'float') return a.type === 'float';
  if (t.type === 'structure') return a.type === 'structure' && a.value.length === t.components.length && a.value.every((v, i) => sameType(v, (t.components[i] as { spec: TypeSpec }).spec));
  return a.type === t.type;
}

function toBigId(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

function fromBigId(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  let v = n;
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function bits(b: MmsData | undefined): BitString {
  return b?.type === 'bit-string' ? b.value : bitStringFromBools([]);
}

export class IedServer implements MmsServerHandler {
  readonly mms: MmsServer;
  private readonly values = new Map<string, MmsData>();
  private readonly attrs = new Map<string, DataAttribute>();
  private readonly lnTypes = new Map<string, TypeSpec>();
  private readonly names = new Map<string, string[]>();
  private readonly rcbs = new Map<string, Rcb>();
  private readonly dataSets = new Map<string, DataSetRuntime>();
  private readonly controls = new Map<string, ControlState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly files = new Map<MmsServerConnection, Map<number, { data: Uint8Array; pos: number }>>();
  private updateTimer: NodeJS.Timeout | undefined;
  private entryCounter: bigint;
  private readonly now: () => number;
  private tick = 0;

  constructor(readonly options: IedServerOptions) {
    this.now = options.now ?? Date.now;
    this.entryCounter = BigInt(this.now());
    this.mms = new MmsServer(this, { maxPduSize: options.maxPduSize ?? 65000, ...(options.servicesSupported ? { servicesSupported: options.servicesSupported } : {}) });
    for (const ld of options.model.logicalDevices) this.loadLd(ld);
    if ((options.updateIntervalMs ?? 0) > 0) {
      this.updateTimer = setInterval(() => this.updateMeasurements(), options.updateIntervalMs);
    }
  }

  listen(port = 102, host = '127.0.0.1'): Promise<number> {
    return this.mms.listen(port, host);
  }

  authorize(aarq: Aarq): boolean {
    return this.options.password === undefined || aarq.password === this.options.password;
  }

  attach(channel: ByteChannel): void {
    this.mms.attach(channel);
  }

  async close(): Promise<void> {
    clearInterval(this.updateTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.rcbs.values()) {
      clearInterval(r.integrityTimer);
      clearTimeout(r.bufTimer);
    }
    for (const c of this.controls.values()) clearTimeout(c.selectTimer);
    await this.mms.close();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  // -------------------------------------------------------------------------------------------
  // model

  private loadLd(ld: LogicalDevice): void {
    const names: string[] = [];
    for (const ln of ld.logicalNodes) {
      const extra: { fc: 'RP' | 'BR'; type: TypeSpec }[] = [];
      for (const buffered of [false, true]) {
        const comps: { name: string; spec: TypeSpec }[] = [];
        for (const def of ln.reportControls.filter((r) => r.buffered === buffered)) {
          const count = Math.max(1, def.max);
          for (let i = 1; i <= count; i++) {
            const name = def.indexed ? `${def.name}${String(i).padStart(2, '0')}` : def.name;
            const attrs = buffered ? BRCB_ATTRS : URCB_ATTRS;
            comps.push({ name, spec: { type: 'structure', components: attrs.map(([n, t]) => ({ name: n, spec: t })) } });
            const item = `${ln.name}$${buffered ? 'BR' : 'RP'}$${name}`;
            const rcb: Rcb = { ld, ln, def, name, item, buffered, pending: new Map(), buffer: [], overflow: false, lastSent: 0n };
            this.rcbs.set(key(ld.name, item), rcb);
            this.initRcbValues(rcb);
          }
        }
        if (comps.length > 0) extra.push({ fc: buffered ? 'BR' : 'RP', type: { type: 'structure', components: comps } });
      }
      const t = lnType(ln, extra);
      this.lnTypes.set(key(ld.name, ln.name), t);
      const walk = (prefix: string, spec: TypeSpec): void => {
        names.push(prefix);
        if (spec.type === 'structure') for (const c of spec.components) walk(`${prefix}$${c.name}`, c.spec);
      };
      walk(ln.name, t);
      for (const [item, a] of leafAttributes(ln)) {
        this.attrs.set(key(ld.name, item), a);
        this.values.set(key(ld.name, item), a.value ?? defaultValue(a.type));
      }
      for (const ds of ln.dataSets) {
        this.dataSets.set(key(ld.name, `${ln.name}$${ds.name}`), {
          domain: ld.name,
          name: `${ln.name}$${ds.name}`,
          members: ds.members.map((m) => ({ domain: `${this.options.model.name}${m.ldInst}`, item: fcdaItem(m) })),
          deletable: false,
        });
      }
    }
    names.sort(compareNames);
    this.names.set(ld.name, names);
  }

  private initRcbValues(r: Rcb): void {
    const set = (n: string, v: MmsData): void => {
      this.values.set(key(r.ld.name, `${r.item}$${n}`), v);
    };
    set('RptID', { type: 'visible-string', value: r.def.rptId || `${r.ld.name}/${r.ln.name}$${r.buffered ? 'BR' : 'RP'}$${r.name}` });
    set('RptEna', { type: 'boolean', value: false });
    if (!r.buffered) set('Resv', { type: 'boolean', value: false });
    set('DatSet', { type: 'visible-string', value: r.def.datSet ? `${r.ld.name}/${r.ln.name}$${r.def.datSet}` : '' });
    set('ConfRev', { type: 'unsigned', value: r.def.confRev });
    // like libiec61850, BufOvfl is always offered
    const opt: OptFldName[] = [...r.def.optFields, 'bufOvfl'];
    set('OptFlds', { type: 'bit-string', value: bitStringFromBools(Array.from({ length: 10 }, (_, i) => opt.some((o) => OptFld[o] === i))) });
    set('BufTm', { type: 'unsigned', value: r.def.bufTime });
    set('SqNum', { type: 'unsigned', value: 0 });
    set('TrgOps', { type: 'bit-string', value: bitStringFromBools(Array.from({ length: 6 }, (_, i) => r.def.trgOps.some((o) => TrgOp[o] === i))) });
    set('IntgPd', { type: 'unsigned', value: r.def.intgPd });
    set('GI', { type: 'boolean', value: false });
    if (r.buffered) {
      set('PurgeBuf', { type: 'boolean', value: false });
      set('EntryID', { type: 'octet-string', value: new Uint8Array(8) });
      set('TimeofEntry', { type: 'binary-time', value: { msOfDay: 0, days: 0 } });
      set('ResvTms', { type: 'integer', value: 0 });
    }
  }

  private typeOf(domain: string, item: string): TypeSpec | undefined {
    const [ln, ...rest] = item.split('$');
    const t = this.lnTypes.get(key(domain, ln ?? ''));
    return t ? typeAt(t, rest) : undefined;
  }

  private valueOf(domain: string, item: string, t: TypeSpec | undefined = this.typeOf(domain, item)): MmsData | undefined {
    if (!t) return undefined;
    if (t.type === 'structure') {
      const out: MmsData[] = [];
      for (const c of t.components) {
        const v = this.valueOf(domain, `${item}$${c.name}`, c.spec);
        if (!v) return undefined;
        out.push(v);
      }
      return { type: 'structure', value: out };
    }
    return this.values.get(key(domain, item)) ?? defaultValue(t);
  }

  /** Current value of a data attribute (any level). */
  getValue(domain: string, item: string): MmsData | undefined {
    return this.valueOf(domain, item);
  }

  /** Sets a leaf value as the process would and fires data-change/quality-change reports. */
  setValue(domain: string, item: string, value: MmsData, reason: ReasonCode = 'data-change'): void {
    const k = key(domain, item);
    const old = this.values.get(k);
    this.values.set(k, value);
    const a = this.attrs.get(k);
    const trig = a?.triggers;
    const changed = old === undefined || !sameData(old, value);
    let r: ReasonCode | undefined;
    if (reason === 'data-change' && trig?.dchg && changed) r = 'data-change';
    else if (trig?.qchg && changed) r = 'quality-change';
    else if (trig?.dupd) r = 'data-update';
    if (r) this.onChange(domain, item, r);
  }

  private measurements: { domain: string; item: string; phase: number; tKey?: string }[] | undefined;

  private updateMeasurements(): void {
    this.tick++;
    const now = this.now();
    if (!this.measurements) {
      this.measurements = [];
      for (const [k, a] of this.attrs) {
        if (a.fc !== 'MX' || a.type.type !== 'float') continue;
        const slash = k.indexOf('/');
        const domain = k.slice(0, slash);
        const item = k.slice(slash + 1);
        const tItem = item.replace(/\$mag\$f$|\$cVal\$mag\$f$/, '$t');
        const m: { domain: string; item: string; phase: number; tKey?: string } = { domain, item, phase: [...item].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 7 };
        if (tItem !== item && this.values.has(key(domain, tItem))) m.tKey = key(domain, tItem);
        this.measurements.push(m);
      }
    }
    const t: MmsData = { type: 'utc-time', value: utcTimeFromMs(now, 0x8a) };
    for (const m of this.measurements) {
      if (m.tKey) this.values.set(m.tKey, t);
      this.setValue(m.domain, m.item, { type: 'float', value: Math.fround(Math.sin(this.tick * 0.1 + m.phase)) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // MMS services

  handle(req: ConfirmedRequest, conn: MmsServerConnection): ConfirmedResponse {
    switch (req.service) {
      case 'identify':
        return { service: 'identify', ...(this.options.identity ?? { vendor: 'EnergyMesh', model: 'IED simulator', revision: '0.1.0' }) };
      case 'getNameList':
        return this.getNameList(req, conn);
      case 'getVariableAccessAttributes': {
        const t = req.name.scope === 'domain' ? this.typeOf(req.name.domain, req.name.item) : undefined;
        if (!t) throw new MmsServiceError({ errorClass: ErrorClass.access, code: 2 });
        return { service: 'getVariableAccessAttributes', deletable: false, typeSpec: t };
      }
      case 'read':
        return this.read(req, conn);
      case 'write':
        return { service: 'write', results: this.write(req, conn) };
      case 'defineNamedVariableList':
        return this.defineNvl(req.name, req.variables, conn);
      case 'getNamedVariableListAttributes': {
        const ds = this.findDataSet(req.name, conn);
        if (!ds) throw new MmsServiceError({ errorClass: ErrorClass.access, code: 2 });
        return { service: 'getNamedVariableListAttributes', deletable: ds.deletable, variables: ds.members.map((m) => ({ scope: 'domain', domain: m.domain, item: m.item })) };
      }
      case 'deleteNamedVariableList': {
        let matched = 0;
        let deleted = 0;
        for (const n of req.names) {
          const ds = this.findDataSet(n, conn);
          if (!ds) continue;
          matched++;
          if (ds.deletable && ![...this.rcbs.values()].some((r) => this.rcbValue(r, 'DatSet') === `${ds.domain}/${ds.name}`)) {
            this.dataSets.delete(key(ds.domain, ds.name));
            deleted++;
          }
        }
        return { service: 'deleteNamedVariableList', matched, deleted };
      }
      case 'fileDirectory':
        return this.fileDirectory();
      case 'fileOpen':
        return this.fileOpen(req.fileName, req.initialPosition, conn);
      case 'fileRead': {
        const f = this.files.get(conn)?.get(req.frsmId);
        if (!f) throw new MmsServiceError({ errorClass: ErrorClass.file, code: 0 });
        const chunk = Math.max(64, conn.maxPduSize - 20);
        const data = f.data.subarray(f.pos, f.pos + chunk);
        f.pos += data.length;
        return { service: 'fileRead', data, moreFollows: f.pos < f.data.length };
      }
      case 'fileClose':
        if (!this.files.get(conn)?.delete(req.frsmId)) throw new MmsServiceError({ errorClass: ErrorClass.file, code: 0 });
        return { service: 'fileClose' };
      case 'fileDelete':
        throw new MmsServiceError({ errorClass: ErrorClass.file, code: 6 });
    }
  }

  onDisconnect(conn: MmsServerConnection): void {
    this.files.delete(conn);
    for (const r of this.rcbs.values()) {
      if (r.resvBy === conn) {
        r.resvBy = undefined;
        if (!r.buffered) this.setRcb(r, 'Resv', { type: 'boolean', value: false });
      }
      if (r.owner === conn) this.disable(r);
    }
    for (const [k, ds] of this.dataSets) if (ds.domain === '' && k.startsWith(`@${conn.remote}`)) this.dataSets.delete(k);
    for (const c of this.controls.values()) {
      if (c.selectedBy === conn) {
        c.selectedBy = undefined;
        clearTimeout(c.selectTimer);
      }
    }
  }

  private getNameList(req: Extract<ConfirmedRequest, { service: 'getNameList' }>, conn: MmsServerConnection): ConfirmedResponse {
    let all: string[];
    if (req.objectClass === ObjectClass.domain) all = this.options.model.logicalDevices.map((l) => l.name).sort(compareNames);
    else if (req.scope.type !== 'domain') all = [];
    else if (req.objectClass === ObjectClass.namedVariable) all = this.names.get(req.scope.domain) ?? [];
    else if (req.objectClass === ObjectClass.namedVariableList) {
      const d = req.scope.domain;
      all = [...this.dataSets.values()].filter((ds) => ds.domain === d).map((ds) => ds.name).sort(compareNames);
    } else all = [];
    if (req.scope.type === 'domain' && !this.options.model.logicalDevices.some((l) => l.name === (req.scope as { domain: string }).domain)) {
      throw new MmsServiceError({ errorClass: ErrorClass.access, code: 2 });
    }
    let start = 0;
    if (req.continueAfter !== undefined) {
      const i = all.indexOf(req.continueAfter);
      start = i >= 0 ? i + 1 : all.findIndex((n) => compareNames(n, req.continueAfter as string) > 0);
      if (start < 0) start = all.length;
    }
    const out: string[] = [];
    let size = 24;
    for (let i = start; i < all.length; i++) {
      const n = all[i] as string;
      const s = n.length + (n.length < 128 ? 2 : 3);
      if (size + s > conn.maxPduSize && out.length > 0) break;
      out.push(n);
      size += s;
    }
    return { service: 'getNameList', identifiers: out, moreFollows: start + out.length < all.length };
  }

  private findDataSet(n: ObjectName, conn: MmsServerConnection): DataSetRuntime | undefined {
    if (n.scope === 'domain') return this.dataSets.get(key(n.domain, n.item));
    if (n.scope === 'aa') return this.dataSets.get(key(`@${conn.remote}`, n.item));
    return undefined;
  }

  private defineNvl(name: ObjectName, variables: ObjectName[], conn: MmsServerConnection): ConfirmedResponse {
    const domain = name.scope === 'domain' ? name.domain : `@${conn.remote}`;
    if (name.scope === 'domain' && !this.options.model.logicalDevices.some((l) => l.name === domain)) throw new MmsServiceError({ errorClass: ErrorClass.access, code: 2 });
    if (this.dataSets.has(key(domain, name.item))) throw new MmsServiceError({ errorClass: ErrorClass.definition, code: 2 });
    const members: { domain: string; item: string }[] = [];
    for (const v of variables) {
      if (v.scope !== 'domain' || !this.typeOf(v.domain, v.item)) throw new MmsServiceError({ errorClass: ErrorClass.access, code: 2 });
      members.push({ domain: v.domain, item: v.item });
    }
    this.dataSets.set(key(domain, name.item), { domain: name.scope === 'domain' ? domain : '', name: name.item, members, deletable: true });
    return { service: 'defineNamedVariableList' };
  }

  private read(req: Extract<ConfirmedRequest, { service: 'read' }>, conn: MmsServerConnection): ConfirmedResponse {
    if (req.spec.type === 'named') {
      const ds = this.findDataSet(req.spec.name, conn);
      if (!ds) throw new MmsServiceError({ errorClass: ErrorClass.access, code: 2 });
      const results = ds.members.map((m): AccessResult => this.valueOf(m.domain, m.item) ?? { type: 'failure', error: DAE.nonExistent });
      return req.specificationWithResult ? { service: 'read', spec: req.spec, results } : { service: 'read', results };
    }
    const results = req.spec.variables.map((v): AccessResult => {
      if (v.scope !== 'domain') return { type: 'failure', error: DAE.nonExistent };
      const ctl = /^(.+\$CO\$.+)\$SBO$/.exec(v.item);
      if (ctl) return this.select(v.domain, ctl[1] as string, conn);
      return this.valueOf(v.domain, v.item) ?? { type: 'failure', error: DAE.nonExistent };
    });
    return { service: 'read', results };
  }

  private write(req: Extract<ConfirmedRequest, { service: 'write' }>, conn: MmsServerConnection): ({ type: 'success' } | { type: 'failure'; error: number })[] {
    const vars = req.spec.type === 'list' ? req.spec.variables : [];
    return vars.map((v, i) => {
      const data = req.data[i];
      if (data === undefined || v.scope !== 'domain') return { type: 'failure', error: DAE.nonExistent };
      const error = this.writeOne(v.domain, v.item, data, conn);
      return error === undefined ? { type: 'success' } : { type: 'failure', error };
    });
  }

  private writeOne(domain: string, item: string, data: MmsData, conn: MmsServerConnection): number | undefined {
    const t = this.typeOf(domain, item);
    if (!t) return DAE.nonExistent;
    const parts = item.split('$');
    const fc = parts[1];
    if (fc === 'RP' || fc === 'BR') {
      const rcb = this.rcbs.get(key(domain, parts.slice(0, 3).join('$')));
      if (!rcb || parts.length !== 4) return DAE.accessDenied;
      return this.writeRcb(rcb, parts[3] as string, data, conn);
    }
    if (fc === 'CO' && parts.length === 4) return this.control(domain, parts.slice(0, 3).join('$'), parts[3] as string, data, conn);
    if (t.type === 'structure' || !['DC', 'SP', 'SV', 'SE', 'CF'].includes(fc ?? '')) return DAE.accessDenied;
    if (fc === 'CF' && parts.at(-1) === 'ctlModel') return DAE.accessDenied;
    if (!sameType(data, t)) return DAE.typeInconsistent;
    this.setValue(domain, item, data, 'data-change');
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // reports

  private rcbValue(r: Rcb, attr: string): unknown {
    const v = this.values.get(key(r.ld.name, `${r.item}$${attr}`));
    return v && 'value' in v ? v.value : undefined;
  }

  private setRcb(r: Rcb, attr: string, v: MmsData): void {
    this.values.set(key(r.ld.name, `${r.item}$${attr}`), v);
  }

  private writeRcb(r: Rcb, attr: string, data: MmsData, conn: MmsServerConnection): number | undefined {
    const t = this.typeOf(r.ld.name, `${r.item}$${attr}`);
    if (!t) return DAE.nonExistent;
    if (!sameType(data, t)) return DAE.typeInconsistent;
    const other = (r.owner && r.owner !== conn) || (r.resvBy && r.resvBy !== conn);
    if (other) return DAE.accessDenied;
    const enabled = this.rcbValue(r, 'RptEna') === true;
    switch (attr) {
      case 'Resv':
        r.resvBy = data.type === 'boolean' && data.value ? conn : undefined;
        this.setRcb(r, 'Resv', data);
        return undefined;
      case 'RptEna':
        if (data.type === 'boolean' && data.value) this.enable(r, conn);
        else this.disable(r);
        return undefined;
      case 'GI':
        if (data.type === 'boolean' && data.value) {
          if (!enabled) return DAE.temporarilyUnavailable;
          this.later(() => this.sendAll(r, 'general-interrogation'), 0);
        }
        return undefined;
      case 'PurgeBuf':
        if (enabled) return DAE.temporarilyUnavailable;
        if (data.type === 'boolean' && data.value) {
          r.buffer = [];
          r.overflow = false;
        }
        return undefined;
      case 'EntryID':
        if (enabled) return DAE.temporarilyUnavailable;
        if (data.type === 'octet-string') {
          const id = toBigId(data.value);
          if (id !== 0n && !r.buffer.some((e) => e.id === id)) return DAE.valueInvalid;
          r.resumeAfter = id;
          this.setRcb(r, 'EntryID', data);
        }
        return undefined;
      case 'SqNum':
      case 'ConfRev':
      case 'TimeofEntry':
        return DAE.accessDenied;
      case 'ResvTms':
        this.setRcb(r, attr, data);
        return undefined;
      default:
        if (CONFIG_ATTRS.has(attr) && enabled) return DAE.temporarilyUnavailable;
        if (attr === 'DatSet' && data.type === 'visible-string' && data.value !== '') {
          const [d, n] = data.value.split('/');
          if (!this.dataSets.has(key(d ?? '', n ?? ''))) return DAE.valueInvalid;
        }
        this.setRcb(r, attr, data);
        return undefined;
    }
  }

  private readonly indexes = new WeakMap<DataSetRuntime, Map<string, number[]>>();

  /** member key (`domain/item`) → indices in the RCB's data set. */
  private memberIndex(r: Rcb): Map<string, number[]> | undefined {
    const ds = this.dataSetOf(r);
    if (!ds) return undefined;
    let index = this.indexes.get(ds);
    if (!index) {
      index = new Map();
      ds.members.forEach((m, i) => {
        const k = key(m.domain, m.item);
        const list = index?.get(k) ?? [];
        list.push(i);
        index?.set(k, list);
      });
      this.indexes.set(ds, index);
    }
    return index;
  }

  private dataSetOf(r: Rcb): DataSetRuntime | undefined {
    const ref = String(this.rcbValue(r, 'DatSet') ?? '');
    const i = ref.indexOf('/');
    return this.dataSets.get(key(ref.slice(0, i), ref.slice(i + 1)));
  }

  private enable(r: Rcb, conn: MmsServerConnection): void {
    r.owner = conn;
    if (!r.buffered) {
      r.resvBy = conn;
      this.setRcb(r, 'Resv', { type: 'boolean', value: true });
    }
    this.setRcb(r, 'RptEna', { type: 'boolean', value: true });
    const intg = Number(this.rcbValue(r, 'IntgPd') ?? 0);
    clearInterval(r.integrityTimer);
    if (intg > 0 && bitAt(bits(this.values.get(key(r.ld.name, `${r.item}$TrgOps`))), TrgOp.integrity)) {
      r.integrityTimer = setInterval(() => this.sendAll(r, 'integrity'), intg);
    }
    if (r.buffered) {
      const after = r.resumeAfter ?? r.lastSent;
      r.resumeAfter = undefined;
      const start = after === 0n ? 0 : r.buffer.findIndex((e) => e.id === after) + 1;
      const backlog = r.buffer.slice(Math.max(0, start)).filter((e) => e.id > after || after === 0n);
      this.later(() => backlog.forEach((e) => this.transmit(r, e)), 0);
    }
  }

  private disable(r: Rcb): void {
    this.setRcb(r, 'RptEna', { type: 'boolean', value: false });
    r.owner = undefined;
    clearInterval(r.integrityTimer);
    r.integrityTimer = undefined;
    clearTimeout(r.bufTimer);
    r.bufTimer = undefined;
    if (!r.buffered) r.pending.clear();
  }

  private onChange(domain: string, item: string, reason: ReasonCode): void {
    const trg: Record<ReasonCode, TrgOpName | undefined> = { 'data-change': 'dchg', 'quality-change': 'qchg', 'data-update': 'dupd', integrity: undefined, 'general-interrogation': undefined, 'application-trigger': undefined };
    const op = trg[reason];
    if (!op) return;
    for (const r of this.rcbs.values()) {
      const enabled = this.rcbValue(r, 'RptEna') === true;
      if (!enabled && !r.buffered) continue;
      if (!bitAt(bits(this.values.get(key(r.ld.name, `${r.item}$TrgOps`))), TrgOp[op])) continue;
      const index = this.memberIndex(r);
      if (!index) continue;
      // the changed leaf, or any FCD/FCDA above it, may be a member
      let path = item;
      for (;;) {
        for (const idx of index.get(key(domain, path)) ?? []) {
          const set = r.pending.get(idx) ?? new Set<ReasonCode>();
          set.add(reason);
          r.pending.set(idx, set);
        }
        const cut = path.lastIndexOf('$');
        if (cut < 0) break;
        path = path.slice(0, cut);
      }
      if (r.pending.size === 0 || r.bufTimer) continue;
      const bufTm = Number(this.rcbValue(r, 'BufTm') ?? 0);
      r.bufTimer = setTimeout(() => {
        r.bufTimer = undefined;
        const entries = [...r.pending.entries()];
        r.pending.clear();
        if (entries.length > 0) this.emit(r, entries.map(([i, reasons]) => ({ index: i, reasons: [...reasons] })));
      }, bufTm);
    }
  }

  private sendAll(r: Rcb, reason: ReasonCode): void {
    const ds = this.dataSetOf(r);
    if (!ds) return;
    this.emit(r, ds.members.map((_, i) => ({ index: i, reasons: [reason] })));
  }

  private emit(r: Rcb, included: { index: number; reasons: ReasonCode[] }[]): void {
    const ds = this.dataSetOf(r);
    if (!ds) return;
    const opt = bits(this.values.get(key(r.ld.name, `${r.item}$OptFlds`)));
    const names = (Object.keys(OptFld) as OptFldName[]).filter((n) => bitAt(opt, OptFld[n]) && n !== 'segmentation' && (r.buffered || (n !== 'bufOvfl' && n !== 'entryId')));
    const now = this.now();
    const sqNum = Number(this.rcbValue(r, 'SqNum') ?? 0);
    this.setRcb(r, 'SqNum', { type: 'unsigned', value: (sqNum + 1) % (r.buffered ? 65536 : 256) });
    this.entryCounter = this.entryCounter + 1n > BigInt(now) ? this.entryCounter + 1n : BigInt(now);
    const id = this.entryCounter;
    const results = buildReport({
      rptId: String(this.rcbValue(r, 'RptID') ?? ''),
      optFlds: names,
      seqNum: sqNum,
      timeOfEntry: binaryTimeFromMs(now),
      dataSet: String(this.rcbValue(r, 'DatSet') ?? ''),
      bufOvfl: r.overflow,
      entryId: fromBigId(id),
      confRev: Number(this.rcbValue(r, 'ConfRev') ?? 1),
      members: ds.members.length,
      entries: included.map((e) => {
        const m = ds.members[e.index] as { domain: string; item: string };
        return { index: e.index, reference: `${m.domain}/${m.item}`, value: this.valueOf(m.domain, m.item) ?? { type: 'boolean', value: false }, reasons: e.reasons };
      }),
    });
    if (r.buffered) {
      const entry = { id, results };
      r.buffer.push(entry);
      if (r.buffer.length > (this.options.bufferSize ?? 1000)) {
        r.buffer.shift();
        r.overflow = true;
      } else if (r.overflow && this.rcbValue(r, 'RptEna') === true) r.overflow = false;
      this.setRcb(r, 'EntryID', { type: 'octet-string', value: fromBigId(id) });
      this.setRcb(r, 'TimeofEntry', { type: 'binary-time', value: binaryTimeFromMs(now) });
      if (this.rcbValue(r, 'RptEna') === true) this.transmit(r, entry);
    } else this.transmit(r, { id, results });
  }

  private transmit(r: Rcb, e: BufferedEntry): void {
    if (!r.owner?.isOpen) return;
    r.owner.sendInformationReport({ spec: { type: 'named', name: { scope: 'vmd', item: 'RPT' } }, results: e.results });
    r.lastSent = e.id;
  }

  // -------------------------------------------------------------------------------------------
  // controls

  private ctlModel(domain: string, co: string): number {
    const v = this.values.get(key(domain, `${co.replace('$CO$', '$CF$')}$ctlModel`));
    return v?.type === 'integer' && typeof v.value === 'number' ? v.value : 0;
  }

  private select(domain: string, co: string, conn: MmsServerConnection): AccessResult {
    if (this.ctlModel(domain, co) !== 2) return { type: 'failure', error: DAE.accessDenied };
    const st = this.controls.get(key(domain, co)) ?? {};
    this.controls.set(key(domain, co), st);
    if (st.selectedBy && st.selectedBy !== conn) return { type: 'visible-string', value: '' };
    this.doSelect(domain, co, st, conn);
    return { type: 'visible-string', value: `${domain}/${co}` };
  }

  private doSelect(domain: string, co: string, st: ControlState, conn: MmsServerConnection): void {
    st.selectedBy = conn;
    clearTimeout(st.selectTimer);
    const tmo = this.values.get(key(domain, `${co.replace('$CO$', '$CF$')}$sboTimeout`));
    const ms = tmo && (tmo.type === 'unsigned' || tmo.type === 'integer') && Number(tmo.value) > 0 ? Number(tmo.value) : 30_000;
    st.selectTimer = setTimeout(() => {
      st.selectedBy = undefined;
    }, ms);
    st.selectTimer.unref();
  }

  private lastApplError(domain: string, co: string, oper: MmsData, addCause: number): MmsData {
    const s = oper.type === 'structure' ? oper.value : [];
    const hasOperTm = s.length === 7 || (s.length === 6 && s[1]?.type === 'utc-time');
    const origin = s[hasOperTm ? 2 : 1] ?? { type: 'structure', value: [{ type: 'integer', value: 0 }, { type: 'octet-string', value: new Uint8Array(0) }] };
    const ctlNum = s[hasOperTm ? 3 : 2] ?? { type: 'unsigned', value: 0 };
    return { type: 'structure', value: [{ type: 'visible-string', value: `${domain}/${co}$Oper` }, { type: 'integer', value: 0 }, origin, ctlNum, { type: 'integer', value: addCause }] };
  }

  private control(domain: string, co: string, op: string, data: MmsData, conn: MmsServerConnection): number | undefined {
    const model = this.ctlModel(domain, co);
    const st = this.controls.get(key(domain, co)) ?? {};
    this.controls.set(key(domain, co), st);
    const lae = (cause: number): void => {
      conn.sendInformationReport({ spec: { type: 'list', variables: [{ scope: 'vmd', item: 'LastApplError' }] }, results: [this.lastApplError(domain, co, data, cause)] });
    };
    if (model === 0 || data.type !== 'structure') return DAE.accessDenied;
    const [lnName, , doName] = co.split('$');
    const failing = (this.options.failingControls ?? []).includes(`${lnName}.${doName}`);
    const sbo = model === 2 || model === 4;
    const enhanced = model === 3 || model === 4;
    if (op === 'SBOw') {
      if (model !== 4) return DAE.accessDenied;
      if (st.selectedBy && st.selectedBy !== conn) {
        lae(3);
        return DAE.accessDenied;
      }
      this.doSelect(domain, co, st, conn);
      return undefined;
    }
    if (op === 'Cancel') {
      if (st.selectedBy === conn) {
        st.selectedBy = undefined;
        clearTimeout(st.selectTimer);
      }
      return undefined;
    }
    if (op !== 'Oper') return DAE.accessDenied;
    if (sbo && st.selectedBy !== conn) {
      lae(18);
      return DAE.accessDenied;
    }
    if (sbo) {
      st.selectedBy = undefined;
      clearTimeout(st.selectTimer);
    }
    if (failing && !enhanced) {
      lae(0);
      return DAE.accessDenied;
    }
    const ctlVal = data.value[0];
    if (!failing && ctlVal) this.operate(domain, co, data, ctlVal);
    if (enhanced) {
      this.later(() => {
        if (!conn.isOpen) return;
        if (failing) {
          conn.sendInformationReport({
            spec: { type: 'list', variables: [{ scope: 'vmd', item: 'LastApplError' }, { scope: 'domain', domain, item: `${co}$Oper` }] },
            results: [this.lastApplError(domain, co, data, 0), data],
          });
        } else conn.sendInformationReport({ spec: { type: 'list', variables: [{ scope: 'domain', domain, item: `${co}$Oper` }] }, results: [data] });
      }, 10);
    }
    return undefined;
  }

  private operate(domain: string, co: string, oper: MmsData, ctlVal: MmsData): void {
    const stItem = co.replace('$CO$', '$ST$');
    const now = this.now();
    if (this.values.has(key(domain, `${stItem}$stVal`))) {
      const stType = this.typeOf(domain, `${stItem}$stVal`);
      const v: MmsData = stType?.type === 'bit-string' && ctlVal.type === 'boolean' ? { type: 'bit-string', value: bitStringFromBools([!ctlVal.value, ctlVal.value]) } : ctlVal;
      this.values.set(key(domain, `${stItem}$t`), { type: 'utc-time', value: utcTimeFromMs(now, 0x0a) });
      this.values.set(key(domain, `${stItem}$q`), { type: 'bit-string', value: encodeQuality() });
      this.setValue(domain, `${stItem}$stVal`, v);
    }
    const s = oper.type === 'structure' ? oper.value : [];
    const hasOperTm = s[1]?.type === 'utc-time';
    const origin = s[hasOperTm ? 2 : 1];
    const ctlNum = s[hasOperTm ? 3 : 2];
    if (origin && this.values.has(key(domain, `${stItem}$origin$orCat`)) && origin.type === 'structure') {
      const [cat, ident] = origin.value;
      if (cat) this.values.set(key(domain, `${stItem}$origin$orCat`), cat);
      if (ident) this.values.set(key(domain, `${stItem}$origin$orIdent`), ident);
    }
    if (ctlNum && this.values.has(key(domain, `${stItem}$ctlNum`))) this.values.set(key(domain, `${stItem}$ctlNum`), ctlNum);
  }

  // -------------------------------------------------------------------------------------------
  // files

  private fileDirectory(): ConfirmedResponse {
    const dir = this.options.fileStore;
    if (!dir) return { service: 'fileDirectory', entries: [], moreFollows: false };
    const entries = readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isFile())
      .sort()
      .map((name) => {
        const st = statSync(join(dir, name));
        return { name, attributes: { size: st.size, lastModified: generalizedTime(st.mtimeMs) } };
      });
    return { service: 'fileDirectory', entries, moreFollows: false };
  }

  private fileOpen(name: string, position: number, conn: MmsServerConnection): ConfirmedResponse {
    const dir = this.options.fileStore;
    const clean = name.replace(/^\/+/, '');
    if (!dir || clean.split('/').some((p) => p === '..' || p === '')) throw new MmsServiceError({ errorClass: ErrorClass.file, code: 7 });
    let data: Uint8Array;
    let mtime: number;
    try {
      const path = join(dir, clean);
      const st = statSync(path);
      if (!st.isFile()) throw new Error('not a file');
      data = new Uint8Array(readFileSync(path));
      mtime = st.mtimeMs;
    } catch {
      throw new MmsServiceError({ errorClass: ErrorClass.file, code: 7 });
    }
    if (position > data.length) throw new MmsServiceError({ errorClass: ErrorClass.file, code: 5 });
    const table = this.files.get(conn) ?? new Map<number, { data: Uint8Array; pos: number }>();
    this.files.set(conn, table);
    let id = 0;
    while (table.has(id)) id++;
    table.set(id, { data, pos: position });
    return { service: 'fileOpen', frsmId: id, attributes: { size: data.length, lastModified: generalizedTime(mtime) } };
  }
}

function generalizedTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, '.000Z');
}

function sameData(a: MmsData, b: MmsData): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'boolean':
    case 'integer':
    case 'unsigned':
    case 'float':
    case 'visible-string':
    case 'mms-string':
    case 'generalized-time':
    case 'bcd':
    case 'objId':
      return a.value === (b as typeof a).value;
    default:
      return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
  }
}

function replacer(_k: string, v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : v;
}
