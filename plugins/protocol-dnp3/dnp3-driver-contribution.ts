/** Registers the DNP3 driver built from the plugin's validated config. */
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type { ProtocolDriverContribution, ProtocolDriverRegistry } from '../../core/plugin-api.ts';
import type { Dnp3PluginConfig } from './dnp3-driver.ts';
import { Dnp3Driver } from './dnp3-driver.ts';

@injectable()
export class Dnp3DriverContribution implements ProtocolDriverContribution {
  constructor(@inject(PluginContext) private readonly ctx: PluginContext<Dnp3PluginConfig>) {}

  registerDrivers(registry: ProtocolDriverRegistry): void {
    registry.register(new Dnp3Driver(this.ctx.config));
  }
}
