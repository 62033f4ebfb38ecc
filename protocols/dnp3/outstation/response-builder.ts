/**
 * Builds outstation responses: static data as runs of consecutive indices with the same variation
 * (qualifier 0x00 when the selected run of that type fits 8 bits, else 0x01), events with qualifier
 * 0x28 merged while group/variation repeat, a g51v1 CTO before relative-time events, and packing
 * into fragments of at most `maxFragmentSize` bytes (a run may be split across fragments).
 */
import type { IndexedObject, ObjectBlock } from '../codec/apdu.ts';
import type { ObjectHeader } from '../codec/object-header.ts';
import { QualifierCode } from '../codec/object-header.ts';
import type { PointType } from '../codec/object-library.ts';
import { objectType } from '../codec/object-library.ts';
import type { PointState, StoredEvent } from './database.ts';
import { POINT_TYPE_INFO } from './database.ts';

type UnitKind = 'range8' | 'range16' | 'indexed';

export interface Unit {
  group: number;
  variation: number;
  kind: UnitKind;
  objects: IndexedObject[];
  /** Event ids, parallel to `objects` (event units only). */
  eventIds?: number[];
  /** Common time of occurrence for relative-time events. */
  cto?: number;
}

export interface Fragment {
  blocks: ObjectBlock[];
  eventIds: number[];
}

/** Static units for the given points of one type. */
export function staticUnits(type: PointType, points: readonly PointState[], forcedVariation?: number): Unit[] {
  if (points.length === 0) return [];
  const group = POINT_TYPE_INFO[type].staticGroup;
  const maxIndex = points[points.length - 1]?.index ?? 0;
  const kind: UnitKind = maxIndex <= 0xff ? 'range8' : 'range16';
  const units: Unit[] = [];
  let cur: Unit | undefined;
  let lastIndex = -2;
  for (const p of points) {
    const variation = forcedVariation ?? p.staticVariation;
    if (!cur || cur.variation !== variation || p.index !== lastIndex + 1) {
      cur = { group, variation, kind, objects: [] };
      units.push(cur);
    }
    cur.objects.push({ index: p.index, value: { kind: 'point', value: p.value, flags: p.flags, time: p.time } });
    lastIndex = p.index;
  }
  return units;
}

/** Event units in insertion order; consecutive events of the same group/variation share a header. */
export function eventUnits(events: readonly StoredEvent[], forcedVariation?: (e: StoredEvent) => number | undefined): Unit[] {
  const units: Unit[] = [];
  let cur: Unit | undefined;
  for (const e of events) {
    const variation = forcedVariation?.(e) ?? e.variation;
    const t = objectType(e.group, variation);
    const relative = t?.time === 'relative';
    const fitsCto = cur?.cto !== undefined && e.time - cur.cto >= 0 && e.time - cur.cto <= 0xffff;
    if (!cur || cur.group !== e.group || cur.variation !== variation || (relative && !fitsCto)) {
      cur = { group: e.group, variation, kind: 'indexed', objects: [], eventIds: [], ...(relative ? { cto: e.time } : {}) };
      units.push(cur);
    }
    const base = { kind: 'point' as const, value: e.value, flags: e.flags };
    const value = relative ? { ...base, relativeMs: e.time - (cur.cto ?? e.time) } : { ...base, time: e.time };
    cur.objects.push({ index: e.index, value });
    cur.eventIds?.push(e.id);
  }
  return units;
}

function headerSize(kind: UnitKind): number {
  return kind === 'range8' ? 5 : kind === 'range16' ? 7 : 5;
}

const CTO_SIZE = 3 + 1 + 6;

function header(u: Unit, objects: IndexedObject[]): ObjectHeader {
  if (u.kind === 'indexed') return { group: u.group, variation: u.variation, qualifier: QualifierCode.UINT16_COUNT_UINT16_INDEX, range: { type: 'count', count: objects.length } };
  const start = objects[0]?.index ?? 0;
  const stop = objects[objects.length - 1]?.index ?? 0;
  return { group: u.group, variation: u.variation, qualifier: u.kind === 'range8' ? QualifierCode.UINT8_START_STOP : QualifierCode.UINT16_START_STOP, range: { type: 'startStop', start, stop } };
}

/**
 * Packs units into fragments. With `eventsInFirstOnly`, event units that do not fit the first fragment
 * are left out (they stay buffered and are announced by IIN class bits); static units continue in
 * further fragments.
 */
export function packFragments(units: readonly Unit[], maxFragmentSize: number, eventsInFirstOnly = true): Fragment[] {
  const budget = maxFragmentSize - 4;
  const fragments: Fragment[] = [{ blocks: [], eventIds: [] }];
  let used = 0;
  let eventsClosed = false;
  for (const u of units) {
    const t = objectType(u.group, u.variation);
    if (!t) continue;
    const isEvent = u.eventIds !== undefined;
    if (isEvent && eventsClosed) continue;
    const prefix = u.kind === 'indexed' ? 2 : 0;
    let pos = 0;
    while (pos < u.objects.length) {
      const frag = fragments[fragments.length - 1] as Fragment;
      const overhead = headerSize(u.kind) + (u.cto !== undefined ? CTO_SIZE : 0);
      const space = budget - used - overhead;
      let n: number;
      if (t.bits) n = Math.floor((space * 8) / t.bits);
      else n = Math.floor(space / (t.size + prefix));
      n = Math.min(n, u.objects.length - pos);
      if (n <= 0) {
        if (isEvent && eventsInFirstOnly) {
          eventsClosed = true;
          break;
        }
        if (used === 0) throw new RangeError('DNP3 outstation: fragment too small for one object');
        fragments.push({ blocks: [], eventIds: [] });
        used = 0;
        if (isEvent) eventsClosed = eventsInFirstOnly;
        continue;
      }
      const objects = u.objects.slice(pos, pos + n);
      if (u.cto !== undefined) frag.blocks.push({ header: { group: 51, variation: 1, qualifier: QualifierCode.UINT8_COUNT, range: { type: 'count', count: 1 } }, objects: [{ index: 0, value: { kind: 'time', time: u.cto } }] });
      frag.blocks.push({ header: header(u, objects), objects });
      if (u.eventIds) frag.eventIds.push(...u.eventIds.slice(pos, pos + n));
      used += overhead + (t.bits ? Math.ceil((n * t.bits) / 8) : n * (t.size + prefix));
      pos += n;
    }
    if (eventsClosed && isEvent) continue;
  }
  return fragments;
}
