/**
 * The kernel: builds the root container, loads every enabled plugin into a child container of its
 * own, gathers its contributions into the registries, and runs the lifecycle in dependency order.
 *
 * Failure policy: a plugin whose module cannot be imported, whose container module throws, or
 * whose start throws is marked down with the reason and the others keep running; plugins that
 * depend on it are marked down too. Config errors are fatal (nothing starts on a bad config).
 */
import 'reflect-metadata';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Container } from 'inversify';
import type { ContainerModule } from 'inversify';
import type { Bus, Subscription } from './bus/bus.ts';
import { topicName } from './bus/bus.ts';
import { EmbeddedBus } from './bus/embedded-bus.ts';
import { CommandService } from './commands/command-service.ts';
import { validateSections } from './config/config-loader.ts';
import { redactSecrets } from './config/config-file.ts';
import type { LoadedConfig, ResolvedPlugin } from './config/config-loader.ts';
import {
  BusContribution,
  ChainConnectorContribution,
  CliCommandsContribution,
  ComplianceModuleContribution,
  ConfigSchemaContribution,
  CoreServices,
  HttpRoutesContribution,
  LifecycleContribution,
  PluginContext,
  ProtocolDriverContribution,
  TelemetrySinkContribution,
} from './contributions.ts';
import type {
  BusFactory,
  ChainConnector,
  CliCommandDefinition,
  ComplianceStage,
  ConfigSection,
  DriverContext,
  Health,
  HttpRouteDefinition,
  ProtocolDriver,
  TelemetrySink,
} from './contributions.ts';
import { EnergyMeshError, errorMessage, isEnergyMeshError } from './errors.ts';
import type { Logger } from './logging/logger.ts';
import { silentLogger } from './logging/logger.ts';
import { KernelMetrics } from './metrics/metrics.ts';
import type { DeviceEvent, DeviceStatus, TelemetryRecord } from './model/telemetry.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { SequenceStore } from './pipeline/sequence-store.ts';
import { SimpleHealthReporter } from './plugins/health-reporter.ts';
import { registerPluginApiResolver } from './plugins/plugin-api-resolver.ts';
import type { PluginManifest } from './plugins/plugin-manifest.ts';
import { DriverRegistry, SinkRegistry } from './registries.ts';
import { LatestValueStore } from './store/latest-value-store.ts';
import type { AuditLog } from './audit/audit-log.ts';
import type { ComplianceManager } from './compliance/compliance-manager.ts';
import type { Principal as CompliancePrincipal } from './compliance/compliance-module.ts';
import { alertToEvent, createComplianceServices } from './compliance/compliance-services.ts';
import { ROLES, roleAllows } from './auth/roles.ts';
import type { Principal } from './auth/roles.ts';
import type { CommandRequest, CommandResult } from './model/telemetry.ts';
import { DefaultServiceRegistry } from './services/service-registry.ts';

/** A plugin as the kernel runs it. */
export interface PluginRuntime {
  readonly id: string;
  readonly manifest: PluginManifest;
  readonly location: ResolvedPlugin;
  readonly health: SimpleHealthReporter;
  container?: Container;
  context?: PluginContext;
  lifecycle: LifecycleContribution[];
  routes: HttpRouteDefinition[];
  commands: CliCommandDefinition[];
  started: boolean;
  /** Why the plugin failed to load or start, if it did. */
  failure?: string;
}

export interface KernelOptions {
  logger?: Logger;
  /** Collect Node's default process metrics (off in tests to keep registries small). */
  defaultMetrics?: boolean;
  /** Time allowed for one plugin's start or stop step. */
  stepTimeoutMs?: number;
}

