/**
 * The outstation's point database and event buffer. Each point type keeps its points by index with
 * value, flags, class, default static/event variations and a deadband. `update()` detects changes
 * (any change for binaries, |Δ| > deadband for analogs and counters, any flags change) and records
 * events in insertion order; each point type's buffer holds at most `eventBufferSize` events (the
 * oldest are dropped and IIN2.3 EVENT_BUFFER_OVERFLOW raised).
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import type { PointType } from '../codec/object-library.ts';
import { objectType } from '../codec/object-library.ts';

export type PointClass = 0 | 1 | 2 | 3;

export interface PointConfig {
  index: number;
  /** Binaries: boolean; double-bit: 0..3 (DoubleBit); others: number. */
  value?: number | boolean;
  /** Quality flags byte (state bits of binaries are derived from `value`). Default 0x01 ONLINE. */
  flags?: number;
  class?: PointClass;
  staticVariation?: number;
  eventVariation?: number;
  /** Analogs and counters: events only when |Δ| > deadband. */
  deadband?: number;
  /** Time of the value (frozen counters with time). */
  time?: number;
}

export type DatabaseConfig = Partial<Record<PointType, PointConfig[]>> & {
  /** Events kept per point type. Default 100. */
  eventBufferSize?: number;
};

export interface PointState {
  readonly index: number;
  value: number | boolean;
  flags: number;
  time: number;
  pointClass: PointClass;
  readonly staticVariation: number;
  readonly eventVariation: number;
  readonly deadband: number;
  lastEventValue: number | boolean;
}

export interface StoredEvent {
  readonly id: number;
  readonly type: PointType;
  readonly index: number;
  readonly pointClass: 1 | 2 | 3;
  readonly value: number | boolean;
  readonly flags: number;
  readonly time: number;
  readonly group: number;
  readonly variation: number;
  /** Set while the event is in a response awaiting confirmation. */
  selected: boolean;
}

/** Static group, event group, default static variation and default event variation of each type. */
export const POINT_TYPE_INFO: Readonly<Record<PointType, { staticGroup: number; eventGroup: number; staticVariation: number; eventVariation: number; defaultValue: number | boolean }>> = {
  binaryInput: { staticGroup: 1, eventGroup: 2, staticVariation: 2, eventVariation: 2, defaultValue: false },
  doubleBitBinaryInput: { staticGroup: 3, eventGroup: 4, staticVariation: 2, eventVariation: 2, defaultValue: 1 },
  analogInput: { staticGroup: 30, eventGroup: 32, staticVariation: 1, eventVariation: 3, defaultValue: 0 },
  counter: { staticGroup: 20, eventGroup: 22, staticVariation: 1, eventVariation: 5, defaultValue: 0 },
  frozenCounter: { staticGroup: 21, eventGroup: 23, staticVariation: 1, eventVariation: 5, defaultValue: 0 },
  binaryOutputStatus: { staticGroup: 10, eventGroup: 11, staticVariation: 2, eventVariation: 2, defaultValue: false },
  analogOutputStatus: { staticGroup: 40, eventGroup: 42, staticVariation: 1, eventVariation: 3, defaultValue: 0 },
};

/** Order of point types in class 0 responses (as opendnp3: by type, not by group number). */
export const STATIC_ORDER: readonly PointType[] = [
  'binaryInput',
  'doubleBitBinaryInput',
  'analogInput',
  'counter',
  'frozenCounter',
  'binaryOutputStatus',
  'analogOutputStatus',
];

const GROUP_TO_TYPE = new Map<number, { type: PointType; event: boolean }>(
  Object.entries(POINT_TYPE_INFO).flatMap(([type, i]) => [
    [i.staticGroup, { type: type as PointType, event: false }],
    [i.eventGroup, { type: type as PointType, event: true }],
  ]),
);

/** The point type a static or event group belongs to. */
export function pointTypeOfGroup(group: number): { type: PointType; event: boolean } | undefined {
  return GROUP_TO_TYPE.get(group);
}

function isBinaryType(t: PointType): boolean {
  return t === 'binaryInput' || t === 'binaryOutputStatus' || t === 'doubleBitBinaryInput';
}

export class OutstationDatabase {
  private readonly points = new Map<PointType, Map<number, PointState>>();
  private readonly sorted = new Map<PointType, PointState[]>();
  private events: StoredEvent[] = [];
  private nextEventId = 1;
  readonly eventBufferSize: number;
  /** IIN2.3: events were lost since the last time the buffer drained. */
  overflow = false;

