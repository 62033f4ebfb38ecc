/**
 * IEC 61850 device semantics for the core (no core import but errors): per device an MMS association that
 * reconnects, report subscriptions (URCB/BRCB, BRCB resumed at the last EntryID), polled points, quality and
 * source-time mapping, and commands → controls (or writes) with their outcome.
 *
 * The shapes here (Iec61850Sample, Iec61850Command, ...) are structurally the core's Sample/Command/CommandResult
 * so the plugin adapter passes them through unchanged.
 *
 * Error policy: nothing throws out of polling or report handling; a lost device degrades its points
 * (status invalid, flag comm-lost) and is retried every `reconnectDelayMs`.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import { coerce, Iec61850Client } from '../client/iec61850-client.ts';
import type { ControlResult, ReceivedReport, ReportSubscription } from '../client/iec61850-client.ts';
import { utcTimeToMs } from '../codec/mms-data.ts';
import type { AccessResult, MmsData, TypeSpec } from '../codec/mms-data.ts';
import { decodeQuality } from '../codec/report.ts';
import type { OptFldName, TrgOpName } from '../codec/report.ts';
import type { FunctionalConstraint } from '../model/ied-model.ts';
import { loadSclFile } from '../model/scl.ts';

export type PointKind = 'analog' | 'binary' | 'counter' | 'string' | 'enum';

export interface Iec61850PointConfig {
  /** Point id; default derived from the reference (`LD/LN.DO.DA`). */
  id?: string;
  /** `LD/LN.DO.DA` (or `LD/LN$FC$DO$DA`). */
  ref: string;
  fc?: FunctionalConstraint;
  kind?: PointKind;
  unit?: string;
  scale?: number;
  offset?: number;
  /** Writable by commands: a control object (`LD/LN.DO` with CO) or a settable attribute. */
  control?: boolean;
  writable?: boolean;
  description?: string;
}

export interface Iec61850ReportConfig {
  /** RCB reference, e.g. `simpleIOGenericIO/LLN0.BR.Measurements01` or `...LLN0$RP$EventsRCB01`. */
  rcb: string;
  trgOps?: TrgOpName[];
  intgPd?: number;
  optFlds?: OptFldName[];
  bufTm?: number;
  gi?: boolean;
  reserve?: boolean;
  purgeBuf?: boolean;
}

export interface Iec61850DeviceConfig {
  id: string;
  host: string;
  port?: number;
  /** SCL file and IED name: the points of the report data sets and controllable objects are taken from it. */
  scl?: { file: string; iedName?: string };
  reports?: Iec61850ReportConfig[];
  points?: Iec61850PointConfig[];
  pollIntervalMs?: number;
  maxPduSize?: number;
  requestTimeoutMs?: number;
  reconnectDelayMs?: number;
  originIdent?: string;
}

export interface Iec61850Quality {
  status: 'good' | 'uncertain' | 'invalid';
  flags: string[];
  raw?: Record<string, string | number | boolean>;
}

export interface Iec61850Sample {
  deviceId: string;
  pointId: string;
  ts: number;
  value: number | boolean | string | null;
  quality: Iec61850Quality;
  protocol: string;
  unit?: string;
}

export interface Iec61850PointDescriptor {
  deviceId: string;
  pointId: string;
  kind: PointKind;
  writable: boolean;
  protocol: string;
  unit?: string;
  scale?: number;
  offset?: number;
  description?: string;
  address: Record<string, unknown>;
}

export interface Iec61850Command {
  id: string;
  deviceId: string;
  pointId: string;
  action: 'write' | 'operate' | 'select-operate';
  value: number | boolean | string;
  timeoutMs: number;
  issuedAt: number;
}

