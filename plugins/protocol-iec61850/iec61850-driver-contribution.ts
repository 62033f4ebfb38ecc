/**
 * Registers the IEC 61850 driver built from the plugin's validated config.
 */
import { resolve } from 'node:path';
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type { ProtocolDriverContribution, ProtocolDriverRegistry } from '../../core/plugin-api.ts';
import { Iec61850ProtocolDriver } from './iec61850-protocol-driver.ts';
import type { Iec61850PluginConfig } from './iec61850-protocol-driver.ts';

@injectable()
export class Iec61850DriverContribution implements ProtocolDriverContribution {
  constructor(@inject(PluginContext) private readonly ctx: PluginContext<Iec61850PluginConfig>) {}

  registerDrivers(registry: ProtocolDriverRegistry): void {
    // SCL paths in the config are relative to the config file
    const config: Iec61850PluginConfig = {
      ...this.ctx.config,
      devices: this.ctx.config.devices.map((d) => (d.scl ? { ...d, scl: { ...d.scl, file: resolve(this.ctx.configDir ?? process.cwd(), d.scl.file) } } : d)),
    };
    registry.register(new Iec61850ProtocolDriver(config));
  }
}
