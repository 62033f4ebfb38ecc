/**
 * dispatch.incentives: balancing events from publication to payout (see dispatch-service.ts). The CLI
 * (`energymesh dispatch ...`) is in cli.ts; the delivery arithmetic mirroring the contract in delivery.ts.
 */
import { ContainerModule, HttpRoutesContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import { DispatchService } from './dispatch-service.ts';

export { DispatchService, type DispatchConfig, type DispatchEvent, type PublishRequest } from './dispatch-service.ts';
export * from './delivery.ts';

export default new ContainerModule(({ bind }) => {
  bind(DispatchService).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(DispatchService);
  bind(HttpRoutesContribution).toService(DispatchService);
});
