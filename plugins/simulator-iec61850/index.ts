/**
 * simulator.iec61850: starts the configured IED simulators (protocols/iec61850/simulator) with the
 * kernel and stops them with it.
 */
import { resolve } from 'node:path';
import { ContainerModule, LifecycleContribution, PluginContext, inject, injectable } from '../../core/plugin-api.ts';
import { loadSclFile } from '../../protocols/iec61850/model/scl.ts';
import { IedServer } from '../../protocols/iec61850/simulator/ied-server.ts';

interface SimulatorConfig {
  ieds: { scl: string; iedName?: string; host: string; port: number; updateMs: number }[];
}

@injectable()
class IedSimulators implements LifecycleContribution {
  private readonly servers: IedServer[] = [];

  constructor(@inject(PluginContext) private readonly ctx: PluginContext<SimulatorConfig>) {}

  async onStart(): Promise<void> {
    for (const ied of this.ctx.config.ieds) {
      const model = loadSclFile(resolve(this.ctx.configDir ?? process.cwd(), ied.scl)).model(ied.iedName);
      const server = new IedServer({ model, updateIntervalMs: ied.updateMs });
      this.servers.push(server);
      const port = await server.listen(ied.port, ied.host);
      this.ctx.logger.info({ ied: model.name, host: ied.host, port }, 'IED simulator listening');
    }
  }

  async onStop(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }
}

export default new ContainerModule(({ bind }) => {
  bind(IedSimulators).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(IedSimulators);
});
