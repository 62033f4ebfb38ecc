/**
 * The ProtocolDriver the kernel sees: a thin adapter from protocols/modbus's poller to the core's
 * DriverContext (samples to ingest, device status, poll metrics) and Commands (writes).
 */
import type {
  Command,
  CommandResult,
  DeviceDescriptor,
  DeviceStatus,
  DriverContext,
  ProtocolDriver,
  Sample,
} from '../../core/plugin-api.ts';
import { errorMessage } from '../../core/plugin-api.ts';
import type { ModbusDeviceConfig, ModbusSample } from '../../protocols/modbus/driver/modbus-config.ts';
import { ModbusPoller } from '../../protocols/modbus/driver/modbus-poller.ts';

/** The plugin's config (config.schema.json). */
export interface ModbusPluginConfig {
  devices: ModbusDeviceConfig[];
}

export interface ModbusDriverOptions {
  /** Driver id; default `modbus`. */
  id?: string;
  /** Spread first polls over the interval (default true). */
  spreadStart?: boolean;
}

export class ModbusDriver implements ProtocolDriver {
  readonly id: string;
  readonly protocol = 'modbus';
  private readonly poller: ModbusPoller;
  private ctx: DriverContext | undefined;
  private started = false;

  constructor(config: ModbusPluginConfig, options: ModbusDriverOptions = {}) {
    this.id = options.id ?? 'modbus';
    // Throws CONFIG_INVALID for a map the schema cannot catch (overlapping unit ids, oversize fields...).
    this.poller = new ModbusPoller({
      devices: config.devices ?? [],
      spreadStart: options.spreadStart,
      onSamples: (samples) => this.ingest(samples),
      onDeviceStatus: (status) => this.ctx?.reportDeviceStatus(status),
      onPoll: (deviceId, seconds, ok) => this.ctx?.metrics.observePoll(deviceId, seconds, ok),
      onError: (deviceId, error) => {
        this.ctx?.metrics.countError(deviceId, error.code);
        this.ctx?.logger.debug({ deviceId, code: error.code, details: error.details }, error.message);
      },
      onDidChangePoints: (deviceId) => {
        this.ctx?.logger.info({ deviceId, points: this.poller.points(deviceId).length }, `modbus: ${this.poller.describe(deviceId)}`);
      },
    });
  }

  private ingest(samples: ModbusSample[]): void {
    const ctx = this.ctx;
    if (!ctx) return;
    // ModbusSample has the shape of the core's Sample (the quality objects of good values are shared and frozen).
    ctx.ingest.ingest(samples as Sample[]).catch((e: unknown) => {
      ctx.metrics.countError(samples[0]?.deviceId ?? 'modbus', 'INGEST_FAILED');
      ctx.logger.warn({ err: errorMessage(e), samples: samples.length }, 'modbus: the pipeline refused samples');
    });
  }

  devices(): DeviceDescriptor[] {
    return this.poller.deviceIds().map((deviceId) => ({
      deviceId,
      protocol: this.protocol,
      description: this.poller.describe(deviceId),
      points: this.poller.points(deviceId).map((p) => ({ ...p, protocol: this.protocol, address: { ...p.address } })),
    }));
  }

  async start(ctx: DriverContext): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.ctx = ctx;
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
  }

  async execute(command: Command): Promise<CommandResult> {
    const base = { commandId: command.id, deviceId: command.deviceId, pointId: command.pointId, issuedAt: command.issuedAt };
    try {
      if (command.action !== 'write') {
        return {
          ...base,
          status: 'rejected',
          completedAt: Date.now(),
          error: { code: 'INVALID_ARGUMENT', message: `Modbus points take action 'write', not '${command.action}'` },
        };
      }
      const outcome = await this.poller.write(command.deviceId, command.pointId, command.value, command.timeoutMs);
      const result: CommandResult = { ...base, status: outcome.status, completedAt: Date.now() };
      if (outcome.error) result.error = { code: outcome.error.code, message: outcome.error.message, details: outcome.error.details };
      return result;
    } catch (e) {
      return { ...base, status: 'failed', completedAt: Date.now(), error: { code: 'INTERNAL', message: errorMessage(e) } };
    }
  }

  deviceStatus(): DeviceStatus[] {
    return this.poller.deviceStatus();
  }
}
