/** Registers the DNP3 driver built from the plugin's validated config. */
import { resolve } from 'node:path';
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type { ProtocolDriverContribution, ProtocolDriverRegistry } from '../../core/plugin-api.ts';
import type { Dnp3PluginConfig } from './dnp3-driver.ts';
import { Dnp3Driver } from './dnp3-driver.ts';

@injectable()
export class Dnp3DriverContribution implements ProtocolDriverContribution {
  constructor(@inject(PluginContext) private readonly ctx: PluginContext<Dnp3PluginConfig>) {}

  registerDrivers(registry: ProtocolDriverRegistry): void {
    // simulator config files are relative to the config file
    const base = this.ctx.configDir ?? process.cwd();
    const config: Dnp3PluginConfig = {
      ...this.ctx.config,
      ...(this.ctx.config.simulators ? { simulators: this.ctx.config.simulators.map((s) => ({ ...s, configFile: resolve(base, s.configFile) })) } : {}),
    };
    registry.register(new Dnp3Driver(config));
  }
}
