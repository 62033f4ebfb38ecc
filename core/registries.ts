/**
 * Registries that contributions are fed into. Each refuses duplicate ids and returns a disposable.
 */
import type { Disposable } from './disposable.ts';
import { EnergyMeshError } from './errors.ts';
import type { ProtocolDriver, ProtocolDriverRegistry, TelemetrySink, TelemetrySinkRegistry } from './contributions.ts';

/** The protocol drivers and which driver serves which device. */
export class DriverRegistry implements ProtocolDriverRegistry {
  private readonly drivers = new Map<string, { driver: ProtocolDriver; pluginId: string }>();
  private readonly deviceOwner = new Map<string, ProtocolDriver>();
  private currentPlugin = '';

  /** Registrations made inside `fn` are attributed to `pluginId`. */
  withPlugin<T>(pluginId: string, fn: () => T): T {
    this.currentPlugin = pluginId;
    try {
      return fn();
    } finally {
      this.currentPlugin = '';
    }
  }

  register(driver: ProtocolDriver): Disposable {
    if (this.drivers.has(driver.id)) {
      throw new EnergyMeshError('DUPLICATE_ID', `a protocol driver with id ${driver.id} is already registered (by ${this.drivers.get(driver.id)?.pluginId})`, {
        details: { driverId: driver.id },
      });
    }
    this.drivers.set(driver.id, { driver, pluginId: this.currentPlugin });
    this.indexDevices(driver);
    return {
      dispose: () => {
        this.drivers.delete(driver.id);
        for (const [dev, owner] of this.deviceOwner) if (owner === driver) this.deviceOwner.delete(dev);
      },
    };
  }

  /** Re-reads a driver's device list (after discovery); refuses devices another driver owns. */
  indexDevices(driver: ProtocolDriver): void {
    for (const d of driver.devices()) {
      const owner = this.deviceOwner.get(d.deviceId);
      if (owner && owner !== driver) {
        throw new EnergyMeshError('DUPLICATE_ID', `device ${d.deviceId} is served by both ${owner.id} and ${driver.id}`, {
          details: { deviceId: d.deviceId },
        });
      }
      this.deviceOwner.set(d.deviceId, driver);
    }
  }

  all(): { driver: ProtocolDriver; pluginId: string }[] {
    return [...this.drivers.values()];
  }

  byPlugin(pluginId: string): ProtocolDriver[] {
    return this.all()
      .filter((d) => d.pluginId === pluginId)
      .map((d) => d.driver);
  }

  /** The driver serving `deviceId`, looking again at drivers' device lists if needed (discovery). */
  driverFor(deviceId: string): ProtocolDriver | undefined {
    const owner = this.deviceOwner.get(deviceId);
    if (owner) return owner;
    for (const { driver } of this.drivers.values()) {
      if (driver.devices().some((d) => d.deviceId === deviceId)) {
        this.deviceOwner.set(deviceId, driver);
        return driver;
      }
    }
    return undefined;
  }
}

/** Telemetry sinks; the kernel subscribes each to the telemetry topic. */
export class SinkRegistry implements TelemetrySinkRegistry {
  private readonly sinks = new Map<string, TelemetrySink>();
  private readonly listeners: ((sink: TelemetrySink) => void)[] = [];

  register(sink: TelemetrySink): Disposable {
    if (this.sinks.has(sink.id)) throw new EnergyMeshError('DUPLICATE_ID', `a telemetry sink with id ${sink.id} is already registered`);
    this.sinks.set(sink.id, sink);
    for (const l of this.listeners) l(sink);
    return { dispose: () => this.sinks.delete(sink.id) };
  }

  all(): TelemetrySink[] {
    return [...this.sinks.values()];
  }
}
