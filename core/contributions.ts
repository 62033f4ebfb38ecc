/**
 * Contribution points: what plugins contribute to the core. Each point is a Symbol and an interface
 * of the same name (the pattern of Eclipse Theia). A plugin exports an inversify `ContainerModule`
 * that binds its contributions; the kernel loads each plugin into a child container of its own,
 * gathers the contributions from it and feeds them to the registries. The core never imports a plugin.
 */
import type { Command as CliProgram } from 'commander';
import type { Disposable } from './disposable.ts';
import type { Logger } from './logging/logger.ts';
import type {
  Command,
  CommandRequest,
  CommandResult,
  DeviceDescriptor,
  DeviceEvent,
  DeviceStatus,
  Sample,
  TelemetryRecord,
} from './model/telemetry.ts';
import type { JsonSchema } from './config/json-schema.ts';
import type { PluginManifest } from './plugins/plugin-manifest.ts';
import type { Bus } from './bus/bus.ts';
import type { ComplianceModule, ComplianceTrade, MarketParameters } from './compliance/compliance-module.ts';
import type { TradeCheck } from './compliance/compliance-manager.ts';
import type { ServiceRegistry } from './services/service-registry.ts';

// ---------------------------------------------------------------------------------------------
// What every plugin gets

/** Health of a plugin, a driver or a device. */
export type HealthState = 'up' | 'degraded' | 'down';

export interface Health {
  state: HealthState;
  reason?: string;
  /** Epoch ms of the last change. */
  since: number;
}

/** How a plugin reports its own health. The kernel also marks a plugin down when it throws. */
export interface HealthReporter {
  up(): void;
  degraded(reason: string): void;
  down(reason: string): void;
  current(): Health;
}

/** Bound in each plugin's container under `PluginContext`. */
export const PluginContext = Symbol.for('energymesh.PluginContext');
export interface PluginContext<C = unknown> {
  readonly id: string;
  readonly manifest: PluginManifest;
  /** The plugin's validated config (defaults applied). */
  readonly config: C;
  /** A child logger bound with `plugin: id`. */
  readonly logger: Logger;
  /** A folder the plugin may write to (created on demand), under the instance's data dir. */
  readonly dataDir: string;
  /** The config file's folder (absent: the working directory): resolve relative paths in the plugin's config against it. */
  readonly configDir?: string;
  readonly health: HealthReporter;
  /**
   * Runs `fn` and, if it throws or rejects, marks the plugin degraded with the error instead of
   * letting it escape. Use it for timer and event callbacks so a bug degrades the plugin alone.
   */
  guard(what: string, fn: () => unknown): void;
}

/** The core services plugins may use; bound in the root container under `CoreServices`. */
export const CoreServices = Symbol.for('energymesh.CoreServices');
export interface CoreServices {
  readonly bus: Bus;
  readonly ingest: TelemetryIngest;
  readonly siteId: string;
  readonly dataDir: string;
  /** Services plugins offer one another (core/services/service-registry.ts). */
  readonly services: ServiceRegistry;
  /** Chain connectors of the started chain plugins (list the chain plugin in `dependsOn`). */
  readonly chains: ChainConnectorRegistry;
  /**
   * Runs a command as `principal` (a plugin acting on an operator's behalf, e.g. dispatch): the same
   * compliance gates, driver and audit as a command sent through the API.
   */
  executeCommand(request: CommandRequest, principal: { id: string; name: string; role: 'viewer' | 'operator' | 'compliance-officer' | 'admin' }): Promise<CommandResult>;
  /** The active compliance modules' market parameters (settlement interval, gate closure, price limits). */
  marketParameters(): MarketParameters;
  /** Checks a trade against the active compliance modules' trade rules. */
  checkTrade(trade: ComplianceTrade): TradeCheck;
  /** The latest value of each point (what `/api/v1/points` shows). */
  latestValue(deviceId: string, pointId: string): TelemetryRecord | undefined;
}

export interface ChainConnectorRegistry {
  /** All connectors, in plugin start order. */
  all(): readonly ChainConnector[];
  /** The connector with this id, or the first one; throws SERVICE_UNAVAILABLE when there is none. */
  get(id?: string): ChainConnector;
}

