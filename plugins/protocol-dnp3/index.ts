/**
 * protocol.dnp3: binds the DNP3 driver contribution. The protocol itself lives in protocols/dnp3.
 */
import { ContainerModule, ProtocolDriverContribution } from '../../core/plugin-api.ts';
import { Dnp3DriverContribution } from './dnp3-driver-contribution.ts';

export { Dnp3Driver } from './dnp3-driver.ts';
export type { Dnp3PluginConfig, Dnp3OutstationConfig, Dnp3PointConfig } from './dnp3-driver.ts';
export { dnp3Quality } from './dnp3-quality.ts';
export { Dnp3DriverContribution };

export default new ContainerModule(({ bind }) => {
  bind(Dnp3DriverContribution).toSelf().inSingletonScope();
  bind(ProtocolDriverContribution).toService(Dnp3DriverContribution);
});
