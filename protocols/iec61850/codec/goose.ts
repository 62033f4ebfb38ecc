/**
 * GOOSE (IEC 61850-8-1 §18 and Annex A): Ethernet frames of ethertype 0x88B8.
 *
 *   frame   = dst(6) src(6) [0x8100 TCI(2): priority(3) DEI(1) VLAN-ID(12)] 0x88B8 APPID(2) Length(2) Reserved1(2) Reserved2(2) goosePdu
 *   IECGoosePdu ::= [APPLICATION 1] IMPLICIT SEQUENCE { gocbRef [0] VisibleString, timeAllowedtoLive [1] INTEGER,
 *     datSet [2] VisibleString, goID [3] VisibleString OPT, t [4] UtcTime, stNum [5] INTEGER, sqNum [6] INTEGER,
 *     simulation [7] BOOLEAN DEFAULT FALSE, confRev [8] INTEGER, ndsCom [9] BOOLEAN DEFAULT FALSE,
 *     numDatSetEntries [10] INTEGER, allData [11] SEQUENCE OF Data, security [12] OPT }
 *
 * Length counts from APPID to the end of the PDU. Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED.
 */
import {
  APPLICATION, CONTEXT, appC, boolContent, children, ctxC, ctxP, decodeBool, decodeString, decodeUint, expect, find,
  intContent, malformed, readTlv, stringContent, truncated,
} from './ber.ts';
import { decodeData, encodeData } from './mms-data.ts';
import type { MmsData, UtcTime } from './mms-data.ts';

export const GOOSE_ETHERTYPE = 0x88b8;

export interface GooseMessage {
  dst: string;
  src: string;
  vlan?: { priority: number; id: number };
  appId: number;
  gocbRef: string;
  timeAllowedToLive: number;
  datSet: string;
  goId?: string;
  t: UtcTime;
  stNum: number;
  sqNum: number;
  simulation: boolean;
  confRev: number;
  ndsCom: boolean;
  numDatSetEntries: number;
  allData: MmsData[];
}

const mac = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

/** Decodes one Ethernet frame (no FCS). */
export function decodeGooseFrame(frame: Uint8Array): GooseMessage {
  if (frame.length < 14) throw truncated('GOOSE: frame too short');
  let off = 12;
  let vlan: GooseMessage['vlan'];
  let type = ((frame[off] as number) << 8) | (frame[off + 1] as number);
  if (type === 0x8100) {
    if (frame.length < 18) throw truncated('GOOSE: truncated VLAN tag');
    const tci = ((frame[14] as number) << 8) | (frame[15] as number);
    vlan = { priority: tci >> 13, id: tci & 0x0fff };
    off += 4;
    type = ((frame[off] as number) << 8) | (frame[off + 1] as number);
  }
  if (type !== GOOSE_ETHERTYPE) throw malformed('GOOSE: not ethertype 0x88B8', { ethertype: type });
  const h = off + 2;
  if (frame.length < h + 8) throw truncated('GOOSE: truncated header');
  const appId = ((frame[h] as number) << 8) | (frame[h + 1] as number);
  const length = ((frame[h + 2] as number) << 8) | (frame[h + 3] as number);
  if (length < 8 || h + length > frame.length) throw truncated('GOOSE: length runs past the frame', { length });
  const pdu = readTlv(frame, h + 8, h + length);
  expect(pdu, APPLICATION, 1, 'goosePdu');
  const kids = children(pdu);
  const str = (tag: number, what: string): string => decodeString(expect(find(kids, CONTEXT, tag), CONTEXT, tag, what).value);
  const uint = (tag: number, what: string): number => decodeUint(expect(find(kids, CONTEXT, tag), CONTEXT, tag, what).value);
  const bool = (tag: number): boolean => {
    const t = find(kids, CONTEXT, tag);
    return t ? decodeBool(t.value) : false;
  };
  const tt = expect(find(kids, CONTEXT, 4), CONTEXT, 4, 't');
  const time = decodeData({ ...tt, tag: 17 });
  if (time.type !== 'utc-time') throw malformed('GOOSE: bad t');
  const all = expect(find(kids, CONTEXT, 11), CONTEXT, 11, 'allData');
  const out: GooseMessage = {
    dst: mac(frame.subarray(0, 6)),
    src: mac(frame.subarray(6, 12)),
    appId,
    gocbRef: str(0, 'gocbRef'),
    timeAllowedToLive: uint(1, 'timeAllowedtoLive'),
    datSet: str(2, 'datSet'),
    t: time.value,
    stNum: uint(5, 'stNum'),
    sqNum: uint(6, 'sqNum'),
    simulation: bool(7),
    confRev: uint(8, 'confRev'),
    ndsCom: bool(9),
    numDatSetEntries: uint(10, 'numDatSetEntries'),
    allData: children(all).map((d) => decodeData(d)),
  };
  if (vlan) out.vlan = vlan;
  const goId = find(kids, CONTEXT, 3);
  if (goId) out.goId = decodeString(goId.value);
  return out;
}

