/**
 * market.p2p: binds the market service as a lifecycle (the per-interval loop) and HTTP routes.
 * The logic is in market-engine.ts, the clearing rule in clearing.ts, the CLI in cli.ts.
 */
import { CliCommandsContribution, ContainerModule, HttpRoutesContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import type { CliIo, CliProgram } from '../../core/plugin-api.ts';
import { MarketPlugin } from './market-plugin.ts';
import { registerMarketCommands } from './cli.ts';

/** `energymesh market …` (an API client of the running instance, plus `verify` against the chain). */
const cli: CliCommandsContribution = {
  registerCommands(program: CliProgram, io: CliIo, setExit: (code: number) => void): void {
    registerMarketCommands(program, io, setExit);
  },
};

export { MarketPlugin, type MarketPluginConfig } from './market-plugin.ts';

export default new ContainerModule(({ bind }) => {
  bind(MarketPlugin).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(MarketPlugin);
  bind(HttpRoutesContribution).toService(MarketPlugin);
  bind(CliCommandsContribution).toConstantValue(cli);
});
