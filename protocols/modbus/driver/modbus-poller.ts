/**
 * The Modbus driver layer: devices with poll groups, each group polled on its own interval over a shared
 * session per endpoint; register data decoded into samples handed over in batches (one batch per device
 * and poll); setpoint and coil writes; SunSpec discovery. Standalone (no core imports but errors).
 *
 * Policy: nothing throws out of polling. A failed read degrades its points: quality invalid with flags
 * `device-exception` (raw.modbusException = code), `timeout`, `comm-lost` (connection down) or
 * `bad-response` (malformed, wrong unit or transaction id); the other devices keep their rate. A device
 * is online while all its reads succeed, degraded while some fail, offline while none is answered.
 * Writes never throw either: they resolve to a WriteOutcome.
 */
import { EnergyMeshError, errorMessage, isEnergyMeshError } from '../../../core/errors.ts';
import {
  decodeRegisters,
  encodeBit,
  encodeRegisters,
  registerCount,
  type RegisterLayout,
  type RegisterType,
} from '../codec/register-codec.ts';
import { applySunSpecScaleFactor, IDENTITY_SCALING, makeScaling, removeSunSpecScaleFactor, toEngineering, toRaw, type Scaling } from '../codec/scaling.ts';
import { isBitTable, planReads, splitAtGaps, type ModbusTable, type ReadBlock } from '../plan/read-planner.ts';
import { ModbusSession, transportKey, type BackoffOptions } from '../session/modbus-session.ts';
import { describeSunSpecMap, discoverSunSpec, readModelData, sunspecPoints, type SunSpecMap } from '../sunspec/sunspec-discovery.ts';
import type {
  ModbusDeviceConfig,
  ModbusDeviceStatus,
  ModbusPointConfig,
  ModbusPointInfo,
  ModbusQuality,
  ModbusSample,
  WriteOutcome,
} from './modbus-config.ts';

export interface ModbusPollerOptions {
  devices: ModbusDeviceConfig[];
  /** Receives each poll's samples (one array per device and poll; the poller does not reuse it). */
  onSamples(samples: ModbusSample[]): void;
  onDeviceStatus?(status: ModbusDeviceStatus): void;
  /** One completed poll of a device's group: latency and whether every read succeeded. */
  onPoll?(deviceId: string, seconds: number, ok: boolean): void;
  onError?(deviceId: string, error: EnergyMeshError): void;
  /** The point list of a device changed (SunSpec discovery finished). */
  onDidChangePoints?(deviceId: string): void;
  /** Spread the first polls of the devices over their interval (default true). */
  spreadStart?: boolean;
  /** Retry of a failed SunSpec discovery; default 1 s doubling to 30 s. */
  discoveryRetry?: BackoffOptions;
}

interface CompiledPoint {
  id: string;
  table: ModbusTable;
  address: number;
  /** Registers, or bits for coil/discrete. */
  count: number;
  bits: boolean;
  layout: RegisterLayout;
  scaling: Scaling;
  identity: boolean;
  unit: string | undefined;
  writable: boolean;
  min: number | undefined;
  max: number | undefined;
  writeMultiple: boolean;
  emit: boolean;
  notImplemented: number | undefined;
  sfId: string | undefined;
  sfPoint: CompiledPoint | undefined;
  isSf: boolean;
  /** Latest raw value of a scale-factor point. */
  sfValue: number | undefined;
  group: string;
  kind: ModbusPointInfo['kind'];
  description: string | undefined;
}

interface GroupRuntime {
  name: string;
  intervalMs: number;
  blocks: ReadBlock<CompiledPoint>[];
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  nextAt: number;
  health: 'ok' | 'partial' | 'down' | 'unknown';
  reason: string | undefined;
  /** Blocks already split after an ILLEGAL DATA ADDRESS. */
  split: Set<ReadBlock<CompiledPoint>>;
  polls: number;
  overruns: number;
}