export interface Iec61850CommandResult {
  commandId: string;
  deviceId: string;
  pointId: string;
  status: 'pending' | 'succeeded' | 'failed' | 'rejected' | 'timeout';
  issuedAt: number;
  completedAt?: number;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

export interface Iec61850DeviceStatus {
  deviceId: string;
  state: 'online' | 'offline' | 'degraded' | 'unknown';
  reason?: string;
  since: number;
}

export interface Iec61850DriverHooks {
  onSamples(samples: Iec61850Sample[]): void;
  onDeviceStatus(status: Iec61850DeviceStatus): void;
  onPoll?(deviceId: string, seconds: number, ok: boolean): void;
  onError?(deviceId: string, error: EnergyMeshError): void;
}

/** IEC 61850 quality → normalized quality; the 13 bits are kept in raw.q. */
export function mapQuality(q: MmsData | undefined): Iec61850Quality {
  if (!q || q.type !== 'bit-string') return { status: 'good', flags: [] };
  const d = decodeQuality(q.value);
  const flags: string[] = [];
  if (d.overflow) flags.push('overflow');
  if (d.outOfRange) flags.push('over-range');
  if (d.badReference) flags.push('reference-error');
  if (d.oscillatory) flags.push('oscillatory');
  if (d.failure) flags.push('device-exception');
  if (d.oldData) flags.push('stale');
  if (d.inconsistent) flags.push('inconsistent');
  if (d.inaccurate) flags.push('inaccurate');
  if (d.substituted) flags.push('substituted');
  if (d.test) flags.push('test');
  if (d.operatorBlocked) flags.push('operator-blocked');
  const status = d.validity === 'good' ? 'good' : d.validity === 'questionable' ? 'uncertain' : 'invalid';
  return { status, flags, raw: { q: d.raw, validity: d.validity } };
}

/** `LD/LN$FC$DO$DA` → `LD/LN.DO.DA` (the point id form). */
export function pointIdOf(domain: string, item: string): string {
  const [ln, , ...rest] = item.split('$');
  return `${domain}/${[ln, ...rest].join('.')}`;
}

interface ResolvedPoint {
  descriptor: Iec61850PointDescriptor;
  /** MMS item of the value (`LN$FC$DO$DA`). */
  domain: string;
  item: string;
  config: Iec61850PointConfig;
}

function scalar(d: MmsData | undefined): number | boolean | string | null {
  if (!d) return null;
  switch (d.type) {
    case 'boolean':
      return d.value;
    case 'integer':
    case 'unsigned':
    case 'bcd':
      return Number(d.value);
    case 'float':
      return d.value;
    case 'visible-string':
    case 'mms-string':
      return d.value;
    case 'bit-string': {
      let n = 0;
      for (let i = 0; i < d.value.bits; i++) n = (n << 1) | (((d.value.bytes[i >> 3] as number) >> (7 - (i & 7))) & 1);
      return n;
    }
    default:
      return null;
  }
}

/** Finds value / q / t inside a DO (or DA) structure by component names. */
function splitDo(d: MmsData, t: TypeSpec | undefined): { value?: MmsData; q?: MmsData; time?: number } {
  if (d.type !== 'structure' || !t || t.type !== 'structure') return { value: d };
  const out: { value?: MmsData; q?: MmsData; time?: number } = {};
  t.components.forEach((c, i) => {
    const v = d.value[i];
    if (!v) return;
    if (c.name === 'q') out.q = v;
    else if (c.name === 't' && v.type === 'utc-time') out.time = utcTimeToMs(v.value);
    else if (out.value === undefined && ['stVal', 'mag', 'cVal', 'instMag', 'actVal', 'setVal', 'setMag', 'f', 'i', 'ctlVal'].includes(c.name)) {
      const inner = splitDo(v, c.spec);
      if (inner.value) out.value = inner.value;
    }
  });
  return out;
}

function kindOf(d: MmsData | undefined): PointKind {
  if (!d) return 'analog';
  if (d.type === 'boolean') return 'binary';
  if (d.type === 'visible-string' || d.type === 'mms-string') return 'string';
  if (d.type === 'bit-string') return 'enum';
  return 'analog';
}

class DeviceRunner {
  private client: Iec61850Client | undefined;
  private subs: ReportSubscription[] = [];
  private readonly lastEntryIds = new Map<string, Uint8Array>();
  private readonly points = new Map<string, ResolvedPoint>();
  private readonly types = new Map<string, TypeSpec>();
  /** Latest quality of each DO (`domain/LN$FC$DO`), fed by `q` members of data sets. */
  private readonly doQuality = new Map<string, MmsData>();
  private readonly pointsOfDo = new Map<string, Set<string>>();
  private readonly lastValues = new Map<string, { value: Iec61850Sample['value']; unit?: string }>();
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private status: Iec61850DeviceStatus;

