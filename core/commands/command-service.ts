/**
 * Commands: a request is checked (known device and point, point writable), stamped with an id,
 * published on `<prefix>.commands`, executed by the driver serving the device (bounded by the
 * command's timeout), and its result is published and kept (the last `historySize` results).
 * `execute` never throws for a device problem: the outcome is in the result's status.
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/bus.ts';
import { topicName } from '../bus/bus.ts';
import { EnergyMeshError, errorMessage, isEnergyMeshError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Command, CommandRequest, CommandResult } from '../model/telemetry.ts';
import type { DriverRegistry } from '../registries.ts';

export interface CommandServiceOptions {
  drivers: DriverRegistry;
  bus: Bus;
  logger: Logger;
  historySize?: number;
  onResult?: (result: CommandResult) => void;
}

export class CommandService {
  private readonly results = new Map<string, CommandResult>();
  private readonly topic: string;

  constructor(private readonly options: CommandServiceOptions) {
    this.topic = topicName(options.bus.prefix, 'commands');
  }

  async execute(request: CommandRequest, issuedBy?: string): Promise<CommandResult> {
    const command: Command = {
      ...request,
      id: randomUUID(),
      action: request.action ?? 'write',
      timeoutMs: request.timeoutMs ?? 10_000,
      issuedAt: Date.now(),
      ...(issuedBy ? { issuedBy } : {}),
    };
    const base = { commandId: command.id, deviceId: command.deviceId, pointId: command.pointId, issuedAt: command.issuedAt };
    const driver = this.options.drivers.driverFor(command.deviceId);
    if (!driver) {
      return this.finish(command, { ...base, status: 'rejected', completedAt: Date.now(), error: { code: 'UNKNOWN_DEVICE', message: `no driver serves device ${command.deviceId}` } });
    }
    const point = driver
      .devices()
      .find((d) => d.deviceId === command.deviceId)
      ?.points.find((p) => p.pointId === command.pointId);
    if (!point) {
      return this.finish(command, { ...base, status: 'rejected', completedAt: Date.now(), error: { code: 'UNKNOWN_POINT', message: `device ${command.deviceId} has no point ${command.pointId}` } });
    }
    if (!point.writable) {
      return this.finish(command, { ...base, status: 'rejected', completedAt: Date.now(), error: { code: 'POINT_NOT_WRITABLE', message: `point ${command.deviceId}/${command.pointId} is not writable` } });
    }
    await this.options.bus.publish(this.topic, [{ key: command.deviceId, value: { type: 'command', command } }]);
    this.results.set(command.id, { ...base, status: 'pending' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CommandResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ ...base, status: 'timeout', completedAt: Date.now(), error: { code: 'TIMEOUT', message: `no outcome within ${command.timeoutMs} ms` } }),
        command.timeoutMs,
      );
    });
    let result: CommandResult;
    try {
      result = await Promise.race([driver.execute(command), timeout]);
    } catch (e) {
      // drivers should not throw; if one does, the command failed
      result = {
        ...base,
        status: 'failed',
        completedAt: Date.now(),
        error: { code: isEnergyMeshError(e) ? e.code : 'INTERNAL', message: errorMessage(e) },
      };
    } finally {
      clearTimeout(timer);
    }
    return this.finish(command, { ...result, commandId: command.id, issuedAt: command.issuedAt });
  }

  /** Records a command refused or held before it reached a driver (a compliance gate). */
  async refuse(request: CommandRequest, issuedBy: string, status: 'rejected' | 'pending', details: Pick<CommandResult, 'error' | 'approval'>, commandId: string = randomUUID()): Promise<CommandResult> {
    const command: Command = { ...request, id: commandId, action: request.action ?? 'write', timeoutMs: request.timeoutMs ?? 10_000, issuedAt: Date.now(), issuedBy };
    const result: CommandResult = {
      commandId: command.id,
      deviceId: command.deviceId,
      pointId: command.pointId,
      status,
      issuedAt: command.issuedAt,
      ...(status === 'rejected' ? { completedAt: command.issuedAt } : {}),
      ...details,
    };
    return this.finish(command, result);
  }

  get(commandId: string): CommandResult | undefined {
    return this.results.get(commandId);
  }

  /** The most recent results, newest first. */
  recent(limit = 100): CommandResult[] {
    return [...this.results.values()].reverse().slice(0, limit);
  }

  private async finish(command: Command, result: CommandResult): Promise<CommandResult> {
    this.results.delete(command.id);
    this.results.set(command.id, result);
    const max = this.options.historySize ?? 10_000;
    while (this.results.size > max) {
      const oldest = this.results.keys().next().value;
      if (oldest === undefined) break;
      this.results.delete(oldest);
    }
    this.options.onResult?.(result);
    const log = result.status === 'succeeded' ? 'info' : 'warn';
    this.options.logger[log]({ command: { id: command.id, deviceId: command.deviceId, pointId: command.pointId, action: command.action, issuedBy: command.issuedBy }, status: result.status, error: result.error }, 'command finished');
    try {
      await this.options.bus.publish(this.topic, [{ key: command.deviceId, value: { type: 'result', result } }]);
    } catch (e) {
      throw new EnergyMeshError('BUS_CLOSED', `command ${command.id} finished (${result.status}) but its result could not be published: ${errorMessage(e)}`, { cause: e });
    }
    return result;
  }
}
