/**
 * A DNP3 outstation on the same stack as the master: serves a point database over any byte channel
 * (one master connection at a time; a new one replaces the old). It answers READ (class 0/1/2/3,
 * ranges, variation 0 and forced variations, event groups), WRITE (g80v1 restart clear, g50v1/g50v3
 * time), SELECT/OPERATE/DIRECT_OPERATE(_NR) for g12v1 and g41v1-4, DELAY_MEASURE,
 * RECORD_CURRENT_TIME, COLD/WARM_RESTART, IMMED_FREEZE(_NR)/FREEZE_CLEAR(_NR) and
 * ENABLE/DISABLE_UNSOLICITED; sends multi-fragment responses (waiting for each confirm), events with
 * confirmation, and unsolicited responses (null unsolicited at start-up, retries on confirm timeout).
 *
 * Policy: a malformed request is answered with IIN2.x where the request can be identified, otherwise
 * dropped and reported on `onDidError`; nothing here throws to the channel.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import type { Apdu, IndexedObject, ObjectBlock } from '../codec/apdu.ts';
import { decodeApdu, encodeApdu } from '../codec/apdu.ts';
import type { Iin } from '../codec/app-header.ts';
import { FunctionCode, IIN_INDEX_DEVICE_RESTART, Iin1, Iin2, decodeAppControl } from '../codec/app-header.ts';
import type { ObjectHeader } from '../codec/object-header.ts';
import { QualifierCode } from '../codec/object-header.ts';
import type { ObjectValue, PointType } from '../codec/object-library.ts';
import { objectType } from '../codec/object-library.ts';
import type { ByteChannel } from '../session/channel.ts';
import { LinkLayer } from '../session/link-layer.ts';
import { TransportLayer } from '../session/transport-layer.ts';
import type { Disposable } from '../util/emitter.ts';
import { Emitter } from '../util/emitter.ts';
import type { DatabaseConfig, PointState, StoredEvent } from './database.ts';
import { OutstationDatabase, POINT_TYPE_INFO, STATIC_ORDER, pointTypeOfGroup } from './database.ts';
import type { Fragment, Unit } from './response-builder.ts';
import { eventUnits, packFragments, staticUnits } from './response-builder.ts';

export interface OutstationOptions {
  localAddress?: number;
  remoteAddress?: number;
  /** Largest response fragment. Default 2048. */
  maxTxFragmentSize?: number;
  maxRxFragmentSize?: number;
  /** Solicited and unsolicited confirm timeout. Default 5000 ms. */
  confirmTimeoutMs?: number;
  /** OPERATE must follow SELECT within this time. Default 10 000 ms. */
  selectTimeoutMs?: number;
  /** Whether unsolicited responses may be sent (the master still has to enable classes). */
  allowUnsolicited?: boolean;
  /** Delay between an event and its unsolicited response. Default 0 ms. */
  unsolicitedHoldMs?: number;
  /** Raise IIN1.4 NEED_TIME until the master writes the time. */
  needTime?: boolean;
  keepAliveMs?: number;
  /** Processing delay reported in g52v2 (delay measurement) and restart responses. */
  restartDelayMs?: number;
  /** Clock (epoch ms) for event times and time synchronisation. */
  now?: () => number;
  /**
   * Decides the status of a control (0 = SUCCESS). Default: SUCCESS when an output status point of
   * the same index exists, else 4 NOT_SUPPORTED.
   */
  controlHandler?: (c: ControlRequest) => number;
}

export type ControlRequest =
  | { kind: 'crob'; index: number; code: number; count: number; onTimeMs: number; offTimeMs: number; mode: 'select' | 'operate' }
  | { kind: 'analog'; index: number; variation: number; value: number; mode: 'select' | 'operate' };

export interface OperateEvent {
  readonly request: ControlRequest;
  readonly status: number;
}

