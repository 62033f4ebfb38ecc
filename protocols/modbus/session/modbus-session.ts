/**
 * One Modbus connection (a TCP endpoint, a serial line, or RTU framing over TCP) over the npm
 * `modbus-serial` client, shared by every unit id behind it (a gateway).
 *
 * What this layer adds to modbus-serial, after reading its source (8.0.25):
 *   - its timeouts are per client: we run our own per-request timer (per-connection default, per-call override);
 *   - it never fails pending requests when the socket closes, and after a socket error its TcpPort never
 *     emits `close`: we own the socket, watch it, and fail every pending request with CONNECTION_CLOSED;
 *   - it silently drops a response whose transaction id matches no request (the request would only time
 *     out): we see it first and fail the oldest request with UNEXPECTED_RESPONSE;
 *   - it accepts any MBAP protocol id and length: we track MBAP framing and drop the connection on
 *     garbage (FRAME_MALFORMED); for RTU framing we cap its buffer and report garbled answers;
 *   - it trusts the byte count of read responses: we check it against the request (FRAME_MALFORMED),
 *     and the echo of write responses (UNEXPECTED_RESPONSE);
 *   - it emits `error` events that crash a process with no listener: we always listen;
 *   - its RTU-over-TCP port (TelnetPort) clears the expected unit/function/length after emitting a frame,
 *     so a request written synchronously from the response callback is never matched: we send the
 *     next request from a microtask.
 *
 * Policy: requests are queued (FIFO, `maxInFlight` at once on TCP, one on RTU); a unit id that times out is
 * suspended with exponential back-off, so a dead device behind a gateway costs one probe per back-off period
 * instead of one timeout per poll; a connection that stays silent is dropped; the connection is re-opened
 * forever with capped exponential back-off and jitter. Every failure is an EnergyMeshError; nothing throws
 * out of an event handler.
 */
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import { EnergyMeshError } from '../../../core/errors.ts';
import { mapClientError, type RequestDescription } from './modbus-errors.ts';

export type ModbusTransport =
  | { type: 'tcp'; host: string; port: number }
  | { type: 'rtu-over-tcp'; host: string; port: number }
  | {
      type: 'rtu';
      path: string;
      baudRate?: number;
      parity?: 'none' | 'even' | 'odd';
      dataBits?: 7 | 8;
      stopBits?: 1 | 2;
    };

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
}

export interface ModbusSessionOptions {
  transport: ModbusTransport;
  /** Default 3000. */
  connectTimeoutMs?: number;
  /** Default per-request timeout; 1000. */
  requestTimeoutMs?: number;
  /** Re-open delays; default 500 ms doubling to 30 s, ±20 % jitter. */
  reconnect?: BackoffOptions;
  /** Suspension of a unit id after a timeout; default 1 s doubling to 60 s. */
  unitBackoff?: BackoffOptions;
  /** Requests in flight at once on TCP (1 for RTU framing). Default 1. */
  maxInFlight?: number;
  /** Requests waiting at most; more are refused. Default 10000. */
  maxQueue?: number;
  /** Timeouts in a row with no byte received before the connection is dropped and re-opened. Default 3. */
  silentTimeoutsBeforeReconnect?: number;
  /** RTU: silence kept after a timeout before the next request, so a late answer is not taken for the next. Default 20. */
  rtuTurnaroundMs?: number;
}

export type SessionState = 'idle' | 'connecting' | 'open' | 'stopped';

export type ReadFunction = 1 | 2 | 3 | 4;

interface Op extends RequestDescription {
  count: number;
  values?: number[] | boolean[];
  value?: number | boolean;
  timeoutMs: number;
  resolve: (value: Buffer | undefined) => void;
  reject: (err: EnergyMeshError) => void;
  timer?: NodeJS.Timeout;
  tid: number;
  rxAtSend: number;
  settled: boolean;
  probe: boolean;
  /** Bypasses unit suspension (writes). */
  force: boolean;
}

interface UnitState {
  backoffMs: number;
  suspendedUntil: number;
  probing: boolean;
}

