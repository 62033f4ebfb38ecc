/** Test harness: our master against our outstation over an in-memory pair or loopback TCP. */
import type { Apdu } from '../../../protocols/dnp3/codec/apdu.ts';
import type { ByteChannel, TcpListener } from '../../../protocols/dnp3/session/channel.ts';
import { connectTcp, listenTcp, memoryChannelPair } from '../../../protocols/dnp3/session/channel.ts';
import type { MasterSessionOptions, MeasurementBatch } from '../../../protocols/dnp3/master/master-session.ts';
import { MasterSession } from '../../../protocols/dnp3/master/master-session.ts';
import type { DatabaseConfig } from '../../../protocols/dnp3/outstation/database.ts';
import type { OutstationOptions } from '../../../protocols/dnp3/outstation/outstation.ts';
import { Outstation } from '../../../protocols/dnp3/outstation/outstation.ts';
import type { EnergyMeshError } from '../../../core/errors.ts';

export type ChannelKind = 'memory' | 'tcp';

export interface Harness {
  master: MasterSession;
  outstation: Outstation;
  /** Requests the outstation received, in order. */
  requests: Apdu[];
  batches: MeasurementBatch[];
  errors: EnergyMeshError[];
  /** Drops the current connection (the master reconnects). */
  dropConnection(): void;
  /** Bytes on the wire, in order, per direction (for tshark). */
  wire: { fromMaster: boolean; bytes: Uint8Array }[];
  close(): Promise<void>;
}

export async function waitFor(pred: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records the bytes a master-side channel sends and receives. */
function tap(channel: ByteChannel, wire: Harness['wire']): ByteChannel {
  channel.onDidReceive((b) => wire.push({ fromMaster: false, bytes: b.slice() }));
  return {
    onDidReceive: channel.onDidReceive,
    onDidClose: channel.onDidClose,
    get closed() {
      return channel.closed;
    },
    description: channel.description,
    write(bytes: Uint8Array) {
      if (!channel.closed) wire.push({ fromMaster: true, bytes: bytes.slice() });
      channel.write(bytes);
    },
    close: () => channel.close(),
  };
}

export async function startHarness(kind: ChannelKind, db: DatabaseConfig, osOptions: OutstationOptions = {}, masterOptions: MasterSessionOptions = {}): Promise<Harness> {
  const outstation = new Outstation(db, osOptions);
  const requests: Apdu[] = [];
  const wire: Harness['wire'] = [];
  outstation.onDidReceiveRequest((a) => requests.push(a));
  let current: ByteChannel | undefined;
  let listener: TcpListener | undefined;
  let connector: (signal: AbortSignal) => Promise<ByteChannel>;
  if (kind === 'memory') {
    connector = async () => {
      const [a, b] = memoryChannelPair();
      outstation.attach(b);
      current = a;
      return tap(a, wire);
    };
  } else {
    listener = await listenTcp('127.0.0.1', 0, (c) => outstation.attach(c));
    const port = listener.port;
    connector = async (signal) => {
      const c = await connectTcp('127.0.0.1', port, 1000, signal);
      current = c;
      return tap(c, wire);
    };
  }
  const master = new MasterSession(connector, { responseTimeoutMs: 1000, reconnectDelayMs: 30, keepAliveMs: 0, ...masterOptions });
  const batches: MeasurementBatch[] = [];
  const errors: EnergyMeshError[] = [];
  master.onDidReceiveMeasurements((b) => batches.push(b));
  master.onDidError((e) => errors.push(e));
  master.start();
  return {
    master,
    outstation,
    requests,
    batches,
    errors,
    wire,
    dropConnection: () => current?.close(),
    close: async () => {
      await master.stop();
      outstation.dispose();
      await listener?.close();
    },
  };
}
