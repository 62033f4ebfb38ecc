/**
 * Byte channels: the transport under the link layer. One interface, two implementations: an in-memory
 * pair (for tests) and TCP (node:net). Closing is idempotent and fires `onDidClose` once.
 * Policy: a channel never throws on write after close; it drops the bytes (the session sees the close).
 */
import net from 'node:net';
import { EnergyMeshError } from '../../../core/errors.ts';
import type { Event } from '../util/emitter.ts';
import { Emitter } from '../util/emitter.ts';

export interface ByteChannel {
  readonly onDidReceive: Event<Uint8Array>;
  /** Fires once; the error says why when the close was not asked for. */
  readonly onDidClose: Event<EnergyMeshError | undefined>;
  readonly closed: boolean;
  /** A short description, e.g. `tcp 127.0.0.1:20000`. */
  readonly description: string;
  write(bytes: Uint8Array): void;
  close(): void;
}

abstract class BaseChannel implements ByteChannel {
  protected readonly receiveEmitter = new Emitter<Uint8Array>();
  protected readonly closeEmitter = new Emitter<EnergyMeshError | undefined>();
  readonly onDidReceive = this.receiveEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private isClosed = false;

  abstract readonly description: string;
  abstract write(bytes: Uint8Array): void;
  protected abstract doClose(): void;

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    this.markClosed(undefined);
  }

  protected markClosed(reason: EnergyMeshError | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.doClose();
    this.closeEmitter.fire(reason);
    this.receiveEmitter.dispose();
    this.closeEmitter.dispose();
  }
}

class MemoryChannel extends BaseChannel {
  peer: MemoryChannel | undefined;
  constructor(readonly description: string) {
    super();
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    const peer = this.peer;
    const copy = bytes.slice();
    setImmediate(() => {
      if (peer && !peer.closed && !this.closed) peer.deliver(copy);
    });
  }

  deliver(bytes: Uint8Array): void {
    this.receiveEmitter.fire(bytes);
  }

  protected doClose(): void {
    const peer = this.peer;
    this.peer = undefined;
    if (peer) setImmediate(() => peer.remoteClosed());
  }

  remoteClosed(): void {
    this.markClosed(new EnergyMeshError('CONNECTION_CLOSED', 'DNP3: peer closed the memory channel', { retriable: true }));
  }
}

/** Two connected in-memory channels; bytes written to one arrive (asynchronously) at the other. */
export function memoryChannelPair(): [ByteChannel, ByteChannel] {
  const a = new MemoryChannel('memory a');
  const b = new MemoryChannel('memory b');
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A channel over a connected TCP socket. */
export class TcpChannel extends BaseChannel {
  readonly description: string;

  constructor(private readonly socket: net.Socket) {
    super();
    this.description = `tcp ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.receiveEmitter.fire(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
    socket.on('error', (e) => this.markClosed(new EnergyMeshError('CONNECTION_CLOSED', `DNP3: ${e.message}`, { retriable: true, cause: e })));
    socket.on('close', () => this.markClosed(new EnergyMeshError('CONNECTION_CLOSED', 'DNP3: TCP connection closed by peer', { retriable: true })));
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(bytes);
  }

  protected doClose(): void {
    this.socket.destroy();
  }
}

/** Connects to a TCP outstation; rejects with CONNECTION_REFUSED or TIMEOUT (both retriable). */
export function connectTcp(host: string, port: number, timeoutMs = 5000, signal?: AbortSignal): Promise<TcpChannel> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const onAbort = (): void => finish(new EnergyMeshError('CONNECTION_CLOSED', 'DNP3: connect aborted'));
    const timer = setTimeout(() => finish(new EnergyMeshError('TIMEOUT', `DNP3: connect to ${host}:${port} timed out`, { retriable: true })), timeoutMs);
    const finish = (err?: EnergyMeshError): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('connect');
      socket.removeAllListeners('error');
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(new TcpChannel(socket));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish());
    socket.once('error', (e) => finish(new EnergyMeshError('CONNECTION_REFUSED', `DNP3: connect to ${host}:${port} failed: ${e.message}`, { retriable: true, cause: e })));
  });
}

export interface TcpListener {
  readonly port: number;
  readonly host: string;
  /** Stops listening and closes every channel it accepted. */
  close(): Promise<void>;
}

/** Listens for TCP connections (port 0 picks a free port); each becomes a channel. */
export function listenTcp(host: string, port: number, onChannel: (c: TcpChannel) => void): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onChannel(new TcpChannel(socket));
    });
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      resolve({
        port: actual,
        host,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}
