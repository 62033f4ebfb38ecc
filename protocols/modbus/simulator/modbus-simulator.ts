/**
 * Hosts many simulated devices in one process: devices on the same port share one Modbus TCP server
 * (a gateway with several unit ids); one timer advances every device.
 */
import { ModbusTcpServer } from './modbus-tcp-server.ts';
import { createSimulatedDevice, type SimulatedDevice, type SimulatedDeviceOptions, type SimulatedKind } from './simulated-devices.ts';

export interface SimulatedDeviceSpec extends Omit<SimulatedDeviceOptions, 'id'> {
  id: string;
  kind: SimulatedKind;
  /** 0 = a free port of its own. */
  port: number;
  /** Default 1. */
  unitId?: number;
}

export interface ModbusSimulatorOptions {
  devices: SimulatedDeviceSpec[];
  /** Default 127.0.0.1. */
  host?: string;
  /** How often values change; default 1000 ms. */
  tickMs?: number;
}

export interface SimulatorEndpoint {
  host: string;
  port: number;
  unitId: number;
}

export class ModbusSimulator {
  private readonly options: ModbusSimulatorOptions;
  private readonly servers: ModbusTcpServer[] = [];
  private readonly devicesById = new Map<string, { device: SimulatedDevice; server: ModbusTcpServer; unitId: number }>();
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;

  constructor(options: ModbusSimulatorOptions) {
    this.options = options;
    const ids = new Set<string>();
    for (const d of options.devices) {
      if (ids.has(d.id)) throw new RangeError(`duplicate simulated device id ${d.id}`);
      ids.add(d.id);
    }
  }

  async start(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    const byPort = new Map<number, ModbusTcpServer>();
    try {
      for (const spec of this.options.devices) {
        const unitId = spec.unitId ?? 1;
        let server = spec.port !== 0 ? byPort.get(spec.port) : undefined;
        if (!server) {
          server = new ModbusTcpServer({ host, port: spec.port });
          await server.listen();
          this.servers.push(server);
          if (spec.port !== 0) byPort.set(spec.port, server);
        }
        if (server.unit(unitId)) throw new RangeError(`port ${spec.port} already has unit ${unitId}`);
        const device = createSimulatedDevice(spec.kind, spec);
        server.setUnit(unitId, device.bank);
        this.devicesById.set(spec.id, { device, server, unitId });
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
  }

  /** Advances every device now (tests call it to avoid waiting). */
  tick(now = Date.now()): void {
    const dt = Math.max(0, (now - this.lastTick) / 1000);
    this.lastTick = now;
    for (const { device } of this.devicesById.values()) device.tick(now, dt);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.servers.map((s) => s.close()));
    this.servers.length = 0;
  }

  endpoint(id: string): SimulatorEndpoint {
    const entry = this.devicesById.get(id);
    if (!entry) throw new RangeError(`no simulated device ${id}`);
    return { host: this.options.host ?? '127.0.0.1', port: entry.server.port, unitId: entry.unitId };
  }

  device<T extends SimulatedDevice = SimulatedDevice>(id: string): T {
    const entry = this.devicesById.get(id);
    if (!entry) throw new RangeError(`no simulated device ${id}`);
    return entry.device as T;
  }

  server(id: string): ModbusTcpServer {
    const entry = this.devicesById.get(id);
    if (!entry) throw new RangeError(`no simulated device ${id}`);
    return entry.server;
  }

  ids(): string[] {
    return [...this.devicesById.keys()];
  }

  /** Requests served by all servers. */
  requests(): number {
    return this.servers.reduce((n, s) => n + s.stats.requests, 0);
  }
}