interface DeviceRuntime {
  id: string;
  cfg: ModbusDeviceConfig;
  unitId: number;
  timeoutMs: number | undefined;
  session: ModbusSession;
  configured: ModbusPointConfig[];
  discovered: ModbusPointConfig[];
  points: CompiledPoint[];
  byId: Map<string, CompiledPoint>;
  groups: GroupRuntime[];
  status: ModbusDeviceStatus;
  sunspec: SunSpecMap | undefined;
  discoveryTimer: NodeJS.Timeout | undefined;
  discoveryAttempts: number;
  discovering: boolean;
}

const GOOD: ModbusQuality = Object.freeze({ status: 'good', flags: Object.freeze([]) as unknown as string[] }) as ModbusQuality;
const NOT_IMPLEMENTED: ModbusQuality = Object.freeze({
  status: 'invalid',
  flags: Object.freeze(['not-implemented']) as unknown as string[],
}) as ModbusQuality;
const BAD_SCALE_FACTOR: ModbusQuality = Object.freeze({
  status: 'invalid',
  flags: Object.freeze(['bad-scale-factor']) as unknown as string[],
}) as ModbusQuality;
const NOT_A_NUMBER: ModbusQuality = Object.freeze({
  status: 'invalid',
  flags: Object.freeze(['not-a-number']) as unknown as string[],
}) as ModbusQuality;

const LINK_CODES = new Set(['NOT_CONNECTED', 'CONNECTION_CLOSED', 'CONNECTION_REFUSED']);
const BAD_RESPONSE_CODES = new Set(['FRAME_MALFORMED', 'FRAME_TRUNCATED', 'CRC_MISMATCH', 'UNEXPECTED_RESPONSE']);

/** The quality a failed read gives its points. */
export function qualityForError(err: EnergyMeshError): ModbusQuality {
  const raw: Record<string, string | number | boolean> = { errorCode: err.code };
  if (err.code === 'DEVICE_EXCEPTION') {
    const code = err.details.exceptionCode;
    if (typeof code === 'number') raw.modbusException = code;
    return { status: 'invalid', flags: ['device-exception'], raw };
  }
  if (err.code === 'TIMEOUT') return { status: 'invalid', flags: err.details.suspended ? ['timeout', 'comm-lost'] : ['timeout'], raw };
  if (LINK_CODES.has(err.code)) return { status: 'invalid', flags: ['comm-lost'], raw };
  if (BAD_RESPONSE_CODES.has(err.code)) return { status: 'invalid', flags: ['bad-response'], raw };
  return { status: 'invalid', flags: ['comm-lost'], raw };
}

