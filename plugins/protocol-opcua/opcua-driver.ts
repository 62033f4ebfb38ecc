/**
 * The `opcua` ProtocolDriver: one OpcuaDevice per configured server, sharing the plugin's PKI.
 */
import type { Command, CommandResult, DeviceDescriptor, DeviceStatus, DriverContext, Logger, ProtocolDriver } from '../../core/plugin-api.ts';
import type { OpcuaPki } from '../../protocols/opcua/client/opcua-pki.ts';
import type { OpcuaPluginConfig } from './opcua-config.ts';
import { OpcuaDevice, PROTOCOL } from './opcua-device.ts';

export class OpcuaDriver implements ProtocolDriver {
  readonly id = 'opcua';
  readonly protocol = PROTOCOL;
  readonly devicesById = new Map<string, OpcuaDevice>();

  constructor(config: OpcuaPluginConfig, pki: OpcuaPki, logger: Logger) {
    for (const d of config.devices ?? []) this.devicesById.set(d.id, new OpcuaDevice(d, config, pki, logger));
  }

  devices(): DeviceDescriptor[] {
    return [...this.devicesById.values()].map((d) => d.descriptor());
  }

  async start(ctx: DriverContext): Promise<void> {
    for (const d of this.devicesById.values()) d.start(ctx);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.devicesById.values()].map((d) => d.stop()));
  }

  async execute(command: Command): Promise<CommandResult> {
    const d = this.devicesById.get(command.deviceId);
    if (!d) {
      return {
        commandId: command.id,
        deviceId: command.deviceId,
        pointId: command.pointId,
        issuedAt: command.issuedAt,
        completedAt: Date.now(),
        status: 'rejected',
        error: { code: 'UNKNOWN_DEVICE', message: `the opcua driver has no device ${command.deviceId}` },
      };
    }
    return d.execute(command);
  }

  deviceStatus(): DeviceStatus[] {
    return [...this.devicesById.values()].map((d) => d.deviceStatus());
  }
}
