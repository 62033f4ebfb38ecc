/**
 * Prometheus metrics (prom-client), one registry per kernel so several kernels (tests) do not mix.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class KernelMetrics {
  readonly registry = new Registry();
  readonly records: Counter<'plugin'>;
  readonly rejected: Counter<'reason'>;
  readonly pollDuration: Histogram<'plugin'>;
  readonly polls: Counter<'plugin' | 'result'>;
  readonly errors: Counter<'plugin' | 'device' | 'code'>;
  readonly pluginHealth: Gauge<'plugin'>;
  readonly devicesOnline: Gauge<'plugin'>;
  readonly commands: Counter<'status'>;
  readonly authDenied: Counter<'reason'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'energymesh_process_' });
    this.records = new Counter({ name: 'energymesh_records_total', help: 'Telemetry records accepted from each plugin', labelNames: ['plugin'], registers });
    this.rejected = new Counter({ name: 'energymesh_records_rejected_total', help: 'Samples rejected by normalization, by reason', labelNames: ['reason'], registers });
    this.pollDuration = new Histogram({
      name: 'energymesh_poll_duration_seconds',
      help: 'Latency of device polls',
      labelNames: ['plugin'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.polls = new Counter({ name: 'energymesh_polls_total', help: 'Device polls by result', labelNames: ['plugin', 'result'], registers });
    this.errors = new Counter({ name: 'energymesh_errors_total', help: 'Errors by plugin, device and EnergyMesh error code', labelNames: ['plugin', 'device', 'code'], registers });
    this.pluginHealth = new Gauge({ name: 'energymesh_plugin_health', help: 'Plugin health: 2 up, 1 degraded, 0 down', labelNames: ['plugin'], registers });
    this.devicesOnline = new Gauge({ name: 'energymesh_devices_online', help: 'Devices online per plugin', labelNames: ['plugin'], registers });
    this.commands = new Counter({ name: 'energymesh_commands_total', help: 'Commands by outcome', labelNames: ['status'], registers });
    this.authDenied = new Counter({ name: 'energymesh_auth_denied_total', help: 'API requests refused (unauthenticated or forbidden)', labelNames: ['reason'], registers });
  }
}
