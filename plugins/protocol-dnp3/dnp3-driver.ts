/**
 * The DNP3 ProtocolDriver: one MasterSession per configured outstation (over TCP), measurements →
 * Samples with normalized quality (raw DNP3 flags kept) and source time from events, Commands → CROB
 * (g12v1) or analog output (g41) controls, direct or select-before-operate, with their outcome.
 *
 * Policy: the driver never throws out of polling; a failing outstation degrades its own points'
 * quality (comm-lost) and device status while the other outstations keep being polled.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../core/plugin-api.ts';
import type {
  Command,
  CommandResult,
  DeviceDescriptor,
  DeviceStatus,
  DriverContext,
  Point,
  PointKind,
  ProtocolDriver,
  Sample,
} from '../../core/plugin-api.ts';
import type { PointType } from '../../protocols/dnp3/codec/object-library.ts';
import type { CommandObject } from '../../protocols/dnp3/codec/requests.ts';
import { ControlCode } from '../../protocols/dnp3/codec/requests.ts';
import { Dnp3Master } from '../../protocols/dnp3/master/master.ts';
import { loadSimulatorConfig } from '../../protocols/dnp3/simulator/simulator-config.ts';
import { Dnp3Simulator } from '../../protocols/dnp3/simulator/simulator.ts';
import type { MasterSession, MeasurementBatch } from '../../protocols/dnp3/master/master-session.ts';
import type { Measurement } from '../../protocols/dnp3/master/measurements.ts';
import { commLostQuality, dnp3Quality } from './dnp3-quality.ts';

export interface Dnp3ControlConfig {
  onCode?: 'LATCH_ON' | 'PULSE_ON' | 'CLOSE_PULSE_ON';
  offCode?: 'LATCH_OFF' | 'PULSE_OFF' | 'TRIP_PULSE_ON';
  onTimeMs?: number;
  offTimeMs?: number;
  analogVariation?: 1 | 2 | 3 | 4;
  mode?: 'direct' | 'select-operate';
}

export interface Dnp3PointConfig {
  id: string;
  type: PointType;
  index: number;
  unit?: string;
  scale?: number;
  offset?: number;
  description?: string;
  control?: Dnp3ControlConfig;
}

export interface Dnp3OutstationConfig {
  deviceId: string;
  host: string;
  port?: number;
  localAddress?: number;
  remoteAddress?: number;
  responseTimeoutMs?: number;
  taskRetries?: number;
  keepAliveMs?: number;
  reconnectDelayMs?: number;
  integrityPeriodMs?: number;
  eventPollPeriodMs?: number;
  unsolicited?: boolean;
  timeSync?: 'none' | 'lan' | 'nonlan';
  discoverPoints?: boolean;
  points?: Dnp3PointConfig[];
}

export interface Dnp3SimulatorConfig {
  configFile: string;
  host?: string;
  port?: number;
}

export interface Dnp3PluginConfig {
  outstations: Dnp3OutstationConfig[];
  /** Outstation simulators run in-process (demo/test convenience). */
  simulators?: Dnp3SimulatorConfig[];
}

const KIND: Record<PointType, PointKind> = {
  binaryInput: 'binary',
  doubleBitBinaryInput: 'enum',
  binaryOutputStatus: 'binary',
  counter: 'counter',
  frozenCounter: 'counter',
  analogInput: 'analog',
  analogOutputStatus: 'analog',
};

interface PointRuntime {
  cfg: Dnp3PointConfig;
  point: Point;
  last?: Sample;
}

interface DeviceRuntime {
  cfg: Dnp3OutstationConfig;
  session?: MasterSession;
  byKey: Map<string, PointRuntime>;
  byId: Map<string, PointRuntime>;
  status: DeviceStatus;
  timers: NodeJS.Timeout[];
  inFlight: Set<string>;
}

const key = (type: PointType, index: number): string => `${type}:${index}`;