/** An outstation: database, event buffer, unsolicited state; one session (channel) at a time. */
export class Outstation implements Disposable {
  readonly database: OutstationDatabase;
  private readonly operateEmitter = new Emitter<OperateEvent>();
  private readonly errorEmitter = new Emitter<EnergyMeshError>();
  private readonly requestEmitter = new Emitter<Apdu>();
  readonly onDidOperate = this.operateEmitter.event;
  readonly onDidError = this.errorEmitter.event;
  readonly onDidReceiveRequest = this.requestEmitter.event;
  readonly o: Required<Omit<OutstationOptions, 'controlHandler'>> & Pick<OutstationOptions, 'controlHandler'>;
  private session: OutstationSession | undefined;
  restart = true;
  needTime: boolean;
  timeOffset = 0;
  recordedTime: number | undefined;
  unsolicitedEnabled = { class1: false, class2: false, class3: false };

  constructor(config: DatabaseConfig, options: OutstationOptions = {}) {
    this.o = {
      localAddress: 1024,
      remoteAddress: 1,
      maxTxFragmentSize: 2048,
      maxRxFragmentSize: 2048,
      confirmTimeoutMs: 5000,
      selectTimeoutMs: 10_000,
      allowUnsolicited: false,
      unsolicitedHoldMs: 0,
      needTime: false,
      keepAliveMs: 0,
      restartDelayMs: 0,
      now: () => Date.now(),
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    };
    this.needTime = this.o.needTime;
    this.database = new OutstationDatabase(config, () => this.time());
  }

  /** The outstation's clock (system clock plus the offset the master wrote). */
  time(): number {
    return this.o.now() + this.timeOffset;
  }

  /** Serves a new master connection (closing the previous one). */
  attach(channel: ByteChannel): OutstationSession {
    this.session?.close();
    const s = new OutstationSession(this, channel);
    this.session = s;
    channel.onDidClose(() => {
      if (this.session === s) this.session = undefined;
    });
    s.start();
    return s;
  }

  /** Updates a point; events go out unsolicited when enabled, else wait for a poll. */
  update(type: PointType, index: number, value: number | boolean, opts: { flags?: number; time?: number } = {}): boolean {
    const ev = this.database.update(type, index, value, opts);
    if (ev) this.session?.eventsChanged();
    return ev;
  }

  /** @internal */
  fireOperate(e: OperateEvent): void {
    this.operateEmitter.fire(e);
  }

  /** @internal */
  fireError(e: EnergyMeshError): void {
    this.errorEmitter.fire(e);
  }

  /** @internal */
  fireRequest(a: Apdu): void {
    this.requestEmitter.fire(a);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  dispose(): void {
    this.close();
    this.operateEmitter.dispose();
    this.errorEmitter.dispose();
    this.requestEmitter.dispose();
  }
}

interface SolicitedState {
  fragments: Fragment[];
  index: number;
  seq: number;
  iin2: number;
  timer?: NodeJS.Timeout;
}

interface UnsolicitedState {
  bytes: Uint8Array;
  seq: number;
  eventIds: number[];
  timer?: NodeJS.Timeout;
}

/** One master connection of an outstation. */
export class OutstationSession {
  private readonly link: LinkLayer;
  private readonly transport: TransportLayer;
  private solicited: SolicitedState | undefined;
  private unsolicited: UnsolicitedState | undefined;
  private unsSeq = 0;
  private nullUnsolicitedDone = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private selection: { seq: number; objects: string; at: number } | undefined;
  private closed = false;

  constructor(private readonly outstation: Outstation, private readonly channel: ByteChannel) {
    const o = outstation.o;
    this.link = new LinkLayer(channel, { localAddress: o.localAddress, remoteAddress: o.remoteAddress, isMaster: false, keepAliveMs: o.keepAliveMs });
    this.transport = new TransportLayer(this.link, o.maxRxFragmentSize);
    this.transport.onDidReceiveApdu((b) => this.onApdu(b));
    this.transport.onDidError((e) => outstation.fireError(e));
    this.link.onDidError((e) => outstation.fireError(e));
    channel.onDidClose(() => this.cleanup());
  }

  private get db(): OutstationDatabase {
    return this.outstation.database;
  }

  start(): void {
    if (this.outstation.o.allowUnsolicited) this.trySendUnsolicited();
  }

