/**
 * Services plugins offer one another (the settlement plugin's contracts and keys to the oracle, the
 * market and dispatch, for example). A provider calls `provide(key, value)` in its `onStart`; a consumer
 * names the provider in its manifest's `dependsOn` (so it starts after it) and calls `get(key)`.
 * Keys are typed, so no cast is needed at the consumer.
 */
import { EnergyMeshError } from '../errors.ts';

/** A typed service key. `provider` names the plugin expected to offer it (used in error messages). */
export interface ServiceKey<T> {
  readonly name: string;
  readonly provider: string;
  /** Phantom: carries T; never set. */
  readonly __type?: T;
}

export function serviceKey<T>(name: string, provider: string): ServiceKey<T> {
  return { name, provider };
}

export interface ServiceRegistry {
  /** Offers `value` under `key`; returns a function that withdraws it. A key has at most one provider. */
  provide<T>(key: ServiceKey<T>, value: T, by: string): () => void;
  /** The service; throws SERVICE_UNAVAILABLE naming the plugin to enable when nobody offers it. */
  get<T>(key: ServiceKey<T>): T;
  tryGet<T>(key: ServiceKey<T>): T | undefined;
}

export class DefaultServiceRegistry implements ServiceRegistry {
  private readonly entries = new Map<string, { value: unknown; by: string }>();

  provide<T>(key: ServiceKey<T>, value: T, by: string): () => void {
    const existing = this.entries.get(key.name);
    if (existing !== undefined && existing.by !== by) {
      throw new EnergyMeshError('CONFIG_INVALID', `service ${key.name} is already provided by ${existing.by}; ${by} cannot provide it too`, {
        details: { service: key.name, provider: existing.by },
      });
    }
    const entry = { value, by };
    this.entries.set(key.name, entry);
    return () => {
      if (this.entries.get(key.name) === entry) this.entries.delete(key.name);
    };
  }

  get<T>(key: ServiceKey<T>): T {
    const entry = this.entries.get(key.name);
    if (entry === undefined) {
      throw new EnergyMeshError('SERVICE_UNAVAILABLE', `service ${key.name} is not available: enable the ${key.provider} plugin and list it in dependsOn`, {
        details: { service: key.name, provider: key.provider },
      });
    }
    return entry.value as T;
  }

  tryGet<T>(key: ServiceKey<T>): T | undefined {
    return this.entries.get(key.name)?.value as T | undefined;
  }
}
