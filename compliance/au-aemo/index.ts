/** compliance.au-aemo: binds the au-aemo module built from the plugin's config. */
import { ComplianceModuleContribution, ContainerModule, PluginContext } from '../../core/plugin-api.ts';
import { createAemoModule } from './aemo-module.ts';
import type { AemoConfig } from './aemo-module.ts';

export default new ContainerModule(({ bind }) => {
  bind<ComplianceModuleContribution>(ComplianceModuleContribution)
    .toDynamicValue((context) => {
      const module = createAemoModule(context.get<PluginContext<AemoConfig>>(PluginContext).config);
      return { complianceModules: () => [module], stages: () => [] };
    })
    .inSingletonScope();
});