  constructor(readonly config: Iec61850DeviceConfig, private readonly hooks: Iec61850DriverHooks) {
    this.status = { deviceId: config.id, state: 'unknown', since: Date.now() };
    for (const p of config.points ?? []) this.addPoint(p);
    if (config.scl) this.pointsFromScl();
  }

  private addPoint(p: Iec61850PointConfig, discovered?: MmsData): ResolvedPoint {
    const slash = p.ref.indexOf('/');
    const domain = p.ref.slice(0, slash);
    const rest = p.ref.slice(slash + 1);
    const item = rest.includes('$') ? rest : (() => {
      const parts = rest.split('.');
      return [parts[0], p.fc ?? 'ST', ...parts.slice(1)].join('$');
    })();
    const id = p.id ?? pointIdOf(domain, item);
    const descriptor: Iec61850PointDescriptor = {
      deviceId: this.config.id,
      pointId: id,
      kind: p.kind ?? kindOf(discovered),
      writable: p.control === true || p.writable === true,
      protocol: 'iec61850',
      address: { domain, item, ...(p.control ? { control: true } : {}) },
    };
    if (p.unit !== undefined) descriptor.unit = p.unit;
    if (p.scale !== undefined) descriptor.scale = p.scale;
    if (p.offset !== undefined) descriptor.offset = p.offset;
    if (p.description !== undefined) descriptor.description = p.description;
    const r: ResolvedPoint = { descriptor, domain, item, config: p };
    if (!this.points.has(id)) this.points.set(id, r);
    return this.points.get(id) as ResolvedPoint;
  }

  /** Points of the configured RCB data sets and the controllable objects, from SCL. */
  private pointsFromScl(): void {
    const scl = this.config.scl;
    if (!scl) return;
    const model = loadSclFile(scl.file).model(scl.iedName);
    for (const rep of this.config.reports ?? []) {
      const slash = rep.rcb.indexOf('/');
      const [lnName, , rcbName] = rep.rcb.slice(slash + 1).split(/[.$]/);
      const ld = model.logicalDevices.find((l) => l.name === rep.rcb.slice(0, slash));
      const ln = ld?.logicalNodes.find((l) => l.name === lnName);
      const def = ln?.reportControls.find((r) => rcbName !== undefined && (r.name === rcbName || rcbName.startsWith(r.name)));
      const ds = ln?.dataSets.find((d) => d.name === def?.datSet);
      if (!ld || !ds) throw new EnergyMeshError('CONFIG_INVALID', `iec61850 ${this.config.id}: RCB ${rep.rcb} or its data set is not in ${scl.file}`);
      for (const m of ds.members) {
        if (m.daName === 'q' || m.daName === 't') continue;
        const ref = `${model.name}${m.ldInst}/${[m.ln, m.fc, ...m.doName.split('.'), ...(m.daName ? m.daName.split('.') : [])].join('$')}`;
        this.addPoint({ ref, kind: m.fc === 'ST' ? 'binary' : 'analog' });
      }
    }
    for (const ld of model.logicalDevices) {
      for (const ln of ld.logicalNodes) {
        for (const d of ln.dataObjects) {
          const cm = d.attributes.find((a) => a.name === 'ctlModel')?.value;
          if (!d.attributes.some((a) => a.fc === 'CO') || !cm || cm.type !== 'integer' || cm.value === 0) continue;
          this.addPoint({ ref: `${ld.name}/${ln.name}$CO$${d.name}`, control: true, kind: 'binary', id: `${ld.name}/${ln.name}.${d.name}` });
        }
      }
    }
  }

  descriptors(): Iec61850PointDescriptor[] {
    return [...this.points.values()].map((p) => p.descriptor);
  }

  deviceStatus(): Iec61850DeviceStatus {
    return this.status;
  }

