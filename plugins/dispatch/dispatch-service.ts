/**
 * Dispatch (`dispatch.incentives`): the grid operator's balancing events, end to end.
 *
 * publish (API/CLI, operator role) → everything checked first (window aligned and in the future, meters
 * registered in the event's area, a restore value known for every setpoint), then `createEvent` (the
 * pool paid by the operator key) and `enrol` of each meter on chain → at window start the setpoints go to
 * the enrolled DERs as Commands through `CoreServices.executeCommand` as the principal
 * `dispatch (event N)` (operator role), so compliance gates and the audit log apply; the previous values
 * are saved first → while active, the measured response (net export of the enrolled meters now, against
 * the baseline of the current interval and the target) is computed every tick, served by the API and
 * published as telemetry of the `dispatch` device (so the WebSocket stream and the historian carry it) →
 * at window end the previous setpoints are restored → once every enrolled meter's readings of the window
 * are attested, `settle` is sent and the payouts (DeliverySettled) are recorded.
 *
 * State: `events.json` in the plugin's data dir, written (temp + rename) before and after every step, so
 * a restart resumes where it stopped (an activation whose commands were sent is not repeated; a restore
 * due while the process was down happens at the next tick).
 *
 * Error policy: a failing command or chain call is recorded on the event and in the plugin's health;
 * the tick retries chain steps (settlement), never commands already sent.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatEther, parseEther } from 'ethers';
import { inject, injectable, CoreServices, PluginContext, EnergyMeshError, errorMessage, isEnergyMeshError } from '../../core/plugin-api.ts';
import type { CommandResult, HttpRouteDefinition, HttpRouter, HttpRoutesContribution, LifecycleContribution, Sample } from '../../core/plugin-api.ts';
import { BalancingIncentivesClient, MeterRegistryClient } from '../../chain/contracts/client.ts';
import { SettlementServiceKey, type SettlementService } from '../settlement/settlement-api.ts';
import { areaIdOf } from '../metering-oracle/ids.ts';
import { averageKw, liveResponse, type LiveResponse } from './delivery.ts';

export interface DispatchMeterConfig {
  /** The meter's device id (as the metering oracle names it). */
  deviceId: string;
  meterId?: string;
  /** The live power point for the response view (signed). */
  power?: { deviceId?: string; pointId: string; unit?: 'W' | 'kW'; positive?: 'import' | 'export' };
}

export interface DispatchConfig {
  tickMs?: number;
  /** Device id under which the live response is published as telemetry. */
  monitorDeviceId?: string;
  /** Settle on chain automatically once the window's readings are attested. */
  autoSettle?: boolean;
  meters?: DispatchMeterConfig[];
}

/** A setpoint of an event: what to send at window start and what to restore at its end. */
export interface EventSetpoint {
  deviceId: string;
  pointId: string;
  value: number | boolean | string;
  /** Value restored at the end (given, or the point's value just before the window). */
  restore?: number | boolean | string;
  previous?: number | boolean | string;
  sent?: CommandSummary;
  restored?: CommandSummary;
}

export interface CommandSummary {
  commandId: string;
  status: string;
  at: number;
  error?: string;
}

export interface PublishRequest {
  area: string;
  start: string;
  end: string;
  direction: 'up' | 'down';
  targetKw: number;
  rewardEbPerKwh: string | number;
  poolEb: string | number;
  enrolmentDeadline?: string;
  reason?: string;
  meters: { meter: string; setpoints?: { deviceId: string; pointId: string; value: number | boolean | string; restore?: number | boolean | string }[] }[];
}

export type EventStatus = 'scheduled' | 'active' | 'ended' | 'settled';

export interface DispatchEvent {
  id: number;
  area: string;
  areaId: string;
  startInterval: number;
  endInterval: number;
  start: string;
  end: string;
  direction: 'up' | 'down';
  targetKw: number;
  rewardPerKwhWei: string;
  poolWei: string;
  enrolmentDeadline: number;
  reason?: string;
  createdBy: string;
  createdAt: number;
  txHash: string;
  status: EventStatus;
  meters: { meter: string; meterId: string; enrolTx?: string; setpoints: EventSetpoint[] }[];
  response?: LiveResponse & { at: number; perMeter: { meter: string; measuredKw: number | null; baselineKw: number }[] };
  settlement?: { txHash: string; at: number; totalRewardWei: string; payouts: { meter: string; meterId: string; deliveredWh: string; rewardWei: string; rewardEb: string }[] };
  history: { at: number; what: string }[];
  lastError?: string;
}

