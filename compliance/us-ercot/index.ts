/** compliance.us-ercot: binds the us-ercot module built from the plugin's config. */
import { ComplianceModuleContribution, ContainerModule, PluginContext } from '../../core/plugin-api.ts';
import { createErcotModule } from './ercot-module.ts';
import type { ErcotConfig } from './ercot-module.ts';

export default new ContainerModule(({ bind }) => {
  bind<ComplianceModuleContribution>(ComplianceModuleContribution)
    .toDynamicValue((context) => {
      const module = createErcotModule(context.get<PluginContext<ErcotConfig>>(PluginContext).config);
      return { complianceModules: () => [module], stages: () => [] };
    })
    .inSingletonScope();
});
