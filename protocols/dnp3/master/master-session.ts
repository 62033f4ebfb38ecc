/**
 * A DNP3 master session with one outstation (IEEE 1815-2012 clause 4/5): connects through a
 * connector (TCP or memory), runs one request at a time from a task queue, collects multi-fragment
 * responses (confirming CON fragments), receives unsolicited responses (confirm + duplicate
 * detection), and reacts to IIN: DEVICE_RESTART → clear it and run an integrity poll, NEED_TIME →
 * time sync (when configured), EVENT_BUFFER_OVERFLOW → integrity poll.
 *
 * The integrity poll runs at start-up and after an outstation restart, not on every reconnect: events
 * buffered in the outstation survive a TCP drop and are fetched by the next event poll.
 *
 * Policy: a request that fails (timeout, closed channel, malformed response) rejects its promise with a
 * typed EnergyMeshError; periodic tasks report failures on `onDidError` and keep their schedule; a lost
 * channel fails the pending work and the session reconnects with back-off. Nothing here blocks other
 * sessions: each has its own timers and queue.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import type { Apdu, ObjectBlock } from '../codec/apdu.ts';
import { decodeApdu, encodeApdu } from '../codec/apdu.ts';
import type { Iin } from '../codec/app-header.ts';
import { FunctionCode, IIN2_REQUEST_ERRORS, Iin1, Iin2, functionName, iinNames, singleFragment } from '../codec/app-header.ts';
import type { ObjectHeader } from '../codec/object-header.ts';
import { allObjectsHeader, startStopHeader } from '../codec/object-header.ts';
import type { CommandObject } from '../codec/requests.ts';
import { CommandStatus, classHeaders, clearRestartRequest, commandBlocks, confirmRequest, writeTimeRequest } from '../codec/requests.ts';
import type { ByteChannel } from '../session/channel.ts';
import { LinkLayer } from '../session/link-layer.ts';
import { TransportLayer } from '../session/transport-layer.ts';
import type { Disposable } from '../util/emitter.ts';
import { Emitter, delay } from '../util/emitter.ts';
import type { Measurement } from './measurements.ts';
import { measurementsOf } from './measurements.ts';

export type EventClass = 1 | 2 | 3;

export interface ClassPollOptions {
  classes: EventClass[];
  periodMs: number;
}

export interface RangeScanOptions {
  group: number;
  variation: number;
  start: number;
  stop: number;
  periodMs: number;
}

export interface MasterSessionOptions {
  /** A name for logs and events. */
  id?: string;
  localAddress?: number;
  remoteAddress?: number;
  /** Per-fragment response timeout. Default 5000 ms. */
  responseTimeoutMs?: number;
  /** Retries of a read/poll that timed out (commands are never retried). Default 0. */
  taskRetries?: number;
  /** Link keep-alive (REQUEST_LINK_STATUS) after this much silence; 0 disables. Default 60 000. */
  keepAliveMs?: number;
  linkResponseTimeoutMs?: number;
  confirmedUserData?: boolean;
  /** Largest fragment we accept. Default 2048. */
  maxRxFragmentSize?: number;
  /**
   * Integrity poll (class 1,2,3,0) when first connected and again after the outstation reports a
   * restart (IIN1.7). Default true. IIN1.7 is always cleared (WRITE g80v1).
   */
  startupIntegrityPoll?: boolean;
  /** DISABLE_UNSOLICITED for classes 1-3 on each connect. Default false. */
  disableUnsolicitedOnStartup?: boolean;
  /** ENABLE_UNSOLICITED for these classes on each connect (after the integrity poll). Default none. */
  unsolicitedClasses?: EventClass[];
  integrityOnEventOverflow?: boolean;
  /** Answer IIN1.4 NEED_TIME with this procedure. Default 'none'. */
  timeSyncMode?: 'none' | 'lan' | 'nonlan';
  /** Periodic integrity poll; 0 disables. */
  integrityPeriodMs?: number;
  classPolls?: ClassPollOptions[];
  rangeScans?: RangeScanOptions[];
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Clock for time synchronisation (epoch ms). */
  now?: () => number;
}

export type MeasurementSource = 'integrity' | 'poll' | 'read' | 'unsolicited';

export interface MeasurementBatch {
  readonly source: MeasurementSource;
  readonly measurements: readonly Measurement[];
  readonly iin: Iin;
}

