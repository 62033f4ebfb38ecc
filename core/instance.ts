/**
 * A running EnergyMesh instance: the kernel plus, when enabled, the API server. What
 * `energymesh start` runs, and what tests and embedders start in-process.
 */
import type { FastifyInstance } from 'fastify';
import { createApiServer } from './api/api-server.ts';
import { loadConfig } from './config/config-loader.ts';
import type { LoadedConfig } from './config/config-loader.ts';
import type { ConfigSource } from './config/config-file.ts';
import { Kernel } from './kernel.ts';
import type { KernelOptions } from './kernel.ts';

export interface Instance {
  readonly kernel: Kernel;
  readonly api?: FastifyInstance;
  /** Base URL of the API (http://host:port), when enabled. */
  readonly url?: string;
  stop(): Promise<void>;
}

/** Validates the config, loads and starts the kernel and the API. */
export async function startInstance(source: ConfigSource | LoadedConfig, options: KernelOptions = {}): Promise<Instance> {
  const config = 'core' in source ? source : loadConfig(source);
  const kernel = new Kernel(config, options);
  try {
    await kernel.load();
    await kernel.start();
  } catch (e) {
    await kernel.stop();
    throw e;
  }
  const apiConfig = config.core.api;
  if (!apiConfig.enabled) return { kernel, stop: () => kernel.stop() };
  let api: FastifyInstance;
  try {
    api = await createApiServer(kernel, { host: apiConfig.host, port: apiConfig.port, bodyLimitBytes: apiConfig.bodyLimitBytes, logger: kernel.logger });
    await api.listen({ host: apiConfig.host, port: apiConfig.port });
  } catch (e) {
    await kernel.stop();
    throw e;
  }
  const address = api.server.address();
  const port = typeof address === 'object' && address ? address.port : apiConfig.port;
  const host = apiConfig.host.includes(':') ? `[${apiConfig.host}]` : apiConfig.host;
  return {
    kernel,
    api,
    url: `http://${host}:${port}`,
    stop: async () => {
      await api.close();
      await kernel.stop();
    },
  };
}
