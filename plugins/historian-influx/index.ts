/**
 * The historian.influx plugin: a TelemetrySink writing InfluxDB line protocol (see influx-sink.ts for the
 * delivery guarantee and line-protocol.ts for the mapping). Binds without decorators.
 */
import { ContainerModule, LifecycleContribution, PluginContext, TelemetrySinkContribution } from 'energymesh/plugin-api';
import type { TelemetrySinkRegistry } from 'energymesh/plugin-api';

import { InfluxSink } from './influx-sink.ts';
import type { InfluxHistorianConfig } from './influx-sink.ts';

class InfluxHistorian implements TelemetrySinkContribution, LifecycleContribution {
  readonly sink: InfluxSink;

  constructor(ctx: PluginContext<InfluxHistorianConfig>) {
    this.sink = new InfluxSink(ctx.config, ctx.logger);
  }

  registerSinks(registry: TelemetrySinkRegistry): void {
    registry.register(this.sink);
  }

  async onStop(): Promise<void> {
    await this.sink.close();
  }
}

export default new ContainerModule(({ bind }) => {
  bind(InfluxHistorian)
    .toDynamicValue((context) => new InfluxHistorian(context.get<PluginContext<InfluxHistorianConfig>>(PluginContext)))
    .inSingletonScope();
  bind(TelemetrySinkContribution).toService(InfluxHistorian);
  bind(LifecycleContribution).toService(InfluxHistorian);
});