export interface ResponseResult {
  readonly iin: Iin;
  readonly blocks: readonly ObjectBlock[];
  readonly fragments: number;
}

export interface CommandPointStatus {
  readonly index: number;
  readonly group: number;
  readonly variation: number;
  readonly status: number;
  readonly statusName: string;
}

export interface CommandResponse {
  /** True when every object reported status 0 (SUCCESS) and, for SBO, the operate was sent. */
  readonly success: boolean;
  readonly statuses: readonly CommandPointStatus[];
  readonly iin: Iin;
  /** For select-before-operate: whether the OPERATE was sent. */
  readonly operated: boolean;
}

export type SessionState = 'connecting' | 'online' | 'offline' | 'stopped';

/** Opens a channel to the outstation; called again after each loss. */
export type ChannelConnector = (signal: AbortSignal) => Promise<ByteChannel>;

interface Task {
  name: string;
  run(): Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface Pending {
  seq: number;
  resolve(a: { apdu: Apdu; bytes: Uint8Array }): void;
  reject(e: EnergyMeshError): void;
  timer: NodeJS.Timeout;
}

const ALL_EVENT_CLASSES: EventClass[] = [1, 2, 3];

export class MasterSession implements Disposable {
  private readonly measurementEmitter = new Emitter<MeasurementBatch>();
  private readonly iinEmitter = new Emitter<Iin>();
  private readonly errorEmitter = new Emitter<EnergyMeshError>();
  private readonly stateEmitter = new Emitter<SessionState>();
  readonly onDidReceiveMeasurements = this.measurementEmitter.event;
  readonly onDidReceiveIin = this.iinEmitter.event;
  readonly onDidError = this.errorEmitter.event;
  readonly onDidChangeState = this.stateEmitter.event;

  readonly id: string;
  private readonly o: Required<Omit<MasterSessionOptions, 'id'>>;
  private stateValue: SessionState = 'offline';
  private channel: ByteChannel | undefined;
  private link: LinkLayer | undefined;
  private transport: TransportLayer | undefined;
  private channelSubs: Disposable[] = [];
  private readonly queue: Task[] = [];
  private running = false;
  private pending: Pending | undefined;
  private seq = 0;
  private lastUnsolicited: { seq: number; bytes: string } | undefined;
  private integrityDone = false;
  private restartHandling = false;
  private timeSyncQueued = false;
  private readonly abort = new AbortController();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private loopDone: Promise<void> | undefined;
  private lastIin: Iin = { iin1: 0, iin2: 0 };
  readonly stats = { unsolicited: 0, duplicateUnsolicited: 0, requests: 0, timeouts: 0, malformed: 0 };

  constructor(private readonly connector: ChannelConnector, options: MasterSessionOptions = {}) {
    this.id = options.id ?? 'outstation';
    this.o = {
      localAddress: 1,
      remoteAddress: 1024,
      responseTimeoutMs: 5000,
      taskRetries: 0,
      keepAliveMs: 60_000,
      linkResponseTimeoutMs: 2000,
      confirmedUserData: false,
      maxRxFragmentSize: 2048,
      startupIntegrityPoll: true,
      disableUnsolicitedOnStartup: false,
      unsolicitedClasses: [],
      integrityOnEventOverflow: true,
      timeSyncMode: 'none',
      integrityPeriodMs: 0,
      classPolls: [],
      rangeScans: [],
      reconnectDelayMs: 1000,
      maxReconnectDelayMs: 30_000,
      now: () => Date.now(),
      ...stripUndefined(options),
    };
  }

  get state(): SessionState {
    return this.stateValue;
  }

  /** True while a request runs or waits in the queue. */
  get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  /** The IIN of the last response received. */
  get iin(): Iin {
    return this.lastIin;
  }

  /** Starts connecting (and reconnecting) and the periodic polls. */
  start(): void {
    if (this.loopDone) return;
    this.loopDone = this.connectLoop();
    if (this.o.integrityPeriodMs > 0) this.every(this.o.integrityPeriodMs, 'integrity', () => this.integrityPoll());
    for (const p of this.o.classPolls) this.every(p.periodMs, `class ${p.classes.join(',')}`, () => this.poll(p.classes));
    for (const r of this.o.rangeScans) {
      this.every(r.periodMs, `scan g${r.group}v${r.variation} ${r.start}-${r.stop}`, () => this.scanRange(r.group, r.variation, r.start, r.stop));
    }
  }

