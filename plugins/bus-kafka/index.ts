/**
 * The bus.kafka plugin: provides bus kind `kafka` (select it with `bus.kind: kafka`). Its config is the
 * plugin's `config` section (config.schema.json). Binds without decorators.
 */
import { BusContribution, ContainerModule, PluginContext } from 'energymesh/plugin-api';
import type { BusFactory, BusFactoryOptions } from 'energymesh/plugin-api';

import { KafkaBus } from './kafka-bus.ts';
import { withDefaults } from './kafka-bus-options.ts';
import type { KafkaBusConfig } from './kafka-bus-options.ts';

export { KafkaBus } from './kafka-bus.ts';
export type { KafkaSubscribeOptions } from './kafka-bus.ts';
export { DedupWindow, deviceSeqOf } from './dedup-window.ts';

class KafkaBusContribution implements BusContribution {
  constructor(private readonly ctx: PluginContext<KafkaBusConfig>) {}

  busFactories(): BusFactory[] {
    return [
      {
        kind: 'kafka',
        create: (o: BusFactoryOptions) => new KafkaBus({ prefix: o.prefix, dataDir: o.dataDir, logger: o.logger, config: withDefaults(this.ctx.config) }),
      },
    ];
  }
}

export default new ContainerModule(({ bind }) => {
  bind(BusContribution)
    .toDynamicValue((context) => new KafkaBusContribution(context.get<PluginContext<KafkaBusConfig>>(PluginContext)))
    .inSingletonScope();
});
