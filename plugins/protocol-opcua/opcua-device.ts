/**
 * One OPC UA server as an EnergyMesh device: connects (retrying with back-off until stopped),
 * checks the configured nodes, runs discovery, subscribes every readable point and hands the
 * changes to the pipeline as Samples (source time as `ts`, quality from the StatusCode). When the
 * connection drops, every point is reported `invalid` + `comm-lost` once; node-opcua then repairs
 * the session and its subscriptions, and the values flow again (replays deduplicated).
 * Error policy: nothing throws out of this class; failures become device status, point quality,
 * error metrics and log lines.
 */
import { EnergyMeshError, errorMessage, isEnergyMeshError } from '../../core/plugin-api.ts';
import type { Command, CommandResult, DeviceDescriptor, DeviceStatus, DriverContext, Logger, Point, PointKind, Sample } from '../../core/plugin-api.ts';
import { OpcuaClient } from '../../protocols/opcua/client/opcua-client.ts';
import type { ItemChange, MethodInfo, MonitoredItemSet, OperationResult, VariableInfo } from '../../protocols/opcua/client/opcua-client.ts';
import type { OpcuaPki } from '../../protocols/opcua/client/opcua-pki.ts';
import { parseDataType } from '../../protocols/opcua/client/opcua-variant.ts';
import type { OpcuaDeviceConfig, OpcuaPluginConfig, OpcuaPointConfig, OpcuaSubscriptionConfig } from './opcua-config.ts';

export const PROTOCOL = 'opcua';

/** A point as this device knows it after connecting. */
interface ResolvedPoint {
  config: OpcuaPointConfig;
  variable?: VariableInfo;
  method?: MethodInfo & { objectId: string };
  error?: EnergyMeshError;
}

/** How to tell an operator to trust a server certificate. */
export function trustHint(thumbprint: string): string {
  return `run \`energymesh opcua certs trust ${thumbprint}\` (or POST /api/v1/plugins/protocol.opcua/certs/${thumbprint}/trust), then the driver connects on its next attempt`;
}

