/**
 * Starts the simulated devices with the kernel and stops them with it.
 */
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type { LifecycleContribution } from '../../core/plugin-api.ts';
import { ModbusSimulator, type SimulatedDeviceSpec } from '../../protocols/modbus/simulator/modbus-simulator.ts';

/** The plugin's config (config.schema.json). */
export interface ModbusSimulatorPluginConfig {
  host?: string;
  tickMs?: number;
  devices: SimulatedDeviceSpec[];
}

@injectable()
export class ModbusSimulatorLifecycle implements LifecycleContribution {
  private simulator: ModbusSimulator | undefined;

  constructor(@inject(PluginContext) private readonly ctx: PluginContext<ModbusSimulatorPluginConfig>) {}

  async onStart(): Promise<void> {
    const config = this.ctx.config;
    const simulator = new ModbusSimulator({ devices: config.devices ?? [], host: config.host, tickMs: config.tickMs });
    await simulator.start();
    this.simulator = simulator;
    for (const id of simulator.ids()) {
      const e = simulator.endpoint(id);
      this.ctx.logger.info({ device: id, kind: simulator.device(id).kind, port: e.port, unitId: e.unitId }, `simulated Modbus device ${id} on ${e.host}:${e.port}`);
    }
    this.ctx.health.up();
  }

  async onStop(): Promise<void> {
    await this.simulator?.stop();
    this.simulator = undefined;
  }

  /** The running simulator (tests, demo). */
  get running(): ModbusSimulator | undefined {
    return this.simulator;
  }
}
