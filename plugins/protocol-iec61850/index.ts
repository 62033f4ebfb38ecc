/**
 * protocol.iec61850: binds the IEC 61850 driver contribution. The protocol itself lives in protocols/iec61850.
 */
import { ContainerModule, ProtocolDriverContribution } from '../../core/plugin-api.ts';
import { Iec61850DriverContribution } from './iec61850-driver-contribution.ts';

export { Iec61850ProtocolDriver, type Iec61850PluginConfig } from './iec61850-protocol-driver.ts';
export { Iec61850DriverContribution };

export default new ContainerModule(({ bind }) => {
  bind(Iec61850DriverContribution).toSelf().inSingletonScope();
  bind(ProtocolDriverContribution).toService(Iec61850DriverContribution);
});