export class Kernel {
  readonly root = new Container();
  readonly drivers = new DriverRegistry();
  readonly sinks = new SinkRegistry();
  readonly latest = new LatestValueStore();
  readonly metrics: KernelMetrics;
  readonly logger: Logger;
  /** Created by `load()` (a bus plugin may provide it). */
  bus!: Bus;
  pipeline!: Pipeline;
  commands!: CommandService;
  /** The hash-chained audit log (`<dataDir>/audit`). */
  audit!: AuditLog;
  /** Which compliance modules are active, their rules, gates, reports (`<dataDir>/compliance`). */
  compliance!: ComplianceManager;
  readonly plugins: PluginRuntime[] = [];
  readonly complianceStages: ComplianceStage[] = [];
  readonly chainConnectors: ChainConnector[] = [];
  /** Services plugins offer one another. */
  readonly services = new DefaultServiceRegistry();
  private readonly sequences: SequenceStore;
  private readonly subscriptions: Subscription[] = [];
  private readonly deviceStatus = new Map<string, DeviceStatus & { pluginId: string }>();
  private readonly eventListeners = new Set<(e: DeviceEvent) => void>();
  private flushTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private readonly stepTimeoutMs: number;

  constructor(
    readonly config: LoadedConfig,
    options: KernelOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger();
    this.metrics = new KernelMetrics({ defaultMetrics: options.defaultMetrics ?? true });
    this.stepTimeoutMs = options.stepTimeoutMs ?? 15_000;
    mkdirSync(config.core.dataDir, { recursive: true });
    this.sequences = new SequenceStore(join(config.core.dataDir, 'pipeline', 'sequences.json'));
    const core = config.core;
    const chains = this.chainConnectors;
    this.root.bind<CoreServices>(CoreServices).toDynamicValue(() => ({
      bus: this.bus,
      ingest: this.pipeline,
      siteId: core.site.id,
      dataDir: core.dataDir,
      services: this.services,
      chains: {
        all: () => chains,
        get: (id?: string) => {
          const found = id === undefined ? chains[0] : chains.find((c) => c.id === id);
          if (found === undefined) {
            const known = chains.map((c) => c.id).join(', ') || 'none';
            throw new EnergyMeshError('SERVICE_UNAVAILABLE', `no chain connector${id === undefined ? '' : ` ${id}`} (available: ${known}); enable a chain plugin and list it in dependsOn`, {
              details: { connector: id ?? null },
            });
          }
          return found;
        },
      },
      executeCommand: (request, principal) => this.executeCommand(request, principal),
      marketParameters: () => this.compliance.marketParameters(),
      checkTrade: (trade) => this.compliance.checkTrade(trade),
      latestValue: (deviceId, pointId) => this.latest.get(deviceId, pointId),
    }));
  }

  /** Whether records and events published on the bus leave the site (Kafka, unless marked internal). */
  private busLeavesSite(): boolean {
    const bus = this.config.core.bus;
    return bus.external ?? bus.kind !== 'embedded';
  }

  /** The bus, the pipeline and the command service, once the bus kind's factory is known. */
  private createCoreServices(factories: readonly BusFactory[]): void {
    const core = this.config.core;
    this.bus = this.createBus(factories);
    this.pipeline = new Pipeline({
      bus: this.bus,
      sequences: this.sequences,
      logger: this.logger.child({ component: 'pipeline' }),
      siteId: core.site.id,
      stages: () => this.complianceStages,
      onReject: (reason) => this.metrics.rejected.inc({ reason: reason.split(' ')[0] ?? 'invalid' }),
      ...(this.busLeavesSite() ? { eventTransform: (e: DeviceEvent) => this.compliance.egressEvent(e) } : {}),
    });
    this.commands = new CommandService({
      drivers: this.drivers,
      bus: this.bus,
      logger: this.logger.child({ component: 'commands' }),
      onResult: (r) => this.metrics.commands.inc({ status: r.status }),
    });
  }