// The parts of modbus-serial's internals this layer relies on (checked against 8.0.25).
interface PortInternals {
  _transactionIdWrite?: number;
  _transactionIdRead?: number;
  _buffer?: Buffer;
  prependListener(event: 'data', fn: (data: Buffer) => void): unknown;
}
interface ReadResult {
  buffer?: Buffer;
  data?: unknown[];
  address?: number;
  value?: number;
  state?: boolean;
  length?: number;
}
type Callback = (err: unknown, res?: ReadResult) => void;
interface ClientInternals {
  _timeout: number | null;
  _port?: PortInternals;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  writeFC1(unit: number, address: number, count: number, next: Callback): void;
  writeFC2(unit: number, address: number, count: number, next: Callback): void;
  writeFC3(unit: number, address: number, count: number, next: Callback): void;
  writeFC4(unit: number, address: number, count: number, next: Callback): void;
  writeFC5(unit: number, address: number, state: boolean, next: Callback): void;
  writeFC6(unit: number, address: number, value: number, next: Callback): void;
  writeFC15(unit: number, address: number, states: boolean[], next: Callback): void;
  writeFC16(unit: number, address: number, values: number[], next: Callback): void;
  linkTCP(socket: net.Socket, options: object, next: (err?: unknown) => void): void;
  linkTelnet(socket: net.Socket, options: object, next: (err?: unknown) => void): void;
  connectRTUBuffered(path: string, options: object, next: (err?: unknown) => void): void;
  close(next: () => void): void;
}

type Listener<T> = (value: T) => void;

/** Key of a transport: sessions with the same key share one connection. */
export function transportKey(t: ModbusTransport): string {
  return t.type === 'rtu' ? `rtu:${t.path}` : `${t.type}:${t.host}:${t.port}`;
}

function backoff(o: BackoffOptions | undefined, defaults: Required<BackoffOptions>): Required<BackoffOptions> {
  return {
    initialMs: o?.initialMs ?? defaults.initialMs,
    maxMs: o?.maxMs ?? defaults.maxMs,
    factor: o?.factor ?? defaults.factor,
  };
}

const LINK_ERRORS = new Set<string>(['NOT_CONNECTED', 'TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_REFUSED']);
const MAX_MBAP_LENGTH = 254;
// modbus-serial is CommonJS: module.exports is the client class and module.exports.default the same.
const ModbusRTU = modbusSerial.default; // unit id + PDU (253)
const MAX_RTU_BUFFER = 512;

/** A Modbus master connection with a request queue. */
export class ModbusSession {
  readonly key: string;
  readonly transport: ModbusTransport;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly reconnectBackoff: Required<BackoffOptions>;
  private readonly unitBackoffOptions: Required<BackoffOptions>;
  private readonly maxInFlight: number;
  private readonly maxQueue: number;
  private readonly silentLimit: number;
  private readonly rtuTurnaroundMs: number;
  private readonly rtuFraming: boolean;

  private stateValue: SessionState = 'idle';
  private client: ClientInternals | undefined;
  private socket: net.Socket | undefined;
  private generation = 0;
  private reconnectAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private holdUntil = 0;
  private closeReason: EnergyMeshError | undefined;

  private readonly queue: Op[] = [];
  private readonly inFlight = new Map<number, Op>();
  private readonly staleTids = new Set<number>();
  private readonly units = new Map<number, UnitState>();
  private rxBytes = 0;
  private silentTimeouts = 0;
  // MBAP framing tracker
  private readonly mbapHeader = Buffer.alloc(6);
  private mbapHeaderLength = 0;
  private mbapBodyRemaining = 0;

  private readonly stateListeners = new Set<Listener<{ state: SessionState; error?: EnergyMeshError }>>();

  /** Counters for metrics and tests. */
  readonly stats = { requests: 0, responses: 0, timeouts: 0, errors: 0, connects: 0, disconnects: 0, skipped: 0 };

  constructor(options: ModbusSessionOptions) {
    this.transport = options.transport;
    this.key = transportKey(options.transport);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 1000;
    this.reconnectBackoff = backoff(options.reconnect, { initialMs: 500, maxMs: 30_000, factor: 2 });
    this.unitBackoffOptions = backoff(options.unitBackoff, { initialMs: 1000, maxMs: 60_000, factor: 2 });
    this.rtuFraming = options.transport.type !== 'tcp';
    this.maxInFlight = this.rtuFraming ? 1 : Math.max(1, Math.min(options.maxInFlight ?? 1, 64));
    this.maxQueue = options.maxQueue ?? 10_000;
    this.silentLimit = options.silentTimeoutsBeforeReconnect ?? 3;
    this.rtuTurnaroundMs = options.rtuTurnaroundMs ?? 20;
  }

  get state(): SessionState {
    return this.stateValue;
  }