// ---------------------------------------------------------------------------------------------
// Telemetry in

/** Where drivers hand their samples and events; the pipeline stamps seq and receive time. */
export interface TelemetryIngest {
  /** Accepts samples (any devices, any order between devices; order within a device is kept). */
  ingest(samples: readonly Sample[]): Promise<void>;
  ingestEvents(events: readonly Omit<DeviceEvent, 'receivedAt'>[]): Promise<void>;
}

/** What a driver gets when it starts. */
export interface DriverContext {
  readonly ingest: TelemetryIngest;
  readonly logger: Logger;
  readonly metrics: DriverMetrics;
  /** Reports a device going online/offline; the kernel turns changes into `device-status` events. */
  reportDeviceStatus(status: DeviceStatus): void;
}

/** Per-driver metrics the kernel exposes in Prometheus format. */
export interface DriverMetrics {
  /** One completed poll (or request) of a device, with its latency. */
  observePoll(deviceId: string, seconds: number, ok: boolean): void;
  /** One error, by EnergyMesh error code. */
  countError(deviceId: string, code: string): void;
}

/**
 * A protocol driver instance: owns a set of devices, polls or subscribes to them, and executes
 * commands. A driver never throws out of its polling: a failing device degrades its points' quality.
 */
export interface ProtocolDriver {
  /** Unique id of this driver instance, e.g. `modbus`. */
  readonly id: string;
  /** `modbus`, `dnp3`, `iec61850`, `opcua`, ... */
  readonly protocol: string;
  /** The devices and points this driver serves (may grow after discovery). */
  devices(): DeviceDescriptor[];
  start(ctx: DriverContext): Promise<void>;
  stop(): Promise<void>;
  /** Executes a command on one of this driver's devices and reports the outcome (never throws). */
  execute(command: Command): Promise<CommandResult>;
  deviceStatus(): DeviceStatus[];
}

export interface ProtocolDriverRegistry {
  /** Refuses a duplicate driver id or a device id another driver already serves. */
  register(driver: ProtocolDriver): Disposable;
}

export const ProtocolDriverContribution = Symbol.for('energymesh.ProtocolDriverContribution');
export interface ProtocolDriverContribution {
  registerDrivers(registry: ProtocolDriverRegistry): void;
}

// ---------------------------------------------------------------------------------------------
// Telemetry out

/** A consumer of telemetry (historian, metering oracle, ...). The kernel subscribes it to the bus. */
export interface TelemetrySink {
  readonly id: string;
  /** Writes a batch; rejecting makes the bus deliver the batch again. Must be idempotent by (deviceId, seq). */
  write(records: readonly TelemetryRecord[]): Promise<void>;
}

export interface TelemetrySinkRegistry {
  register(sink: TelemetrySink): Disposable;
}

export const TelemetrySinkContribution = Symbol.for('energymesh.TelemetrySinkContribution');
export interface TelemetrySinkContribution {
  registerSinks(registry: TelemetrySinkRegistry): void;
}

// ---------------------------------------------------------------------------------------------
// Config, lifecycle, faces

/** A top-level config section a plugin adds to the core's schema (beside its own plugin config). */
export interface ConfigSection {
  /** The top-level key, e.g. `kafka`. */
  key: string;
  schema: JsonSchema;
}

export const ConfigSchemaContribution = Symbol.for('energymesh.ConfigSchemaContribution');
export interface ConfigSchemaContribution {
  configSections(): ConfigSection[];
}

/** Start/stop hooks, called in plugin dependency order (stop in reverse). */
export const LifecycleContribution = Symbol.for('energymesh.LifecycleContribution');
export interface LifecycleContribution {
  onStart?(): Promise<void> | void;
  onStop?(): Promise<void> | void;
}

/** A minimal view of the HTTP server so plugins need not depend on its implementation. */
export interface HttpRouter {
  route(definition: HttpRouteDefinition): void;
}