  private createBus(factories: readonly BusFactory[]): Bus {
    const b = this.config.core.bus;
    if (b.kind !== 'embedded') {
      const factory = factories.find((f) => f.kind === b.kind);
      if (!factory) {
        const kinds = ['embedded', ...factories.map((f) => f.kind)].join(', ');
        throw new EnergyMeshError('CONFIG_INVALID', `${this.config.source.file}: /bus/kind: no enabled plugin provides a bus of kind ${b.kind} (available: ${kinds})`, {
          details: { path: '/bus/kind' },
        });
      }
      return factory.create({ prefix: b.prefix, dataDir: this.config.core.dataDir, logger: this.logger.child({ component: 'bus', kind: b.kind }) });
    }
    return new EmbeddedBus({
      prefix: b.prefix,
      logger: this.logger.child({ component: 'bus' }),
      ...(b.durable
        ? { durable: { dir: join(this.config.core.dataDir, 'bus'), fsync: b.fsync, fsyncIntervalMs: b.fsyncIntervalMs, retention: { maxBytes: b.retentionBytes } } }
        : {}),
    });
  }

  /** Loads plugin modules and validates the config sections they contribute. */
  async load(): Promise<void> {
    registerPluginApiResolver();
    for (const location of this.config.plugins) {
      const runtime = this.newRuntime(location);
      this.plugins.push(runtime);
      try {
        const mod = (await import(pathToFileURL(location.entryFile).href)) as { default?: unknown };
        const module = mod.default;
        if (!isContainerModule(module)) {
          throw new EnergyMeshError('PLUGIN_INVALID', `${location.entryFile}: the default export must be an inversify ContainerModule`);
        }
        const container = new Container({ parent: this.root });
        const context = this.newContext(runtime);
        container.bind<PluginContext>(PluginContext).toConstantValue(context);
        await container.load(module);
        runtime.container = container;
        runtime.context = context;
      } catch (e) {
        this.pluginFailed(runtime, 'load', e);
      }
    }
    const sections: ConfigSection[] = [];
    for (const p of this.plugins) sections.push(...this.contributions<ConfigSchemaContribution>(p, ConfigSchemaContribution).flatMap((c) => c.configSections()));
    validateSections(this.config, sections);
    const factories = this.plugins.flatMap((p) => this.contributions<BusContribution>(p, BusContribution).flatMap((c) => c.busFactories()));
    const modules = this.plugins.flatMap((p) => this.contributions<ComplianceModuleContribution>(p, ComplianceModuleContribution).flatMap((c) => c.complianceModules()));
    const { audit, manager } = createComplianceServices({ dataDir: this.config.core.dataDir, modules });
    this.audit = audit;
    this.compliance = manager;
    this.complianceStages.push(manager.stage());
    if (this.busLeavesSite()) this.complianceStages.push(manager.egressStage()); // records leave the site on this bus
    this.createCoreServices(factories);
    this.recordConfigChange();
    manager.onDidRaiseAlert((alert) => {
      this.pipeline.ingestEvents([alertToEvent(alert)]).catch((e: unknown) => this.logger.warn({ err: errorMessage(e) }, 'compliance alert not published'));
    });
  }

  /**
   * CIP-010-style change record: when the configuration differs from the one of the last start, the
   * change (secrets redacted) goes to the audit log through the compliance manager.
   */
  private recordConfigChange(): void {
    const file = join(this.config.core.dataDir, 'compliance', 'last-config.json');
    const after = redactSecrets(this.config.source.data, this.config.source.secretPaths);
    let before: unknown;
    try {
      before = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      before = undefined;
    }
    if (JSON.stringify(before) === JSON.stringify(after)) return;
    try {
      this.compliance.recordChange({
        kind: 'config',
        by: 'local',
        reason: before === undefined ? 'first start with this data dir' : 'configuration changed between runs (detected at start)',
        target: this.config.source.file,
        ...(before === undefined ? {} : { before }),
        after,
      });
    } catch (e) {
      this.logger.error({ err: errorMessage(e) }, 'the configuration change could not be recorded as an active compliance module requires');
    }
    mkdirSync(join(this.config.core.dataDir, 'compliance'), { recursive: true });
    writeFileSync(file, JSON.stringify(after));
  }