  close(): void {
    this.channel.close();
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.solicited?.timer) clearTimeout(this.solicited.timer);
    if (this.unsolicited?.timer) clearTimeout(this.unsolicited.timer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.solicited = undefined;
    this.unsolicited = undefined;
    this.db.unselect();
    this.transport.dispose();
    this.link.dispose();
  }

  /** Called when new events were recorded. */
  eventsChanged(): void {
    if (!this.outstation.o.allowUnsolicited || this.holdTimer) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.trySendUnsolicited();
    }, this.outstation.o.unsolicitedHoldMs);
  }

  private iin(extra2 = 0): Iin {
    const pending = this.db.pendingClasses();
    const os = this.outstation;
    const iin1 =
      (pending.class1 ? Iin1.CLASS_1_EVENTS : 0) |
      (pending.class2 ? Iin1.CLASS_2_EVENTS : 0) |
      (pending.class3 ? Iin1.CLASS_3_EVENTS : 0) |
      (os.needTime ? Iin1.NEED_TIME : 0) |
      (os.restart ? Iin1.DEVICE_RESTART : 0);
    return { iin1, iin2: extra2 | (this.db.overflow ? Iin2.EVENT_BUFFER_OVERFLOW : 0) };
  }

  private send(apdu: Apdu): void {
    if (this.closed) return;
    this.transport.sendApdu(encodeApdu(apdu)).catch((e: unknown) => {
      if (isEnergyMeshError(e)) this.outstation.fireError(e);
    });
  }

  // ------------------------------------------------------------------------------------------
  // requests

  private onApdu(bytes: Uint8Array): void {
    if (this.closed) return;
    let apdu: Apdu;
    try {
      apdu = decodeApdu(bytes);
    } catch (e) {
      const err = isEnergyMeshError(e) ? e : new EnergyMeshError('FRAME_MALFORMED', 'DNP3 outstation: undecodable request', { cause: e });
      this.outstation.fireError(err);
      if (bytes.length >= 2 && (bytes[1] ?? 0) !== FunctionCode.CONFIRM) {
        const control = decodeAppControl(bytes[0] ?? 0);
        const iin2 = err.details['reason'] === 'objectUnknown' ? Iin2.OBJECT_UNKNOWN : Iin2.PARAMETER_ERROR;
        this.send({ control: { fir: true, fin: true, con: false, uns: false, seq: control.seq }, func: FunctionCode.RESPONSE, iin: this.iin(iin2), blocks: [] });
      }
      return;
    }
    this.outstation.fireRequest(apdu);
    if (apdu.func === FunctionCode.CONFIRM) return this.onConfirm(apdu);
    // a new request cancels a multi-fragment response in progress
    if (this.solicited) {
      if (this.solicited.timer) clearTimeout(this.solicited.timer);
      this.db.unselect(new Set(this.solicited.fragments.flatMap((f) => f.eventIds)));
      this.solicited = undefined;
    }
    const seq = apdu.control.seq;
    let r: ReturnType<OutstationSession['handleRequest']>;
    try {
      r = this.handleRequest(apdu);
    } catch (e) {
      // a request we could decode but not serve (e.g. a value out of range): answer IIN2.2
      this.outstation.fireError(isEnergyMeshError(e) ? e : new EnergyMeshError('INTERNAL', 'DNP3 outstation: request handling failed', { cause: e }));
      r = { fragments: [{ blocks: [], eventIds: [] }], iin2: Iin2.PARAMETER_ERROR };
    }
    if (r === 'none') return this.trySendUnsolicited();
    this.startSolicited(seq, r.fragments, r.iin2);
  }

  private startSolicited(seq: number, fragments: Fragment[], iin2: number): void {
    this.solicited = { fragments, index: 0, seq, iin2 };
    this.sendSolicitedFragment();
  }

  private sendSolicitedFragment(): void {
    const s = this.solicited;
    if (!s) return;
    const frag = s.fragments[s.index];
    if (!frag) return;
    const fir = s.index === 0;
    const fin = s.index === s.fragments.length - 1;
    const con = !fin || frag.eventIds.length > 0;
    for (const id of frag.eventIds) this.markSelected(id);
    const seq = (s.seq + s.index) & 0x0f;
    this.send({ control: { fir, fin, con, uns: false, seq }, func: FunctionCode.RESPONSE, iin: this.iin(s.iin2), blocks: frag.blocks });
    if (!con) {
      this.solicited = undefined;
      this.trySendUnsolicited();
      return;
    }
    s.timer = setTimeout(() => {
      // confirm timeout: events go back to the buffer, the rest of the response is abandoned
      this.db.unselect(new Set(frag.eventIds));
      this.solicited = undefined;
      this.outstation.fireError(new EnergyMeshError('TIMEOUT', 'DNP3 outstation: no confirm for a solicited response', { retriable: true }));
      this.trySendUnsolicited();
    }, this.outstation.o.confirmTimeoutMs);
  }

  private markSelected(id: number): void {
    for (const e of this.db.pendingEvents((x) => x.id === id)) e.selected = true;
  }

  private onConfirm(apdu: Apdu): void {
    const seq = apdu.control.seq;
    if (apdu.control.uns) {
      const u = this.unsolicited;
      if (!u || u.seq !== seq) return;
      if (u.timer) clearTimeout(u.timer);
      this.unsolicited = undefined;
      this.db.clearEvents(new Set(u.eventIds));
      this.unsSeq = (this.unsSeq + 1) & 0x0f;
      this.nullUnsolicitedDone = true;
      this.trySendUnsolicited();
      return;
    }
    const s = this.solicited;
    if (!s || ((s.seq + s.index) & 0x0f) !== seq) return;
    if (s.timer) clearTimeout(s.timer);
    const frag = s.fragments[s.index];
    if (frag) this.db.clearEvents(new Set(frag.eventIds));
    s.index++;
    if (s.index < s.fragments.length) this.sendSolicitedFragment();
    else {
      this.solicited = undefined;
      this.trySendUnsolicited();
    }
  }

  /** Handles a request; returns the response fragments and IIN2 bits, or 'none' for no response. */
  private handleRequest(apdu: Apdu): { fragments: Fragment[]; iin2: number } | 'none' {
    const os = this.outstation;
    const single = (blocks: ObjectBlock[] = [], iin2 = 0): { fragments: Fragment[]; iin2: number } => ({ fragments: [{ blocks, eventIds: [] }], iin2 });
    switch (apdu.func) {
      case FunctionCode.READ:
        return this.handleRead(apdu.blocks);
      case FunctionCode.WRITE:
        return single([], this.handleWrite(apdu.blocks));
      case FunctionCode.SELECT:
      case FunctionCode.OPERATE:
      case FunctionCode.DIRECT_OPERATE:
      case FunctionCode.DIRECT_OPERATE_NR: {
        const r = this.handleControl(apdu);
        return apdu.func === FunctionCode.DIRECT_OPERATE_NR ? 'none' : single(r.blocks, r.iin2);
      }
      case FunctionCode.DELAY_MEASURE:
        return single([{ header: { group: 52, variation: 2, qualifier: QualifierCode.UINT8_COUNT, range: { type: 'count', count: 1 } }, objects: [{ index: 0, value: { kind: 'delay', ms: 0 } }] }]);
      case FunctionCode.RECORD_CURRENT_TIME:
        os.recordedTime = os.o.now();
        return single();
      case FunctionCode.COLD_RESTART:
      case FunctionCode.WARM_RESTART:
        os.restart = true;
        return single([{ header: { group: 52, variation: 2, qualifier: QualifierCode.UINT8_COUNT, range: { type: 'count', count: 1 } }, objects: [{ index: 0, value: { kind: 'delay', ms: os.o.restartDelayMs } }] }]);
      case FunctionCode.IMMED_FREEZE:
      case FunctionCode.IMMED_FREEZE_NR:
      case FunctionCode.FREEZE_CLEAR:
      case FunctionCode.FREEZE_CLEAR_NR: {
        const clear = apdu.func === FunctionCode.FREEZE_CLEAR || apdu.func === FunctionCode.FREEZE_CLEAR_NR;
        const ok = apdu.blocks.every((b) => b.header.group === 20);
        if (ok) {
          this.db.freezeCounters(clear);
          this.eventsChanged();
        }
        if (apdu.func === FunctionCode.IMMED_FREEZE_NR || apdu.func === FunctionCode.FREEZE_CLEAR_NR) return 'none';
        return single([], ok ? 0 : Iin2.OBJECT_UNKNOWN);
      }
      case FunctionCode.ENABLE_UNSOLICITED:
      case FunctionCode.DISABLE_UNSOLICITED: {
        if (!os.o.allowUnsolicited) return single([], Iin2.NO_FUNC_CODE_SUPPORT);
        const on = apdu.func === FunctionCode.ENABLE_UNSOLICITED;
        let iin2 = 0;
        for (const b of apdu.blocks) {
          if (b.header.group !== 60 || b.header.variation < 2 || b.header.variation > 4) iin2 |= Iin2.OBJECT_UNKNOWN;
          else os.unsolicitedEnabled[`class${b.header.variation - 1}` as 'class1' | 'class2' | 'class3'] = on;
        }
        return single([], iin2);
      }
      case FunctionCode.ASSIGN_CLASS:
        return single([], this.handleAssignClass(apdu.blocks));
      default:
        return single([], Iin2.NO_FUNC_CODE_SUPPORT);
    }
  }

  private handleRead(blocks: readonly ObjectBlock[]): { fragments: Fragment[]; iin2: number } {
    let iin2 = 0;
    const eventSel: StoredEvent[] = [];
    const eventVariation = new Map<number, number>();
    const staticSel: Unit[] = [];
    // a count qualifier (0x07/0x08) limits how many events of the header are returned
    const addEvents = (filter: (e: StoredEvent) => boolean, variation?: number, limit = Infinity): void => {
      let n = 0;
      for (const e of this.db.pendingEvents(filter)) {
        if (n >= limit) break;
        if (eventSel.includes(e)) continue;
        eventSel.push(e);
        n++;
        if (variation) eventVariation.set(e.id, variation);
      }
    };
    for (const b of blocks) {
      const h = b.header;
      if (h.group === 60) {
        if (h.variation === 1) for (const t of STATIC_ORDER) staticSel.push(...staticUnits(t, this.db.list(t)));
        else if (h.variation >= 2 && h.variation <= 4) addEvents((e) => e.pointClass === h.variation - 1, undefined, h.range.type === 'count' ? h.range.count : Infinity);
        else iin2 |= Iin2.OBJECT_UNKNOWN;
        continue;
      }
      if (h.group === 50 && h.variation === 1) {
        staticSel.push({ group: 50, variation: 1, kind: 'indexed', objects: [] });
        continue;
      }
      const pt = pointTypeOfGroup(h.group);
      const known = h.variation === 0 || objectType(h.group, h.variation)?.role === (pt?.event ? 'event' : 'static');
      if (!pt || !known) {
        iin2 |= Iin2.OBJECT_UNKNOWN;
        continue;
      }
      if (pt.event) {
        addEvents((e) => e.type === pt.type, h.variation || undefined, h.range.type === 'count' ? h.range.count : Infinity);
        continue;
      }
      const { points, missing } = this.selectPoints(pt.type, h, b.indices);
      if (missing) iin2 |= Iin2.PARAMETER_ERROR;
      staticSel.push(...staticUnits(pt.type, points, h.variation || undefined));
    }
    const units: Unit[] = [...eventUnits(eventSel, (e) => eventVariation.get(e.id)), ...staticSel.filter((u) => u.group !== 50)];
    const fragments = packFragments(units, this.outstation.o.maxTxFragmentSize);
    if (staticSel.some((u) => u.group === 50)) {
      fragments[0]?.blocks.push({ header: { group: 50, variation: 1, qualifier: QualifierCode.UINT8_COUNT, range: { type: 'count', count: 1 } }, objects: [{ index: 0, value: { kind: 'time', time: this.outstation.time() } }] });
    }
    return { fragments, iin2 };
  }

  private selectPoints(type: PointType, h: ObjectHeader, indices?: readonly number[]): { points: PointState[]; missing: boolean } {
    const all = this.db.list(type);
    if (h.range.type === 'all') return { points: [...all], missing: false };
    if (indices) {
      const pts = indices.map((i) => this.db.get(type, i));
      const found = pts.filter((p): p is PointState => p !== undefined);
      const unique = [...new Set(found)].sort((a, b) => a.index - b.index);
      return { points: unique, missing: found.length !== indices.length };
    }
    if (h.range.type === 'count') return { points: all.slice(0, h.range.count), missing: h.range.count > all.length };
    const { start, stop } = h.range;
    const points = all.filter((p) => p.index >= start && p.index <= stop);
    return { points, missing: points.length !== stop - start + 1 };
  }

  /** ASSIGN_CLASS: a g60 header names the class, the point headers after it get that class. */
  private handleAssignClass(blocks: readonly ObjectBlock[]): number {
    let iin2 = 0;
    let cls: 0 | 1 | 2 | 3 | undefined;
    for (const b of blocks) {
      const h = b.header;
      if (h.group === 60) {
        cls = h.variation >= 1 && h.variation <= 4 ? ((h.variation - 1) as 0 | 1 | 2 | 3) : undefined;
        if (cls === undefined) iin2 |= Iin2.OBJECT_UNKNOWN;
        continue;
      }
      const pt = pointTypeOfGroup(h.group);
      if (cls === undefined || !pt || pt.event) {
        iin2 |= cls === undefined ? Iin2.PARAMETER_ERROR : Iin2.OBJECT_UNKNOWN;
        continue;
      }
      const { points, missing } = this.selectPoints(pt.type, h, b.indices);
      if (missing) iin2 |= Iin2.PARAMETER_ERROR;
      for (const p of points) p.pointClass = cls;
    }
    return iin2;
  }

  private handleWrite(blocks: readonly ObjectBlock[]): number {
    const os = this.outstation;
    let iin2 = 0;
    for (const b of blocks) {
      const h = b.header;
      if (h.group === 80 && h.variation === 1) {
        for (const o of b.objects) {
          if (o.index === IIN_INDEX_DEVICE_RESTART && o.value.kind === 'point' && o.value.value === false) os.restart = false;
          else iin2 |= Iin2.PARAMETER_ERROR;
        }
      } else if (h.group === 50 && (h.variation === 1 || h.variation === 3)) {
        const v = b.objects[0]?.value;
        if (v?.kind !== 'time' || (h.variation === 3 && os.recordedTime === undefined)) {
          iin2 |= Iin2.PARAMETER_ERROR;
          continue;
        }
        // g50v1: the time now; g50v3: the master's time at the moment we recorded ours
        const ourNow = h.variation === 1 ? os.o.now() : (os.recordedTime ?? 0);
        os.timeOffset = v.time - ourNow;
        os.needTime = false;
        os.recordedTime = undefined;
      } else iin2 |= Iin2.OBJECT_UNKNOWN;
    }
    return iin2;
  }

  private handleControl(apdu: Apdu): { blocks: ObjectBlock[]; iin2: number } {
    const os = this.outstation;
    const fc = apdu.func;
    const objectsKey = JSON.stringify(apdu.blocks.map((b) => [b.header, b.objects.map((o) => [o.index, stripStatus(o.value)])]));
    let iin2 = 0;
    let noSelect = false;
    if (fc === FunctionCode.OPERATE) {
      const s = this.selection;
      noSelect = !s || s.objects !== objectsKey || ((s.seq + 1) & 0x0f) !== apdu.control.seq || os.o.now() - s.at > os.o.selectTimeoutMs;
      this.selection = undefined;
    }
    const mode: 'select' | 'operate' = fc === FunctionCode.SELECT ? 'select' : 'operate';
    let allOk = true;
    const blocks: ObjectBlock[] = apdu.blocks.map((b) => {
      const objects: IndexedObject[] = b.objects.map((o) => {
        const req = toControlRequest(b.header, o, mode);
        let status: number;
        if (!req) status = 4;
        else if (noSelect) status = 2;
        else {
          status = os.o.controlHandler ? os.o.controlHandler(req) : this.defaultControlStatus(req);
          if (status === 0 && mode === 'operate') this.applyControl(req);
          if (mode === 'operate') os.fireOperate({ request: req, status });
        }
        if (status !== 0) allOk = false;
        if (status === 4) iin2 |= Iin2.PARAMETER_ERROR;
        return { index: o.index, value: withStatus(o.value, status) };
      });
      return { header: b.header, objects };
    });
    if (apdu.blocks.length === 0) iin2 |= Iin2.PARAMETER_ERROR;
    if (fc === FunctionCode.SELECT && allOk) this.selection = { seq: apdu.control.seq, objects: objectsKey, at: os.o.now() };
    return { blocks, iin2 };
  }

  private defaultControlStatus(req: ControlRequest): number {
    if (req.kind === 'crob') {
      const op = req.code & 0x0f;
      if (op < 1 || op > 4 || !this.db.get('binaryOutputStatus', req.index)) return 4;
      return 0;
    }
    return this.db.get('analogOutputStatus', req.index) ? 0 : 4;
  }

  private applyControl(req: ControlRequest): void {
    if (req.kind === 'crob') {
      if (!this.db.get('binaryOutputStatus', req.index)) return;
      const op = req.code & 0x0f;
      const tcc = req.code >> 6;
      const on = op === 3 || (op === 1 && tcc !== 2);
      this.outstation.update('binaryOutputStatus', req.index, on);
    } else if (this.db.get('analogOutputStatus', req.index)) {
      this.outstation.update('analogOutputStatus', req.index, req.value);
    }
  }

  // ------------------------------------------------------------------------------------------
  // unsolicited

  private trySendUnsolicited(): void {
    const os = this.outstation;
    if (this.closed || !os.o.allowUnsolicited || this.solicited || this.unsolicited) return;
    let blocks: ObjectBlock[] = [];
    let eventIds: number[] = [];
    if (this.nullUnsolicitedDone) {
      const en = os.unsolicitedEnabled;
      const events = this.db.pendingEvents((e) => (e.pointClass === 1 && en.class1) || (e.pointClass === 2 && en.class2) || (e.pointClass === 3 && en.class3));
      if (events.length === 0) return;
      const frag = packFragments(eventUnits(events), os.o.maxTxFragmentSize)[0];
      if (!frag || frag.eventIds.length === 0) return;
      blocks = frag.blocks;
      eventIds = frag.eventIds;
      for (const id of eventIds) this.markSelected(id);
    }
    const seq = this.unsSeq;
    const bytes = encodeApdu({ control: { fir: true, fin: true, con: true, uns: true, seq }, func: FunctionCode.UNSOLICITED_RESPONSE, iin: this.iin(), blocks });
    this.unsolicited = { bytes, seq, eventIds };
    this.sendUnsolicitedBytes();
  }

  private sendUnsolicitedBytes(): void {
    const u = this.unsolicited;
    if (!u || this.closed) return;
    this.transport.sendApdu(u.bytes).catch((e: unknown) => {
      if (isEnergyMeshError(e)) this.outstation.fireError(e);
    });
    // unlimited retries of the identical fragment (the master detects the duplicate)
    u.timer = setTimeout(() => this.sendUnsolicitedBytes(), this.outstation.o.confirmTimeoutMs);
  }
}

function stripStatus(v: ObjectValue): ObjectValue {
  if (v.kind === 'crob' || v.kind === 'analogCommand') return { ...v, status: 0 };
  return v;
}

function withStatus(v: ObjectValue, status: number): ObjectValue {
  if (v.kind === 'crob' || v.kind === 'analogCommand') return { ...v, status };
  return v;
}

function toControlRequest(h: ObjectHeader, o: IndexedObject, mode: 'select' | 'operate'): ControlRequest | undefined {
  if (h.group === 12 && h.variation === 1 && o.value.kind === 'crob') {
    const v = o.value;
    return { kind: 'crob', index: o.index, code: v.code, count: v.count, onTimeMs: v.onTimeMs, offTimeMs: v.offTimeMs, mode };
  }
  if (h.group === 41 && o.value.kind === 'analogCommand') return { kind: 'analog', index: o.index, variation: h.variation, value: o.value.value, mode };
  return undefined;
}

/** Re-exported for configuration helpers. */
export { POINT_TYPE_INFO };
