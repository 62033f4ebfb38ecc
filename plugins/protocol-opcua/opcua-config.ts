/**
 * The plugin's config (config.schema.json), as TypeScript types, with defaults already applied by
 * the kernel's validation.
 */
import type { DeadbandOptions, SecurityModeName, SecurityPolicyName } from '../../protocols/opcua/client/opcua-client.ts';
import type { PointKind } from '../../core/plugin-api.ts';

export interface OpcuaSubscriptionConfig {
  publishingIntervalMs?: number;
  samplingIntervalMs?: number;
  queueSize?: number;
  deadband?: DeadbandOptions;
  maxItemsPerSubscription?: number;
  maxItemsPerCall?: number;
}

export interface OpcuaPointConfig {
  id: string;
  nodeId?: string;
  method?: { objectId: string; methodId: string };
  kind?: PointKind;
  unit?: string;
  description?: string;
  dataType?: string;
  writable?: boolean;
  samplingIntervalMs?: number;
  queueSize?: number;
  deadband?: DeadbandOptions;
}

export interface OpcuaDeviceConfig {
  id: string;
  description?: string;
  endpointUrl: string;
  security?: { mode?: SecurityModeName; policy?: SecurityPolicyName };
  user?: { username: string; password: string };
  points?: OpcuaPointConfig[];
  discovery?: { root: string; maxDepth?: number; maxNodes?: number; include?: string; exclude?: string };
  subscription?: OpcuaSubscriptionConfig;
}

export interface OpcuaPluginConfig {
  pkiDir?: string;
  applicationName?: string;
  subscription?: OpcuaSubscriptionConfig;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  requestTimeoutMs?: number;
  devices?: OpcuaDeviceConfig[];
}
