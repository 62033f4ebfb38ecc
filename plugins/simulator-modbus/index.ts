/**
 * simulator.modbus: serves simulated Modbus TCP devices (protocols/modbus/simulator) while the kernel runs.
 */
import { ContainerModule, LifecycleContribution } from '../../core/plugin-api.ts';
import { ModbusSimulatorLifecycle } from './simulator-lifecycle.ts';

export { ModbusSimulatorLifecycle, type ModbusSimulatorPluginConfig } from './simulator-lifecycle.ts';

export default new ContainerModule(({ bind }) => {
  bind(ModbusSimulatorLifecycle).toSelf().inSingletonScope();
  bind(LifecycleContribution).toService(ModbusSimulatorLifecycle);
});
