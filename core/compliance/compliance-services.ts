/**
 * One call for the kernel: the audit log in `<dataDir>/audit` and the ComplianceManager in
 * `<dataDir>/compliance`, over the modules the loaded compliance plugins contribute.
 */
import { join } from 'node:path';
import { AuditLog } from '../audit/audit-log.ts';
import type { AuditAnchorOptions } from '../audit/audit-log.ts';
import { ComplianceManager } from './compliance-manager.ts';
import type { ComplianceAlertEvent } from './compliance-manager.ts';
import type { DeviceEvent } from '../model/telemetry.ts';
import type { ComplianceModule, PersonalDataStore } from './compliance-module.ts';

export interface ComplianceServicesOptions {
  /** The instance's data dir (`core.dataDir`). */
  dataDir: string;
  modules: readonly ComplianceModule[];
  clock?: () => number;
  anchor?: AuditAnchorOptions;
  personalData?: PersonalDataStore;
}

export function createComplianceServices(options: ComplianceServicesOptions): { audit: AuditLog; manager: ComplianceManager } {
  const clock = options.clock ?? Date.now;
  const audit = new AuditLog({ dir: join(options.dataDir, 'audit'), clock, ...(options.anchor ? { anchor: options.anchor } : {}) });
  const manager = new ComplianceManager({
    dataDir: join(options.dataDir, 'compliance'),
    modules: options.modules,
    audit,
    clock,
    ...(options.personalData ? { personalData: options.personalData } : {}),
  });
  return { audit, manager };
}

/** A compliance alert as a device event for the events topic (`pipeline.ingestEvents([...])`). */
export function alertToEvent(alert: ComplianceAlertEvent): Omit<DeviceEvent, 'receivedAt'> {
  return {
    deviceId: 'compliance',
    type: 'alarm',
    severity: alert.severity,
    ts: alert.at,
    message: `${alert.module}: ${alert.message}`,
    data: { module: alert.module, principal: alert.principal, what: alert.what },
  };
}