const MAX_WINDOW_INTERVALS = 288;

@injectable()
export class DispatchService implements LifecycleContribution, HttpRoutesContribution {
  private events: DispatchEvent[] = [];
  private file = '';
  private settlement: SettlementService | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly baselines = new Map<string, { exportWh: bigint; importWh: bigint }>();
  private stopped = false;

  constructor(
    @inject(PluginContext) private readonly ctx: PluginContext<DispatchConfig>,
    @inject(CoreServices) private readonly core: CoreServices,
  ) {}

  async onStart(): Promise<void> {
    this.settlement = this.core.services.get(SettlementServiceKey);
    mkdirSync(this.ctx.dataDir, { recursive: true });
    this.file = join(this.ctx.dataDir, 'events.json');
    this.events = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as DispatchEvent[]) : [];
    this.stopped = false;
    this.timer = setInterval(() => this.ctx.guard('dispatch tick', () => this.tick()), this.ctx.config?.tickMs ?? 1000);
  }

  async onStop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking?.catch(() => undefined);
    await this.lock.catch(() => undefined);
  }

  /** The events (tests, CLI through the API). */
  list(): readonly DispatchEvent[] {
    return this.events;
  }

  // ---- API ----

  registerRoutes(router: HttpRouter): void {
    for (const r of this.routes()) router.route(r);
  }

  private routes(): HttpRouteDefinition[] {
    const value = { type: ['number', 'boolean', 'string'] };
    const decimal = { anyOf: [{ type: 'string', pattern: '^[0-9]{1,12}(\\.[0-9]{1,18})?$' }, { type: 'number', exclusiveMinimum: 0 }] };
    const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } };
    return [
      {
        method: 'POST',
        path: 'events',
        role: 'operator',
        summary: 'Publish a balancing event: created and funded on chain, meters enrolled, setpoints sent at window start',
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['area', 'start', 'end', 'direction', 'targetKw', 'rewardEbPerKwh', 'poolEb', 'meters'],
            properties: {
              area: { type: 'string', minLength: 1, maxLength: 128 },
              start: { type: 'string', format: 'date-time', description: 'Window start, on an interval boundary.' },
              end: { type: 'string', format: 'date-time', description: 'Window end (exclusive), on an interval boundary.' },
              direction: { enum: ['up', 'down'], description: 'up: more export / less import; down: the opposite.' },
              targetKw: { type: 'integer', minimum: 0, maximum: 1e9 },
              rewardEbPerKwh: decimal,
              poolEb: decimal,
              enrolmentDeadline: { type: 'string', format: 'date-time', description: 'Default: the window start.' },
              reason: { type: 'string', maxLength: 512 },
              meters: {
                type: 'array',
                minItems: 1,
                maxItems: 1000,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['meter'],
                  properties: {
                    meter: { type: 'string', minLength: 1, maxLength: 128, description: 'The meter device id.' },
                    setpoints: {
                      type: 'array',
                      maxItems: 32,
                      items: {
                        type: 'object',
                        additionalProperties: false,
                        required: ['deviceId', 'pointId', 'value'],
                        properties: { deviceId: { type: 'string', minLength: 1, maxLength: 128 }, pointId: { type: 'string', minLength: 1, maxLength: 128 }, value, restore: value },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        handler: (req) => this.serialized(() => this.publish(req.body as PublishRequest, req.principal)),
      },
      {
        method: 'GET',
        path: 'events',
        summary: 'Balancing events with their state, live response and payouts',
        handler: () => this.events.map((e) => summary(e)),
      },
      {
        method: 'GET',
        path: 'events/:id',
        summary: 'One event in full: setpoints sent and restored, live response, settlement',
        schema: { params: idParams },
        handler: (req) => this.event(Number(req.params.id)),
      },
      {
        method: 'POST',
        path: 'events/:id/settle',
        role: 'operator',
        summary: 'Settle an ended event now (its readings must be attested)',
        schema: { params: idParams },
        handler: (req) => this.serialized(() => this.settle(this.event(Number(req.params.id)), true)),
      },
    ];
  }

  private event(id: number): DispatchEvent {
    const e = this.events.find((x) => x.id === id);
    if (e === undefined) throw new EnergyMeshError('INVALID_ARGUMENT', `no balancing event ${id}`, { details: { id } });
    return e;
  }

  // ---- publish ----

  private async publish(body: PublishRequest, principal: { id: string; name: string }): Promise<DispatchEvent> {
    const s = this.requireSettlement();
    const L = s.intervalSeconds;
    const startMs = Date.parse(body.start);
    const endMs = Date.parse(body.end);
    const bad = (message: string, details: Record<string, unknown> = {}): never => {
      throw new EnergyMeshError('INVALID_ARGUMENT', message, { details });
    };
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) bad('start and end must be ISO 8601 times');
    if (startMs % (L * 1000) !== 0 || endMs % (L * 1000) !== 0) bad(`start and end must fall on ${L / 60}-minute interval boundaries`, { intervalSeconds: L });
    const startInterval = startMs / (L * 1000);
    const endInterval = endMs / (L * 1000);
    if (endInterval <= startInterval) bad('end must be after start');
    if (endInterval - startInterval > MAX_WINDOW_INTERVALS) bad(`the window is at most ${MAX_WINDOW_INTERVALS} intervals`);
    const deadlineMs = body.enrolmentDeadline === undefined ? startMs : Date.parse(body.enrolmentDeadline);
    if (!Number.isFinite(deadlineMs) || deadlineMs > startMs) bad('enrolmentDeadline must be a time at or before start');
    const block = await s.provider().getBlock('latest');
    const chainNow = Math.max(Math.floor(Date.now() / 1000), block?.timestamp ?? 0);
    if (Math.floor(deadlineMs / 1000) <= chainNow + 2) bad('the enrolment deadline (default: the window start) must be in the future', { chainTime: chainNow });
    let rewardPerKwh: bigint;
    let pool: bigint;
    try {
      rewardPerKwh = parseEther(String(body.rewardEbPerKwh));
      pool = parseEther(String(body.poolEb));
    } catch (e) {
      return bad(`rewardEbPerKwh and poolEb must be decimal EB amounts: ${errorMessage(e)}`);
    }
    if (rewardPerKwh <= 0n || pool <= 0n) bad('rewardEbPerKwh and poolEb must be positive');
    const areaId = areaIdOf(body.area);
    const registry = new MeterRegistryClient(s.addresses.registry, s.provider());
    const meters: DispatchEvent['meters'] = [];
    const seen = new Set<string>();
    for (const m of body.meters) {
      if (seen.has(m.meter)) bad(`meter ${m.meter} is listed twice`);
      seen.add(m.meter);
      const meterId = this.meterIdOf(m.meter);
      const owner = await registry.meterOwner(meterId);
      if (owner === undefined) bad(`meter ${m.meter} is not registered in the MeterRegistry`, { meter: m.meter, meterId });
      const area = await registry.meterArea(meterId);
      if (area.toLowerCase() !== areaId) bad(`meter ${m.meter} is not in area ${body.area}`, { meter: m.meter });
      const setpoints: EventSetpoint[] = [];
      for (const sp of m.setpoints ?? []) {
        const restore = sp.restore ?? this.core.latestValue(sp.deviceId, sp.pointId)?.value ?? undefined;
        if (restore === undefined || restore === null) {
          bad(`no value to restore for ${sp.deviceId}/${sp.pointId} after the window: the point has no current value; give "restore"`, { deviceId: sp.deviceId, pointId: sp.pointId });
        }
        setpoints.push({ deviceId: sp.deviceId, pointId: sp.pointId, value: sp.value, ...(sp.restore !== undefined ? { restore: sp.restore } : {}) });
      }
      meters.push({ meter: m.meter, meterId, setpoints });
    }
    // all checked: now on chain
    const incentives = new BalancingIncentivesClient(s.addresses.incentives, s.operator());
    const created = await incentives.createEvent({
      area: areaId,
      startInterval: BigInt(startInterval),
      endInterval: BigInt(endInterval),
      direction: body.direction,
      targetKw: BigInt(body.targetKw),
      rewardPerKwh,
      enrolmentDeadline: BigInt(Math.floor(deadlineMs / 1000)),
      poolWei: pool,
    });
    const e: DispatchEvent = {
      id: Number(created.eventId),
      area: body.area,
      areaId,
      startInterval,
      endInterval,
      start: new Date(startMs).toISOString(),
      end: new Date(endMs).toISOString(),
      direction: body.direction,
      targetKw: body.targetKw,
      rewardPerKwhWei: rewardPerKwh.toString(),
      poolWei: pool.toString(),
      enrolmentDeadline: Math.floor(deadlineMs / 1000),
      ...(body.reason ? { reason: body.reason } : {}),
      createdBy: `${principal.name} (${principal.id})`,
      createdAt: Date.now(),
      txHash: created.receipt.hash,
      status: 'scheduled',
      meters,
      history: [{ at: Date.now(), what: `created on chain (tx ${created.receipt.hash})` }],
    };
    this.events.push(e);
    this.save();
    for (const m of e.meters) {
      try {
        const receipt = await incentives.enrol(created.eventId, m.meterId);
        m.enrolTx = receipt.hash;
      } catch (err) {
        e.lastError = `enrolment of ${m.meter} failed: ${errorMessage(err)}`;
        e.history.push({ at: Date.now(), what: e.lastError });
      }
      this.save();
    }
    this.emit(e, 'info', `balancing event ${e.id} published: ${e.direction} ${e.targetKw} kW in ${e.area} from ${e.start} to ${e.end}`);
    this.ctx.logger.info({ event: e.id, area: e.area, start: e.start, end: e.end, meters: e.meters.length }, 'balancing event published');
    return e;
  }

  private meterIdOf(meter: string): string {
    const configured = (this.ctx.config?.meters ?? []).find((m) => m.deviceId === meter);
    if (configured?.meterId) return configured.meterId;
    if (/^0x[0-9a-fA-F]{64}$/.test(meter)) return meter;
    return this.requireSettlement().meterId(meter);
  }

  // ---- the clock ----

  private tick(): Promise<void> | void {
    if (this.ticking !== undefined || this.stopped) return;
    this.ticking = this.serialized(() => this.step())
      .catch((e: unknown) => this.ctx.health.degraded(`dispatch: ${errorMessage(e)}`))
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async step(): Promise<void> {
    const now = Date.now();
    for (const e of this.events) {
      if (this.stopped) return;
      const startMs = Date.parse(e.start);
      const endMs = Date.parse(e.end);
      if (e.status === 'scheduled' && now >= startMs) {
        if (now < endMs) await this.activate(e);
        else {
          e.status = 'ended'; // the whole window passed while we were down: nothing to send or restore
          e.history.push({ at: now, what: 'window passed while dispatch was not running: no setpoints sent' });
          this.save();
        }
      }
      if (e.status === 'active') {
        if (now >= endMs) await this.restore(e);
        else await this.monitor(e);
      }
      if (e.status === 'ended' && (this.ctx.config?.autoSettle ?? true)) {
        await this.settle(e, false).catch((err: unknown) => {
          e.lastError = errorMessage(err);
          this.ctx.health.degraded(`settling event ${e.id}: ${e.lastError}`);
        });
      }
    }
  }

  private principal(e: DispatchEvent): { id: string; name: string; role: 'operator' } {
    return { id: 'dispatch', name: `dispatch (event ${e.id})`, role: 'operator' };
  }

  private async activate(e: DispatchEvent): Promise<void> {
    // save the values to restore before anything is sent
    for (const m of e.meters) {
      for (const sp of m.setpoints) {
        if (sp.previous === undefined) {
          const v = sp.restore ?? this.core.latestValue(sp.deviceId, sp.pointId)?.value;
          if (v !== undefined && v !== null) sp.previous = v;
        }
      }
    }
    e.status = 'active';
    e.history.push({ at: Date.now(), what: 'window started: sending setpoints' });
    this.save();
    for (const m of e.meters) {
      if (m.enrolTx === undefined) continue;
      for (const sp of m.setpoints) {
        if (sp.sent !== undefined) continue;
        sp.sent = await this.command(e, sp.deviceId, sp.pointId, sp.value, `balancing event ${e.id} (${e.direction} ${e.targetKw} kW): window start`);
        this.save();
      }
    }
    this.emit(e, 'info', `balancing event ${e.id} active: ${e.meters.reduce((n, m) => n + m.setpoints.filter((s) => s.sent?.status === 'succeeded').length, 0)} setpoint(s) applied`);
  }

  private async restore(e: DispatchEvent): Promise<void> {
    for (const m of e.meters) {
      for (const sp of m.setpoints) {
        if (sp.restored !== undefined || sp.sent === undefined || sp.previous === undefined) continue;
        sp.restored = await this.command(e, sp.deviceId, sp.pointId, sp.previous, `balancing event ${e.id}: window end, previous setpoint restored`);
        this.save();
      }
    }
    e.status = 'ended';
    e.history.push({ at: Date.now(), what: 'window ended: previous setpoints restored' });
    this.save();
    this.emit(e, 'info', `balancing event ${e.id} ended: previous setpoints restored`);
  }

  private async command(e: DispatchEvent, deviceId: string, pointId: string, value: number | boolean | string, reason: string): Promise<CommandSummary> {
    let result: CommandResult;
    try {
      result = await this.core.executeCommand({ deviceId, pointId, value, reason }, this.principal(e));
    } catch (err) {
      return { commandId: '', status: 'failed', at: Date.now(), error: errorMessage(err) };
    }
    const summary: CommandSummary = { commandId: result.commandId, status: result.status, at: Date.now(), ...(result.error ? { error: result.error.message } : {}) };
    if (result.status !== 'succeeded') {
      e.lastError = `${deviceId}/${pointId} := ${String(value)}: ${result.status}${result.error ? ` (${result.error.message})` : ''}`;
      e.history.push({ at: Date.now(), what: e.lastError });
      this.ctx.logger.warn({ event: e.id, deviceId, pointId, status: result.status, error: result.error?.message }, 'dispatch command not applied');
    }
    return summary;
  }

  /** The live response: net export now vs the baseline of the current interval, per meter and in total. */
  private async monitor(e: DispatchEvent): Promise<void> {
    const s = this.requireSettlement();
    const L = s.intervalSeconds;
    const interval = Math.floor(Date.now() / 1000 / L);
    const registry = new MeterRegistryClient(s.addresses.registry, s.provider());
    const perMeter: NonNullable<DispatchEvent['response']>['perMeter'] = [];
    let measured = 0;
    let baseline = 0;
    for (const m of e.meters) {
      const key = `${m.meterId}/${interval}`;
      let base = this.baselines.get(key);
      if (base === undefined) {
        try {
          const r = (await registry.contract.getFunction('baselineOf').staticCall(m.meterId, interval, 10)) as [bigint, bigint, bigint];
          base = { exportWh: r[0], importWh: r[1] };
        } catch {
          base = { exportWh: 0n, importWh: 0n };
        }
        this.baselines.set(key, base);
      }
      const baseKw = averageKw(base, L);
      const cfg = (this.ctx.config?.meters ?? []).find((x) => x.deviceId === m.meter)?.power;
      let kw: number | null = null;
      if (cfg) {
        const v = this.core.latestValue(cfg.deviceId ?? m.meter, cfg.pointId)?.value;
        if (typeof v === 'number') kw = ((cfg.unit === 'kW' ? v : v / 1000) * ((cfg.positive ?? 'import') === 'export' ? 1 : -1));
      }
      perMeter.push({ meter: m.meter, measuredKw: kw, baselineKw: baseKw });
      if (kw !== null) {
        measured += kw;
        baseline += baseKw;
      }
    }
    const r = liveResponse(e.direction, measured, baseline, e.targetKw);
    e.response = { ...r, at: Date.now(), perMeter };
    const device = this.ctx.config?.monitorDeviceId ?? 'dispatch';
    const point = (name: string, value: number): Sample => ({
      deviceId: device,
      pointId: `event-${e.id}.${name}`,
      ts: Date.now(),
      value: Math.round(value * 1000) / 1000,
      quality: { status: 'good', flags: [] },
      protocol: 'dispatch',
      unit: 'kW',
    });
    await this.core.ingest.ingest([point('delivered-kw', r.deliveredKw), point('baseline-kw', r.baselineKw), point('measured-kw', r.measuredKw), point('target-kw', r.targetKw)]);
  }

  /**
   * Settles on chain once every enrolled meter's readings of the window are attested. `explicit`: called
   * through the API, so "not yet" is an error for the caller; from the tick it is simply tried again later.
   */
  private async settle(e: DispatchEvent, explicit: boolean): Promise<DispatchEvent> {
    if (e.status === 'settled') {
      if (explicit) throw new EnergyMeshError('INVALID_ARGUMENT', `balancing event ${e.id} is already settled`, { details: { id: e.id, txHash: e.settlement?.txHash } });
      return e;
    }
    if (e.status !== 'ended') {
      if (explicit) throw new EnergyMeshError('INVALID_ARGUMENT', `balancing event ${e.id} is ${e.status}: it can be settled after its window ends (${e.end})`, { details: { id: e.id } });
      return e;
    }
    const s = this.requireSettlement();
    const registry = new MeterRegistryClient(s.addresses.registry, s.provider());
    const enrolled = e.meters.filter((m) => m.enrolTx !== undefined);
    for (const m of enrolled) {
      const last = await registry.lastInterval(m.meterId);
      if (last === undefined || last < BigInt(e.endInterval - 1)) {
        if (explicit) {
          throw new EnergyMeshError('INVALID_ARGUMENT', `the readings of ${m.meter} for the window are not attested yet (last interval on chain: ${last ?? 'none'}, needed: ${e.endInterval - 1})`, {
            details: { id: e.id, meter: m.meter },
          });
        }
        return e;
      }
    }
    const incentives = new BalancingIncentivesClient(s.addresses.incentives, s.operator());
    // meters a previous attempt settled (a lost response) are left out so the batch does not revert
    const toSettle: typeof enrolled = [];
    for (const m of enrolled) if ((await incentives.enrolment(BigInt(e.id), m.meterId)) === 'enrolled') toSettle.push(m);
    let txHash = '';
    if (toSettle.length > 0) {
      try {
        const receipt = await incentives.settle(BigInt(e.id), toSettle.map((m) => m.meterId));
        txHash = receipt.hash;
      } catch (err) {
        if (isEnergyMeshError(err)) e.lastError = err.message;
        throw err;
      }
    }
    // the payouts, from the chain's DeliverySettled events (also those of an earlier attempt)
    const filter = incentives.contract.filters.DeliverySettled;
    const logs = filter ? await incentives.contract.queryFilter(filter(BigInt(e.id)), 0, 'latest') : [];
    const payouts: NonNullable<DispatchEvent['settlement']>['payouts'] = [];
    let total = 0n;
    for (const log of logs) {
      if (!('args' in log)) continue;
      const [, meterId, deliveredWh, rewardWei] = [...log.args] as [bigint, string, bigint, bigint];
      const m = e.meters.find((x) => x.meterId.toLowerCase() === meterId.toLowerCase());
      payouts.push({ meter: m?.meter ?? meterId, meterId, deliveredWh: deliveredWh.toString(), rewardWei: rewardWei.toString(), rewardEb: formatEther(rewardWei) });
      total += rewardWei;
      if (txHash === '') txHash = log.transactionHash;
    }
    e.settlement = { txHash, at: Date.now(), totalRewardWei: total.toString(), payouts };
    e.status = 'settled';
    delete e.lastError;
    e.history.push({ at: Date.now(), what: `settled on chain (tx ${txHash}): ${formatEther(total)} EB paid` });
    this.save();
    this.emit(e, 'info', `balancing event ${e.id} settled: ${payouts.map((p) => `${p.meter} delivered ${p.deliveredWh} Wh, paid ${p.rewardEb} EB`).join('; ')}`);
    if (this.ctx.health.current().state === 'degraded') this.ctx.health.up();
    return e;
  }

  // ---- helpers ----

  private emit(e: DispatchEvent, severity: 'info' | 'warning', message: string): void {
    this.core.ingest
      .ingestEvents([
        {
          deviceId: this.ctx.config?.monitorDeviceId ?? 'dispatch',
          type: 'system',
          severity,
          ts: Date.now(),
          message,
          data: { source: this.ctx.id, event: e.id, status: e.status, ...(e.settlement ? { settlement: e.settlement } : {}) },
        },
      ])
      .catch((err: unknown) => this.ctx.logger.warn({ err: errorMessage(err) }, 'dispatch event not published'));
  }

  private serialized<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.events, null, 1));
    renameSync(tmp, this.file);
  }

  private requireSettlement(): SettlementService {
    if (this.settlement === undefined) throw new EnergyMeshError('NOT_CONNECTED', 'dispatch is not started');
    return this.settlement;
  }
}

function summary(e: DispatchEvent): Record<string, unknown> {
  return {
    id: e.id,
    status: e.status,
    area: e.area,
    start: e.start,
    end: e.end,
    direction: e.direction,
    targetKw: e.targetKw,
    rewardEbPerKwh: formatEther(BigInt(e.rewardPerKwhWei)),
    poolEb: formatEther(BigInt(e.poolWei)),
    meters: e.meters.map((m) => m.meter),
    ...(e.response ? { deliveredKw: e.response.deliveredKw } : {}),
    ...(e.settlement ? { paidEb: formatEther(BigInt(e.settlement.totalRewardWei)) } : {}),
    ...(e.lastError ? { lastError: e.lastError } : {}),
  };
}
