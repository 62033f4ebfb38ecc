/**
 * protocol.modbus: binds the Modbus driver contribution. The protocol itself lives in protocols/modbus.
 */
import { ContainerModule, ProtocolDriverContribution } from '../../core/plugin-api.ts';
import { ModbusDriverContribution } from './modbus-driver-contribution.ts';

export { ModbusDriver, type ModbusPluginConfig } from './modbus-driver.ts';
export { ModbusDriverContribution };

export default new ContainerModule(({ bind }) => {
  bind(ModbusDriverContribution).toSelf().inSingletonScope();
  bind(ProtocolDriverContribution).toService(ModbusDriverContribution);
});
