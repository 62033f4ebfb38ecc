/**
 * A running EnergyMesh instance: the kernel plus, when enabled, the API server. What
 * `energymesh start` runs, and what tests and embedders start in-process.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { TokenStore } from './auth/token-store.ts';
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
  /** Set when this start created the first admin token (no token existed): shown once. */
  readonly initialAdminToken?: { token: string; file: string };
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
  let initialAdminToken: Instance['initialAdminToken'];
  try {
    let auth: { tokens: TokenStore; anonymousRole: 'none' | 'viewer' } | undefined;
    if (apiConfig.auth.enabled) {
      const tokens = new TokenStore(tokensFile(config));
      if (tokens.isEmpty()) {
        const created = tokens.create('initial admin', 'admin');
        const file = join(config.core.dataDir, 'auth', 'initial-admin-token');
        writeFileSync(file, `${created.token}\n`, { mode: 0o600 });
        initialAdminToken = { token: created.token, file };
        kernel.logger.warn({ file }, 'created the first admin API token (no token existed); it is in this file, readable by the owner only');
      }
      auth = { tokens, anonymousRole: apiConfig.auth.anonymousRole };
    }
    api = await createApiServer(kernel, {
      host: apiConfig.host,
      port: apiConfig.port,
      bodyLimitBytes: apiConfig.bodyLimitBytes,
      logger: kernel.logger,
      ...(auth ? { auth } : {}),
    });
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
    ...(initialAdminToken ? { initialAdminToken } : {}),
    stop: async () => {
      await api.close();
      await kernel.stop();
    },
  };
}

/** Where the API tokens of `config` are kept. */
export function tokensFile(config: LoadedConfig): string {
  return config.core.api.auth.tokensFile ? join(config.source.baseDir, config.core.api.auth.tokensFile) : join(config.core.dataDir, 'auth', 'tokens.json');
}