/** Makes a browse path a valid point id. */
export function pointIdFromPath(path: string): string {
  const id = path.replace(/[^A-Za-z0-9._:/-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return (id || 'point').slice(0, 128);
}

function kindOf(dataType: string): PointKind {
  if (dataType === 'Boolean') return 'binary';
  if (dataType === 'String' || dataType === 'LocalizedText' || dataType === 'ByteString') return 'string';
  return 'analog';
}

export class OpcuaDevice {
  private client: OpcuaClient | undefined;
  private set: MonitoredItemSet | undefined;
  private readonly points = new Map<string, ResolvedPoint>();
  private byKey = new Map<string, string>();
  private status: DeviceStatus;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private loggedThumbprint: string | undefined;
  private ctx: DriverContext | undefined;
  private connecting: Promise<void> | undefined;

  constructor(
    readonly config: OpcuaDeviceConfig,
    private readonly plugin: OpcuaPluginConfig,
    private readonly pki: OpcuaPki,
    private readonly logger: Logger,
  ) {
    this.status = { deviceId: config.id, state: 'unknown', since: Date.now() };
    for (const p of config.points ?? []) this.points.set(p.id, { config: p });
  }

  get id(): string {
    return this.config.id;
  }

  /** The underlying client while connected (tests, diagnostics). */
  get connection(): OpcuaClient | undefined {
    return this.client;
  }

  /** The monitored items while subscribed (tests, diagnostics). */
  get items(): MonitoredItemSet | undefined {
    return this.set;
  }

  descriptor(): DeviceDescriptor {
    const points: Point[] = [];
    for (const [id, p] of this.points) {
      const v = p.variable;
      const writable = p.config.method ? true : (p.config.writable ?? v?.writable ?? false);
      const unit = p.config.unit ?? v?.engineeringUnits;
      points.push({
        deviceId: this.id,
        pointId: id,
        kind: p.config.kind ?? (v ? kindOf(v.dataType) : 'analog'),
        writable,
        protocol: PROTOCOL,
        ...(unit ? { unit } : {}),
        ...(p.config.description ? { description: p.config.description } : v ? { description: v.browsePath } : {}),
        address: p.config.method ? { objectId: p.config.method.objectId, methodId: p.config.method.methodId } : { nodeId: p.config.nodeId, ...(v ? { dataType: v.dataType } : {}) },
      });
    }
    return { deviceId: this.id, protocol: PROTOCOL, description: `OPC UA ${this.config.endpointUrl}${this.config.description ? ` — ${this.config.description}` : ''}`, points };
  }

  deviceStatus(): DeviceStatus {
    return this.status;
  }

  start(ctx: DriverContext): void {
    this.ctx = ctx;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.connecting?.catch(() => undefined);
    await this.disconnect();
  }

  async execute(command: Command): Promise<CommandResult> {
    const base = { commandId: command.id, deviceId: command.deviceId, pointId: command.pointId, issuedAt: command.issuedAt };
    const done = (status: CommandResult['status'], error?: CommandResult['error']): CommandResult => ({ ...base, status, completedAt: Date.now(), ...(error ? { error } : {}) });
    const p = this.points.get(command.pointId);
    if (!p) return done('rejected', { code: 'UNKNOWN_POINT', message: `device ${this.id} has no point ${command.pointId}` });
    if (command.action === 'select-operate') return done('rejected', { code: 'INVALID_ARGUMENT', message: 'OPC UA has no select-before-operate; use write or operate' });
    if (p.error) return done('rejected', { code: p.error.code, message: p.error.message, details: { ...p.error.details } });
    const client = this.client;
    if (!client || !client.connected) return done('failed', { code: 'NOT_CONNECTED', message: `device ${this.id} is not connected (${this.status.reason ?? this.status.state})` });
    const started = performance.now();
    let op: Promise<OperationResult>;
    let what: string;
    if (p.config.method) {
      if (command.action !== 'operate') return done('rejected', { code: 'INVALID_ARGUMENT', message: `point ${command.pointId} is a method: use the operate action` });
      const inputs = p.method?.inputs.length ?? 0;
      what = `call ${p.config.method.methodId}`;
      op = client.call(p.config.method.objectId, p.config.method.methodId, inputs > 0 ? [command.value] : []);
    } else {
      if (command.action !== 'write') return done('rejected', { code: 'INVALID_ARGUMENT', message: `point ${command.pointId} is a variable: use the write action` });
      const writable = p.config.writable ?? p.variable?.writable ?? false;
      if (!writable) return done('rejected', { code: 'POINT_NOT_WRITABLE', message: `point ${command.pointId} is read-only (AccessLevel of ${p.config.nodeId})` });
      what = `write ${p.config.nodeId}`;
      try {
        op = client.write(p.config.nodeId as string, command.value, p.config.dataType ? parseDataType(p.config.dataType) : undefined);
      } catch (e) {
        return done('rejected', { code: isEnergyMeshError(e) ? e.code : 'INVALID_ARGUMENT', message: errorMessage(e) });
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), command.timeoutMs);
    });
    try {
      const r = await Promise.race([op, timeout]);
      if (r === 'timeout') {
        op.catch(() => undefined);
        return done('timeout', { code: 'TIMEOUT', message: `${what}: no answer within ${command.timeoutMs} ms` });
      }
      this.ctx?.metrics.observePoll(this.id, (performance.now() - started) / 1000, r.good);
      if (r.good) return done('succeeded');
      const details = { statusCode: r.statusCode, statusName: r.statusName, ...(r.inputArgumentResults ? { inputArgumentResults: r.inputArgumentResults } : {}) };
      const rejectedAs = REJECTED_BY_STATUS[r.statusName];
      this.ctx?.metrics.countError(this.id, rejectedAs ?? 'DEVICE_EXCEPTION');
      if (rejectedAs) return done('rejected', { code: rejectedAs, message: `${what}: the server refused it with ${r.statusName}`, details });
      return done('failed', { code: 'DEVICE_EXCEPTION', message: `${what}: ${r.statusName}`, details });
    } catch (e) {
      const code = isEnergyMeshError(e) ? e.code : 'INTERNAL';
      this.ctx?.metrics.countError(this.id, code);
      const local = code === 'INVALID_ARGUMENT' || code === 'VALUE_OUT_OF_RANGE';
      return done(local ? 'rejected' : 'failed', { code, message: errorMessage(e), ...(isEnergyMeshError(e) ? { details: { ...e.details } } : {}) });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  // -------------------------------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connecting = this.connect().finally(() => {
        this.connecting = undefined;
      });
    }, delayMs);
  }

  private backoff(): number {
    const initial = this.plugin.reconnect?.initialDelayMs ?? 500;
    const max = this.plugin.reconnect?.maxDelayMs ?? 10_000;
    return Math.min(max, initial * 2 ** Math.min(this.attempt++, 16));
  }

  private setStatus(state: DeviceStatus['state'], reason?: string): void {
    if (this.status.state === state && this.status.reason === reason) return;
    this.status = { deviceId: this.id, state, since: Date.now(), ...(reason ? { reason } : {}) };
    this.ctx?.reportDeviceStatus(this.status);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const ctx = this.ctx as DriverContext;
    const started = performance.now();
    let client: OpcuaClient | undefined;
    try {
      client = await OpcuaClient.connect({
        endpointUrl: this.config.endpointUrl,
        securityMode: this.config.security?.mode ?? 'None',
        ...(this.config.security?.policy ? { securityPolicy: this.config.security.policy } : {}),
        ...(this.config.user ? { user: this.config.user } : {}),
        pki: this.pki,
        applicationName: this.plugin.applicationName ?? 'EnergyMesh',
        requestTimeoutMs: this.plugin.requestTimeoutMs ?? 10_000,
        reconnectInitialDelayMs: this.plugin.reconnect?.initialDelayMs ?? 500,
        reconnectMaxDelayMs: this.plugin.reconnect?.maxDelayMs ?? 10_000,
        trustHint,
      });
      if (this.stopped) {
        await client.close();
        return;
      }
      this.client = client;
      await this.resolvePoints(client);
      await this.subscribe(client);
      client.onDidChangeState((s) => {
        if (s.state === 'reconnecting') {
          this.setStatus('offline', s.reason ?? 'connection lost');
          void this.ingestCommLost();
        } else if (s.state === 'restored') {
          const r = s.restore;
          this.logger.info({ device: this.id, ...r }, `OPC UA session to ${this.config.endpointUrl} restored`);
          this.setStatus(s.reason ? 'degraded' : this.pointErrors() ? 'degraded' : 'online', s.reason ?? this.pointErrors());
        }
      });
      this.attempt = 0;
      this.loggedThumbprint = undefined;
      ctx.metrics.observePoll(this.id, (performance.now() - started) / 1000, true);
      const errors = this.pointErrors();
      this.setStatus(errors ? 'degraded' : 'online', errors);
      this.logger.info({ device: this.id, endpoint: this.config.endpointUrl, items: this.set?.itemStatuses().length ?? 0, subscriptions: this.set?.subscriptionCount ?? 0 }, `OPC UA device ${this.id} connected`);
    } catch (e) {
      const err = e as EnergyMeshError;
      const code = isEnergyMeshError(e) ? err.code : 'INTERNAL';
      ctx.metrics.observePoll(this.id, (performance.now() - started) / 1000, false);
      ctx.metrics.countError(this.id, code);
      if (client) await client.close().catch(() => undefined);
      this.client = undefined;
      this.set = undefined;
      const thumbprint = isEnergyMeshError(e) ? (err.details.thumbprint as string | undefined) : undefined;
      if (code !== 'CERTIFICATE_UNTRUSTED' || thumbprint !== this.loggedThumbprint) {
        this.logger.error({ device: this.id, code, details: isEnergyMeshError(e) ? err.details : undefined }, errorMessage(e));
      }
      if (thumbprint) this.loggedThumbprint = thumbprint;
      this.setStatus('offline', errorMessage(e));
      if (code === 'CONFIG_INVALID' || code === 'UNAUTHORIZED') this.attempt = Math.max(this.attempt, 16);
      this.schedule(this.backoff());
    }
  }

  private pointErrors(): string | undefined {
    const bad = [...this.points.entries()].filter(([, p]) => p.error);
    if (bad.length === 0) return undefined;
    return `${bad.length} point(s) not usable: ${bad.map(([id, p]) => `${id} (${p.error?.message})`).join('; ')}`;
  }

  private async resolvePoints(client: OpcuaClient): Promise<void> {
    const configured = [...this.points.values()].filter((p) => p.config.nodeId || p.config.method);
    const ids = configured.map((p) => p.config.nodeId ?? p.config.method?.methodId ?? '');
    const infos = await client.inspect(ids);
    infos.forEach((info, i) => {
      const p = configured[i] as ResolvedPoint;
      delete p.error;
      if (!p.config.nodeId && !p.config.method) return;
      if (p.config.nodeId && p.config.method) {
        p.error = configError(`point ${p.config.id} has both nodeId and method; give one`);
      } else if ('code' in info) {
        p.error = info;
      } else if (p.config.method && !('methodId' in info && 'inputs' in info && !('dataType' in info))) {
        p.error = configError(`point ${p.config.id}: ${p.config.method.methodId} is not a method`);
      } else if (p.config.nodeId && !('dataType' in info)) {
        p.error = configError(`point ${p.config.id}: ${p.config.nodeId} is not a variable`);
      } else if ('dataType' in info) {
        p.variable = info;
      } else {
        p.method = { ...info, objectId: p.config.method?.objectId ?? '' };
      }
      if (p.config.dataType && !p.error) {
        try {
          parseDataType(p.config.dataType);
        } catch (e) {
          p.error = e as EnergyMeshError;
        }
      }
      if (p.error) {
        this.ctx?.metrics.countError(this.id, p.error.code);
        this.logger.error({ device: this.id, point: p.config.id, code: p.error.code, details: p.error.details }, `OPC UA point ${this.id}/${p.config.id}: ${p.error.message}`);
      }
    });
    const d = this.config.discovery;
    if (!d) return;
    const found = await client.discover(d.root, { maxDepth: d.maxDepth ?? 10, maxNodes: d.maxNodes ?? 10_000 });
    const include = d.include ? new RegExp(d.include) : undefined;
    const exclude = d.exclude ? new RegExp(d.exclude) : undefined;
    const keep = (path: string): boolean => (!include || include.test(path)) && (!exclude || !exclude.test(path));
    for (const v of found.variables) {
      if (!keep(v.browsePath) || !v.readable) continue;
      const id = pointIdFromPath(v.browsePath);
      if (this.points.has(id) && !this.points.get(id)?.variable) continue; // configured points win
      this.points.set(id, { config: { id, nodeId: v.nodeId }, variable: v });
    }
    for (const m of found.methods) {
      if (!keep(m.browsePath)) continue;
      const id = pointIdFromPath(m.browsePath);
      if (this.points.has(id)) continue;
      this.points.set(id, { config: { id, method: { objectId: m.objectId, methodId: m.methodId } }, method: m });
    }
    if (found.truncated) this.logger.warn({ device: this.id, maxNodes: d.maxNodes }, `OPC UA discovery below ${d.root} stopped at maxNodes`);
  }

  private async subscribe(client: OpcuaClient): Promise<void> {
    const sub: OpcuaSubscriptionConfig = { ...this.plugin.subscription, ...this.config.subscription };
    const specs = [...this.points.values()]
      .filter((p) => p.config.nodeId && p.variable && !p.error && p.variable.readable)
      .map((p) => ({
        key: p.config.id,
        nodeId: p.config.nodeId as string,
        ...(p.config.samplingIntervalMs !== undefined ? { samplingIntervalMs: p.config.samplingIntervalMs } : {}),
        ...(p.config.queueSize !== undefined ? { queueSize: p.config.queueSize } : {}),
        ...(p.config.deadband ? { deadband: p.config.deadband } : {}),
      }));
    this.byKey = new Map(specs.map((s) => [s.key, s.key]));
    const set = await client.subscribe(specs, {
      publishingIntervalMs: sub.publishingIntervalMs ?? 1000,
      maxItemsPerSubscription: sub.maxItemsPerSubscription ?? 1000,
      maxItemsPerCall: sub.maxItemsPerCall ?? 0,
      defaults: {
        samplingIntervalMs: sub.samplingIntervalMs ?? -1,
        queueSize: sub.queueSize ?? 10,
        ...(sub.deadband ? { deadband: sub.deadband } : {}),
      },
    });
    for (const s of set.itemStatuses()) {
      if (s.ok) continue;
      const p = this.points.get(s.key);
      if (p) {
        p.error = configError(`point ${s.key}: the server refused to monitor ${s.nodeId}: ${s.statusName}`, { statusCode: s.statusCode, statusName: s.statusName, nodeId: s.nodeId });
        this.ctx?.metrics.countError(this.id, 'CONFIG_INVALID');
      }
    }
    set.onDidReceive((changes) => void this.ingest(changes));
    this.set = set;
  }

  private async ingest(changes: ItemChange[]): Promise<void> {
    const ctx = this.ctx;
    if (!ctx || this.stopped) return;
    const now = Date.now();
    // One Sample per change, nothing else: the quality object is the client's shared one per StatusCode
    // (read-only, as the pipeline treats it) and the unit is looked up once per point.
    const samples = new Array<Sample>(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i] as ItemChange;
      const sample: Sample = {
        deviceId: this.id,
        pointId: c.key,
        ts: c.sourceTimestamp ?? c.serverTimestamp ?? now,
        receivedAt: now,
        value: c.value,
        quality: c.quality,
        protocol: PROTOCOL,
      };
      const unit = this.unitOf(c.key);
      if (unit) sample.unit = unit;
      samples[i] = sample;
    }
    try {
      await ctx.ingest.ingest(samples);
    } catch (e) {
      ctx.metrics.countError(this.id, isEnergyMeshError(e) ? e.code : 'INTERNAL');
      this.logger.warn({ device: this.id, err: errorMessage(e) }, 'ingest failed');
    }
  }

  private unitOf(key: string): string | undefined {
    const p = this.points.get(key);
    return p?.config.unit ?? p?.variable?.engineeringUnits;
  }

  private async ingestCommLost(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx || this.stopped) return;
    const now = Date.now();
    const samples: Sample[] = [...this.byKey.keys()].map((pointId) => ({
      deviceId: this.id,
      pointId,
      ts: now,
      receivedAt: now,
      value: null,
      quality: { status: 'invalid', flags: ['comm-lost'] },
      protocol: PROTOCOL,
    }));
    if (samples.length > 0) await ctx.ingest.ingest(samples).catch(() => undefined);
  }

  private async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.set = undefined;
    if (c) await c.close().catch(() => undefined);
    this.setStatus('offline', 'stopped');
  }
}

/** Bad write / call StatusCodes that mean "the server refused the request" rather than "it failed". */
const REJECTED_BY_STATUS: Readonly<Record<string, string>> = {
  BadNotWritable: 'POINT_NOT_WRITABLE',
  BadUserAccessDenied: 'POINT_NOT_WRITABLE',
  BadWriteNotSupported: 'POINT_NOT_WRITABLE',
  BadTypeMismatch: 'INVALID_ARGUMENT',
  BadArgumentsMissing: 'INVALID_ARGUMENT',
  BadTooManyArguments: 'INVALID_ARGUMENT',
  BadInvalidArgument: 'INVALID_ARGUMENT',
  BadOutOfRange: 'VALUE_OUT_OF_RANGE',
  BadNodeIdUnknown: 'UNKNOWN_POINT',
  BadMethodInvalid: 'UNKNOWN_POINT',
  BadNotExecutable: 'POINT_NOT_WRITABLE',
};

function configError(message: string, details: Record<string, unknown> = {}): EnergyMeshError {
  return new EnergyMeshError('CONFIG_INVALID', message, { details });
}
