/**
 * A complete protocol plugin in one file, for integrators to copy. It "talks" to a simulated signal
 * generator; replace `sample()` with your protocol's client. The shape is what matters:
 *   - the default export is an inversify ContainerModule binding a ProtocolDriverContribution;
 *   - the contribution gets its validated config from PluginContext and registers a ProtocolDriver;
 *   - the driver hands Samples to ctx.ingest and never throws out of its timers (ctx.guard).
 * It binds with `toDynamicValue` rather than decorators, so it needs no decorator settings in
 * whatever TypeScript/JavaScript toolchain the integrator uses (built-in plugins use @inject).
 */
import { ContainerModule, PluginContext, ProtocolDriverContribution } from 'energymesh/plugin-api';
import type {
  Command,
  CommandResult,
  DeviceDescriptor,
  DeviceStatus,
  DriverContext,
  ProtocolDriver,
  ProtocolDriverRegistry,
  Sample,
} from 'energymesh/plugin-api';

interface TemplateDeviceConfig {
  id: string;
  intervalMs: number;
  amplitude: number;
  failAfter?: number;
}

interface TemplateConfig {
  devices: TemplateDeviceConfig[];
}

class TemplateDriver implements ProtocolDriver {
  readonly id = 'template';
  readonly protocol = 'template';
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly setpoints = new Map<string, number>();
  private count = 0;

  constructor(private readonly plugin: PluginContext<TemplateConfig>) {}

  devices(): DeviceDescriptor[] {
    return this.plugin.config.devices.map((d) => ({
      deviceId: d.id,
      protocol: this.protocol,
      description: `sine generator every ${d.intervalMs} ms`,
      points: [
        { deviceId: d.id, pointId: 'signal', kind: 'analog', unit: 'W', writable: false, protocol: this.protocol },
        { deviceId: d.id, pointId: 'offset', kind: 'analog', unit: 'W', writable: true, protocol: this.protocol },
      ],
    }));
  }

  async start(ctx: DriverContext): Promise<void> {
    for (const d of this.plugin.config.devices) {
      ctx.reportDeviceStatus({ deviceId: d.id, state: 'online', since: Date.now() });
      const timer = setInterval(() => this.plugin.guard(`sample ${d.id}`, () => this.sample(ctx, d)), d.intervalMs);
      this.timers.push(timer);
    }
  }

  private async sample(ctx: DriverContext, d: TemplateDeviceConfig): Promise<void> {
    this.count++;
    if (d.failAfter !== undefined && this.count > d.failAfter) throw new Error(`simulated fault in ${d.id}`);
    const now = Date.now();
    const offset = this.setpoints.get(d.id) ?? 0;
    const samples: Sample[] = [
      { deviceId: d.id, pointId: 'signal', ts: now, value: offset + d.amplitude * Math.sin(now / 10_000), quality: { status: 'good', flags: [] }, protocol: this.protocol, unit: 'W' },
      { deviceId: d.id, pointId: 'offset', ts: now, value: offset, quality: { status: 'good', flags: [] }, protocol: this.protocol, unit: 'W' },
    ];
    const started = performance.now();
    await ctx.ingest.ingest(samples);
    ctx.metrics.observePoll(d.id, (performance.now() - started) / 1000, true);
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  async execute(command: Command): Promise<CommandResult> {
    const base = { commandId: command.id, deviceId: command.deviceId, pointId: command.pointId, issuedAt: command.issuedAt };
    if (command.pointId !== 'offset' || typeof command.value !== 'number') {
      return { ...base, status: 'rejected', completedAt: Date.now(), error: { code: 'INVALID_ARGUMENT', message: 'only a numeric offset can be written' } };
    }
    this.setpoints.set(command.deviceId, command.value);
    return { ...base, status: 'succeeded', completedAt: Date.now() };
  }

  deviceStatus(): DeviceStatus[] {
    return this.plugin.config.devices.map((d) => ({ deviceId: d.id, state: 'online', since: Date.now() }));
  }
}

class TemplateDriverContribution implements ProtocolDriverContribution {
  constructor(private readonly ctx: PluginContext<TemplateConfig>) {}

  registerDrivers(registry: ProtocolDriverRegistry): void {
    registry.register(new TemplateDriver(this.ctx));
  }
}

export default new ContainerModule(({ bind }) => {
  bind(ProtocolDriverContribution)
    .toDynamicValue((context) => new TemplateDriverContribution(context.get<PluginContext<TemplateConfig>>(PluginContext)))
    .inSingletonScope();
});
