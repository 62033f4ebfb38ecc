/**
 * A byte channel: what the ISO transport runs over (a TCP socket or an in-memory pair for tests).
 * Error policy: a channel never throws from callbacks; failures end in `onClose(error)`.
 */
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { EnergyMeshError } from '../../../core/errors.ts';

export interface ByteChannel {
  write(bytes: Uint8Array): void;
  /** Closes the channel; `onClose` fires once. */
  close(): void;
  onData(listener: (bytes: Uint8Array) => void): void;
  onClose(listener: (error?: EnergyMeshError) => void): void;
  readonly remote: string;
}

/** Wraps a connected socket. */
export function socketChannel(socket: Socket): ByteChannel {
  const dataListeners: ((b: Uint8Array) => void)[] = [];
  const closeListeners: ((e?: EnergyMeshError) => void)[] = [];
  let closed = false;
  let error: EnergyMeshError | undefined;
  socket.setNoDelay(true);
  socket.on('data', (b: Buffer) => {
    for (const l of dataListeners) l(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  });
  socket.on('error', (e) => {
    error = new EnergyMeshError('CONNECTION_CLOSED', `socket error: ${e.message}`, { retriable: true, cause: e });
  });
  socket.on('close', () => {
    if (closed) return;
    closed = true;
    for (const l of closeListeners) l(error);
  });
  return {
    remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
    write(bytes) {
      if (!closed && socket.writable) socket.write(bytes);
    },
    close() {
      socket.destroy();
    },
    onData(l) {
      dataListeners.push(l);
    },
    onClose(l) {
      closeListeners.push(l);
    },
  };
}

/** Opens a TCP connection (IEC 61850-8-1 uses port 102). */
export function connectTcp(host: string, port: number, timeoutMs: number): Promise<ByteChannel> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new EnergyMeshError('TIMEOUT', `TCP connect to ${host}:${port} timed out`, { retriable: true }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socketChannel(socket));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const code = e.code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'CONNECTION_CLOSED';
      reject(new EnergyMeshError(code, `TCP connect to ${host}:${port} failed: ${e.message}`, { retriable: true, cause: e }));
    });
  });
}

/** Two connected in-memory channels; data is delivered asynchronously (like a socket). */
export function memoryChannelPair(): [ByteChannel, ByteChannel] {
  const make = (name: string): ByteChannel & { peer?: ByteChannel & { deliver(b: Uint8Array): void; end(): void }; deliver(b: Uint8Array): void; end(): void } => {
    const dataListeners: ((b: Uint8Array) => void)[] = [];
    const closeListeners: ((e?: EnergyMeshError) => void)[] = [];
    let closed = false;
    const self = {
      remote: name,
      peer: undefined as (ByteChannel & { deliver(b: Uint8Array): void; end(): void }) | undefined,
      write(bytes: Uint8Array) {
        if (closed) return;
        const copy = bytes.slice();
        const peer = self.peer;
        queueMicrotask(() => peer?.deliver(copy));
      },
      close() {
        if (closed) return;
        self.end();
        const peer = self.peer;
        queueMicrotask(() => peer?.end());
      },
      deliver(b: Uint8Array) {
        if (!closed) for (const l of dataListeners) l(b);
      },
      end() {
        if (closed) return;
        closed = true;
        for (const l of closeListeners) l();
      },
      onData(l: (b: Uint8Array) => void) {
        dataListeners.push(l);
      },
      onClose(l: (e?: EnergyMeshError) => void) {
        closeListeners.push(l);
      },
    };
    return self;
  };
  const a = make('memory:a');
  const b = make('memory:b');
  a.peer = b;
  b.peer = a;
  return [a, b];
}
