/**
 * Registers the Modbus driver built from the plugin's validated config.
 */
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type { ProtocolDriverContribution, ProtocolDriverRegistry } from '../../core/plugin-api.ts';
import { ModbusDriver, type ModbusPluginConfig } from './modbus-driver.ts';

@injectable()
export class ModbusDriverContribution implements ProtocolDriverContribution {
  constructor(@inject(PluginContext) private readonly ctx: PluginContext<ModbusPluginConfig>) {}

  registerDrivers(registry: ProtocolDriverRegistry): void {
    registry.register(new ModbusDriver(this.ctx.config));
  }
}