export interface HttpRequestView {
  /** Who made the request (token id and name, or anonymous). */
  principal: { id: string; name: string; role: string };
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

export interface HttpRouteDefinition {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below `/api/v1/plugins/<pluginId>/`, or absolute when it starts with `/`. */
  path: string;
  summary: string;
  /** Role required (default: viewer for GET, operator otherwise). */
  role?: 'viewer' | 'operator' | 'compliance-officer' | 'admin';
  /** JSON Schemas; the server validates requests and documents the route in OpenAPI. */
  schema?: { body?: JsonSchema; querystring?: JsonSchema; params?: JsonSchema; response?: Record<number, JsonSchema> };
  handler(request: HttpRequestView): Promise<unknown> | unknown;
}

export const HttpRoutesContribution = Symbol.for('energymesh.HttpRoutesContribution');
export interface HttpRoutesContribution {
  registerRoutes(router: HttpRouter): void;
}

/** A CLI command a plugin adds (`energymesh <name> ...`). */
export interface CliCommandDefinition {
  name: string;
  description: string;
  arguments?: { name: string; description: string; required?: boolean }[];
  options?: { flags: string; description: string; defaultValue?: string }[];
  run(args: string[], options: Record<string, unknown>): Promise<number> | number;
}

/** The CLI's commander program (command groups add their subcommands to it). */
export type { CliProgram };

/** Where a plugin's command group writes (the CLI's stdout/stderr, or a test's buffers). */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const CliCommandsContribution = Symbol.for('energymesh.CliCommandsContribution');
export interface CliCommandsContribution {
  /** Flat commands (`energymesh <name> [args]`). */
  commands?(): CliCommandDefinition[];
  /**
   * A command group with subcommands (`energymesh market order …`), built with commander (the CLI's
   * parser); `setExit` receives the exit code of the command that ran.
   */
  registerCommands?(program: CliProgram, io: CliIo, setExit: (code: number) => void): void;
}


// ---------------------------------------------------------------------------------------------
// Bus implementations

export interface BusFactoryOptions {
  /** Topic prefix from `bus.prefix`. */
  prefix: string;
  /** The instance's data dir (for spools). */
  dataDir: string;
  logger: Logger;
}

/** Creates a bus of one kind (`bus.kind` in the config selects it); the plugin's config is its own. */
export interface BusFactory {
  readonly kind: string;
  create(options: BusFactoryOptions): Bus;
}

export const BusContribution = Symbol.for('energymesh.BusContribution');
export interface BusContribution {
  busFactories(): BusFactory[];
}

// ---------------------------------------------------------------------------------------------
// Ready for later layers

/**
 * A stage of the telemetry pipeline (core/compliance/ComplianceManager.stage() is the one that
 * applies the active compliance modules). Returns the records to pass on; it may reuse the array.
 */
export interface ComplianceStage {
  readonly id: string;
  process(records: TelemetryRecord[]): TelemetryRecord[] | Promise<TelemetryRecord[]>;
}

export type * from './compliance/compliance-module.ts';

/**
 * Compliance plugins contribute modules (core/compliance/compliance-module.ts); the
 * ComplianceManager decides which are active and applies them.
 */
export const ComplianceModuleContribution = Symbol.for('energymesh.ComplianceModuleContribution');
export interface ComplianceModuleContribution {
  complianceModules(): ComplianceModule[];
  /**
   * Transitional: extra pipeline stages applied whatever the active set. Compliance plugins return
   * [] (their rules run through ComplianceManager.stage()); kept until the kernel wires the manager.
   */
  stages(): ComplianceStage[];
}

/** A connection to an EVM chain (embedded EMPoS or external JSON-RPC). */
export interface ChainConnector {
  readonly id: string;
  readonly chainId: bigint;
  rpcUrl(): string;
  /**
   * Embedded chain only (zero-config funding): pays `wei` EB from the embedded validator's treasury (it
   * holds the genesis seed allocation) to `to` and resolves once the transfer is in a block. External
   * networks do not offer it: fund accounts there as the network's operator does.
   */
  fund?(to: string, wei: bigint): Promise<void>;
}

export const ChainConnectorContribution = Symbol.for('energymesh.ChainConnectorContribution');
export interface ChainConnectorContribution {
  connectors(): ChainConnector[];
}