  private setStatus(state: Iec61850DeviceStatus['state'], reason?: string): void {
    if (this.status.state === state) return;
    this.status = { deviceId: this.config.id, state, since: Date.now(), ...(reason ? { reason } : {}) };
    this.hooks.onDeviceStatus(this.status);
  }

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pollTimer);
    const c = this.client;
    this.client = undefined;
    if (c) {
      for (const s of this.subs.splice(0)) await s.disable().catch(() => undefined);
      await c.close().catch(() => c.mms.abort());
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const cfg = this.config;
    const t0 = Date.now();
    let client: Iec61850Client | undefined;
    try {
      client = await Iec61850Client.connect(cfg.host, cfg.port ?? 102, { maxPduSize: cfg.maxPduSize ?? 65000, requestTimeoutMs: cfg.requestTimeoutMs ?? 5000, connectTimeoutMs: cfg.requestTimeoutMs ?? 5000 });
      if (this.stopped) {
        client.mms.abort();
        return;
      }
      this.client = client;
      client.mms.onClose((e) => this.onLost(e));
      for (const rep of cfg.reports ?? []) {
        const resume = this.lastEntryIds.get(rep.rcb);
        const opts = { ...rep, ...(resume ? { entryId: resume, purgeBuf: false } : {}) };
        const sub = await client.enableReporting(rep.rcb, opts, (r) => {
          this.onReport(rep.rcb, r).catch((e: unknown) => this.hooks.onError?.(cfg.id, isEnergyMeshError(e) ? e : new EnergyMeshError('INTERNAL', String(e))));
        });
        this.subs.push(sub);
      }
      this.setStatus('online');
      this.hooks.onPoll?.(cfg.id, (Date.now() - t0) / 1000, true);
      await this.poll();
      clearInterval(this.pollTimer);
      if ((cfg.pollIntervalMs ?? 0) > 0) this.pollTimer = setInterval(() => void this.poll(), cfg.pollIntervalMs);
    } catch (e) {
      const err = isEnergyMeshError(e) ? e : new EnergyMeshError('INTERNAL', String(e), { cause: e });
      this.hooks.onError?.(cfg.id, err);
      this.hooks.onPoll?.(cfg.id, (Date.now() - t0) / 1000, false);
      client?.mms.abort();
      this.onLost(err);
    }
  }

  private onLost(e?: EnergyMeshError): void {
    if (this.client && this.client.mms.isOpen) return;
    this.client = undefined;
    this.subs = [];
    clearInterval(this.pollTimer);
    if (this.stopped) return;
    const wasOnline = this.status.state === 'online';
    this.setStatus('offline', e?.message ?? 'connection closed');
    if (wasOnline) {
      const now = Date.now();
      this.hooks.onSamples(this.descriptors().filter((d) => !d.writable || d.kind !== 'binary' || !(d.address['control'] === true)).map((d) => ({
        deviceId: d.deviceId, pointId: d.pointId, ts: now, value: null, quality: { status: 'invalid', flags: ['comm-lost'] }, protocol: 'iec61850',
      })));
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.config.reconnectDelayMs ?? 2000);
  }

  private async typeOf(domain: string, item: string): Promise<TypeSpec | undefined> {
    const k = `${domain}/${item}`;
    if (this.types.has(k)) return this.types.get(k);
    const c = this.client;
    if (!c) return undefined;
    try {
      const t = await c.typeOf(k);
      this.types.set(k, t);
      return t;
    } catch {
      return undefined;
    }
  }

  private sample(p: ResolvedPoint, value: MmsData | undefined, q: MmsData | undefined, ts: number): Iec61850Sample {
    let v = scalar(value);
    if (typeof v === 'number' && (p.descriptor.scale !== undefined || p.descriptor.offset !== undefined)) v = v * (p.descriptor.scale ?? 1) + (p.descriptor.offset ?? 0);
    const s: Iec61850Sample = { deviceId: this.config.id, pointId: p.descriptor.pointId, ts, value: v, quality: mapQuality(q), protocol: 'iec61850' };
    if (p.descriptor.unit) s.unit = p.descriptor.unit;
    return s;
  }

