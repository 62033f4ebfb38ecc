/**
 * Automatic orders from DER policies (pure): a battery or PV site sells its surplus above a threshold
 * and buys when its battery runs low. The market service evaluates each policy once per interval, for
 * the next interval still open, from the latest values of the device's points (CoreServices.latestValue).
 *
 *   sell: surplus = power − aboveKw (power read from `point`, in W or kW, export positive);
 *         amount  = surplus × interval length (the surplus assumed to last the interval), Wh, floor,
 *         capped by maxWh; no order when the surplus is ≤ 0
 *   buy:  when state of charge (`point`, %) < belowPct, `amountWh` at `limitPrice`
 *
 * A value that is missing, not of good quality, not a finite number or older than maxAgeSeconds gives
 * no order (the reason is returned so the service can log it).
 */
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import type { Side } from './clearing.ts';

export interface DerPolicy {
  id: string;
  /** The managed account the orders are placed from (SettlementService.account). */
  account: string;
  deviceId: string;
  sell?: { point: string; unit?: 'W' | 'kW'; aboveKw: number; limitPrice: string; maxWh?: number };
  buy?: { point: string; belowPct: number; amountWh: number; limitPrice: string };
  /** Values older than this are ignored (default: two intervals). */
  maxAgeSeconds?: number;
}

export interface PolicyOrder {
  policy: string;
  account: string;
  side: Side;
  amountWh: bigint;
  limitPrice: bigint;
  /** Why, in words (kept with the order). */
  basis: string;
}

export type PolicyOutcome = { order: PolicyOrder } | { skip: string };

/** Evaluates one policy; one outcome per configured side. */
export function evaluatePolicy(
  policy: DerPolicy,
  latest: (deviceId: string, pointId: string) => TelemetryRecord | undefined,
  nowMs: number,
  intervalSeconds: number,
): PolicyOutcome[] {
  const maxAgeMs = (policy.maxAgeSeconds ?? 2 * intervalSeconds) * 1000;
  const read = (point: string): number | string => {
    const r = latest(policy.deviceId, point);
    if (r === undefined) return `no value of ${policy.deviceId}/${point}`;
    if (r.quality.status !== 'good') return `${policy.deviceId}/${point} is ${r.quality.status}`;
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return `${policy.deviceId}/${point} is not a number`;
    if (nowMs - r.ts > maxAgeMs) return `${policy.deviceId}/${point} is ${Math.round((nowMs - r.ts) / 1000)} s old`;
    return r.value;
  };
  const out: PolicyOutcome[] = [];
  if (policy.sell) {
    const s = policy.sell;
    const v = read(s.point);
    if (typeof v === 'string') out.push({ skip: v });
    else {
      const kw = s.unit === 'kW' ? v : v / 1000;
      const surplusKw = kw - s.aboveKw;
      let wh = Math.floor((surplusKw * 1000 * intervalSeconds) / 3600);
      if (s.maxWh !== undefined) wh = Math.min(wh, s.maxWh);
      if (wh <= 0) out.push({ skip: `${policy.deviceId}/${s.point} ${kw.toFixed(3)} kW is not above ${s.aboveKw} kW` });
      else out.push({ order: { policy: policy.id, account: policy.account, side: 'sell', amountWh: BigInt(wh), limitPrice: BigInt(s.limitPrice), basis: `surplus ${surplusKw.toFixed(3)} kW above ${s.aboveKw} kW` } });
    }
  }
  if (policy.buy) {
    const b = policy.buy;
    const v = read(b.point);
    if (typeof v === 'string') out.push({ skip: v });
    else if (v >= b.belowPct) out.push({ skip: `${policy.deviceId}/${b.point} ${v} % is not below ${b.belowPct} %` });
    else out.push({ order: { policy: policy.id, account: policy.account, side: 'buy', amountWh: BigInt(b.amountWh), limitPrice: BigInt(b.limitPrice), basis: `state of charge ${v} % below ${b.belowPct} %` } });
  }
  return out;
}