  /** Stops polling, closes the channel and fails queued work with CONNECTION_CLOSED. */
  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.channel?.close();
    this.failAll(new EnergyMeshError('CONNECTION_CLOSED', `DNP3 master ${this.id}: stopped`));
    await this.loopDone;
    this.setState('stopped');
  }

  dispose(): void {
    void this.stop();
  }

  // ------------------------------------------------------------------------------------------
  // public API: each call is a task in this session's queue

  /** READ class 1, 2, 3 and 0. */
  integrityPoll(): Promise<ResponseResult> {
    return this.enqueue('integrity', () => this.readTask(classHeaders({ class0: true, class1: true, class2: true, class3: true }).map((b) => b.header), 'integrity', true));
  }

  /** READ of event classes. */
  poll(classes: EventClass[]): Promise<ResponseResult> {
    const sel = { class1: classes.includes(1), class2: classes.includes(2), class3: classes.includes(3) };
    return this.enqueue(`class ${classes.join(',')}`, () => this.readTask(classHeaders(sel).map((b) => b.header), 'poll', true));
  }

  /** READ of a point range (variation 0 asks for the default variation). */
  scanRange(group: number, variation: number, start: number, stop: number): Promise<ResponseResult> {
    return this.enqueue(`scan g${group}v${variation}`, () => this.readTask([startStopHeader(group, variation, start, stop)], 'read', true));
  }

  /** READ with arbitrary headers. */
  read(headers: ObjectHeader[]): Promise<ResponseResult> {
    return this.enqueue('read', () => this.readTask(headers, 'read', true));
  }

  enableUnsolicited(classes: EventClass[] = ALL_EVENT_CLASSES): Promise<ResponseResult> {
    return this.enqueue('enable unsolicited', () => this.unsolicitedTask(FunctionCode.ENABLE_UNSOLICITED, classes));
  }

  disableUnsolicited(classes: EventClass[] = ALL_EVENT_CLASSES): Promise<ResponseResult> {
    return this.enqueue('disable unsolicited', () => this.unsolicitedTask(FunctionCode.DISABLE_UNSOLICITED, classes));
  }

  /** SELECT, then OPERATE with the same objects only if every select status is SUCCESS. */
  selectAndOperate(commands: CommandObject[]): Promise<CommandResponse> {
    return this.enqueue('select-operate', async () => {
      const blocks = commandBlocks(commands);
      const sel = await this.transact(FunctionCode.SELECT, blocks, 'read');
      const selStatus = checkEcho(blocks, sel);
      if (!selStatus.every((s) => s.status === 0)) return { success: false, statuses: selStatus, iin: sel.iin, operated: false };
      const op = await this.transact(FunctionCode.OPERATE, blocks, 'read');
      const statuses = checkEcho(blocks, op);
      return { success: statuses.every((s) => s.status === 0), statuses, iin: op.iin, operated: true };
    });
  }

  /** DIRECT_OPERATE (or DIRECT_OPERATE_NR when `noAck`, which returns no statuses). */
  directOperate(commands: CommandObject[], opts: { noAck?: boolean } = {}): Promise<CommandResponse> {
    return this.enqueue('direct-operate', async () => {
      const blocks = commandBlocks(commands);
      if (opts.noAck) {
        await this.sendRequest(FunctionCode.DIRECT_OPERATE_NR, blocks);
        return { success: true, statuses: [], iin: this.lastIin, operated: true };
      }
      const r = await this.transact(FunctionCode.DIRECT_OPERATE, blocks, 'read');
      const statuses = checkEcho(blocks, r);
      return { success: statuses.every((s) => s.status === 0), statuses, iin: r.iin, operated: true };
    });
  }

  /**
   * Time synchronisation. Non-LAN: DELAY_MEASURE, then WRITE g50v1 = now + one-way delay.
   * LAN: RECORD_CURRENT_TIME, then WRITE g50v3 = the time the request was sent.
   */
  timeSync(mode: 'lan' | 'nonlan'): Promise<ResponseResult> {
    return this.enqueue(`time sync ${mode}`, () => this.timeSyncTask(mode));
  }

