/**
 * The metering oracle (`metering.oracle`): telemetry → per meter per settlement interval export/import Wh
 * (aggregation.ts) → final at the cut-off → signed by k oracle keys and submitted in batches to the
 * MeterRegistry (reading-submitter.ts) → published on `<prefix>.readings`, with each reading's lineage
 * (the telemetry records and bus offsets it came from) kept and served over the API.
 *
 * Consumption: its own consumer group on `<prefix>.telemetry` (not a TelemetrySink, because lineage needs
 * bus offsets). Each batch is applied, the state persisted (oracle-store.ts), and only then acknowledged,
 * so the bus redelivers whatever a crash interrupted and the stored offsets skip what was applied.
 *
 * Watermark: the highest receive time seen on the topic (records are applied in order, and an interval
 * whose cut-off the watermark passes is finalized before the record that passed it is applied, so a
 * record is counted exactly when it was received by the cut-off). When no batch arrived for
 * `idleSeconds` the wall clock minus `idleSeconds` drives it instead, so readings of silent meters are
 * still submitted (flagged incomplete) when every device is down.
 *
 * Error policy: a chain failure keeps the readings in the outbox, marks the plugin degraded with the
 * reason and is retried every tick (the chain is checked first, so nothing is replayed); a bug in a
 * handler degrades the plugin through `ctx.guard`.
 */
