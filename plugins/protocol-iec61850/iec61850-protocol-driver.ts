/**
 * The ProtocolDriver the kernel sees: a thin adapter from protocols/iec61850's driver to the core's
 * DriverContext (samples, device status, metrics) and Commands (controls and writes).
 */
import type { Command, CommandResult, DeviceDescriptor, DeviceStatus, DriverContext, ProtocolDriver, Sample } from '../../core/plugin-api.ts';
import { Iec61850Driver } from '../../protocols/iec61850/driver/iec61850-driver.ts';
import type { Iec61850DeviceConfig } from '../../protocols/iec61850/driver/iec61850-driver.ts';

/** The plugin's config (config.schema.json). */
export interface Iec61850PluginConfig {
  devices: Iec61850DeviceConfig[];
}

export class Iec61850ProtocolDriver implements ProtocolDriver {
  readonly protocol = 'iec61850';
  private readonly driver: Iec61850Driver;
  private ctx: DriverContext | undefined;

  constructor(config: Iec61850PluginConfig, readonly id = 'iec61850') {
    // Throws CONFIG_INVALID when an SCL file or an RCB in it is wrong.
    this.driver = new Iec61850Driver(config.devices ?? [], {
      onSamples: (samples) => {
        const ctx = this.ctx;
        if (!ctx) return;
        ctx.ingest.ingest(samples as Sample[]).catch((e: unknown) => ctx.logger.warn({ err: e }, 'iec61850: ingest failed'));
      },
      onDeviceStatus: (s) => this.ctx?.reportDeviceStatus(s),
      onPoll: (deviceId, seconds, ok) => this.ctx?.metrics.observePoll(deviceId, seconds, ok),
      onError: (deviceId, e) => {
        this.ctx?.metrics.countError(deviceId, e.code);
        this.ctx?.logger.debug({ deviceId, code: e.code, details: e.details }, e.message);
      },
    });
  }

  devices(): DeviceDescriptor[] {
    return this.driver.devices().map((d) => ({ deviceId: d.deviceId, protocol: 'iec61850', description: d.description, points: d.points }));
  }

  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
    this.driver.start();
  }

  async stop(): Promise<void> {
    await this.driver.stop();
    this.ctx = undefined;
  }

  execute(command: Command): Promise<CommandResult> {
    return this.driver.execute(command);
  }

  deviceStatus(): DeviceStatus[] {
    return this.driver.deviceStatus();
  }
}
