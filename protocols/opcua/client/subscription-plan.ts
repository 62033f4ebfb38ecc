/**
 * Splits monitored items into subscriptions and CreateMonitoredItems calls that respect the server's
 * limits (ServerCapabilities MaxMonitoredItemsPerSubscription, OperationLimits MaxMonitoredItemsPerCall;
 * 0 means "no limit") and our own caps. Items with different monitoring parameters go in different
 * calls (a call shares one parameter set in node-opcua's group API). Pure and synchronous.
 */
export interface PlanLimits {
  /** Server MaxMonitoredItemsPerCall (0 = none). */
  serverPerCall: number;
  /** Server MaxMonitoredItemsPerSubscription (0 = none). */
  serverPerSubscription: number;
  /** Our own caps (0 = none). */
  perCall?: number;
  perSubscription?: number;
}

export interface PlannedCall {
  /** Indexes into the planned items. */
  items: number[];
  /** The parameter-set key shared by these items. */
  paramsKey: string;
}

export interface PlannedSubscription {
  calls: PlannedCall[];
}

function cap(...limits: (number | undefined)[]): number {
  const positive = limits.filter((l): l is number => typeof l === 'number' && l > 0);
  return positive.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...positive);
}

/** Plans subscriptions and calls for items whose parameter keys are `paramsKeys` (one per item). */
export function planMonitoredItems(paramsKeys: readonly string[], limits: PlanLimits): PlannedSubscription[] {
  const perSub = cap(limits.serverPerSubscription, limits.perSubscription);
  const perCall = cap(limits.serverPerCall, limits.perCall);
  const subs: PlannedSubscription[] = [];
  for (let start = 0; start < paramsKeys.length; start += perSub) {
    const end = Math.min(paramsKeys.length, start + perSub);
    const byKey = new Map<string, number[]>();
    for (let i = start; i < end; i++) {
      const k = paramsKeys[i] ?? '';
      const list = byKey.get(k) ?? [];
      list.push(i);
      byKey.set(k, list);
    }
    const calls: PlannedCall[] = [];
    for (const [paramsKey, items] of byKey) {
      for (let j = 0; j < items.length; j += perCall) calls.push({ items: items.slice(j, j + perCall), paramsKey });
    }
    subs.push({ calls });
  }
  return subs;
}