function asError(e: unknown): EnergyMeshError {
  if (isEnergyMeshError(e)) return e;
  return new EnergyMeshError('INTERNAL', errorMessage(e), { cause: e });
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function configError(deviceId: string, message: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('CONFIG_INVALID', `device ${deviceId}: ${message}`, { details: { deviceId, ...details } });
}

/** Polls Modbus devices and writes to them. */
export class ModbusPoller {
  private readonly options: ModbusPollerOptions;
  private readonly sessions = new Map<string, ModbusSession>();
  private readonly devicesById = new Map<string, DeviceRuntime>();
  private readonly sessionDevices = new Map<ModbusSession, DeviceRuntime[]>();
  private started = false;
  private stopped = false;

  constructor(options: ModbusPollerOptions) {
    this.options = options;
    for (const cfg of options.devices) {
      if (this.devicesById.has(cfg.id)) throw configError(cfg.id, 'duplicate device id');
      const unitId = cfg.unitId ?? 1;
      if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) throw configError(cfg.id, `unit id ${unitId} is outside 0..255`);
      const key = transportKey(cfg.transport);
      let session = this.sessions.get(key);
      if (!session) {
        const c = cfg.connection ?? {};
        session = new ModbusSession({
          transport: cfg.transport,
          requestTimeoutMs: cfg.timeoutMs ?? 1000,
          connectTimeoutMs: c.connectTimeoutMs,
          maxInFlight: c.maxInFlight,
          reconnect: c.reconnect,
          unitBackoff: c.unitBackoff,
          silentTimeoutsBeforeReconnect: c.silentTimeoutsBeforeReconnect,
        });
        this.sessions.set(key, session);
        this.sessionDevices.set(session, []);
      }
      for (const other of this.sessionDevices.get(session)!) {
        if (other.unitId === unitId) throw configError(cfg.id, `shares ${key} unit ${unitId} with device ${other.id}`);
      }
      const groups = (cfg.pollGroups && cfg.pollGroups.length > 0 ? cfg.pollGroups : [{ name: 'default', intervalMs: 1000 }]).map(
        (g): GroupRuntime => {
          if (!Number.isFinite(g.intervalMs) || g.intervalMs < 10) throw configError(cfg.id, `poll group ${g.name}: intervalMs must be ≥ 10`);
          return {
            name: g.name,
            intervalMs: g.intervalMs,
            blocks: [],
            timer: undefined,
            running: false,
            nextAt: 0,
            health: 'unknown',
            reason: undefined,
            split: new Set(),
            polls: 0,
            overruns: 0,
          };
        },
      );
      if (new Set(groups.map((g) => g.name)).size !== groups.length) throw configError(cfg.id, 'duplicate poll group names');
      const dev: DeviceRuntime = {
        id: cfg.id,
        cfg,
        unitId,
        timeoutMs: cfg.timeoutMs,
        session,
        configured: cfg.points ?? [],
        discovered: [],
        points: [],
        byId: new Map(),
        groups,
        status: { deviceId: cfg.id, state: 'unknown', since: Date.now() },
        sunspec: undefined,
        discoveryTimer: undefined,
        discoveryAttempts: 0,
        discovering: false,
      };
      this.compile(dev);
      this.devicesById.set(cfg.id, dev);
      this.sessionDevices.get(session)!.push(dev);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Compilation and planning

  private compile(dev: DeviceRuntime): void {
    const merged = new Map<string, ModbusPointConfig>();
    for (const p of dev.discovered) merged.set(p.id, p);
    for (const p of dev.configured) merged.set(p.id, p); // configured points override discovered ones
    const seen = new Set<string>();
    for (const p of dev.configured) {
      if (seen.has(p.id)) throw configError(dev.id, `duplicate point id ${p.id}`);
      seen.add(p.id);
    }
    const groupNames = new Set(dev.groups.map((g) => g.name));
    const firstGroup = dev.groups[0]!.name;
    const points: CompiledPoint[] = [];
    for (const p of merged.values()) points.push(this.compilePoint(dev, p, groupNames, firstGroup));
    const byId = new Map(points.map((p) => [p.id, p]));
    for (const p of points) {
      if (p.sfId) {
        const sf = byId.get(p.sfId);
        if (!sf) throw configError(dev.id, `point ${p.id}: scale-factor point ${p.sfId} does not exist`);
        if (sf.bits || (sf.layout.type !== 'i16' && sf.layout.type !== 'u16')) {
          throw configError(dev.id, `point ${p.id}: scale-factor point ${p.sfId} must be an i16 register`);
        }
        if (sf.group !== p.group) sf.group = p.group; // read together so values and factors match
        sf.isSf = true;
        p.sfPoint = sf;
      }
    }
    const old = dev.byId;
    for (const p of points) {
      const before = old.get(p.id);
      if (before?.isSf && before.sfValue !== undefined) p.sfValue = before.sfValue;
    }
    dev.points = points;
    dev.byId = byId;
    const planOptions = {
      maxRegisters: dev.cfg.maxRegistersPerRead,
      maxBits: dev.cfg.maxBitsPerRead,
      maxGapRegisters: dev.cfg.maxGapRegisters ?? 8,
      maxGapBits: dev.cfg.maxGapBits ?? 64,
    };
    for (const g of dev.groups) {
      const inGroup = points.filter((p) => p.group === g.name);
      try {
        g.blocks = planReads(inGroup, planOptions);
      } catch (e) {
        throw configError(dev.id, errorMessage(e), { group: g.name });
      }
      g.split.clear();
    }
  }

  private compilePoint(dev: DeviceRuntime, p: ModbusPointConfig, groups: Set<string>, firstGroup: string): CompiledPoint {
    if (typeof p.id !== 'string' || p.id.length === 0) throw configError(dev.id, 'a point has no id');
    const tables: ModbusTable[] = ['holding', 'input', 'coil', 'discrete'];
    if (!tables.includes(p.table)) throw configError(dev.id, `point ${p.id}: unknown table ${String(p.table)}`);
    const bits = isBitTable(p.table);
    const group = p.pollGroup ?? firstGroup;
    if (!groups.has(group)) throw configError(dev.id, `point ${p.id}: unknown poll group ${group}`);
    if (p.writable && (p.table === 'input' || p.table === 'discrete')) {
      throw configError(dev.id, `point ${p.id}: ${p.table} points are read-only`);
    }
    const type: RegisterType = p.type ?? 'u16';
    const layout: RegisterLayout = { type, byteOrder: p.byteOrder ?? 'big', wordOrder: p.wordOrder ?? 'big' };
    if (type === 'string') layout.length = p.length;
    if (type === 'bit') {
      const bit = p.bit ?? 0;
      if (!Number.isInteger(bit) || bit < 0 || bit > 15) throw configError(dev.id, `point ${p.id}: bit must be 0..15`);
      layout.bit = bit;
    }
    let count = 1;
    if (!bits) {
      try {
        count = registerCount(layout);
      } catch (e) {
        throw configError(dev.id, `point ${p.id}: ${errorMessage(e)}`);
      }
    }
    let scaling = IDENTITY_SCALING;
    try {
      scaling = makeScaling(p.scale ?? 1, p.offset ?? 0);
    } catch (e) {
      throw configError(dev.id, `point ${p.id}: ${errorMessage(e)}`);
    }
    const kind: ModbusPointInfo['kind'] =
      p.kind ?? (bits || type === 'bit' ? 'binary' : type === 'string' ? 'string' : 'analog');
    return {
      id: p.id,
      table: p.table,
      address: p.address,
      count,
      bits,
      layout,
      scaling,
      identity: scaling.scale === 1 && scaling.offset === 0,
      unit: p.unit,
      writable: p.writable === true,
      min: p.min,
      max: p.max,
      writeMultiple: p.writeMultiple === true,
      emit: p.emit !== false,
      notImplemented: p.notImplementedValue,
      sfId: p.scaleFactorPoint,
      sfPoint: undefined,
      isSf: false,
      sfValue: undefined,
      group,
      kind,
      description: p.description,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  /** Opens the connections and starts polling (and SunSpec discovery). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const [session, devices] of this.sessionDevices) {
      session.onDidChangeState(({ state, error }) => {
        if (this.stopped) return;
        if (state === 'connecting' && error) {
          for (const dev of devices) {
            for (const g of dev.groups) {
              g.health = 'down';
              g.reason = error.message;
            }
            this.setStatus(dev, 'offline', error.message);
          }
        }
        if (state === 'open') {
          for (const dev of devices) if (dev.cfg.sunspec?.enabled && !dev.sunspec) this.scheduleDiscovery(dev, 0);
        }
      });
      session.start();
    }
    for (const dev of this.devicesById.values()) {
      for (const g of dev.groups) this.schedule(dev, g);
    }
  }

  /** Stops polling and closes the connections. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const dev of this.devicesById.values()) {
      clearTimeout(dev.discoveryTimer);
      for (const g of dev.groups) clearTimeout(g.timer);
    }
    await Promise.all([...this.sessions.values()].map((s) => s.stop()));
  }

  private schedule(dev: DeviceRuntime, g: GroupRuntime): void {
    if (this.stopped) return;
    const now = Date.now();
    if (g.nextAt === 0) {
      const phase = this.options.spreadStart === false ? 0 : hash(`${dev.id}/${g.name}`) % g.intervalMs;
      g.nextAt = now + phase;
    } else {
      g.nextAt += g.intervalMs;
      if (g.nextAt <= now) {
        const missed = Math.floor((now - g.nextAt) / g.intervalMs) + 1;
        g.overruns += missed;
        g.nextAt += missed * g.intervalMs;
      }
    }
    g.timer = setTimeout(() => {
      this.schedule(dev, g);
      void this.poll(dev, g);
    }, g.nextAt - now);
  }

  // ------------------------------------------------------------------------------------------
  // Polling

  private async poll(dev: DeviceRuntime, g: GroupRuntime): Promise<void> {
    if (g.running || this.stopped || g.blocks.length === 0) {
      if (g.running) g.overruns++;
      return;
    }
    // Before the first connection attempt has finished there is nothing to report yet.
    if (!dev.session.isOpen && dev.session.lastError === undefined) return;
    g.running = true;
    try {
      await this.pollOnce(dev, g);
    } catch (e) {
      this.options.onError?.(dev.id, asError(e));
    } finally {
      g.running = false;
    }
  }

  private async pollOnce(dev: DeviceRuntime, g: GroupRuntime): Promise<void> {
    const started = performance.now();
    const blocks = g.blocks;
    const n = blocks.length;
    const results = new Array<Buffer | EnergyMeshError>(n);
    const stamps = new Array<number>(n);
    let ok = 0;
    let answered = 0;
    let lastError: EnergyMeshError | undefined;
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      try {
        results[i] = isBitTable(b.table)
          ? await dev.session.readBits(dev.unitId, b.table as 'coil' | 'discrete', b.address, b.count, dev.timeoutMs)
          : await dev.session.readRegisters(dev.unitId, b.table as 'holding' | 'input', b.address, b.count, dev.timeoutMs);
        ok++;
        answered++;
      } catch (e) {
        const err = asError(e);
        results[i] = err;
        lastError = err;
        if (err.code === 'DEVICE_EXCEPTION' || BAD_RESPONSE_CODES.has(err.code)) answered++;
        this.options.onError?.(dev.id, err);
        if (err.code === 'DEVICE_EXCEPTION' && err.details.exceptionCode === 2) this.splitBlock(g, b);
      }
      stamps[i] = Date.now();
      if (this.stopped) return;
    }
    // Scale factors first, so values read in the same poll use them.
    for (let i = 0; i < n; i++) {
      const r = results[i];
      if (!Buffer.isBuffer(r)) continue;
      const b = blocks[i]!;
      for (const p of b.fields) {
        if (!p.isSf) continue;
        const v = decodeRegisters(r, p.address - b.address, p.layout);
        p.sfValue = typeof v === 'number' && v !== -0x8000 && v >= -10 && v <= 10 ? v : undefined;
      }
    }
    const samples: ModbusSample[] = [];
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      const r = results[i]!;
      const ts = stamps[i]!;
      if (Buffer.isBuffer(r)) {
        for (const p of b.fields) if (p.emit) samples.push(this.decodeSample(dev, p, r, p.address - b.address, ts));
      } else {
        const quality = qualityForError(r);
        for (const p of b.fields) {
          if (!p.emit) continue;
          const s: ModbusSample = { deviceId: dev.id, pointId: p.id, ts, value: null, quality, protocol: 'modbus' };
          if (p.unit !== undefined) s.unit = p.unit;
          samples.push(s);
        }
      }
    }
    g.polls++;
    g.health = ok === n ? 'ok' : answered === 0 ? 'down' : 'partial';
    g.reason = lastError?.message;
    if (samples.length > 0) this.options.onSamples(samples);
    this.options.onPoll?.(dev.id, (performance.now() - started) / 1000, ok === n);
    this.updateStatus(dev);
  }

  private decodeSample(dev: DeviceRuntime, p: CompiledPoint, data: Buffer, offset: number, ts: number): ModbusSample {
    let value: number | boolean | string | null;
    let quality = GOOD;
    if (p.bits) {
      value = ((data[offset >> 3]! >> (offset & 7)) & 1) === 1;
    } else {
      const raw = decodeRegisters(data, offset, p.layout);
      if (typeof raw !== 'number') value = raw;
      else if (p.notImplemented !== undefined && raw === p.notImplemented) {
        value = null;
        quality = NOT_IMPLEMENTED;
      } else if (p.sfPoint) {
        const sf = p.sfPoint.sfValue;
        if (sf === undefined) {
          value = null;
          quality = BAD_SCALE_FACTOR;
        } else value = applySunSpecScaleFactor(raw, sf);
      } else if (Number.isNaN(raw)) {
        value = null;
        quality = NOT_A_NUMBER;
      } else value = p.identity ? raw : toEngineering(raw, p.scaling);
    }
    const s: ModbusSample = { deviceId: dev.id, pointId: p.id, ts, value, quality, protocol: 'modbus' };
    if (p.unit !== undefined) s.unit = p.unit;
    return s;
  }

  private splitBlock(g: GroupRuntime, b: ReadBlock<CompiledPoint>): void {
    if (g.split.has(b) || b.fields.length < 2) return;
    const parts = splitAtGaps(b);
    if (parts.length < 2) return;
    for (const part of parts) g.split.add(part);
    const i = g.blocks.indexOf(b);
    if (i >= 0) g.blocks = [...g.blocks.slice(0, i), ...parts, ...g.blocks.slice(i + 1)];
  }

  private updateStatus(dev: DeviceRuntime): void {
    const polled = dev.groups.filter((g) => g.health !== 'unknown');
    if (polled.length === 0) return;
    if (polled.every((g) => g.health === 'ok')) this.setStatus(dev, 'online');
    else if (polled.every((g) => g.health === 'down')) this.setStatus(dev, 'offline', polled.find((g) => g.reason)?.reason);
    else this.setStatus(dev, 'degraded', polled.find((g) => g.health !== 'ok')?.reason);
  }

  private setStatus(dev: DeviceRuntime, state: ModbusDeviceStatus['state'], reason?: string): void {
    if (dev.status.state === state) return;
    dev.status = { deviceId: dev.id, state, since: Date.now() };
    if (reason !== undefined && state !== 'online') dev.status.reason = reason;
    this.options.onDeviceStatus?.({ ...dev.status });
  }

  // ------------------------------------------------------------------------------------------
  // SunSpec

  private scheduleDiscovery(dev: DeviceRuntime, delayMs: number): void {
    if (this.stopped || dev.discovering || dev.discoveryTimer) return;
    dev.discoveryTimer = setTimeout(() => {
      dev.discoveryTimer = undefined;
      void this.discover(dev);
    }, delayMs);
  }

  private async discover(dev: DeviceRuntime): Promise<void> {
    const cfg = dev.cfg.sunspec;
    if (!cfg?.enabled || dev.sunspec || this.stopped || dev.discovering) return;
    if (!dev.session.isOpen) return; // rescheduled when the session opens
    dev.discovering = true;
    const read = (address: number, count: number): Promise<Buffer> =>
      dev.session.readRegisters(dev.unitId, 'holding', address, count, dev.timeoutMs);
    try {
      const map = await discoverSunSpec(read, cfg.baseAddress !== undefined ? [cfg.baseAddress] : undefined);
      const data = new Map<(typeof map.models)[number], Buffer>();
      if (cfg.dropNotImplemented !== false) {
        for (const m of map.models) if (m.def) data.set(m, await readModelData(read, m));
      }
      if (this.stopped) return;
      dev.discovered = sunspecPoints(map, { pollGroup: cfg.pollGroup, data: cfg.dropNotImplemented !== false ? data : undefined });
      dev.sunspec = map;
      this.compile(dev);
      dev.discoveryAttempts = 0;
      this.options.onDidChangePoints?.(dev.id);
    } catch (e) {
      const err = asError(e);
      this.options.onError?.(dev.id, err);
      if (err.code === 'CONFIG_INVALID') return;
      const o = this.options.discoveryRetry ?? {};
      const delay = Math.min(o.maxMs ?? 30_000, (o.initialMs ?? 1000) * (o.factor ?? 2) ** dev.discoveryAttempts);
      dev.discoveryAttempts++;
      dev.discovering = false;
      this.scheduleDiscovery(dev, delay);
      return;
    } finally {
      dev.discovering = false;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Writes

  /** Writes an engineering value to a point. Never throws. */
  async write(deviceId: string, pointId: string, value: number | boolean | string, timeoutMs?: number): Promise<WriteOutcome> {
    const dev = this.devicesById.get(deviceId);
    if (!dev) return rejected(new EnergyMeshError('UNKNOWN_DEVICE', `no Modbus device ${deviceId}`, { details: { deviceId } }));
    const p = dev.byId.get(pointId);
    if (!p) return rejected(new EnergyMeshError('UNKNOWN_POINT', `device ${deviceId} has no point ${pointId}`, { details: { deviceId, pointId } }));
    if (!p.writable) {
      return rejected(new EnergyMeshError('POINT_NOT_WRITABLE', `point ${pointId} of ${deviceId} is not writable`, { details: { deviceId, pointId } }));
    }
    const t = timeoutMs ?? dev.timeoutMs;
    const s = dev.session;
    let written: WriteOutcome['written'];
    try {
      if (p.bits) {
        const b = toBoolean(value);
        if (p.writeMultiple) {
          await s.writeCoils(dev.unitId, p.address, [b], t);
          written = { table: p.table, address: p.address, functionCode: 15, values: [b] };
        } else {
          await s.writeCoil(dev.unitId, p.address, b, t);
          written = { table: p.table, address: p.address, functionCode: 5, values: [b] };
        }
      } else {
        let regs: number[];
        if (p.layout.type === 'bit') {
          const current = await s.readRegisters(dev.unitId, 'holding', p.address, 1, t);
          regs = [encodeBit(current.readUInt16BE(0), toBoolean(value), p.layout)];
        } else if (p.layout.type === 'string') {
          regs = encodeRegisters(String(value), p.layout);
        } else {
          const eng = toNumber(value);
          if ((p.min !== undefined && eng < p.min) || (p.max !== undefined && eng > p.max)) {
            throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `${eng} is outside ${p.min ?? '-∞'}..${p.max ?? '∞'} for ${pointId}`, {
              details: { value: eng, min: p.min, max: p.max },
            });
          }
          let raw: number;
          if (p.sfPoint) {
            let sf = p.sfPoint.sfValue;
            if (sf === undefined) {
              const r = await s.readRegisters(dev.unitId, 'holding', p.sfPoint.address, 1, t);
              const v = r.readInt16BE(0);
              if (v === -0x8000 || v < -10 || v > 10) {
                throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `scale factor ${p.sfPoint.id} is not usable (${v})`, { details: { sf: v } });
              }
              sf = p.sfPoint.sfValue = v;
            }
            raw = toRaw(removeSunSpecScaleFactor(eng, sf), IDENTITY_SCALING, p.layout.type);
          } else raw = toRaw(eng, p.scaling, p.layout.type);
          regs = encodeRegisters(raw, p.layout);
        }
        if (regs.length === 1 && !p.writeMultiple) {
          await s.writeRegister(dev.unitId, p.address, regs[0]!, t);
          written = { table: p.table, address: p.address, functionCode: 6, values: regs };
        } else {
          await s.writeRegisters(dev.unitId, p.address, regs, t);
          written = { table: p.table, address: p.address, functionCode: 16, values: regs };
        }
      }
    } catch (e) {
      const err = asError(e);
      const status =
        err.code === 'TIMEOUT'
          ? 'timeout'
          : err.code === 'VALUE_OUT_OF_RANGE' || err.code === 'INVALID_ARGUMENT'
            ? 'rejected'
            : 'failed';
      return { status, error: { code: err.code, message: err.message, details: { ...err.details } } };
    }
    // Show the new value soon.
    const g = dev.groups.find((x) => x.name === p.group);
    if (g && !this.stopped) setTimeout(() => void this.poll(dev, g), 0);
    return { status: 'succeeded', written };
  }

  /** Reads one point now (outside the poll schedule). Never throws: failures give an invalid sample. */
  async read(deviceId: string, pointId: string, timeoutMs?: number): Promise<ModbusSample> {
    const dev = this.devicesById.get(deviceId);
    const p = dev?.byId.get(pointId);
    if (!dev || !p) {
      return {
        deviceId,
        pointId,
        ts: Date.now(),
        value: null,
        quality: { status: 'invalid', flags: ['bad-config'], raw: { errorCode: dev ? 'UNKNOWN_POINT' : 'UNKNOWN_DEVICE' } },
        protocol: 'modbus',
      };
    }
    const t = timeoutMs ?? dev.timeoutMs;
    try {
      if (p.sfPoint) {
        const r = await dev.session.readRegisters(dev.unitId, 'holding', p.sfPoint.address, 1, t);
        const v = r.readInt16BE(0);
        p.sfPoint.sfValue = v === -0x8000 || v < -10 || v > 10 ? undefined : v;
      }
      const data = p.bits
        ? await dev.session.readBits(dev.unitId, p.table as 'coil' | 'discrete', p.address, 1, t)
        : await dev.session.readRegisters(dev.unitId, p.table as 'holding' | 'input', p.address, p.count, t);
      return this.decodeSample(dev, p, data, 0, Date.now());
    } catch (e) {
      const s: ModbusSample = { deviceId, pointId, ts: Date.now(), value: null, quality: qualityForError(asError(e)), protocol: 'modbus' };
      if (p.unit !== undefined) s.unit = p.unit;
      return s;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Introspection

  deviceIds(): string[] {
    return [...this.devicesById.keys()];
  }

  points(deviceId: string): ModbusPointInfo[] {
    const dev = this.devicesById.get(deviceId);
    if (!dev) return [];
    return dev.points
      .filter((p) => p.emit)
      .map((p): ModbusPointInfo => {
        const info: ModbusPointInfo = {
          deviceId,
          pointId: p.id,
          kind: p.kind,
          writable: p.writable,
          address: { table: p.table, address: p.address, unitId: dev.unitId, type: p.bits ? 'bool' : p.layout.type, registers: p.count },
        };
        if (p.unit !== undefined) info.unit = p.unit;
        if (!p.identity) {
          info.scale = p.scaling.scale;
          info.offset = p.scaling.offset;
        }
        if (p.description !== undefined) info.description = p.description;
        return info;
      });
  }

  describe(deviceId: string): string {
    const dev = this.devicesById.get(deviceId);
    if (!dev) return '';
    const t = dev.cfg.transport;
    const where = t.type === 'rtu' ? `rtu ${t.path}` : `${t.type} ${t.host}:${t.port}`;
    const parts = [`${where} unit ${dev.unitId}`];
    if (dev.sunspec) parts.push(describeSunSpecMap(dev.sunspec));
    if (dev.cfg.description) parts.unshift(dev.cfg.description);
    return parts.join('; ');
  }

  sunspecMap(deviceId: string): SunSpecMap | undefined {
    return this.devicesById.get(deviceId)?.sunspec;
  }

  deviceStatus(): ModbusDeviceStatus[] {
    return [...this.devicesById.values()].map((d) => ({ ...d.status }));
  }

  /** Poll counters per device and group (tests, metrics). */
  pollStats(deviceId: string): { group: string; polls: number; overruns: number; blocks: number }[] {
    const dev = this.devicesById.get(deviceId);
    return dev ? dev.groups.map((g) => ({ group: g.name, polls: g.polls, overruns: g.overruns, blocks: g.blocks.length })) : [];
  }

  /** The sessions (one per endpoint), for tests and metrics. */
  connections(): ModbusSession[] {
    return [...this.sessions.values()];
  }
}

function rejected(err: EnergyMeshError): WriteOutcome {
  return { status: 'rejected', error: { code: err.code, message: err.message, details: { ...err.details } } };
}

function toBoolean(v: number | boolean | string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === '1' || v === 'true' || v === 'on') return true;
  if (v === 0 || v === '0' || v === 'false' || v === 'off') return false;
  throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `${String(v)} is not a boolean`, { details: { value: v } });
}

function toNumber(v: number | boolean | string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `${v} is not a number`, { details: { value: v } });
  return n;
}
