/**
 * DNP3 application layer header, IEEE 1815-2012 clause 4.2.2.
 *
 * ```
 * request  = AC(1) FC(1) object-headers...
 * response = AC(1) FC(1) IIN1(1) IIN2(1) object-headers...
 * AC       = FIR(0x80) FIN(0x40) CON(0x20) UNS(0x10) SEQ(4 bits)
 * ```
 */

/** Application function codes (clause 4.2.2.5). */
export enum FunctionCode {
  CONFIRM = 0,
  READ = 1,
  WRITE = 2,
  SELECT = 3,
  OPERATE = 4,
  DIRECT_OPERATE = 5,
  DIRECT_OPERATE_NR = 6,
  IMMED_FREEZE = 7,
  IMMED_FREEZE_NR = 8,
  FREEZE_CLEAR = 9,
  FREEZE_CLEAR_NR = 10,
  FREEZE_AT_TIME = 11,
  FREEZE_AT_TIME_NR = 12,
  COLD_RESTART = 13,
  WARM_RESTART = 14,
  INITIALIZE_DATA = 15,
  INITIALIZE_APPLICATION = 16,
  START_APPLICATION = 17,
  STOP_APPLICATION = 18,
  SAVE_CONFIGURATION = 19,
  ENABLE_UNSOLICITED = 20,
  DISABLE_UNSOLICITED = 21,
  ASSIGN_CLASS = 22,
  DELAY_MEASURE = 23,
  RECORD_CURRENT_TIME = 24,
  OPEN_FILE = 25,
  CLOSE_FILE = 26,
  DELETE_FILE = 27,
  GET_FILE_INFO = 28,
  AUTHENTICATE_FILE = 29,
  ABORT_FILE = 30,
  ACTIVATE_CONFIG = 31,
  AUTHENTICATE_REQUEST = 32,
  AUTHENTICATE_REQUEST_NO_ACK = 33,
  RESPONSE = 129,
  UNSOLICITED_RESPONSE = 130,
  AUTHENTICATE_RESPONSE = 131,
}

/** Name of a function code, e.g. `DIRECT_OPERATE`, or `UNKNOWN(n)`. */
export function functionName(fc: number): string {
  return (FunctionCode as unknown as Record<number, string | undefined>)[fc] ?? `UNKNOWN(${fc})`;
}

export function isResponseFunction(fc: number): boolean {
  return fc === FunctionCode.RESPONSE || fc === FunctionCode.UNSOLICITED_RESPONSE || fc === FunctionCode.AUTHENTICATE_RESPONSE;
}

export interface AppControl {
  fir: boolean;
  fin: boolean;
  con: boolean;
  uns: boolean;
  /** 4-bit sequence number. */
  seq: number;
}

export function decodeAppControl(b: number): AppControl {
  return { fir: (b & 0x80) !== 0, fin: (b & 0x40) !== 0, con: (b & 0x20) !== 0, uns: (b & 0x10) !== 0, seq: b & 0x0f };
}

export function encodeAppControl(c: AppControl): number {
  return (c.fir ? 0x80 : 0) | (c.fin ? 0x40 : 0) | (c.con ? 0x20 : 0) | (c.uns ? 0x10 : 0) | (c.seq & 0x0f);
}

/** A single-fragment control with FIR and FIN set. */
export function singleFragment(seq: number, opts: { con?: boolean; uns?: boolean } = {}): AppControl {
  return { fir: true, fin: true, con: opts.con ?? false, uns: opts.uns ?? false, seq: seq & 0x0f };
}

/** Internal indications, two bytes as on the wire (clause 4.2.2.7). */
export interface Iin {
  readonly iin1: number;
  readonly iin2: number;
}

export const IIN_NONE: Iin = { iin1: 0, iin2: 0 };

/** IIN1 bits. */
export const Iin1 = {
  BROADCAST: 0x01,
  CLASS_1_EVENTS: 0x02,
  CLASS_2_EVENTS: 0x04,
  CLASS_3_EVENTS: 0x08,
  NEED_TIME: 0x10,
  LOCAL_CONTROL: 0x20,
  DEVICE_TROUBLE: 0x40,
  DEVICE_RESTART: 0x80,
} as const;

/** IIN2 bits. */
export const Iin2 = {
  NO_FUNC_CODE_SUPPORT: 0x01,
  OBJECT_UNKNOWN: 0x02,
  PARAMETER_ERROR: 0x04,
  EVENT_BUFFER_OVERFLOW: 0x08,
  ALREADY_EXECUTING: 0x10,
  CONFIG_CORRUPT: 0x20,
  RESERVED_2: 0x40,
  RESERVED_1: 0x80,
} as const;

/** IIN2 bits that report a request error. */
export const IIN2_REQUEST_ERRORS = Iin2.NO_FUNC_CODE_SUPPORT | Iin2.OBJECT_UNKNOWN | Iin2.PARAMETER_ERROR | Iin2.ALREADY_EXECUTING;

/** Names of the bits set, e.g. `['IIN1.7 DEVICE_RESTART']`. */
export function iinNames(iin: Iin): string[] {
  const out: string[] = [];
  for (const [name, bit] of Object.entries(Iin1)) if (iin.iin1 & bit) out.push(`IIN1.${Math.log2(bit)} ${name}`);
  for (const [name, bit] of Object.entries(Iin2)) if (iin.iin2 & bit) out.push(`IIN2.${Math.log2(bit)} ${name}`);
  return out;
}

/** Index of each IIN bit for g80v1 (IIN1.0 = 0 … IIN2.7 = 15). */
export const IIN_INDEX_DEVICE_RESTART = 7;