  /**
   * Runs a command for `principal`: the active compliance modules' gates first (deny, or hold for a
   * second person's approval), then the driver; every outcome is audited.
   */
  async executeCommand(request: CommandRequest, principal: Principal): Promise<CommandResult> {
    const who = compliancePrincipal(principal);
    const issuedBy = `${principal.name} (${principal.id})`;
    const gate = this.compliance.gateCommand(request, who);
    if (gate.decision === 'deny') {
      return this.commands.refuse(request, issuedBy, 'rejected', {
        error: { code: 'COMPLIANCE_VIOLATION', message: gate.message, details: { module: gate.module, reason: gate.reason } },
      });
    }
    if (gate.decision === 'require-approval') {
      return this.commands.refuse(
        request,
        issuedBy,
        'pending',
        { approval: { pendingId: gate.pendingId, module: gate.module, message: gate.message, approverRoles: [...gate.approverRoles], expiresAt: gate.expiresAt } },
        gate.pendingId,
      );
    }
    const result = await this.commands.execute(request, issuedBy);
    this.compliance.recordCommand(request, who, result);
    return result;
  }

  /** A second person approves a held command; when the gates are satisfied it is executed. */
  executeApproval(pendingId: string, approver: Principal): Promise<CommandResult> {
    return this.approveCommand(pendingId, approver);
  }

  private async approveCommand(pendingId: string, approver: Principal): Promise<CommandResult> {
    const outcome = this.compliance.approve(pendingId, compliancePrincipal(approver));
    if (outcome.decision === 'deny') {
      throw new EnergyMeshError(outcome.reason === 'no-such-request' ? 'INVALID_ARGUMENT' : 'FORBIDDEN', outcome.message, {
        details: { pendingId, reason: outcome.reason, ...(outcome.module ? { module: outcome.module } : {}) },
      });
    }
    const request = outcome.command;
    const result = await this.commands.execute(request, `${outcome.requestedBy.id}, approved by ${outcome.approvedBy.join(', ')}`);
    this.compliance.recordCommand(request, outcome.requestedBy, result);
    return result;
  }

  /** Starts the bus, the core consumers and every plugin in dependency order. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new EnergyMeshError('INVALID_ARGUMENT', `kernel cannot start from state ${this.state}`);
    this.state = 'starting';
    if (!this.bus) await this.load();
    await this.bus.start();
    this.subscriptions.push(
      await this.bus.subscribe<TelemetryRecord>(topicName(this.bus.prefix, 'telemetry'), { group: 'core.latest-values', maxBatch: 5000 }, (batch) => {
        const records: TelemetryRecord[] = new Array(batch.length);
        for (let i = 0; i < batch.length; i++) records[i] = (batch[i] as { value: TelemetryRecord }).value;
        this.latest.apply(records);
      }),
    );
    this.subscriptions.push(
      await this.bus.subscribe<DeviceEvent>(topicName(this.bus.prefix, 'events'), { group: 'core.events' }, (batch) => {
        for (const m of batch) for (const l of this.eventListeners) l(m.value);
      }),
    );
    for (const p of this.plugins) await this.startPlugin(p);
    this.flushTimer = setInterval(() => this.flushSequences(), 5000);
    this.flushTimer.unref();
    this.state = 'running';
    this.logger.info({ plugins: this.plugins.map((p) => ({ id: p.id, state: p.health.current().state })) }, 'kernel started');
  }

  /** Stops plugins in reverse order, then the consumers and the bus. Never throws. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    clearInterval(this.flushTimer);
    for (const p of [...this.plugins].reverse()) await this.stopPlugin(p);
    if (!this.bus) {
      this.state = 'stopped';
      return;
    }
    await this.pipeline.drain().catch(() => undefined);
    for (const s of this.subscriptions.splice(0)) await s.close().catch((e: unknown) => this.logger.warn({ err: errorMessage(e) }, 'closing a subscription failed'));
    this.flushSequences();
    try {
      this.compliance.flush();
    } catch (e) {
      this.logger.warn({ err: errorMessage(e) }, 'saving compliance counters failed');
    }
    await this.bus.stop().catch((e: unknown) => this.logger.error({ err: errorMessage(e) }, 'stopping the bus failed'));
    for (const p of this.plugins) await p.container?.unbindAll().catch(() => undefined);
    this.state = 'stopped';
    this.logger.info('kernel stopped');
  }

  /** Overall health: down if the bus is down, degraded if any plugin is not up. */
  health(): { status: 'up' | 'degraded' | 'down'; bus: ReturnType<Bus['health']>; plugins: { id: string; kind: string; health: Health }[] } {
    const plugins = this.plugins.map((p) => ({ id: p.id, kind: p.manifest.kind, health: p.health.current() }));
    const bus = this.bus.health();
    const status = bus.state === 'down' ? 'down' : bus.state === 'degraded' || plugins.some((p) => p.health.state !== 'up') ? 'degraded' : 'up';
    return { status, bus, plugins };
  }

