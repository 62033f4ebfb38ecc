/**
 * chain.empos: binds the embedded EMPoS chain as a lifecycle and a chain connector. The chain itself
 * lives in chain/.
 */
import { ContainerModule, ChainConnectorContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import { EmposChainService } from './empos-chain-service.ts';

export { EmposChainService, type EmposPluginConfig } from './empos-chain-service.ts';

export default new ContainerModule(({ bind }) => {
  bind(EmposChainService).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(EmposChainService);
  bind(ChainConnectorContribution).toService(EmposChainService);
});
