/** compliance.eu-gdpr: binds the eu-gdpr module built from the plugin's config. */
import { ComplianceModuleContribution, ContainerModule, PluginContext } from '../../core/plugin-api.ts';
import { createGdprModule } from './gdpr-module.ts';
import type { GdprConfig } from './gdpr-module.ts';

export default new ContainerModule(({ bind }) => {
  bind<ComplianceModuleContribution>(ComplianceModuleContribution)
    .toDynamicValue((context) => {
      const module = createGdprModule(context.get<PluginContext<GdprConfig>>(PluginContext).config);
      return { complianceModules: () => [module], stages: () => [] };
    })
    .inSingletonScope();
});
