/** compliance.gb-elexon: binds the gb-elexon module built from the plugin's config. */
import { ComplianceModuleContribution, ContainerModule, PluginContext } from '../../core/plugin-api.ts';
import { createElexonModule } from './elexon-module.ts';
import type { ElexonConfig } from './elexon-module.ts';

export default new ContainerModule(({ bind }) => {
  bind<ComplianceModuleContribution>(ComplianceModuleContribution)
    .toDynamicValue((context) => {
      const module = createElexonModule(context.get<PluginContext<ElexonConfig>>(PluginContext).config);
      return { complianceModules: () => [module], stages: () => [] };
    })
    .inSingletonScope();
});