  constructor(config: DatabaseConfig, private readonly now: () => number = () => Date.now()) {
    this.eventBufferSize = config.eventBufferSize ?? 100;
    for (const type of STATIC_ORDER) {
      const info = POINT_TYPE_INFO[type];
      const map = new Map<number, PointState>();
      for (const p of config[type] ?? []) {
        if (!Number.isInteger(p.index) || p.index < 0 || p.index > 0xffff) {
          throw new EnergyMeshError('CONFIG_INVALID', `DNP3 outstation: ${type} index ${p.index} outside 0..65535`);
        }
        const sv = p.staticVariation ?? info.staticVariation;
        const ev = p.eventVariation ?? info.eventVariation;
        if (objectType(info.staticGroup, sv)?.role !== 'static') throw new EnergyMeshError('CONFIG_INVALID', `DNP3 outstation: ${type} ${p.index}: no static variation g${info.staticGroup}v${sv}`);
        if (objectType(info.eventGroup, ev)?.role !== 'event') throw new EnergyMeshError('CONFIG_INVALID', `DNP3 outstation: ${type} ${p.index}: no event variation g${info.eventGroup}v${ev}`);
        const value = p.value ?? info.defaultValue;
        map.set(p.index, {
          index: p.index,
          value,
          flags: p.flags ?? 0x01,
          time: p.time ?? 0,
          pointClass: p.class ?? (type === 'binaryOutputStatus' || type === 'analogOutputStatus' ? 0 : 1),
          staticVariation: sv,
          eventVariation: ev,
          deadband: p.deadband ?? 0,
          lastEventValue: value,
        });
      }
      this.points.set(type, map);
      this.sorted.set(type, [...map.values()].sort((a, b) => a.index - b.index));
    }
  }

  get(type: PointType, index: number): PointState | undefined {
    return this.points.get(type)?.get(index);
  }

  /** Points of a type sorted by index. */
  list(type: PointType): readonly PointState[] {
    return this.sorted.get(type) ?? [];
  }

  /**
   * Sets a point's value (and optionally flags/time); records an event when the change passes the
   * deadband and the point is in class 1-3. Returns whether an event was recorded.
   */
  update(type: PointType, index: number, value: number | boolean, opts: { flags?: number; time?: number; forceEvent?: boolean } = {}): boolean {
    const p = this.get(type, index);
    if (!p) throw new EnergyMeshError('UNKNOWN_POINT', `DNP3 outstation: no ${type} at index ${index}`, { details: { type, index } });
    const flags = opts.flags ?? p.flags;
    const stateMask = type === 'doubleBitBinaryInput' ? 0x3f : isBinaryType(type) ? 0x7f : 0xff;
    const flagsChanged = (flags & stateMask) !== (p.flags & stateMask);
    let changed: boolean;
    if (isBinaryType(type)) changed = value !== p.lastEventValue;
    else changed = Math.abs(Number(value) - Number(p.lastEventValue)) > p.deadband || (p.deadband === 0 && value !== p.lastEventValue);
    p.value = value;
    p.flags = flags;
    p.time = opts.time ?? this.now();
    if (!(changed || flagsChanged || opts.forceEvent) || p.pointClass === 0) return false;
    p.lastEventValue = value;
    this.addEvent(type, p);
    return true;
  }

  private addEvent(type: PointType, p: PointState): void {
    const info = POINT_TYPE_INFO[type];
    const ofType = this.events.filter((e) => e.type === type);
    if (ofType.length >= this.eventBufferSize) {
      const oldest = ofType.find((e) => !e.selected) ?? ofType[0];
      this.events = this.events.filter((e) => e !== oldest);
      this.overflow = true;
    }
    this.events.push({
      id: this.nextEventId++,
      type,
      index: p.index,
      pointClass: p.pointClass as 1 | 2 | 3,
      value: p.value,
      flags: p.flags,
      time: p.time,
      group: info.eventGroup,
      variation: p.eventVariation,
      selected: false,
    });
  }

  /** Events not yet selected, in insertion order, optionally filtered. */
  pendingEvents(filter: (e: StoredEvent) => boolean = () => true): StoredEvent[] {
    return this.events.filter((e) => !e.selected && filter(e));
  }

  /** Class bits (IIN1.1-1.3) of events not selected. */
  pendingClasses(): { class1: boolean; class2: boolean; class3: boolean } {
    const r = { class1: false, class2: false, class3: false };
    for (const e of this.events) {
      if (e.selected) continue;
      if (e.pointClass === 1) r.class1 = true;
      else if (e.pointClass === 2) r.class2 = true;
      else r.class3 = true;
    }
    return r;
  }

  /** Removes confirmed events. */
  clearEvents(ids: ReadonlySet<number>): void {
    this.events = this.events.filter((e) => !ids.has(e.id));
    if (this.events.length === 0) this.overflow = false;
  }

  /** Returns selected events to the buffer (confirm timeout or lost connection). */
  unselect(ids?: ReadonlySet<number>): void {
    for (const e of this.events) if (!ids || ids.has(e.id)) e.selected = false;
  }

  get eventCount(): number {
    return this.events.length;
  }

  /** Copies counters to frozen counters (same index), optionally clearing the counters. */
  freezeCounters(clear: boolean): void {
    for (const c of this.list('counter')) {
      const f = this.get('frozenCounter', c.index);
      if (f) this.update('frozenCounter', c.index, c.value, { flags: c.flags, time: this.now() });
      if (clear) this.update('counter', c.index, 0);
    }
  }
}