  /** Device status as drivers report it. */
  devicesStatus(): (DeviceStatus & { pluginId: string })[] {
    return [...this.deviceStatus.values()];
  }

  /** Listens to events published on the events topic. */
  onDidPublishEvent(listener: (e: DeviceEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Every HTTP route plugins contribute, with the plugin id. */
  pluginRoutes(): { pluginId: string; route: HttpRouteDefinition }[] {
    return this.plugins.filter((p) => p.started).flatMap((p) => p.routes.map((route) => ({ pluginId: p.id, route })));
  }

  /** Every CLI command plugins contribute. */
  pluginCommands(): { pluginId: string; command: CliCommandDefinition }[] {
    return this.plugins.flatMap((p) =>
      this.contributions<CliCommandsContribution>(p, CliCommandsContribution).flatMap((c) => (c.commands?.() ?? []).map((command) => ({ pluginId: p.id, command }))),
    );
  }

  /** Plugins' commander command groups, for the CLI. */
  pluginCommandGroups(): { pluginId: string; register: NonNullable<CliCommandsContribution['registerCommands']> }[] {
    return this.plugins.flatMap((p) =>
      this.contributions<CliCommandsContribution>(p, CliCommandsContribution).flatMap((c) =>
        c.registerCommands === undefined ? [] : [{ pluginId: p.id, register: c.registerCommands.bind(c) }],
      ),
    );
  }

  // -------------------------------------------------------------------------------------------

  private newRuntime(location: ResolvedPlugin): PluginRuntime {
    const id = location.manifest.id;
    const health = new SimpleHealthReporter((h, prev) => {
      this.metrics.pluginHealth.set({ plugin: id }, h.state === 'up' ? 2 : h.state === 'degraded' ? 1 : 0);
      if (prev.state !== h.state) {
        const level = h.state === 'up' || h.reason === 'stopped' ? 'info' : h.state === 'degraded' ? 'warn' : 'error';
        this.logger[level]({ plugin: id, state: h.state, reason: h.reason }, 'plugin health changed');
      }
    });
    return { id, manifest: location.manifest, location, health, lifecycle: [], routes: [], commands: [], started: false };
  }

  private newContext(runtime: PluginRuntime): PluginContext {
    const logger = this.logger.child({ plugin: runtime.id });
    const dataDir = join(this.config.core.dataDir, 'plugins', runtime.id);
    return {
      id: runtime.id,
      manifest: runtime.manifest,
      config: runtime.location.config,
      logger,
      get dataDir(): string {
        mkdirSync(dataDir, { recursive: true });
        return dataDir;
      },
      configDir: this.config.source.baseDir,
      health: runtime.health,
      guard: (what, fn) => {
        try {
          const r = fn();
          if (r instanceof Promise) r.catch((e: unknown) => this.pluginFault(runtime, what, e));
        } catch (e) {
          this.pluginFault(runtime, what, e);
        }
      },
    };
  }

  private contributions<T>(p: PluginRuntime, id: symbol): T[] {
    if (!p.container || !p.container.isCurrentBound(id)) return [];
    try {
      return p.container.getAll<T>(id);
    } catch (e) {
      this.pluginFailed(p, `resolve ${id.description ?? 'contribution'}`, e);
      return [];
    }
  }

  private async startPlugin(p: PluginRuntime): Promise<void> {
    if (!p.container) return; // failed to load: already down
    const blocked = (p.manifest.dependsOn ?? []).find((dep) => this.plugins.find((q) => q.id === dep)?.health.current().state === 'down');
    if (blocked) {
      p.health.down(`dependency ${blocked} is down`);
      return;
    }
    try {
      p.lifecycle = this.contributions<LifecycleContribution>(p, LifecycleContribution);
      for (const l of p.lifecycle) await this.step(p, 'start', () => l.onStart?.());
      for (const c of this.contributions<ComplianceModuleContribution>(p, ComplianceModuleContribution)) this.complianceStages.push(...c.stages());
      for (const c of this.contributions<ChainConnectorContribution>(p, ChainConnectorContribution)) this.chainConnectors.push(...c.connectors());
      const router = { route: (r: HttpRouteDefinition) => p.routes.push(r) };
      for (const c of this.contributions<HttpRoutesContribution>(p, HttpRoutesContribution)) c.registerRoutes(router);
      for (const c of this.contributions<TelemetrySinkContribution>(p, TelemetrySinkContribution)) {
        c.registerSinks({ register: (sink) => this.sinks.register(sink) });
      }
      for (const sink of this.sinks.all()) await this.subscribeSink(p, sink);
      const before = new Set(this.drivers.all().map((d) => d.driver));
      for (const c of this.contributions<ProtocolDriverContribution>(p, ProtocolDriverContribution)) {
        this.drivers.withPlugin(p.id, () => c.registerDrivers(this.drivers));
      }
      for (const { driver } of this.drivers.all()) {
        if (before.has(driver)) continue;
        await this.step(p, `start driver ${driver.id}`, () => driver.start(this.driverContext(p, driver)));
      }
      p.started = true;
      if (p.health.current().reason === 'not started') p.health.up(); // unless the plugin reported otherwise while starting
    } catch (e) {
      this.pluginFailed(p, 'start', e);
    }
  }

  private readonly sinkSubscribed = new Set<string>();

  private async subscribeSink(p: PluginRuntime, sink: TelemetrySink): Promise<void> {
    if (this.sinkSubscribed.has(sink.id)) return;
    this.sinkSubscribed.add(sink.id);
    this.subscriptions.push(
      await this.bus.subscribe<TelemetryRecord>(topicName(this.bus.prefix, 'telemetry'), { group: `sink.${sink.id}`, fromBeginning: true }, async (batch) => {
        try {
          await sink.write(batch.map((m) => m.value));
          const h = p.health.current();
          if (h.state === 'degraded' && h.reason?.startsWith(`sink ${sink.id}:`)) p.health.up(); // recovered
        } catch (e) {
          this.pluginFault(p, `sink ${sink.id}`, e);
          throw e; // redelivered by the bus
        }
      }),
    );
  }

  private driverContext(p: PluginRuntime, driver: ProtocolDriver): DriverContext {
    const records = this.metrics.records.labels({ plugin: p.id });
    const pollOk = this.metrics.polls.labels({ plugin: p.id, result: 'ok' });
    const pollFail = this.metrics.polls.labels({ plugin: p.id, result: 'error' });
    const latency = this.metrics.pollDuration.labels({ plugin: p.id });
    const pipeline = this.pipeline;
    return {
      ingest: {
        ingest: (samples) => {
          records.inc(samples.length);
          return pipeline.ingest(samples);
        },
        ingestEvents: (events) => pipeline.ingestEvents(events),
      },
      logger: this.logger.child({ plugin: p.id, driver: driver.id }),
      metrics: {
        observePoll: (_deviceId, seconds, ok) => {
          latency.observe(seconds);
          (ok ? pollOk : pollFail).inc();
        },
        countError: (deviceId, code) => this.metrics.errors.inc({ plugin: p.id, device: deviceId, code }),
      },
      reportDeviceStatus: (status) => {
        const prev = this.deviceStatus.get(status.deviceId);
        this.deviceStatus.set(status.deviceId, { ...status, pluginId: p.id });
        if (!prev || prev.state !== status.state) {
          // only on a change: drivers may report every poll
          this.metrics.devicesOnline.set({ plugin: p.id }, [...this.deviceStatus.values()].filter((s) => s.pluginId === p.id && s.state === 'online').length);
          const severity = status.state === 'online' ? 'info' : 'warning';
          pipeline
            .ingestEvents([
              {
                deviceId: status.deviceId,
                type: 'device-status',
                severity,
                ts: status.since,
                message: `${status.deviceId} is ${status.state}${status.reason ? `: ${status.reason}` : ''}`,
                data: { state: status.state, driver: driver.id },
              },
            ])
            .catch((e: unknown) => this.logger.warn({ err: errorMessage(e) }, 'device status event not published'));
        }
      },
    };
  }

  private async stopPlugin(p: PluginRuntime): Promise<void> {
    for (const driver of this.drivers.byPlugin(p.id)) {
      await this.step(p, `stop driver ${driver.id}`, () => driver.stop()).catch((e: unknown) => this.pluginFault(p, 'stop', e));
    }
    for (const l of [...p.lifecycle].reverse()) {
      await this.step(p, 'stop', () => l.onStop?.()).catch((e: unknown) => this.pluginFault(p, 'stop', e));
    }
    if (p.started) p.health.down('stopped');
    p.started = false;
  }

  private async step(p: PluginRuntime, what: string, fn: () => unknown): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = what === 'start' ? Math.max(this.stepTimeoutMs, p.manifest.startTimeoutMs ?? 0) : this.stepTimeoutMs;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new EnergyMeshError('TIMEOUT', `${p.id}: ${what} did not finish within ${limit} ms`, { retriable: true })), limit);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private flushSequences(): void {
    try {
      this.sequences.flush();
    } catch (e) {
      this.logger.warn({ err: errorMessage(e) }, 'saving sequence numbers failed');
    }
  }

