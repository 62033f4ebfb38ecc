/**
 * Builders for the requests a master sends, matching the bytes the reference implementation
 * (opendnp3) produces where the standard leaves no choice.
 */
import type { Apdu, ObjectBlock } from './apdu.ts';
import { FunctionCode, IIN_INDEX_DEVICE_RESTART, singleFragment } from './app-header.ts';
import type { ObjectHeader } from './object-header.ts';
import { QualifierCode, allObjectsHeader, countHeader } from './object-header.ts';
import type { AnalogCommand, Crob } from './object-library.ts';

export interface ClassSelection {
  class0?: boolean;
  class1?: boolean;
  class2?: boolean;
  class3?: boolean;
}

/** g60 headers in the order opendnp3 sends them: class 1, 2, 3, then 0. */
export function classHeaders(c: ClassSelection): ObjectBlock[] {
  const out: ObjectBlock[] = [];
  if (c.class1) out.push({ header: allObjectsHeader(60, 2), objects: [] });
  if (c.class2) out.push({ header: allObjectsHeader(60, 3), objects: [] });
  if (c.class3) out.push({ header: allObjectsHeader(60, 4), objects: [] });
  if (c.class0) out.push({ header: allObjectsHeader(60, 1), objects: [] });
  return out;
}

export function request(seq: number, func: FunctionCode, blocks: ObjectBlock[] = []): Apdu {
  return { control: singleFragment(seq), func, blocks };
}

export function readRequest(seq: number, headers: ObjectHeader[]): Apdu {
  return request(seq, FunctionCode.READ, headers.map((header) => ({ header, objects: [] })));
}

export function classReadRequest(seq: number, c: ClassSelection): Apdu {
  return request(seq, FunctionCode.READ, classHeaders(c));
}

/** CONFIRM echoing the confirmed fragment's sequence; UNS set for unsolicited confirms. */
export function confirmRequest(seq: number, uns: boolean): Apdu {
  return { control: { fir: true, fin: true, con: false, uns, seq: seq & 0x0f }, func: FunctionCode.CONFIRM, blocks: [] };
}

/** WRITE g80v1 index 7 = 0 (clear IIN1.7 DEVICE_RESTART), qualifier 0x00. */
export function clearRestartRequest(seq: number): Apdu {
  return request(seq, FunctionCode.WRITE, [
    {
      header: { group: 80, variation: 1, qualifier: QualifierCode.UINT8_START_STOP, range: { type: 'startStop', start: IIN_INDEX_DEVICE_RESTART, stop: IIN_INDEX_DEVICE_RESTART } },
      objects: [{ index: IIN_INDEX_DEVICE_RESTART, value: { kind: 'point', value: false } }],
    },
  ]);
}

/** WRITE g50v1 (non-LAN) or g50v3 (LAN, last recorded time), qualifier 0x07 count 1. */
export function writeTimeRequest(seq: number, time: number, variation: 1 | 3): Apdu {
  return request(seq, FunctionCode.WRITE, [{ header: countHeader(50, variation, 1), objects: [{ index: 0, value: { kind: 'time', time } }] }]);
}

export type CommandObject =
  | { readonly index: number; readonly crob: Omit<Crob, 'kind' | 'status'> & { status?: number } }
  | { readonly index: number; readonly analog: { variation: 1 | 2 | 3 | 4; value: number } };

/** One block per run of same-type commands, each with qualifier 0x28 (as opendnp3 does). */
export function commandBlocks(commands: readonly CommandObject[]): ObjectBlock[] {
  const blocks: { header: ObjectHeader; objects: { index: number; value: Crob | AnalogCommand }[] }[] = [];
  for (const c of commands) {
    const [group, variation] = 'crob' in c ? [12, 1] : [41, c.analog.variation];
    const value: Crob | AnalogCommand =
      'crob' in c ? { kind: 'crob', ...c.crob, status: c.crob.status ?? 0 } : { kind: 'analogCommand', value: c.analog.value, status: 0 };
    const last = blocks[blocks.length - 1];
    if (last && last.header.group === group && last.header.variation === variation) {
      last.objects.push({ index: c.index, value });
      last.header = { ...last.header, range: { type: 'count', count: last.objects.length } };
    } else {
      blocks.push({ header: { group, variation, qualifier: QualifierCode.UINT16_COUNT_UINT16_INDEX, range: { type: 'count', count: 1 } }, objects: [{ index: c.index, value }] });
    }
  }
  return blocks;
}

/** CROB control codes (op type | trip-close code). */
export const ControlCode = {
  NUL: 0x00,
  PULSE_ON: 0x01,
  PULSE_OFF: 0x02,
  LATCH_ON: 0x03,
  LATCH_OFF: 0x04,
  CLOSE_PULSE_ON: 0x41,
  TRIP_PULSE_ON: 0x81,
} as const;

/** Command status codes (clause 11.9.1, g12 status). */
export const CommandStatus: Readonly<Record<number, string>> = {
  0: 'SUCCESS',
  1: 'TIMEOUT',
  2: 'NO_SELECT',
  3: 'FORMAT_ERROR',
  4: 'NOT_SUPPORTED',
  5: 'ALREADY_ACTIVE',
  6: 'HARDWARE_ERROR',
  7: 'LOCAL',
  8: 'TOO_MANY_OBJS',
  9: 'NOT_AUTHORIZED',
  10: 'AUTOMATION_INHIBIT',
  11: 'PROCESSING_LIMITED',
  12: 'OUT_OF_RANGE',
  126: 'NON_PARTICIPATING',
  127: 'UNDEFINED',
};