export class Dnp3Driver implements ProtocolDriver {
  readonly protocol = 'dnp3';
  private readonly master = new Dnp3Master();
  private readonly runtimes = new Map<string, DeviceRuntime>();
  private ctx: DriverContext | undefined;
  private readonly simulators: Dnp3Simulator[] = [];

  constructor(private readonly config: Dnp3PluginConfig, readonly id = 'dnp3') {
    for (const o of config.outstations) {
      if (this.runtimes.has(o.deviceId)) throw new EnergyMeshError('CONFIG_INVALID', `protocol.dnp3: device ${o.deviceId} configured twice`);
      const rt: DeviceRuntime = { cfg: o, byKey: new Map(), byId: new Map(), status: { deviceId: o.deviceId, state: 'unknown', since: Date.now() }, timers: [], inFlight: new Set() };
      for (const p of o.points ?? []) {
        if (rt.byId.has(p.id)) throw new EnergyMeshError('CONFIG_INVALID', `protocol.dnp3: point ${o.deviceId}/${p.id} configured twice`);
        this.addPoint(rt, p);
      }
      this.runtimes.set(o.deviceId, rt);
    }
  }

  private addPoint(rt: DeviceRuntime, cfg: Dnp3PointConfig): PointRuntime {
    const point: Point = {
      deviceId: rt.cfg.deviceId,
      pointId: cfg.id,
      kind: KIND[cfg.type],
      writable: cfg.type === 'binaryOutputStatus' || cfg.type === 'analogOutputStatus',
      protocol: 'dnp3',
      address: { type: cfg.type, index: cfg.index },
      ...(cfg.unit !== undefined ? { unit: cfg.unit } : {}),
      ...(cfg.scale !== undefined ? { scale: cfg.scale } : {}),
      ...(cfg.offset !== undefined ? { offset: cfg.offset } : {}),
      ...(cfg.description !== undefined ? { description: cfg.description } : {}),
    };
    const pr: PointRuntime = { cfg, point };
    rt.byKey.set(key(cfg.type, cfg.index), pr);
    rt.byId.set(cfg.id, pr);
    return pr;
  }

  devices(): DeviceDescriptor[] {
    return [...this.runtimes.values()].map((rt) => ({
      deviceId: rt.cfg.deviceId,
      protocol: 'dnp3',
      description: `dnp3 ${rt.cfg.host}:${rt.cfg.port ?? 20000} outstation ${rt.cfg.remoteAddress ?? 1024}`,
      points: [...rt.byId.values()].map((p) => p.point),
    }));
  }

