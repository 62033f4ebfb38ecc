/** compliance.us-nerc-cip: binds the us-nerc-cip module built from the plugin's config. */
import { ComplianceModuleContribution, ContainerModule, PluginContext } from '../../core/plugin-api.ts';
import { createNercCipModule } from './nerc-cip-module.ts';
import type { NercCipConfig } from './nerc-cip-module.ts';

export default new ContainerModule(({ bind }) => {
  bind<ComplianceModuleContribution>(ComplianceModuleContribution)
    .toDynamicValue((context) => {
      const module = createNercCipModule(context.get<PluginContext<NercCipConfig>>(PluginContext).config);
      return { complianceModules: () => [module], stages: () => [] };
    })
    .inSingletonScope();
});