  get isOpen(): boolean {
    return this.stateValue === 'open';
  }

  /** Why the connection is not open (undefined before the first attempt has finished, or while open). */
  get lastError(): EnergyMeshError | undefined {
    return this.stateValue === 'open' ? undefined : this.closeReason;
  }

  /** Called on every state change (`open`, `connecting` after a loss with the reason, `stopped`). */
  onDidChangeState(listener: Listener<{ state: SessionState; error?: EnergyMeshError }>): { dispose(): void } {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  /** Opens the connection (and keeps re-opening it until stop()). */
  start(): void {
    if (this.stateValue !== 'idle') return;
    this.connect();
  }

  /** Closes the connection and fails everything pending with CONNECTION_CLOSED. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    this.setState('stopped');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.holdTimer);
    const err = new EnergyMeshError('CONNECTION_CLOSED', `connection ${this.key} stopped`, { details: { connection: this.key } });
    this.failAll(err);
    this.generation++;
    await this.teardown();
  }

  // ------------------------------------------------------------------------------------------
  // Requests

  /** FC3 (holding) or FC4 (input): `count` registers as big-endian bytes. */
  readRegisters(unitId: number, table: 'holding' | 'input', address: number, count: number, timeoutMs?: number): Promise<Buffer> {
    return this.enqueue(unitId, table === 'holding' ? 3 : 4, address, count, timeoutMs) as Promise<Buffer>;
  }

  /** FC1 (coils) or FC2 (discrete inputs): the packed bits as received (LSB of byte 0 = first). */
  readBits(unitId: number, table: 'coil' | 'discrete', address: number, count: number, timeoutMs?: number): Promise<Buffer> {
    return this.enqueue(unitId, table === 'coil' ? 1 : 2, address, count, timeoutMs) as Promise<Buffer>;
  }

  /** FC6. */
  async writeRegister(unitId: number, address: number, value: number, timeoutMs?: number): Promise<void> {
    await this.enqueue(unitId, 6, address, 1, timeoutMs, { value });
  }

  /** FC16. */
  async writeRegisters(unitId: number, address: number, values: number[], timeoutMs?: number): Promise<void> {
    await this.enqueue(unitId, 16, address, values.length, timeoutMs, { values });
  }

  /** FC5. */
  async writeCoil(unitId: number, address: number, value: boolean, timeoutMs?: number): Promise<void> {
    await this.enqueue(unitId, 5, address, 1, timeoutMs, { value });
  }

  /** FC15. */
  async writeCoils(unitId: number, address: number, values: boolean[], timeoutMs?: number): Promise<void> {
    await this.enqueue(unitId, 15, address, values.length, timeoutMs, { values });
  }

  /** Whether a unit id is currently suspended after timeouts. */
  isUnitSuspended(unitId: number): boolean {
    const u = this.units.get(unitId);
    return u !== undefined && Date.now() < u.suspendedUntil;
  }

  private enqueue(
    unitId: number,
    functionCode: number,
    address: number,
    count: number,
    timeoutMs: number | undefined,
    payload: { value?: number | boolean; values?: number[] | boolean[] } = {},
  ): Promise<Buffer | undefined> {
    const req: RequestDescription = { unitId, functionCode, address, count };
    const limits: Record<number, number> = { 1: 2000, 2: 2000, 3: 125, 4: 125, 5: 1, 6: 1, 15: 1968, 16: 123 };
    if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) {
      return Promise.reject(new EnergyMeshError('INVALID_ARGUMENT', `unit id ${unitId} is outside 0..255`, { details: req }));
    }
    if (!Number.isInteger(address) || address < 0 || !Number.isInteger(count) || count < 1 || address + count > 0x10000) {
      return Promise.reject(new EnergyMeshError('INVALID_ARGUMENT', `bad address/count ${address}/${count}`, { details: req }));
    }
    if (count > (limits[functionCode] ?? 0)) {
      return Promise.reject(
        new EnergyMeshError('INVALID_ARGUMENT', `FC${functionCode} allows at most ${limits[functionCode]} items, asked ${count}`, {
          details: req,
        }),
      );
    }
    if (this.stateValue !== 'open') {
      const why = this.stateValue === 'stopped' ? 'stopped' : 'not connected';
      return Promise.reject(
        new EnergyMeshError(this.stateValue === 'stopped' ? 'CONNECTION_CLOSED' : 'NOT_CONNECTED', `${this.key}: ${why}`, {
          retriable: this.stateValue !== 'stopped',
          details: { ...req, connection: this.key, cause: this.closeReason?.code },
        }),
      );
    }
    const force = functionCode === 5 || functionCode === 6 || functionCode === 15 || functionCode === 16;
    let probe = false;
    if (!force) {
      const u = this.units.get(unitId);
      if (u && u.backoffMs > 0) {
        const now = Date.now();
        if (now < u.suspendedUntil || u.probing) {
          this.stats.skipped++;
          return Promise.reject(
            new EnergyMeshError('TIMEOUT', `unit ${unitId} on ${this.key} is not answering; next try in ${Math.max(0, u.suspendedUntil - now)} ms`, {
              retriable: true,
              details: { ...req, connection: this.key, suspended: true, backoffMs: u.backoffMs },
            }),
          );
        }
        probe = true;
        u.probing = true;
      }
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new EnergyMeshError('TIMEOUT', `${this.key}: request queue full (${this.maxQueue})`, { retriable: true, details: req }),
      );
    }
    return new Promise<Buffer | undefined>((resolve, reject) => {
      this.queue.push({
        ...req,
        count,
        value: payload.value,
        values: payload.values,
        timeoutMs: timeoutMs ?? this.requestTimeoutMs,
        resolve,
        reject,
        tid: -1,
        rxAtSend: 0,
        settled: false,
        probe,
        force,
      });
      this.pump();
    });
  }

  private pump(): void {
    while (this.stateValue === 'open' && this.inFlight.size < this.maxInFlight && this.queue.length > 0) {
      const wait = this.holdUntil - Date.now();
      if (wait > 0) {
        if (!this.holdTimer) {
          this.holdTimer = setTimeout(() => {
            this.holdTimer = undefined;
            this.pump();
          }, wait);
        }
        return;
      }
      const op = this.queue.shift()!;
      this.dispatch(op);
    }
  }

  private dispatch(op: Op): void {
    const client = this.client!;
    const port = client._port!;
    client._timeout = null; // our own timer, per request
    if (this.rtuFraming && port._buffer && port._buffer.length > 0) port._buffer = Buffer.alloc(0);
    op.tid = port._transactionIdWrite ?? 1;
    // A late answer to an older request with the same id must not be taken for this one.
    this.staleTids.delete(op.tid);
    op.rxAtSend = this.rxBytes;
    this.inFlight.set(op.tid, op);
    this.stats.requests++;
    op.timer = setTimeout(() => this.onTimeout(op), op.timeoutMs);
    const cb: Callback = (err, res) => this.onResult(op, err, res);
    try {
      switch (op.functionCode) {
        case 1:
          client.writeFC1(op.unitId, op.address, op.count, cb);
          break;
        case 2:
          client.writeFC2(op.unitId, op.address, op.count, cb);
          break;
        case 3:
          client.writeFC3(op.unitId, op.address, op.count, cb);
          break;
        case 4:
          client.writeFC4(op.unitId, op.address, op.count, cb);
          break;
        case 5:
          client.writeFC5(op.unitId, op.address, op.value === true, cb);
          break;
        case 6:
          client.writeFC6(op.unitId, op.address, op.value as number, cb);
          break;
        case 15:
          client.writeFC15(op.unitId, op.address, op.values as boolean[], cb);
          break;
        case 16:
          client.writeFC16(op.unitId, op.address, op.values as number[], cb);
          break;
        default:
          cb(new EnergyMeshError('INVALID_ARGUMENT', `function code ${op.functionCode} is not supported`));
      }
    } catch (e) {
      cb(e);
    }
  }

  private settle(op: Op): boolean {
    if (op.settled) return false;
    op.settled = true;
    clearTimeout(op.timer);
    if (this.inFlight.get(op.tid) === op) this.inFlight.delete(op.tid);
    else {
      const i = this.queue.indexOf(op);
      if (i >= 0) this.queue.splice(i, 1);
    }
    if (op.probe) {
      const u = this.units.get(op.unitId);
      if (u) u.probing = false;
    }
    return true;
  }

  private onResult(op: Op, err: unknown, res: ReadResult | undefined): void {
    if (!this.settle(op)) return;
    this.stats.responses++;
    let error: EnergyMeshError | undefined;
    let value: Buffer | undefined;
    if (err) error = mapClientError(err, op);
    else {
      try {
        value = this.validate(op, res);
      } catch (e) {
        error = mapClientError(e, op);
      }
    }
    // Any answer, even an exception, shows the unit is alive.
    if (!error || !LINK_ERRORS.has(error.code)) this.unitAnswered(op.unitId);
    if (error) {
      this.stats.errors++;
      op.reject(error);
    } else op.resolve(value);
    // Not synchronously: we are inside modbus-serial's 'data' emit, and its TelnetPort resets the
    // expected unit/function/length *after* the emit returns, which would wipe the next request's.
    this.schedulePump();
  }

  private pumpScheduled = false;

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private validate(op: Op, res: ReadResult | undefined): Buffer | undefined {
    const req: RequestDescription = { unitId: op.unitId, functionCode: op.functionCode, address: op.address, count: op.count };
    if (!res) throw new EnergyMeshError('FRAME_MALFORMED', 'empty response', { retriable: true, details: req });
    switch (op.functionCode) {
      case 1:
      case 2: {
        const need = (op.count + 7) >> 3;
        if (!Buffer.isBuffer(res.buffer) || res.buffer.length !== need) {
          throw new EnergyMeshError('FRAME_MALFORMED', `read of ${op.count} bits answered with ${res.buffer?.length ?? 0} bytes, expected ${need}`, {
            retriable: true,
            details: { ...req, received: res.buffer?.length ?? 0, expected: need },
          });
        }
        return res.buffer;
      }
      case 3:
      case 4: {
        const need = op.count * 2;
        if (!Buffer.isBuffer(res.buffer) || res.buffer.length !== need) {
          throw new EnergyMeshError(
            'FRAME_MALFORMED',
            `read of ${op.count} registers answered with ${res.buffer?.length ?? 0} bytes, expected ${need}`,
            { retriable: true, details: { ...req, received: res.buffer?.length ?? 0, expected: need } },
          );
        }
        return res.buffer;
      }
      case 5:
        if (res.address !== op.address || res.state !== op.value) throw this.badEcho(req, res);
        return undefined;
      case 6:
        if (res.address !== op.address || res.value !== op.value) throw this.badEcho(req, res);
        return undefined;
      case 15:
      case 16:
        if (res.address !== op.address || res.length !== op.count) throw this.badEcho(req, res);
        return undefined;
    }
    return undefined;
  }

  private badEcho(req: RequestDescription, res: ReadResult): EnergyMeshError {
    return new EnergyMeshError('UNEXPECTED_RESPONSE', `FC${req.functionCode} echo does not match the request`, {
      retriable: true,
      details: { ...req, echo: { address: res.address, value: res.value, state: res.state, length: res.length } },
    });
  }

  private onTimeout(op: Op): void {
    if (!this.settle(op)) return;
    this.stats.timeouts++;
    this.staleTids.add(op.tid);
    const garbled = this.rtuFraming && this.rxBytes !== op.rxAtSend;
    const err = garbled
      ? new EnergyMeshError('FRAME_MALFORMED', `unit ${op.unitId} on ${this.key}: no valid answer, ${this.rxBytes - op.rxAtSend} bytes of garbage`, {
          retriable: true,
          details: { unitId: op.unitId, functionCode: op.functionCode, address: op.address, connection: this.key },
        })
      : new EnergyMeshError('TIMEOUT', `unit ${op.unitId} on ${this.key} did not answer within ${op.timeoutMs} ms`, {
          retriable: true,
          details: { unitId: op.unitId, functionCode: op.functionCode, address: op.address, connection: this.key, timeoutMs: op.timeoutMs },
        });
    if (!garbled) this.unitTimedOut(op.unitId);
    if (this.rtuFraming) this.holdUntil = Date.now() + this.rtuTurnaroundMs;
    op.reject(err);
    if (this.rxBytes === op.rxAtSend) {
      this.silentTimeouts++;
      if (this.silentLimit > 0 && this.silentTimeouts >= this.silentLimit && this.stateValue === 'open') {
        this.silentTimeouts = 0;
        this.dropConnection(
          new EnergyMeshError('TIMEOUT', `${this.key}: ${this.silentLimit} requests in a row got no byte back; reconnecting`, {
            retriable: true,
            details: { connection: this.key },
          }),
        );
        return;
      }
    }
    this.pump();
  }

  private unitAnswered(unitId: number): void {
    const u = this.units.get(unitId);
    if (u && u.backoffMs > 0) {
      u.backoffMs = 0;
      u.suspendedUntil = 0;
    }
  }

  private unitTimedOut(unitId: number): void {
    let u = this.units.get(unitId);
    if (!u) {
      u = { backoffMs: 0, suspendedUntil: 0, probing: false };
      this.units.set(unitId, u);
    }
    const o = this.unitBackoffOptions;
    u.backoffMs = u.backoffMs === 0 ? o.initialMs : Math.min(o.maxMs, u.backoffMs * o.factor);
    u.suspendedUntil = Date.now() + u.backoffMs;
  }

  private failAll(err: EnergyMeshError): void {
    for (const op of [...this.inFlight.values(), ...this.queue]) {
      if (this.settle(op)) op.reject(err);
    }
    this.inFlight.clear();
    this.queue.length = 0;
    this.staleTids.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Connection

  private setState(state: SessionState, error?: EnergyMeshError): void {
    this.stateValue = state;
    for (const l of [...this.stateListeners]) {
      try {
        l({ state, error });
      } catch {
        // a listener's bug must not break the session
      }
    }
  }

  private connect(): void {
    if (this.stateValue === 'stopped') return;
    this.setState('connecting', this.closeReason);
    const gen = ++this.generation;
    const client = new ModbusRTU() as unknown as ClientInternals;
    this.client = client;
    client.on('error', (e: unknown) => {
      if (gen === this.generation) this.onTransportLost(gen, mapTransportError(e, this.key));
    });
    client.on('close', () => {
      if (gen === this.generation) this.onTransportLost(gen, undefined);
    });
    const t = this.transport;
    if (t.type === 'rtu') {
      client.connectRTUBuffered(
        t.path,
        { baudRate: t.baudRate ?? 9600, parity: t.parity ?? 'none', dataBits: t.dataBits ?? 8, stopBits: t.stopBits ?? 1 },
        (err?: unknown) => {
          if (gen !== this.generation) return;
          if (err) {
            this.onTransportLost(gen, mapTransportError(err, this.key));
            return;
          }
          const port = client._port as unknown as { _client?: NodeJS.EventEmitter } & PortInternals;
          port._client?.on('data', (d: Buffer) => this.onRtuData(gen, d));
          this.opened();
        },
      );
      return;
    }
    const socket = new net.Socket();
    this.socket = socket;
    const timer = setTimeout(() => {
      socket.destroy(new EnergyMeshError('TIMEOUT', `connect to ${this.key} timed out after ${this.connectTimeoutMs} ms`, { retriable: true }));
    }, this.connectTimeoutMs);
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (gen === this.generation) this.closeReason = mapTransportError(e, this.key);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (gen === this.generation) this.onTransportLost(gen, undefined);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      if (gen !== this.generation) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      this.mbapHeaderLength = 0;
      this.mbapBodyRemaining = 0;
      // Runs before modbus-serial's own listener.
      socket.prependListener('data', (d: Buffer) => this.onSocketData(gen, d));
      const link = t.type === 'tcp' ? client.linkTCP.bind(client) : client.linkTelnet.bind(client);
      link(socket, {}, (err?: unknown) => {
        if (gen !== this.generation) return;
        if (err) {
          this.onTransportLost(gen, mapTransportError(err, this.key));
          return;
        }
        if (t.type === 'tcp') client._port!.prependListener('data', () => this.onMbapFrame(gen));
        else socket.on('data', () => this.afterRtuData(gen));
        this.opened();
      });
    });
    socket.connect({ host: t.host, port: t.port });
  }

  private opened(): void {
    this.reconnectAttempts = 0;
    this.closeReason = undefined;
    this.silentTimeouts = 0;
    this.holdUntil = 0;
    this.stats.connects++;
    this.setState('open');
    this.pump();
  }

  private onTransportLost(gen: number, error: EnergyMeshError | undefined): void {
    if (gen !== this.generation || this.stateValue === 'stopped') return;
    this.generation++;
    const wasOpen = this.stateValue === 'open';
    const reason =
      error ??
      this.closeReason ??
      new EnergyMeshError('CONNECTION_CLOSED', `connection ${this.key} closed`, { retriable: true, details: { connection: this.key } });
    this.closeReason = reason;
    const failure =
      reason.code === 'CONNECTION_CLOSED' || !wasOpen
        ? reason
        : new EnergyMeshError('CONNECTION_CLOSED', `connection ${this.key} lost: ${reason.message}`, {
            retriable: true,
            details: { connection: this.key, reason: reason.code },
            cause: reason,
          });
    // A garbage stream is reported as such to the requests it broke.
    this.failAll(reason.code === 'FRAME_MALFORMED' ? reason : failure);
    if (wasOpen) this.stats.disconnects++;
    void this.teardown();
    const o = this.reconnectBackoff;
    const base = Math.min(o.maxMs, o.initialMs * o.factor ** this.reconnectAttempts);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.reconnectAttempts++;
    this.setState('connecting', reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private dropConnection(reason: EnergyMeshError): void {
    this.closeReason = reason;
    this.onTransportLost(this.generation, reason);
  }

  private async teardown(): Promise<void> {
    const socket = this.socket;
    const client = this.client;
    this.socket = undefined;
    this.client = undefined;
    if (socket) {
      socket.destroy();
      return;
    }
    if (client && this.transport.type === 'rtu') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        try {
          client.close(() => {
            clearTimeout(t);
            resolve();
          });
        } catch {
          clearTimeout(t);
          resolve();
        }
      });
    }
  }

  // ------------------------------------------------------------------------------------------
  // Guards on received bytes

  private onSocketData(gen: number, chunk: Buffer): void {
    if (gen !== this.generation) return;
    this.rxBytes += chunk.length;
    this.silentTimeouts = 0;
    if (this.transport.type !== 'tcp') return;
    // Track MBAP framing: 7-byte header (tid, protocol id 0, length 2..254) then length-1 bytes.
    let i = 0;
    while (i < chunk.length) {
      if (this.mbapBodyRemaining > 0) {
        const n = Math.min(this.mbapBodyRemaining, chunk.length - i);
        this.mbapBodyRemaining -= n;
        i += n;
        continue;
      }
      this.mbapHeader[this.mbapHeaderLength++] = chunk[i++]!;
      if (this.mbapHeaderLength === 6) {
        this.mbapHeaderLength = 0;
        const protocolId = this.mbapHeader.readUInt16BE(2);
        const length = this.mbapHeader.readUInt16BE(4);
        if (protocolId !== 0 || length < 2 || length > MAX_MBAP_LENGTH) {
          this.dropConnection(
            new EnergyMeshError('FRAME_MALFORMED', `${this.key}: not a Modbus TCP stream (protocol id ${protocolId}, length ${length})`, {
              retriable: true,
              details: { connection: this.key, protocolId, length, header: this.mbapHeader.toString('hex') },
            }),
          );
          return;
        }
        this.mbapBodyRemaining = length;
      }
    }
  }

  /** Runs before modbus-serial handles one MBAP frame: catches transaction ids nobody asked for. */
  private onMbapFrame(gen: number): void {
    if (gen !== this.generation) return;
    const tid = this.client?._port?._transactionIdRead;
    if (tid === undefined || this.inFlight.has(tid) || this.staleTids.has(tid)) return;
    const oldest = this.inFlight.values().next().value;
    if (!oldest) return;
    if (this.settle(oldest)) {
      this.stats.errors++;
      this.unitAnswered(oldest.unitId);
      oldest.reject(
        new EnergyMeshError('UNEXPECTED_RESPONSE', `${this.key}: response with transaction id ${tid}, expected ${oldest.tid}`, {
          retriable: true,
          details: { connection: this.key, unitId: oldest.unitId, expectedTransactionId: oldest.tid, receivedTransactionId: tid },
        }),
      );
      this.schedulePump();
    }
  }

  private afterRtuData(gen: number): void {
    if (gen !== this.generation) return;
    const port = this.client?._port;
    if (port?._buffer && port._buffer.length > MAX_RTU_BUFFER) port._buffer = Buffer.alloc(0);
  }

  private onRtuData(gen: number, chunk: Buffer): void {
    if (gen !== this.generation) return;
    this.rxBytes += chunk.length;
    this.silentTimeouts = 0;
    this.afterRtuData(gen);
  }
}

function mapTransportError(e: unknown, key: string): EnergyMeshError {
  if (e instanceof EnergyMeshError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'ECONNREFUSED') {
    return new EnergyMeshError('CONNECTION_REFUSED', `${key}: connection refused`, { retriable: true, details: { connection: key }, cause: e });
  }
  return new EnergyMeshError('CONNECTION_CLOSED', `${key}: ${message}`, {
    retriable: true,
    details: { connection: key, errno: typeof code === 'string' ? code : undefined },
    cause: e,
  });
}