  deviceStatus(): DeviceStatus[] {
    return [...this.runtimes.values()].map((rt) => rt.status);
  }

  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
    for (const s of this.config.simulators ?? []) {
      const cfg = loadSimulatorConfig(s.configFile);
      if (s.host !== undefined) cfg.listen.host = s.host;
      if (s.port !== undefined) cfg.listen.port = s.port;
      const sim = new Dnp3Simulator(cfg);
      const port = await sim.start();
      this.simulators.push(sim);
      ctx.logger.info({ port, file: s.configFile }, 'dnp3 outstation simulator listening');
    }
    for (const rt of this.runtimes.values()) {
      const o = rt.cfg;
      const session = this.master.addTcpOutstation({
        id: o.deviceId,
        host: o.host,
        port: o.port ?? 20000,
        localAddress: o.localAddress ?? 1,
        remoteAddress: o.remoteAddress ?? 1024,
        responseTimeoutMs: o.responseTimeoutMs ?? 5000,
        taskRetries: o.taskRetries ?? 0,
        keepAliveMs: o.keepAliveMs ?? 60_000,
        reconnectDelayMs: o.reconnectDelayMs ?? 1000,
        timeSyncMode: o.timeSync ?? 'none',
        unsolicitedClasses: o.unsolicited ? [1, 2, 3] : [],
        disableUnsolicitedOnStartup: !o.unsolicited,
      });
      rt.session = session;
      session.onDidReceiveMeasurements((b) => this.onMeasurements(rt, b));
      session.onDidChangeState((s) => this.onState(rt, s));
      session.onDidError((e) => ctx.metrics.countError(o.deviceId, e.code));
      this.every(rt, o.eventPollPeriodMs ?? 5000, 'events', () => session.poll([1, 2, 3]));
      this.every(rt, o.integrityPeriodMs ?? 3_600_000, 'integrity', () => session.integrityPoll());
    }
  }

  private every(rt: DeviceRuntime, periodMs: number, name: string, fn: () => Promise<unknown>): void {
    if (periodMs <= 0) return;
    rt.timers.push(
      setInterval(() => {
        if (rt.inFlight.has(name) || rt.session?.state !== 'online') return;
        rt.inFlight.add(name);
        const started = performance.now();
        fn().then(
          () => this.ctx?.metrics.observePoll(rt.cfg.deviceId, (performance.now() - started) / 1000, true),
          (e: unknown) => {
            this.ctx?.metrics.observePoll(rt.cfg.deviceId, (performance.now() - started) / 1000, false);
            this.ctx?.logger.debug({ device: rt.cfg.deviceId, err: e }, `dnp3 ${name} poll failed`);
          },
        ).finally(() => rt.inFlight.delete(name));
      }, periodMs),
    );
  }

  private onState(rt: DeviceRuntime, s: string): void {
    const state: DeviceStatus['state'] = s === 'online' ? 'online' : s === 'connecting' ? rt.status.state : 'offline';
    if (state === rt.status.state) return;
    const wasOnline = rt.status.state === 'online';
    rt.status = { deviceId: rt.cfg.deviceId, state, since: Date.now(), ...(state === 'offline' ? { reason: 'connection lost' } : {}) };
    this.ctx?.reportDeviceStatus(rt.status);
    if (wasOnline && state === 'offline') {
      // keep the last values but mark them invalid: the outstation cannot be reached
      const now = Date.now();
      const samples: Sample[] = [];
      for (const p of rt.byId.values()) {
        if (!p.last) continue;
        samples.push({ ...p.last, ts: now, quality: commLostQuality('outstation connection lost') });
      }
      if (samples.length > 0) void this.ctx?.ingest.ingest(samples).catch(() => undefined);
    }
  }

  private onMeasurements(rt: DeviceRuntime, batch: MeasurementBatch): void {
    const now = Date.now();
    const samples: Sample[] = [];
    for (const m of batch.measurements) {
      let p = rt.byKey.get(key(m.type, m.index));
      if (!p) {
        if (rt.cfg.discoverPoints === false) continue;
        p = this.addPoint(rt, { id: `${m.type}.${m.index}`, type: m.type, index: m.index });
      }
      const s = this.sample(rt, p, m, now, batch.source);
      p.last = s;
      samples.push(s);
    }
    if (samples.length > 0) void this.ctx?.ingest.ingest(samples).catch((e: unknown) => this.ctx?.logger.warn({ err: e }, 'dnp3: ingest failed'));
  }

  private sample(rt: DeviceRuntime, p: PointRuntime, m: Measurement, now: number, source: string): Sample {
    let value: number | boolean = m.value;
    if (typeof value === 'number' && (p.cfg.type === 'analogInput' || p.cfg.type === 'analogOutputStatus' || p.cfg.type === 'counter' || p.cfg.type === 'frozenCounter')) {
      value = value * (p.cfg.scale ?? 1) + (p.cfg.offset ?? 0);
    }
    return {
      deviceId: rt.cfg.deviceId,
      pointId: p.cfg.id,
      ts: m.time ?? now,
      value,
      quality: dnp3Quality(m.type, m.flags),
      protocol: 'dnp3',
      ...(p.cfg.unit !== undefined ? { unit: p.cfg.unit } : {}),
      tags: { object: `g${m.group}v${m.variation}`, source, ...(m.event ? { event: 'true' } : {}) },
    };
  }

  async execute(command: Command): Promise<CommandResult> {
    const base = { commandId: command.id, deviceId: command.deviceId, pointId: command.pointId, issuedAt: command.issuedAt };
    const fail = (status: CommandResult['status'], code: string, message: string, details?: Record<string, unknown>): CommandResult => ({
      ...base,
      status,
      completedAt: Date.now(),
      error: { code, message, ...(details ? { details } : {}) },
    });
    const rt = this.runtimes.get(command.deviceId);
    if (!rt?.session) return fail('failed', 'UNKNOWN_DEVICE', `no DNP3 outstation ${command.deviceId}`);
    const p = rt.byId.get(command.pointId);
    if (!p) return fail('failed', 'UNKNOWN_POINT', `no point ${command.pointId} on ${command.deviceId}`);
    const c = p.cfg.control ?? {};
    let obj: CommandObject;
    if (p.cfg.type === 'binaryOutputStatus') {
      const on = toBool(command.value);
      if (on === undefined) return fail('rejected', 'VALUE_OUT_OF_RANGE', `value ${String(command.value)} is not on/off`);
      obj = { index: p.cfg.index, crob: { code: ControlCode[on ? (c.onCode ?? 'LATCH_ON') : (c.offCode ?? 'LATCH_OFF')], count: 1, onTimeMs: c.onTimeMs ?? 1000, offTimeMs: c.offTimeMs ?? 0 } };
    } else if (p.cfg.type === 'analogOutputStatus') {
      const v = typeof command.value === 'number' ? command.value : Number(command.value);
      if (!Number.isFinite(v)) return fail('rejected', 'VALUE_OUT_OF_RANGE', `value ${String(command.value)} is not a number`);
      obj = { index: p.cfg.index, analog: { variation: c.analogVariation ?? 3, value: (v - (p.cfg.offset ?? 0)) / (p.cfg.scale ?? 1) } };
    } else {
      return fail('rejected', 'POINT_NOT_WRITABLE', `${p.cfg.type} points cannot be controlled`);
    }
    const sbo = command.action === 'select-operate' || (command.action === 'write' && (c.mode ?? 'select-operate') === 'select-operate');
    const session = rt.session;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EnergyMeshError('TIMEOUT', `command ${command.id} timed out`, { retriable: true })), command.timeoutMs);
      });
      const r = await Promise.race([sbo ? session.selectAndOperate([obj]) : session.directOperate([obj]), timeout]);
      const s = r.statuses[0];
      if (r.success) return { ...base, status: 'succeeded', completedAt: Date.now() };
      return fail('rejected', 'DEVICE_EXCEPTION', `outstation answered ${s?.statusName ?? 'no status'}${sbo && !r.operated ? ' to SELECT' : ''}`, {
        status: s?.status,
        statusName: s?.statusName,
        iin1: r.iin.iin1,
        iin2: r.iin.iin2,
        operated: r.operated,
      });
    } catch (e) {
      if (isEnergyMeshError(e, 'TIMEOUT')) return fail('timeout', 'TIMEOUT', e.message);
      if (isEnergyMeshError(e)) return fail('failed', e.code, e.message, { ...e.details });
      return fail('failed', 'INTERNAL', String(e));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    for (const rt of this.runtimes.values()) {
      for (const t of rt.timers) clearInterval(t);
      rt.timers = [];
    }
    await this.master.stop();
    await Promise.all(this.simulators.splice(0).map((s) => s.stop()));
  }
}

function toBool(v: number | boolean | string): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 0 ? false : v === 1 ? true : undefined;
  const s = v.toLowerCase();
  if (['on', 'true', 'close', 'closed', '1'].includes(s)) return true;
  if (['off', 'false', 'trip', 'open', '0'].includes(s)) return false;
  return undefined;
}