/** Encodes a GOOSE frame (used by tests and the simulator). */
export function encodeGooseFrame(m: GooseMessage): Uint8Array {
  const t = encodeData({ type: 'utc-time', value: m.t });
  const parts = [ctxP(0, stringContent(m.gocbRef)), ctxP(1, intContent(m.timeAllowedToLive)), ctxP(2, stringContent(m.datSet))];
  if (m.goId !== undefined) parts.push(ctxP(3, stringContent(m.goId)));
  parts.push(ctxP(4, t.subarray(2)), ctxP(5, intContent(m.stNum)), ctxP(6, intContent(m.sqNum)), ctxP(7, boolContent(m.simulation)),
    ctxP(8, intContent(m.confRev)), ctxP(9, boolContent(m.ndsCom)), ctxP(10, intContent(m.numDatSetEntries)), ctxC(11, ...m.allData.map((d) => encodeData(d))));
  const pdu = appC(1, ...parts);
  const macBytes = (s: string): number[] => s.split(':').map((x) => parseInt(x, 16));
  const head: number[] = [...macBytes(m.dst), ...macBytes(m.src)];
  if (m.vlan) head.push(0x81, 0x00, (m.vlan.priority << 5) | (m.vlan.id >> 8), m.vlan.id & 0xff);
  const len = 8 + pdu.length;
  head.push(0x88, 0xb8, m.appId >> 8, m.appId & 0xff, len >> 8, len & 0xff, 0, 0, 0, 0);
  const out = new Uint8Array(head.length + pdu.length);
  out.set(head);
  out.set(pdu, head.length);
  return out;
}

/** Tracks GOOSE streams per gocbRef: detects missed messages (sqNum/stNum gaps) and stale streams (TAL expired). */
export class GooseSubscriber {
  private readonly last = new Map<string, { msg: GooseMessage; at: number }>();

  constructor(private readonly listener: (ev: GooseEvent) => void) {}

  /** Feeds one frame received at `atMs`; frames of other ethertypes are ignored. */
  onFrame(frame: Uint8Array, atMs: number): void {
    let type = ((frame[12] as number) << 8) | (frame[13] as number);
    if (type === 0x8100) type = ((frame[16] as number) << 8) | (frame[17] as number);
    if (type !== GOOSE_ETHERTYPE) return;
    const msg = decodeGooseFrame(frame);
    const prev = this.last.get(msg.gocbRef);
    let missed = 0;
    if (prev) {
      if (msg.stNum === prev.msg.stNum) missed = Math.max(0, msg.sqNum - prev.msg.sqNum - 1);
      else if (msg.stNum > prev.msg.stNum + 1) missed = msg.stNum - prev.msg.stNum - 1;
    }
    const changed = !prev || prev.msg.stNum !== msg.stNum;
    this.last.set(msg.gocbRef, { msg, at: atMs });
    this.listener({ type: 'message', message: msg, changed, missed, at: atMs });
  }

  /** Emits `stale` for every stream whose timeAllowedToLive has expired at `nowMs`. */
  checkStale(nowMs: number): void {
    for (const [ref, { msg, at }] of this.last) {
      if (nowMs - at > msg.timeAllowedToLive) {
        this.last.delete(ref);
        this.listener({ type: 'stale', gocbRef: ref, at: nowMs });
      }
    }
  }
}

export type GooseEvent =
  | { type: 'message'; message: GooseMessage; changed: boolean; missed: number; at: number }
  | { type: 'stale'; gocbRef: string; at: number };
