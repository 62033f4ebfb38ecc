/**
 * market.p2p: binds the market service as a lifecycle (the per-interval loop) and HTTP routes.
 * The logic is in market-engine.ts, the clearing rule in clearing.ts, the CLI in cli.ts.
 */
import { ContainerModule, HttpRoutesContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import { MarketPlugin } from './market-plugin.ts';

export { MarketPlugin, type MarketPluginConfig } from './market-plugin.ts';

export default new ContainerModule(({ bind }) => {
  bind(MarketPlugin).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(MarketPlugin);
  bind(HttpRoutesContribution).toService(MarketPlugin);
});
