/**
 * simulator.opcua: runs the OPC UA DER simulators (protocols/opcua/simulator) while the kernel runs.
 */
import { join } from 'node:path';
import { ContainerModule, inject, injectable, LifecycleContribution, PluginContext } from '../../core/plugin-api.ts';
import { DerSimulator } from '../../protocols/opcua/simulator/der-simulator.ts';

export interface OpcuaSimulatorServerConfig {
  port: number;
  host?: string;
  rateMs?: number;
  variables?: number;
  feeders?: number;
  anonymous?: boolean;
  users?: { username: string; password: string }[];
  maxMonitoredItemsPerCall?: number;
  maxMonitoredItemsPerSubscription?: number;
}

export interface OpcuaSimulatorPluginConfig {
  servers?: OpcuaSimulatorServerConfig[];
}

@injectable()
export class OpcuaSimulatorLifecycle implements LifecycleContribution {
  private readonly running: DerSimulator[] = [];

  constructor(@inject(PluginContext) private readonly ctx: PluginContext<OpcuaSimulatorPluginConfig>) {}

  async onStart(): Promise<void> {
    for (const s of this.ctx.config.servers ?? []) {
      const sim = new DerSimulator({ ...s, pkiDir: join(this.ctx.dataDir, `pki-${s.port}`) });
      await sim.start();
      this.running.push(sim);
      this.ctx.logger.info({ endpoint: sim.endpointUrl, changing: sim.changingVariables }, `simulated OPC UA DER server on ${sim.endpointUrl}`);
    }
    this.ctx.health.up();
  }

  async onStop(): Promise<void> {
    for (const s of this.running.splice(0)) await s.stop();
  }

  /** The running simulators (tests, demo). */
  get simulators(): readonly DerSimulator[] {
    return this.running;
  }
}

export default new ContainerModule(({ bind }) => {
  bind(OpcuaSimulatorLifecycle).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(OpcuaSimulatorLifecycle);
});
