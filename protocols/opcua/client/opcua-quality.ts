/**
 * OPC UA StatusCode → EnergyMesh normalized quality (OPC UA Part 4 §7.39, Part 8 §6.3.2).
 *
 * The severity bits (31..30) give the verdict: 00 good, 01 uncertain, 10/11 bad → `invalid`.
 * The sub-code adds a detail flag where EnergyMesh has one (`comm-lost`, `stale`, `inaccurate`...);
 * the DataValue InfoType bits add `overflow` and the limit bits (`limit-low`, `limit-high`,
 * `limit-constant`). The raw StatusCode (number and name) is always kept in `raw`.
 * Pure: no I/O; the plugin's Quality type is structurally the same.
 */
import { getStatusCodeFromCode } from 'node-opcua';

export type OpcuaQualityStatus = 'good' | 'uncertain' | 'invalid';

/** Structurally identical to the core's Quality. */
export interface OpcuaQuality {
  status: OpcuaQualityStatus;
  flags: string[];
  raw: { statusCode: number; statusName: string };
}

/** Flags for well-known sub-codes, by name (names are stable across stack versions, numbers too). */
const FLAG_BY_NAME: Readonly<Record<string, string>> = {
  BadCommunicationError: 'comm-lost',
  BadConnectionClosed: 'comm-lost',
  BadNoCommunication: 'comm-lost',
  BadServerNotConnected: 'comm-lost',
  BadSecureChannelClosed: 'comm-lost',
  BadNotConnected: 'not-connected',
  BadWaitingForInitialData: 'not-connected',
  BadTimeout: 'timeout',
  BadRequestTimeout: 'timeout',
  BadSensorFailure: 'device-exception',
  BadDeviceFailure: 'device-exception',
  BadOutOfService: 'out-of-service',
  BadConfigurationError: 'bad-config',
  BadNodeIdUnknown: 'bad-config',
  BadNodeIdInvalid: 'bad-config',
  BadAttributeIdInvalid: 'bad-config',
  BadNotReadable: 'bad-config',
  BadUserAccessDenied: 'bad-config',
  BadOutOfRange: 'over-range',
  UncertainLastUsableValue: 'stale',
  UncertainNoCommunicationLastUsableValue: 'stale',
  UncertainSensorNotAccurate: 'inaccurate',
  UncertainSubNormal: 'inaccurate',
  UncertainEngineeringUnitsExceeded: 'over-range',
  UncertainSubstituteValue: 'substituted',
  UncertainInitialValue: 'substituted',
  GoodLocalOverride: 'local-forced',
};

const SEVERITY_MASK = 0xc000_0000;
const INFO_TYPE_DATA_VALUE = 0x0000_0400;
const OVERFLOW_BIT = 0x0000_0080;
const LIMIT_MASK = 0x0000_0300;

/** The name of a StatusCode (sub-code only, without the info bits), e.g. `BadTypeMismatch`. */
export function statusCodeName(code: number): string {
  const base = (code & 0xffff_0000) >>> 0;
  const sc = getStatusCodeFromCode(base);
  return sc.value >>> 0 === base && sc.name ? sc.name : `0x${(code >>> 0).toString(16).padStart(8, '0')}`;
}

/** One quality object per StatusCode seen (there are few distinct codes; bounded all the same). */
const QUALITY_CACHE = new Map<number, OpcuaQuality>();
const QUALITY_CACHE_MAX = 4096;

/**
 * Normalizes a StatusCode value (a UInt32) into a quality. The result is shared by every change with the
 * same code (no allocation per data change at 100k changes/s): treat it as read-only — as the core does
 * with its own GOOD quality, a stage that changes a quality builds a new one.
 */
export function qualityFromStatusCode(code: number): OpcuaQuality {
  const value = code >>> 0;
  const cached = QUALITY_CACHE.get(value);
  if (cached !== undefined) return cached;
  const q = computeQuality(value);
  if (QUALITY_CACHE.size < QUALITY_CACHE_MAX) QUALITY_CACHE.set(value, q);
  return q;
}

function computeQuality(value: number): OpcuaQuality {
  const severity = (value & SEVERITY_MASK) >>> 30;
  const status: OpcuaQualityStatus = severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'invalid';
  const name = statusCodeName(value);
  const flags: string[] = [];
  const flag = FLAG_BY_NAME[name];
  if (flag) flags.push(flag);
  if ((value & INFO_TYPE_DATA_VALUE) !== 0) {
    if ((value & OVERFLOW_BIT) !== 0) flags.push('overflow');
    const limit = (value & LIMIT_MASK) >>> 8;
    if (limit === 1) flags.push('limit-low');
    else if (limit === 2) flags.push('limit-high');
    else if (limit === 3) flags.push('limit-constant');
  }
  return { status, flags, raw: { statusCode: value, statusName: name } };
}
