/**
 * dispatch.incentives: balancing events from publication to payout (see dispatch-service.ts). The CLI
 * (`energymesh dispatch ...`) is in cli.ts; the delivery arithmetic mirroring the contract in delivery.ts.
 */
import { CliCommandsContribution, ContainerModule, HttpRoutesContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import type { CliIo, CliProgram } from '../../core/plugin-api.ts';
import { DispatchService } from './dispatch-service.ts';
import { addDispatchCommands } from './cli.ts';

/** `energymesh dispatch …` (an API client of the running instance). */
const cli: CliCommandsContribution = {
  registerCommands(program: CliProgram, io: CliIo, setExit: (code: number) => void): void {
    addDispatchCommands(program, io, setExit);
  },
};

export { DispatchService, type DispatchConfig, type DispatchEvent, type PublishRequest } from './dispatch-service.ts';
export * from './delivery.ts';

export default new ContainerModule(({ bind }) => {
  bind(DispatchService).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(DispatchService);
  bind(HttpRoutesContribution).toService(DispatchService);
  bind(CliCommandsContribution).toConstantValue(cli);
});