  /** A plugin failed to load or start: it is down, the rest goes on. */
  private pluginFailed(p: PluginRuntime, phase: string, e: unknown): void {
    const code = isEnergyMeshError(e) ? e.code : 'PLUGIN_FAILED';
    p.failure = `${phase} failed: ${errorMessage(e)}`;
    p.health.down(p.failure);
    this.metrics.errors.inc({ plugin: p.id, device: '', code });
    this.logger.error({ plugin: p.id, phase, err: errorMessage(e), code }, 'plugin failed');
  }

  /** A plugin threw at run time: it is degraded, the rest goes on. */
  pluginFault(p: PluginRuntime, what: string, e: unknown): void {
    const code = isEnergyMeshError(e) ? e.code : 'PLUGIN_FAILED';
    if (p.health.current().state === 'up') p.health.degraded(`${what}: ${errorMessage(e)}`);
    this.metrics.errors.inc({ plugin: p.id, device: '', code });
    this.logger.warn({ plugin: p.id, what, err: errorMessage(e) }, 'plugin fault');
  }
}

/** The compliance engine's view of a principal: every role the principal's role includes. */
export function compliancePrincipal(p: Principal): CompliancePrincipal {
  return { id: p.id, roles: ROLES.filter((r) => roleAllows(p.role, r)) };
}

function isContainerModule(x: unknown): x is ContainerModule {
  return typeof x === 'object' && x !== null && typeof (x as { load?: unknown }).load === 'function';
}