import { inject, injectable, CoreServices, PluginContext, EnergyMeshError, errorMessage } from '../../core/plugin-api.ts';
import type { HttpRouteDefinition, HttpRouter, HttpRoutesContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import type { BusMessage, Subscription } from '../../core/bus/bus.ts';
import { topicName } from '../../core/bus/bus.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { MeterRegistryClient } from '../../chain/contracts/client.ts';
import { SettlementServiceKey, type SettlementService } from '../settlement/settlement-api.ts';
import {
  applySample,
  finalizeUpTo,
  newMeterState,
  type AggregationOptions,
  type ChannelName,
  type MeterSpec,
} from './aggregation.ts';
import { areaIdOf } from './ids.ts';
import { OracleStore, type OracleState, type PendingReading, type ReadingRecord } from './oracle-store.ts';
import { EthersOracleChain, submitOutbox, type OracleChain } from './reading-submitter.ts';

/** One meter in the config. */
export interface OracleMeterConfig {
  /** The meter's device id (its on-chain id is the settlement pseudonym of it, unless `meterId` is given). */
  deviceId: string;
  meterId?: string;
  /** Owner for registration: an address, or `account:NAME` (a settlement-managed account). Default `account:<deviceId>`. */
  owner?: string;
  /** Grid area (name or bytes32) for registration and balancing events. */
  area?: string;
  import?: { deviceId?: string; pointId: string; unit?: 'Wh' | 'kWh'; rolloverAt?: number; maxPowerKw?: number };
  export?: { deviceId?: string; pointId: string; unit?: 'Wh' | 'kWh'; rolloverAt?: number; maxPowerKw?: number };
  power?: { deviceId?: string; pointId: string; unit?: 'W' | 'kW'; positive?: 'import' | 'export' };
}

export interface MeteringOracleConfig {
  intervalMinutes?: 5 | 15 | 30;
  cutoffSeconds?: number;
  maxGapSeconds?: number;
  idleSeconds?: number;
  tickMs?: number;
  fromBeginning?: boolean;
  registerMeters?: boolean;
  batch?: { maxReadings?: number; maxGas?: number };
  meters?: OracleMeterConfig[];
}

interface MeterRuntime {
  key: string;
  config: OracleMeterConfig;
  spec: MeterSpec;
  meterId: string;
}

@injectable()
export class MeteringOracle implements LifecycleContribution, HttpRoutesContribution {
  private store: OracleStore | undefined;
  private state: OracleState | undefined;
  private settlement: SettlementService | undefined;
  private chain: OracleChain | undefined;
  private options: AggregationOptions | undefined;
  private meters: MeterRuntime[] = [];
  /** `deviceId\0pointId` → the meters fed by that point, with the channel. */
  private readonly byPoint = new Map<string, { meter: MeterRuntime; channel: ChannelName }[]>();
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private submitting: Promise<void> | undefined;
  private lastBatchAt = 0;
  private earliestCutoff = Number.POSITIVE_INFINITY;
  private problems: string[] = [];
  private stopped = false;

  constructor(
    @inject(PluginContext) private readonly ctx: PluginContext<MeteringOracleConfig>,
    @inject(CoreServices) private readonly core: CoreServices,
  ) {}

  async onStart(): Promise<void> {
    const config = this.ctx.config ?? {};
    const settlement = this.core.services.get(SettlementServiceKey);
    this.settlement = settlement;
    // The MeterRegistry's interval rules; an explicit setting or an active market module must agree with it.
    const minutes = config.intervalMinutes ?? this.core.marketParameters().settlementIntervalMinutes ?? settlement.intervalSeconds / 60;
    if (minutes * 60 !== settlement.intervalSeconds) {
      throw new EnergyMeshError(
        'CONFIG_INVALID',
        `the settlement interval is ${minutes} min (${config.intervalMinutes !== undefined ? 'intervalMinutes' : 'the active compliance modules'}) but the MeterRegistry was deployed with ${settlement.intervalSeconds / 60} min`,
        { details: { path: '/intervalMinutes', configured: minutes, onChain: settlement.intervalSeconds / 60 } },
      );
    }
    this.options = {
      intervalSeconds: settlement.intervalSeconds,
      cutoffMs: (config.cutoffSeconds ?? 120) * 1000,
      maxGapMs: (config.maxGapSeconds ?? 300) * 1000,
    };
    this.meters = (config.meters ?? []).map((m) => this.meterRuntime(m, settlement));
    for (const m of this.meters) {
      for (const ch of ['import', 'export', 'power'] as const) {
        const p = m.spec[ch];
        if (p === undefined) continue;
        const k = `${p.deviceId}\u0000${p.pointId}`;
        const list = this.byPoint.get(k) ?? [];
        list.push({ meter: m, channel: ch });
        this.byPoint.set(k, list);
      }
    }
    const store = new OracleStore(this.ctx.dataDir);
    store.loadReadings();
    this.store = store;
    this.state = store.loadState();
    const wallets = settlement.oracleWallets().slice(0, settlement.oracleThreshold);
    this.chain = new EthersOracleChain(settlement.addresses.registry, settlement.submitter(), settlement.provider(), settlement.chainId, wallets);

    if (config.registerMeters) await this.registerMeters(settlement);
    // meters with no state start after what the chain already holds
    const registry = new MeterRegistryClient(settlement.addresses.registry, settlement.provider());
    for (const m of this.meters) {
      if (this.state.meters[m.key] !== undefined) continue;
      let next: number | undefined;
      if ((await registry.meterOwner(m.meterId)) !== undefined) {
        const last = await registry.lastInterval(m.meterId);
        if (last !== undefined) next = Number(last) + 1;
      }
      this.state.meters[m.key] = newMeterState(next);
    }
    this.recomputeCutoff();
    store.saveState(this.state);

    this.lastBatchAt = Date.now();
    this.subscription = await this.core.bus.subscribe<TelemetryRecord>(
      topicName(this.core.bus.prefix, 'telemetry'),
      { group: this.ctx.id, fromBeginning: config.fromBeginning ?? false, maxBatch: 2000 },
      (batch) => this.serialized(() => this.onBatch(batch)),
    );
    const tickMs = config.tickMs ?? 1000;
    this.timer = setInterval(() => this.ctx.guard('oracle tick', () => this.tick()), tickMs);
    this.ctx.logger.info({ meters: this.meters.length, intervalSeconds: settlement.intervalSeconds, cutoffSeconds: this.options.cutoffMs / 1000 }, 'metering oracle started');
  }

  async onStop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.subscription?.close();
    this.subscription = undefined;
    await this.lock.catch(() => undefined);
    await this.submitting?.catch(() => undefined);
    if (this.state) this.store?.saveState(this.state);
  }

  // ---- API ----

  registerRoutes(router: HttpRouter): void {
    for (const r of this.routes()) router.route(r);
  }

  private routes(): HttpRouteDefinition[] {
    const meterParam = { type: 'string', minLength: 1, maxLength: 128 };
    const intervalParam = { type: 'integer', minimum: 0, maximum: 1e12 };
    return [
      {
        method: 'GET',
        path: 'readings',
        summary: 'Readings on chain (newest first), with their transaction hash',
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { meter: meterParam, from: intervalParam, to: intervalParam, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } },
          },
        },
        handler: (req) => {
          const q = req.query as { meter?: string; from?: number; to?: number; limit?: number };
          const meter = q.meter === undefined ? undefined : this.meterByRef(q.meter);
          const list = [...this.requireStore().readings.values()]
            .filter((r) => (meter === undefined || r.meter === meter.key) && (q.from === undefined || r.interval >= q.from) && (q.to === undefined || r.interval <= q.to))
            .sort((a, b) => b.interval - a.interval || a.meter.localeCompare(b.meter))
            .slice(0, q.limit ?? 100);
          return list.map((r) => this.view(r, false));
        },
      },
      {
        method: 'GET',
        path: 'readings/:meterId/:interval',
        summary: 'One reading: Wh, flags, coverage, chain transaction',
        schema: { params: { type: 'object', required: ['meterId', 'interval'], properties: { meterId: meterParam, interval: intervalParam } } },
        handler: (req) => this.view(this.readingFor(req.params.meterId ?? '', Number(req.params.interval)), false),
      },
      {
        method: 'GET',
        path: 'readings/:meterId/:interval/lineage',
        summary: 'Where a reading came from: the telemetry records (device, point, seq range, count) and bus offsets',
        schema: { params: { type: 'object', required: ['meterId', 'interval'], properties: { meterId: meterParam, interval: intervalParam } } },
        handler: (req) => {
          const r = this.readingFor(req.params.meterId ?? '', Number(req.params.interval));
          return {
            meter: r.meter,
            meterId: r.meterId,
            interval: r.interval,
            topic: topicName(this.core.bus.prefix, 'telemetry'),
            exportWh: r.exportWh,
            importWh: r.importWh,
            flags: r.flags,
            ...(r.txHash ? { txHash: r.txHash } : {}),
            sources: r.lineage,
          };
        },
      },
      {
        method: 'GET',
        path: 'status',
        summary: 'Watermark, readings waiting for the chain, late data and other counters, per-meter position',
        handler: () => {
          const s = this.requireState();
          return {
            intervalSeconds: this.options?.intervalSeconds,
            cutoffSeconds: (this.options?.cutoffMs ?? 0) / 1000,
            watermark: s.watermark,
            pending: s.outbox.length,
            problems: this.problems,
            counters: s.counters,
            meters: this.meters.map((m) => ({ meter: m.key, meterId: m.meterId, nextInterval: s.meters[m.key]?.next ?? null })),
          };
        },
      },
    ];
  }

  private view(r: ReadingRecord, lineage: boolean): Record<string, unknown> {
    const L = this.options?.intervalSeconds ?? 900;
    const { lineage: sources, ...rest } = r;
    return { ...rest, intervalStart: new Date(r.interval * L * 1000).toISOString(), ...(lineage ? { sources } : {}) };
  }

  private readingFor(ref: string, interval: number): ReadingRecord {
    const m = this.meterByRef(ref);
    const r = this.requireStore().reading(m.key, interval);
    if (r === undefined) {
      const pending = this.requireState().outbox.find((p) => p.meter === m.key && p.interval === interval);
      throw new EnergyMeshError('INVALID_ARGUMENT', pending ? `the reading of ${m.key} for interval ${interval} is final but not on chain yet` : `no reading of ${m.key} for interval ${interval}`, {
        details: { meter: m.key, interval, pending: pending !== undefined },
      });
    }
    return r;
  }

  private meterByRef(ref: string): MeterRuntime {
    const m = this.meters.find((x) => x.key === ref || x.meterId.toLowerCase() === ref.toLowerCase());
    if (m === undefined) throw new EnergyMeshError('INVALID_ARGUMENT', `unknown meter ${ref} (give its device id or its bytes32 meter id)`, { details: { meter: ref } });
    return m;
  }

  // ---- consumption ----

  private serialized<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private onBatch(batch: readonly BusMessage<TelemetryRecord>[]): void {
    const state = this.requireState();
    const options = this.requireOptions();
    this.lastBatchAt = Date.now();
    const lateByMeter = new Map<string, { records: number; wh: number }>();
    const counterEvents: { meter: string; kind: string; pointId: string; ts: number }[] = [];
    const limit = Date.now() + 5000;
    for (const m of batch) {
      const part = String(m.partition);
      const applied = state.offsets[part];
      if (applied !== undefined && m.offset <= applied) {
        state.counters.duplicates++;
        continue;
      }
      state.offsets[part] = m.offset;
      const r = m.value;
      if (typeof r?.receivedAt === 'number' && r.receivedAt <= limit && r.receivedAt > state.watermark) {
        state.watermark = r.receivedAt;
        if (state.watermark >= this.earliestCutoff) this.finalize(state.watermark);
      }
      const targets = this.byPoint.get(`${r?.deviceId}\u0000${r?.pointId}`);
      if (targets === undefined) continue;
      state.counters.records++;
      for (const { meter, channel } of targets) {
        const ms = state.meters[meter.key] ?? (state.meters[meter.key] = newMeterState());
        const hadNext = ms.next !== undefined;
        const o = applySample(
          ms,
          meter.spec,
          channel,
          { ts: r.ts, value: r.value, quality: r.quality?.status ?? 'invalid' },
          { deviceId: r.deviceId, pointId: r.pointId, seq: r.seq, partition: m.partition, offset: m.offset },
          options,
        );
        if (!hadNext && ms.next !== undefined) this.recomputeCutoff();
        if (o.kind === 'ignored-quality') state.counters.ignoredQuality++;
        else if (o.kind === 'ignored-order') state.counters.ignoredOrder++;
        else if (o.kind === 'late' || o.kind === 'partly-late') {
          state.counters.lateRecords++;
          state.counters.lateWh += o.lateWh;
          const l = lateByMeter.get(meter.key) ?? { records: 0, wh: 0 };
          l.records++;
          l.wh += o.lateWh;
          lateByMeter.set(meter.key, l);
          if (o.kind === 'partly-late') state.counters.counted++;
        } else state.counters.counted++;
        if (o.counterEvent === 'reset') state.counters.counterResets++;
        if (o.counterEvent === 'rollover') state.counters.counterRollovers++;
        if (o.counterEvent === 'implausible') state.counters.implausible++;
        if (o.counterEvent !== undefined) counterEvents.push({ meter: meter.key, kind: o.counterEvent, pointId: r.pointId, ts: r.ts });
      }
    }
    this.requireStore().saveState(state);
    this.publishEvents(lateByMeter, counterEvents);
    if (state.outbox.length > 0) this.kickSubmit();
  }

  /** Finalizes every meter's intervals whose cut-off the watermark reached; they join the outbox. */
  private finalize(watermark: number): void {
    const state = this.requireState();
    const options = this.requireOptions();
    const now = Date.now();
    for (const m of this.meters) {
      const ms = state.meters[m.key];
      if (ms === undefined) continue;
      for (const r of finalizeUpTo(ms, m.spec, watermark, options)) {
        const pending: PendingReading = { ...r, meter: m.key, meterId: m.meterId, finalizedAt: now };
        state.outbox.push(pending);
      }
    }
    this.recomputeCutoff();
  }

  private recomputeCutoff(): void {
    const state = this.requireState();
    const options = this.requireOptions();
    const L = options.intervalSeconds * 1000;
    let min = Number.POSITIVE_INFINITY;
    for (const m of this.meters) {
      const next = state.meters[m.key]?.next;
      if (next !== undefined) min = Math.min(min, (next + 1) * L + options.cutoffMs);
    }
    this.earliestCutoff = min;
  }

  private tick(): Promise<void> | void {
    if (this.stopped) return;
    const idleMs = (this.ctx.config?.idleSeconds ?? 30) * 1000;
    const now = Date.now();
    const state = this.requireState();
    if (now - this.lastBatchAt >= idleMs && now - idleMs > state.watermark) {
      return this.serialized(() => {
        state.watermark = Math.max(state.watermark, now - idleMs);
        if (state.watermark >= this.earliestCutoff) {
          this.finalize(state.watermark);
          this.requireStore().saveState(state);
        }
      }).then(() => this.kickSubmit());
    }
    if (state.outbox.length > 0) this.kickSubmit();
  }

  private kickSubmit(): void {
    if (this.submitting !== undefined || this.stopped) return;
    this.submitting = this.submit()
      .catch((e: unknown) => {
        this.ctx.health.degraded(`submitting readings: ${errorMessage(e)}`);
      })
      .finally(() => {
        this.submitting = undefined;
      });
  }

  private async submit(): Promise<void> {
    const state = this.requireState();
    const chain = this.chain;
    const options = this.requireOptions();
    if (chain === undefined || state.outbox.length === 0) return;
    const snapshot = [...state.outbox];
    const batch = this.ctx.config?.batch ?? {};
    const outcome = await submitOutbox(chain, snapshot, {
      intervalSeconds: options.intervalSeconds,
      maxReadings: batch.maxReadings ?? 200,
      maxGas: BigInt(batch.maxGas ?? 12_000_000),
    });
    if (this.stopped && outcome.done.length === 0) return;
    await this.serialized(() => {
      const doneKeys = new Set(outcome.done.map((d) => `${d.meterId}/${d.interval}`));
      state.outbox = state.outbox.filter((r) => !doneKeys.has(`${r.meterId}/${r.interval}`));
      this.requireStore().appendReadings(outcome.done);
      state.counters.batchesSubmitted += outcome.batches;
      for (const d of outcome.done) {
        if (d.status === 'attested') state.counters.readingsAttested++;
        else state.counters.readingsSkippedOnChain++;
      }
      this.requireStore().saveState(state);
    });
    this.problems = outcome.problems;
    if (outcome.problems.length > 0) {
      this.ctx.health.degraded(outcome.problems[0] ?? 'readings wait');
      this.ctx.logger.warn({ problems: outcome.problems }, 'metering oracle: some readings wait');
    } else if (this.ctx.health.current().state === 'degraded') this.ctx.health.up();
    if (outcome.done.length > 0) {
      const L = options.intervalSeconds;
      await this.core.bus.publish(
        topicName(this.core.bus.prefix, 'readings'),
        outcome.done.map((d) => ({
          key: d.meter,
          value: {
            meter: d.meter,
            meterId: d.meterId,
            interval: d.interval,
            intervalStart: new Date(d.interval * L * 1000).toISOString(),
            intervalSeconds: L,
            exportWh: d.exportWh,
            importWh: d.importWh,
            flags: d.flags,
            status: d.status,
            ...(d.txHash ? { txHash: d.txHash, blockNumber: d.blockNumber } : {}),
          },
        })),
      );
      this.ctx.logger.info({ readings: outcome.done.length, batches: outcome.batches }, 'readings on chain');
    }
  }

  private publishEvents(late: Map<string, { records: number; wh: number }>, counterEvents: { meter: string; kind: string; pointId: string; ts: number }[]): void {
    const now = Date.now();
    const events = [
      ...[...late].map(([meter, l]) => ({
        deviceId: meter,
        type: 'system' as const,
        severity: 'warning' as const,
        ts: now,
        message: `metering oracle: ${l.records} late record(s) of ${meter} after the cut-off (${l.wh.toFixed(1)} Wh not attested)`,
        data: { source: this.ctx.id, kind: 'late-data', records: l.records, lateWh: l.wh },
      })),
      ...counterEvents.map((c) => ({
        deviceId: c.meter,
        pointId: c.pointId,
        type: 'system' as const,
        severity: c.kind === 'rollover' ? ('info' as const) : ('warning' as const),
        ts: c.ts,
        message: `metering oracle: counter ${c.kind} on ${c.meter}/${c.pointId}`,
        data: { source: this.ctx.id, kind: `counter-${c.kind}` },
      })),
    ];
    if (events.length === 0) return;
    this.core.ingest.ingestEvents(events).catch((e: unknown) => this.ctx.logger.warn({ err: errorMessage(e) }, 'oracle events not published'));
  }

  // ---- setup ----

  private meterRuntime(m: OracleMeterConfig, settlement: SettlementService): MeterRuntime {
    const spec: MeterSpec = {};
    const counter = (c: NonNullable<OracleMeterConfig['import']>): NonNullable<MeterSpec['import']> => ({
      deviceId: c.deviceId ?? m.deviceId,
      pointId: c.pointId,
      whPerUnit: (c.unit ?? 'kWh') === 'kWh' ? 1000 : 1,
      ...(c.rolloverAt !== undefined ? { rolloverAt: c.rolloverAt } : {}),
      ...(c.maxPowerKw !== undefined ? { maxPowerW: c.maxPowerKw * 1000 } : {}),
    });
    if (m.power !== undefined) {
      if (m.import !== undefined || m.export !== undefined) {
        throw new EnergyMeshError('CONFIG_INVALID', `meter ${m.deviceId}: give either power or import/export counters, not both`, { details: { meter: m.deviceId } });
      }
      spec.power = { deviceId: m.power.deviceId ?? m.deviceId, pointId: m.power.pointId, wPerUnit: (m.power.unit ?? 'W') === 'kW' ? 1000 : 1, positive: m.power.positive ?? 'import' };
    } else {
      if (m.import === undefined && m.export === undefined) {
        throw new EnergyMeshError('CONFIG_INVALID', `meter ${m.deviceId}: needs a power point or an import and/or export counter`, { details: { meter: m.deviceId } });
      }
      if (m.import) spec.import = counter(m.import);
      if (m.export) spec.export = counter(m.export);
    }
    return { key: m.deviceId, config: m, spec, meterId: m.meterId ?? settlement.meterId(m.deviceId) };
  }

  private async registerMeters(settlement: SettlementService): Promise<void> {
    const registry = new MeterRegistryClient(settlement.addresses.registry, settlement.submitter());
    for (const m of this.meters) {
      if ((await registry.meterOwner(m.meterId)) !== undefined) continue;
      const ownerRef = m.config.owner ?? `account:${m.key.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)}`;
      const owner = ownerRef.startsWith('account:') ? await (await settlement.account(ownerRef.slice('account:'.length))).getAddress() : ownerRef;
      await registry.registerMeter(m.meterId, owner, areaIdOf(m.config.area ?? 'default'));
      this.ctx.logger.info({ meter: m.key, meterId: m.meterId, owner, area: m.config.area ?? 'default' }, 'meter registered');
    }
  }

  /** The on-chain meter id of a configured meter (dispatch, tests). */
  meterIdOf(deviceId: string): string | undefined {
    return this.meters.find((m) => m.key === deviceId)?.meterId;
  }

  private requireState(): OracleState {
    if (this.state === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the metering oracle is not started');
    return this.state;
  }

  private requireStore(): OracleStore {
    if (this.store === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the metering oracle is not started');
    return this.store;
  }

  private requireOptions(): AggregationOptions {
    if (this.options === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'the metering oracle is not started');
    return this.options;
  }
}