  /** COLD_RESTART or WARM_RESTART; resolves with the delay the outstation announced (ms). */
  restart(kind: 'cold' | 'warm'): Promise<number> {
    return this.enqueue(`${kind} restart`, async () => {
      const r = await this.transact(kind === 'cold' ? FunctionCode.COLD_RESTART : FunctionCode.WARM_RESTART, [], 'read');
      for (const b of r.blocks) for (const o of b.objects) if (o.value.kind === 'delay') return o.value.ms;
      throw new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 master ${this.id}: restart response without g52 delay`);
    });
  }

  /** IMMED_FREEZE / FREEZE_CLEAR of all counters (g20v0 q06), optionally without acknowledgement. */
  freezeCounters(opts: { clear?: boolean; noAck?: boolean } = {}): Promise<ResponseResult | undefined> {
    const fc = opts.clear
      ? opts.noAck ? FunctionCode.FREEZE_CLEAR_NR : FunctionCode.FREEZE_CLEAR
      : opts.noAck ? FunctionCode.IMMED_FREEZE_NR : FunctionCode.IMMED_FREEZE;
    return this.enqueue(functionName(fc), async () => {
      const blocks = [{ header: allObjectsHeader(20, 0), objects: [] }];
      if (opts.noAck) {
        await this.sendRequest(fc, blocks);
        return undefined;
      }
      return this.transact(fc, blocks, 'read');
    });
  }

  /** ASSIGN_CLASS: each entry gives a class (0-3) to the points its headers select. */
  assignClass(assignments: { pointClass: 0 | 1 | 2 | 3; headers: ObjectHeader[] }[]): Promise<ResponseResult> {
    const blocks: ObjectBlock[] = assignments.flatMap((a) => [
      { header: allObjectsHeader(60, a.pointClass + 1), objects: [] },
      ...a.headers.map((header) => ({ header, objects: [] })),
    ]);
    return this.enqueue('assign class', () => this.transact(FunctionCode.ASSIGN_CLASS, blocks, 'read'));
  }

  /** Any request with a response (advanced use). */
  request(func: FunctionCode, blocks: ObjectBlock[]): Promise<ResponseResult> {
    return this.enqueue(functionName(func), () => this.transact(func, blocks, 'read'));
  }

  // ------------------------------------------------------------------------------------------
  // tasks

  private async readTask(headers: ObjectHeader[], source: MeasurementSource, retry: boolean): Promise<ResponseResult> {
    const blocks = headers.map((header) => ({ header, objects: [] }));
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.transact(FunctionCode.READ, blocks, source);
        if (source === 'integrity') this.integrityDone = true;
        return r;
      } catch (e) {
        if (!retry || attempt >= this.o.taskRetries || !isEnergyMeshError(e, 'TIMEOUT')) throw e;
      }
    }
  }

  private unsolicitedTask(fc: FunctionCode, classes: EventClass[]): Promise<ResponseResult> {
    const sel = { class1: classes.includes(1), class2: classes.includes(2), class3: classes.includes(3) };
    return this.transact(fc, classHeaders(sel), 'read');
  }

  private async timeSyncTask(mode: 'lan' | 'nonlan'): Promise<ResponseResult> {
    if (mode === 'lan') {
      const t0 = this.o.now();
      await this.transact(FunctionCode.RECORD_CURRENT_TIME, [], 'read');
      return this.transact(FunctionCode.WRITE, writeTimeRequest(0, t0, 3).blocks.slice(), 'read');
    }
    const t0 = this.o.now();
    const r = await this.transact(FunctionCode.DELAY_MEASURE, [], 'read');
    const t1 = this.o.now();
    let outstationDelay = 0;
    for (const b of r.blocks) for (const o of b.objects) if (o.value.kind === 'delay') outstationDelay = o.value.ms;
    const oneWay = Math.max(0, Math.floor((t1 - t0 - outstationDelay) / 2));
    return this.transact(FunctionCode.WRITE, writeTimeRequest(0, this.o.now() + oneWay, 1).blocks.slice(), 'read');
  }

  // ------------------------------------------------------------------------------------------
  // request/response machinery

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0x0f;
    return s;
  }

  private async sendRequest(func: FunctionCode, blocks: readonly ObjectBlock[]): Promise<number> {
    const transport = this.requireTransport();
    const seq = this.nextSeq();
    this.stats.requests++;
    await transport.sendApdu(encodeApdu({ control: singleFragment(seq), func, blocks }));
    return seq;
  }

  /** Sends a request and collects its (possibly multi-fragment) response. */
  private async transact(func: FunctionCode, blocks: readonly ObjectBlock[], source: MeasurementSource): Promise<ResponseResult> {
    const transport = this.requireTransport();
    let seq = this.nextSeq();
    this.stats.requests++;
    let wait = this.expectFragment(seq);
    try {
      await transport.sendApdu(encodeApdu({ control: singleFragment(seq), func, blocks }));
    } catch (e) {
      this.cancelPending();
      throw e;
    }
    const all: ObjectBlock[] = [];
    let iin: Iin = { iin1: 0, iin2: 0 };
    let fragments = 0;
    for (;;) {
      const { apdu } = await wait;
      if (fragments === 0 && !apdu.control.fir) {
        throw new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 master ${this.id}: first response fragment without FIR`);
      }
      fragments++;
      iin = apdu.iin ?? iin;
      all.push(...apdu.blocks);
      const more = !apdu.control.fin;
      if (more) wait = this.expectFragment((seq + 1) & 0x0f);
      if (apdu.control.con) void this.sendConfirm(apdu.control.seq, false);
      this.emitMeasurements(apdu, source);
      this.handleIin(apdu.iin);
      if (!more) break;
      seq = (seq + 1) & 0x0f;
    }
    // the next request follows the last response fragment's sequence (as opendnp3 does: capture 06)
    this.seq = (seq + 1) & 0x0f;
    if (iin.iin2 & IIN2_REQUEST_ERRORS) {
      this.errorEmitter.fire(new EnergyMeshError('DEVICE_EXCEPTION', `DNP3 master ${this.id}: ${functionName(func)} answered with ${iinNames({ iin1: 0, iin2: iin.iin2 }).join(', ')}`, {
        details: { iin1: iin.iin1, iin2: iin.iin2, function: functionName(func) },
      }));
    }
    return { iin, blocks: all, fragments };
  }

  private expectFragment(seq: number): Promise<{ apdu: Apdu; bytes: Uint8Array }> {
    this.cancelPending();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending?.timer !== timer) return;
        this.pending = undefined;
        this.stats.timeouts++;
        reject(new EnergyMeshError('TIMEOUT', `DNP3 master ${this.id}: no response within ${this.o.responseTimeoutMs} ms`, { retriable: true, details: { seq } }));
      }, this.o.responseTimeoutMs);
      this.pending = { seq, resolve, reject, timer };
    });
  }

  private cancelPending(err?: EnergyMeshError): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (err) p.reject(err);
  }

  private async sendConfirm(seq: number, uns: boolean): Promise<void> {
    try {
      await this.transport?.sendApdu(encodeApdu(confirmRequest(seq, uns)));
    } catch (e) {
      if (isEnergyMeshError(e)) this.errorEmitter.fire(e);
    }
  }

  private onApdu(bytes: Uint8Array): void {
    let apdu: Apdu;
    try {
      apdu = decodeApdu(bytes);
    } catch (e) {
      this.stats.malformed++;
      const err = isEnergyMeshError(e) ? e : new EnergyMeshError('FRAME_MALFORMED', 'DNP3 master: undecodable fragment', { cause: e });
      this.errorEmitter.fire(err);
      // a malformed solicited response fails the transaction now rather than by timeout
      if (bytes.length >= 2 && bytes[1] === FunctionCode.RESPONSE && this.pending && ((bytes[0] ?? 0) & 0x0f) === this.pending.seq) this.cancelPending(err);
      return;
    }
    if (apdu.func === FunctionCode.UNSOLICITED_RESPONSE) return this.onUnsolicited(apdu, bytes);
    if (apdu.func !== FunctionCode.RESPONSE) {
      this.errorEmitter.fire(new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 master ${this.id}: unexpected ${functionName(apdu.func)} from outstation`));
      return;
    }
    const p = this.pending;
    if (!p || p.seq !== apdu.control.seq || apdu.control.uns) {
      this.errorEmitter.fire(new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 master ${this.id}: response seq ${apdu.control.seq} matches no request`, { details: { seq: apdu.control.seq } }));
      return;
    }
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve({ apdu, bytes });
  }

  private onUnsolicited(apdu: Apdu, bytes: Uint8Array): void {
    if (apdu.control.con) void this.sendConfirm(apdu.control.seq, true);
    const key = Buffer.from(bytes).toString('hex');
    if (this.lastUnsolicited && this.lastUnsolicited.seq === apdu.control.seq && this.lastUnsolicited.bytes === key) {
      this.stats.duplicateUnsolicited++;
      return;
    }
    this.lastUnsolicited = { seq: apdu.control.seq, bytes: key };
    this.stats.unsolicited++;
    this.emitMeasurements(apdu, 'unsolicited');
    this.handleIin(apdu.iin);
  }

  private emitMeasurements(apdu: Apdu, source: MeasurementSource): void {
    const measurements = measurementsOf(apdu.blocks);
    if (measurements.length > 0) this.measurementEmitter.fire({ source, measurements, iin: apdu.iin ?? this.lastIin });
  }

  private handleIin(iin: Iin | undefined): void {
    if (!iin) return;
    this.lastIin = iin;
    this.iinEmitter.fire(iin);
    if (iin.iin1 & Iin1.DEVICE_RESTART && !this.restartHandling) {
      // clear the restart bit, then (like opendnp3, when start-up integrity polls are on) poll again
      this.restartHandling = true;
      this.integrityDone = false;
      const integrity = this.makeTask('integrity', () => this.readTask(classHeaders({ class0: true, class1: true, class2: true, class3: true }).map((b) => b.header), 'integrity', true));
      const clear = this.makeTask('clear restart', async () => {
        try {
          return await this.transact(FunctionCode.WRITE, clearRestartRequest(0).blocks.slice(), 'read');
        } finally {
          this.restartHandling = false;
        }
      });
      const existing = this.queue.findIndex((t) => t.name === 'integrity');
      const next = existing >= 0 ? this.queue.splice(existing, 1) : this.o.startupIntegrityPoll ? [integrity] : [];
      this.queue.unshift(clear, ...next);
      this.pump();
    }
    if (iin.iin1 & Iin1.NEED_TIME && this.o.timeSyncMode !== 'none' && !this.timeSyncQueued) {
      this.timeSyncQueued = true;
      const mode = this.o.timeSyncMode;
      const t = this.makeTask(`time sync ${mode}`, async () => {
        try {
          return await this.timeSyncTask(mode);
        } finally {
          this.timeSyncQueued = false;
        }
      });
      const clearAt = this.queue.findIndex((x) => x.name === 'clear restart');
      this.queue.splice(clearAt + 1, 0, t);
      this.pump();
    }
    if (iin.iin2 & Iin2.EVENT_BUFFER_OVERFLOW && this.o.integrityOnEventOverflow && !this.queue.some((t) => t.name === 'integrity')) {
      void this.integrityPoll().catch((e: unknown) => this.reportError(e));
    }
  }

  // ------------------------------------------------------------------------------------------
  // queue

  private makeTask<T>(name: string, run: () => Promise<T>): Task {
    return {
      name,
      run,
      resolve: () => undefined,
      reject: (e: unknown) => this.reportError(e),
    };
  }

  private enqueue<T>(name: string, run: () => Promise<T>): Promise<T> {
    if (this.abort.signal.aborted) return Promise.reject(new EnergyMeshError('CONNECTION_CLOSED', `DNP3 master ${this.id}: stopped`));
    if (this.stateValue !== 'online') {
      return Promise.reject(new EnergyMeshError('NOT_CONNECTED', `DNP3 master ${this.id}: not connected`, { retriable: true }));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ name, run, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    const task = this.queue.shift();
    if (!task) return;
    this.running = true;
    task.run().then(
      (v) => task.resolve(v),
      (e: unknown) => task.reject(e),
    ).finally(() => {
      this.running = false;
      this.pump();
    });
  }

  private failAll(err: EnergyMeshError): void {
    this.cancelPending(err);
    const tasks = this.queue.splice(0);
    for (const t of tasks) t.reject(err);
    this.restartHandling = false;
    this.timeSyncQueued = false;
  }

  private every(periodMs: number, name: string, fn: () => Promise<unknown>): void {
    const tick = (): void => {
      if (this.abort.signal.aborted) return;
      if (this.stateValue === 'online' && !this.queue.some((t) => t.name === name)) {
        fn().catch((e: unknown) => this.reportError(e));
      }
      this.timers.set(name, setTimeout(tick, periodMs));
    };
    this.timers.set(name, setTimeout(tick, periodMs));
  }

  private reportError(e: unknown): void {
    if (this.abort.signal.aborted && isEnergyMeshError(e, 'CONNECTION_CLOSED')) return;
    this.errorEmitter.fire(isEnergyMeshError(e) ? e : new EnergyMeshError('INTERNAL', `DNP3 master ${this.id}: ${String(e)}`, { cause: e }));
  }

  // ------------------------------------------------------------------------------------------
  // connection

  private requireTransport(): TransportLayer {
    if (!this.transport) throw new EnergyMeshError('NOT_CONNECTED', `DNP3 master ${this.id}: not connected`, { retriable: true });
    return this.transport;
  }

  private setState(s: SessionState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.stateEmitter.fire(s);
  }

  private async connectLoop(): Promise<void> {
    let backoff = this.o.reconnectDelayMs;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.setState('connecting');
      let channel: ByteChannel;
      try {
        channel = await this.connector(signal);
      } catch (e) {
        this.setState('offline');
        this.reportError(e);
        await delay(backoff, signal);
        backoff = Math.min(this.o.maxReconnectDelayMs, backoff * 2);
        continue;
      }
      if (signal.aborted) {
        channel.close();
        break;
      }
      backoff = this.o.reconnectDelayMs;
      const closed = new Promise<void>((resolve) => {
        if (channel.closed) resolve();
        this.channelSubs.push(channel.onDidClose(() => resolve()));
      });
      this.attach(channel);
      this.setState('online');
      this.onConnected();
      await closed;
      this.detach();
      this.failAll(new EnergyMeshError('CONNECTION_CLOSED', `DNP3 master ${this.id}: connection lost`, { retriable: true }));
      this.setState('offline');
      if (!signal.aborted) await delay(backoff, signal);
    }
  }

  private attach(channel: ByteChannel): void {
    this.channel = channel;
    this.link = new LinkLayer(channel, {
      localAddress: this.o.localAddress,
      remoteAddress: this.o.remoteAddress,
      isMaster: true,
      keepAliveMs: this.o.keepAliveMs,
      responseTimeoutMs: this.o.linkResponseTimeoutMs,
      confirmedUserData: this.o.confirmedUserData,
    });
    this.transport = new TransportLayer(this.link, this.o.maxRxFragmentSize);
    this.lastUnsolicited = undefined;
    this.channelSubs.push(
      this.transport.onDidReceiveApdu((b) => this.onApdu(b)),
      this.transport.onDidError((e) => this.errorEmitter.fire(e)),
      this.link.onDidError((e) => this.errorEmitter.fire(e)),
    );
  }

  private detach(): void {
    for (const s of this.channelSubs) s.dispose();
    this.channelSubs = [];
    this.transport?.dispose();
    this.link?.dispose();
    this.transport = undefined;
    this.link = undefined;
    this.channel = undefined;
  }

  private onConnected(): void {
    const run = (p: Promise<unknown>): void => void p.catch((e: unknown) => this.reportError(e));
    if (this.o.disableUnsolicitedOnStartup) run(this.disableUnsolicited());
    if (this.o.startupIntegrityPoll && !this.integrityDone) run(this.integrityPoll());
    if (this.o.unsolicitedClasses.length > 0) run(this.enableUnsolicited(this.o.unsolicitedClasses));
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Checks that a command response echoes the request and returns each object's status. */
function checkEcho(request: readonly ObjectBlock[], response: ResponseResult): CommandPointStatus[] {
  const out: CommandPointStatus[] = [];
  const reqObjs = request.flatMap((b) => b.objects.map((o) => ({ b, o })));
  const resObjs = response.blocks.flatMap((b) => b.objects.map((o) => ({ b, o })));
  if (resObjs.length !== reqObjs.length) {
    throw new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 master: command response echoes ${resObjs.length} objects, ${reqObjs.length} sent`, {
      details: { iin1: response.iin.iin1, iin2: response.iin.iin2 },
    });
  }
  reqObjs.forEach(({ b, o }, i) => {
    const r = resObjs[i];
    if (!r || r.b.header.group !== b.header.group || r.b.header.variation !== b.header.variation || r.o.index !== o.index) {
      throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'DNP3 master: command response does not echo the request', { details: { position: i } });
    }
    const status = 'status' in r.o.value ? r.o.value.status : 127;
    out.push({ index: o.index, group: b.header.group, variation: b.header.variation, status, statusName: CommandStatus[status] ?? `UNKNOWN(${status})` });
  });
  return out;
}