  private async onReport(rcb: string, r: ReceivedReport): Promise<void> {
    if (r.entryId) this.lastEntryIds.set(rcb, r.entryId);
    const ts = r.timeOfEntryMs ?? Date.now();
    // quality members first (a DO's q may come in the same report as its value)
    const qualityOnly = new Set<string>();
    for (const e of r.entries) {
      const ref = r.memberRefs[e.index] ?? e.reference ?? '';
      if (!ref.endsWith('$q')) continue;
      const slash = ref.indexOf('/');
      const doKey = `${ref.slice(0, slash)}/${ref.slice(slash + 1, -2).split('$').slice(0, 3).join('$')}`;
      this.doQuality.set(doKey, e.value);
      qualityOnly.add(doKey);
    }
    const out: Iec61850Sample[] = [];
    for (const e of r.entries) {
      const ref = r.memberRefs[e.index] ?? e.reference ?? '';
      if (ref.endsWith('$q') || ref.endsWith('$t')) continue;
      const slash = ref.indexOf('/');
      const domain = ref.slice(0, slash);
      const item = ref.slice(slash + 1);
      let p = this.points.get(pointIdOf(domain, item));
      if (!p) p = this.addPoint({ ref }, e.value);
      const doKey = `${domain}/${item.split('$').slice(0, 3).join('$')}`;
      qualityOnly.delete(doKey);
      this.pointsOfDo.set(doKey, new Set([...(this.pointsOfDo.get(doKey) ?? []), p.descriptor.pointId]));
      if (e.value.type === 'structure') {
        const parts = splitDo(e.value, await this.typeOf(domain, item));
        out.push(this.sample(p, parts.value, parts.q ?? this.doQuality.get(doKey), parts.time ?? ts));
      } else out.push(this.sample(p, e.value, this.doQuality.get(doKey), ts));
    }
    // a quality change alone: re-issue the last value of the DO's points with the new quality
    for (const doKey of qualityOnly) {
      for (const pointId of this.pointsOfDo.get(doKey) ?? []) {
        const last = this.lastValues.get(pointId);
        if (last === undefined) continue;
        out.push({ deviceId: this.config.id, pointId, ts, value: last.value, quality: mapQuality(this.doQuality.get(doKey)), protocol: 'iec61850', ...(last.unit ? { unit: last.unit } : {}) });
      }
    }
    for (const smp of out) this.lastValues.set(smp.pointId, { value: smp.value, ...(smp.unit ? { unit: smp.unit } : {}) });
    if (out.length > 0) this.hooks.onSamples(out);
  }

  /** Reads the configured (non-report, non-control) points in one request per device. */
  private async poll(): Promise<void> {
    const c = this.client;
    const polled = [...this.points.values()].filter((p) => (this.config.points ?? []).includes(p.config) && !p.config.control);
    if (!c || polled.length === 0) return;
    const t0 = Date.now();
    try {
      const results: AccessResult[] = await c.mms.read(polled.map((p) => ({ scope: 'domain', domain: p.domain, item: p.item })));
      const now = Date.now();
      const out: Iec61850Sample[] = [];
      for (let i = 0; i < polled.length; i++) {
        const p = polled[i] as ResolvedPoint;
        const r = results[i];
        if (!r || r.type === 'failure') {
          out.push({ deviceId: this.config.id, pointId: p.descriptor.pointId, ts: now, value: null, quality: { status: 'invalid', flags: ['device-exception'], raw: { dataAccessError: r?.type === 'failure' ? r.error : -1 } }, protocol: 'iec61850' });
          continue;
        }
        if (r.type === 'structure') {
          const parts = splitDo(r, await this.typeOf(p.domain, p.item));
          out.push(this.sample(p, parts.value, parts.q, parts.time ?? now));
        } else out.push(this.sample(p, r, this.doQuality.get(`${p.domain}/${p.item.split('$').slice(0, 3).join('$')}`), now));
      }
      this.hooks.onPoll?.(this.config.id, (Date.now() - t0) / 1000, true);
      this.hooks.onSamples(out);
    } catch (e) {
      this.hooks.onPoll?.(this.config.id, (Date.now() - t0) / 1000, false);
      if (isEnergyMeshError(e)) this.hooks.onError?.(this.config.id, e);
    }
  }

