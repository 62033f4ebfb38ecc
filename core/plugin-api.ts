/**
 * The public API for plugin authors: `import { ... } from 'energymesh/plugin-api'`.
 * Re-exports the contribution points, the data model, the error model and the inversify pieces a
 * plugin needs, so a plugin uses the same inversify copy as the core.
 */
import 'reflect-metadata';

export { ContainerModule, inject, injectable } from 'inversify';
export * from './contributions.ts';
export type * from './model/telemetry.ts';
export { EnergyMeshError, isEnergyMeshError, errorMessage } from './errors.ts';
export type { ErrorCode } from './errors.ts';
export type { Disposable } from './disposable.ts';
export type { Logger } from './logging/logger.ts';
export type { PluginManifest } from './plugins/plugin-manifest.ts';
export type { JsonSchema } from './config/json-schema.ts';
export { serviceKey } from './services/service-registry.ts';
export type { ServiceKey, ServiceRegistry } from './services/service-registry.ts';
export type { ComplianceTrade, MarketParameters } from './compliance/compliance-module.ts';
export type { TradeCheck } from './compliance/compliance-manager.ts';
export { callApi, runApiCommand } from './cli/api-client.ts';
export type { ApiTarget, ApiResult } from './cli/api-client.ts';
