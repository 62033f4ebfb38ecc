/**
 * Registers the IEC 61850 driver built from the plugin's validated config.
 */
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type { ProtocolDriverContribution, ProtocolDriverRegistry } from '../../core/plugin-api.ts';
import { Iec61850ProtocolDriver } from './iec61850-protocol-driver.ts';
import type { Iec61850PluginConfig } from './iec61850-protocol-driver.ts';

@injectable()
export class Iec61850DriverContribution implements ProtocolDriverContribution {
  constructor(@inject(PluginContext) private readonly ctx: PluginContext<Iec61850PluginConfig>) {}

  registerDrivers(registry: ProtocolDriverRegistry): void {
    registry.register(new Iec61850ProtocolDriver(this.ctx.config));
  }
}