  async execute(cmd: Iec61850Command): Promise<Iec61850CommandResult> {
    const base = { commandId: cmd.id, deviceId: cmd.deviceId, pointId: cmd.pointId, issuedAt: cmd.issuedAt };
    const done = (status: Iec61850CommandResult['status'], error?: Iec61850CommandResult['error']): Iec61850CommandResult => ({ ...base, status, completedAt: Date.now(), ...(error ? { error } : {}) });
    const p = this.points.get(cmd.pointId);
    if (!p || !p.descriptor.writable) return done('rejected', { code: p ? 'POINT_NOT_WRITABLE' : 'UNKNOWN_POINT', message: `point ${cmd.pointId} cannot be commanded` });
    const c = this.client;
    if (!c) return done('failed', { code: 'NOT_CONNECTED', message: `device ${cmd.deviceId} is not connected` });
    try {
      if (p.config.control) {
        const ref = `${p.domain}/${p.item.replace('$CO$', '.').replace(/\$/g, '.')}`;
        const timeout = new Promise<ControlResult>((resolve) => {
          const t = setTimeout(() => resolve({ ok: false, model: 'status-only', stage: 'termination', termination: 'timeout' }), cmd.timeoutMs);
          t.unref();
        });
        const r = await Promise.race([c.operate(ref, cmd.value as boolean | number, { originIdent: this.config.originIdent ?? 'energymesh', terminationTimeoutMs: cmd.timeoutMs }), timeout]);
        if (r.ok) return done('succeeded');
        const details: Record<string, unknown> = { model: r.model, stage: r.stage };
        if (r.dataAccessError !== undefined) details['dataAccessError'] = r.dataAccessError;
        if (r.lastApplError) details['addCause'] = r.lastApplError.addCause;
        if (r.termination) details['termination'] = r.termination;
        if (r.termination === 'timeout') return done('timeout', { code: 'TIMEOUT', message: 'no CommandTermination in time', details });
        return done('failed', { code: 'DEVICE_EXCEPTION', message: `control ${r.stage ?? 'operate'} refused`, details });
      }
      const t = await c.typeOf(`${p.domain}/${p.item}`);
      await c.write(`${p.domain}/${p.item}`, undefined, coerce(t, cmd.value));
      return done('succeeded');
    } catch (e) {
      const err = isEnergyMeshError(e) ? e : new EnergyMeshError('INTERNAL', String(e));
      return done(err.code === 'TIMEOUT' ? 'timeout' : 'failed', { code: err.code, message: err.message, details: { ...err.details } });
    }
  }
}

/** Drives every configured IEC 61850 device. */
export class Iec61850Driver {
  private readonly runners = new Map<string, DeviceRunner>();

  constructor(devices: Iec61850DeviceConfig[], private readonly hooks: Iec61850DriverHooks) {
    for (const d of devices) {
      if (this.runners.has(d.id)) throw new EnergyMeshError('CONFIG_INVALID', `iec61850: duplicate device id ${d.id}`);
      this.runners.set(d.id, new DeviceRunner(d, hooks));
    }
  }

  devices(): { deviceId: string; description: string; points: Iec61850PointDescriptor[] }[] {
    return [...this.runners.values()].map((r) => ({ deviceId: r.config.id, description: `IEC 61850 MMS ${r.config.host}:${r.config.port ?? 102}`, points: r.descriptors() }));
  }

  deviceStatus(): Iec61850DeviceStatus[] {
    return [...this.runners.values()].map((r) => r.deviceStatus());
  }

  start(): void {
    for (const r of this.runners.values()) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
  }

  execute(cmd: Iec61850Command): Promise<Iec61850CommandResult> {
    const r = this.runners.get(cmd.deviceId);
    if (!r) {
      return Promise.resolve({ commandId: cmd.id, deviceId: cmd.deviceId, pointId: cmd.pointId, issuedAt: cmd.issuedAt, completedAt: Date.now(), status: 'rejected', error: { code: 'UNKNOWN_DEVICE', message: `no IEC 61850 device ${cmd.deviceId}` } });
    }
    return r.execute(cmd);
  }
}
