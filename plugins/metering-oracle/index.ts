/**
 * metering.oracle: meter readings per settlement interval, attested on chain (see metering-oracle.ts).
 * The aggregation functions are exported for reuse (benchmarks, other services).
 */
import { ContainerModule, HttpRoutesContribution, LifecycleContribution } from '../../core/plugin-api.ts';
import { MeteringOracle } from './metering-oracle.ts';

export { MeteringOracle, type MeteringOracleConfig, type OracleMeterConfig } from './metering-oracle.ts';
export * from './aggregation.ts';
export { areaIdOf } from './ids.ts';
export { submitOutbox, toChainReading, type OracleChain, type SubmitOptions, type SubmitOutcome } from './reading-submitter.ts';

export default new ContainerModule(({ bind }) => {
  bind(MeteringOracle).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(MeteringOracle);
  bind(HttpRoutesContribution).toService(MeteringOracle);
});
