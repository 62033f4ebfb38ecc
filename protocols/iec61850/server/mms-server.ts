/**
 * A small MMS server on our own ISO stack: accepts associations (COTP CC, session AC, presentation CPA,
 * ACSE AARE, MMS initiate-Response with the negotiated sizes), dispatches confirmed requests to a handler,
 * answers Conclude and release, and lets the handler send InformationReports. Used by the IED simulator.
 *
 * Error policy: a malformed PDU from a client aborts that association only; a handler that throws answers
 * a confirmed-ErrorPDU (others/0 or the ServiceError it threw via `MmsServiceError`).
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { decodeUpper, encodeAbort, encodeAccept, encodeData, encodeReleaseResponse } from '../codec/iso-stack.ts';
import type { Aarq } from '../codec/acse.ts';
import type { BitString } from '../codec/ber.ts';
import { decodeMmsPdu, encodeMmsPdu } from '../codec/mms-pdu.ts';
import type { ConfirmedRequest, ConfirmedResponse, InformationReport, MmsPdu, ServiceError } from '../codec/mms-pdu.ts';
import { socketChannel } from '../transport/byte-channel.ts';
import type { ByteChannel } from '../transport/byte-channel.ts';
import { CotpConnection } from '../transport/cotp-connection.ts';

/** Thrown by handlers to answer a confirmed-ErrorPDU with this ServiceError. */
export class MmsServiceError extends Error {
  constructor(readonly serviceError: ServiceError) {
    super(`MMS service error ${serviceError.errorClass}/${serviceError.code}`);
  }
}

export interface MmsServerHandler {
  /** Called for each association request; return false (or a password check failing) to refuse. */
  authorize?(aarq: Aarq): boolean;
  handle(request: ConfirmedRequest, connection: MmsServerConnection): Promise<ConfirmedResponse> | ConfirmedResponse;
  onConnect?(connection: MmsServerConnection): void;
  onDisconnect?(connection: MmsServerConnection): void;
}

export interface MmsServerOptions {
  maxPduSize?: number;
  maxServOutstanding?: number;
  tpduSize?: number;
  servicesSupported?: BitString;
}

/** servicesSupportedCalled of libiec61850's control/file servers. */
export const SERVER_SERVICES: BitString = { bits: 85, bytes: Uint8Array.from(Buffer.from('ee1c00000002000040ed18', 'hex')) };
const SERVER_CBB: BitString = { bits: 11, bytes: Uint8Array.of(0xf1, 0x00) };

export class MmsServerConnection {
  maxPduSize = 65000;
  associated = false;
  private closed = false;
  /** Anything the handler wants to keep per association. */
  readonly state = new Map<string, unknown>();

  constructor(private readonly cotp: CotpConnection, readonly remote: string) {}

  get isOpen(): boolean {
    return !this.closed && this.cotp.isOpen;
  }

  sendPdu(pdu: MmsPdu): void {
    if (!this.isOpen) return;
    this.cotp.send(encodeData(encodeMmsPdu(pdu)));
  }

  sendInformationReport(report: InformationReport): void {
    this.sendPdu({ kind: 'information-report', report });
  }

  sendRaw(upper: Uint8Array): void {
    if (this.isOpen) this.cotp.send(upper);
  }

  /** Drops the TCP connection without release (to test resumption). */
  drop(): void {
    this.closed = true;
    this.cotp.close();
  }

  /** Aborts the association. */
  abort(): void {
    if (!this.isOpen) return;
    this.cotp.send(encodeAbort());
    this.drop();
  }

  markClosed(): void {
    this.closed = true;
  }
}

export class MmsServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  readonly connections = new Set<MmsServerConnection>();

  constructor(private readonly handler: MmsServerHandler, private readonly options: MmsServerOptions = {}) {}

  /** Listens on TCP; resolves with the bound port. */
  listen(port = 102, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        this.attach(socketChannel(socket));
      });
      server.once('error', reject);
      server.listen(port, host, () => {
        this.server = server;
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  /** Serves one already-open channel (TCP socket or in-memory). */
  attach(channel: ByteChannel): void {
    const o = this.options;
    CotpConnection.accept(channel, { tpduSize: o.tpduSize ?? 8192 })
      .then((cotp) => {
        const conn = new MmsServerConnection(cotp, channel.remote);
        this.connections.add(conn);
        cotp.onClose(() => {
          conn.markClosed();
          this.connections.delete(conn);
          if (conn.associated) this.handler.onDisconnect?.(conn);
        });
        cotp.onTsdu((tsdu) => {
          this.onTsdu(conn, cotp, tsdu).catch(() => cotp.close());
        });
      })
      .catch(() => channel.close());
  }

  private async onTsdu(conn: MmsServerConnection, cotp: CotpConnection, tsdu: Uint8Array): Promise<void> {
    let pdu: MmsPdu;
    try {
      const u = decodeUpper(tsdu);
      if (u.type === 'connect') {
        const ini = decodeMmsPdu(u.mms);
        if (ini.kind !== 'initiate-request' || (this.handler.authorize && !this.handler.authorize(u.aarq))) {
          cotp.send(refuse());
          cotp.close();
          return;
        }
        const o = this.options;
        conn.maxPduSize = Math.min(ini.localDetail ?? 65000, o.maxPduSize ?? 65000);
        const outstanding = o.maxServOutstanding ?? 5;
        const response = encodeMmsPdu({
          kind: 'initiate-response',
          localDetail: conn.maxPduSize,
          maxServOutstandingCalling: Math.min(ini.maxServOutstandingCalling, outstanding),
          maxServOutstandingCalled: Math.min(ini.maxServOutstandingCalled, outstanding),
          dataStructureNestingLevel: ini.dataStructureNestingLevel ?? 10,
          version: 1,
          parameterCbb: SERVER_CBB,
          servicesSupported: o.servicesSupported ?? SERVER_SERVICES,
        });
        cotp.send(encodeAccept(response));
        conn.associated = true;
        this.handler.onConnect?.(conn);
        return;
      }
      if (u.type === 'release-request') {
        cotp.send(encodeReleaseResponse());
        conn.markClosed();
        setTimeout(() => cotp.close(), 50).unref();
        return;
      }
      if (u.type === 'abort') {
        cotp.close();
        return;
      }
      if (u.type !== 'data' || !conn.associated) return;
      pdu = decodeMmsPdu(u.mms);
    } catch {
      cotp.send(encodeAbort());
      cotp.close();
      return;
    }
    if (pdu.kind === 'conclude-request') {
      conn.sendPdu({ kind: 'conclude-response' });
      return;
    }
    if (pdu.kind !== 'confirmed-request') return;
    const invokeId = pdu.invokeId;
    try {
      const response = await this.handler.handle(pdu.request, conn);
      const bytes = encodeMmsPdu({ kind: 'confirmed-response', invokeId, response });
      // a response may not exceed the negotiated PDU size: answer resource / memory-unavailable instead
      if (bytes.length > conn.maxPduSize) throw new MmsServiceError({ errorClass: 3, code: 1 });
      if (conn.isOpen) conn.sendRaw(encodeData(bytes));
    } catch (e) {
      const error: ServiceError = e instanceof MmsServiceError ? e.serviceError : { errorClass: 12, code: 0 };
      conn.sendPdu({ kind: 'confirmed-error', invokeId, error });
    }
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const c of this.connections) c.drop();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function refuse(): Uint8Array {
  // session REFUSE (SI 12) with reason "rejected by SS-user" (PI 50, value 0x02)
  return Uint8Array.of(0x0c, 0x03, 0x32, 0x01, 0x02);
}

