/**
 * settlement.contracts: deploys (or finds) the settlement contracts and offers them, with this instance's
 * keys, to the metering oracle, the market and dispatch through the core service registry.
 */
import { ContainerModule, LifecycleContribution } from '../../core/plugin-api.ts';
import { SettlementPlugin } from './settlement-plugin.ts';

export { SettlementServiceKey, type SettlementService, type SettlementAddresses } from './settlement-api.ts';

export default new ContainerModule(({ bind }) => {
  bind(SettlementPlugin).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(SettlementPlugin);
});
