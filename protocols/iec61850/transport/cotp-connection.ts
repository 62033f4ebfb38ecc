/**
 * ISO transport over TCP (RFC 1006 + ISO 8073 class 0): TPKT reassembly from the byte stream, the CR/CC
 * handshake, segmentation of outgoing TSDUs into DT TPDUs of the negotiated size and reassembly of incoming ones.
 *
 * Error policy: a malformed TPKT/TPDU or a TSDU over `maxTsdu` closes the connection with that error;
 * `onClose` fires exactly once.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { decodeCotp, decodeTpkt, encodeCotp, encodeTpkt, tpktLength } from '../codec/cotp.ts';
import type { CotpTpdu } from '../codec/cotp.ts';
import type { ByteChannel } from './byte-channel.ts';

export interface CotpOptions {
  /** Proposed TPDU size (octets, power of two 128..8192); default 8192. */
  tpduSize?: number;
  callingTsel?: Uint8Array;
  calledTsel?: Uint8Array;
  /** Largest reassembled TSDU accepted; default 1 MiB. */
  maxTsdu?: number;
  /** Handshake timeout; default 5000 ms. */
  timeoutMs?: number;
}

const TSEL = Uint8Array.of(0, 1);

export class CotpConnection {
  private buffer: Uint8Array = new Uint8Array(0);
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  private closed = false;
  private readonly tsduListeners: ((tsdu: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((e?: EnergyMeshError) => void)[] = [];
  private readonly early: Uint8Array[] = [];
  private tpduListener: ((t: CotpTpdu) => void) | undefined;
  /** Negotiated TPDU size. */
  tpduSize = 8192;
  private readonly maxTsdu: number;

  private constructor(readonly channel: ByteChannel, maxTsdu: number) {
    this.maxTsdu = maxTsdu;
    channel.onData((b) => this.onBytes(b));
    channel.onClose((e) => this.finish(e));
  }

  /** Client side: sends CR and waits for CC. */
  static async connect(channel: ByteChannel, o: CotpOptions = {}): Promise<CotpConnection> {
    const c = new CotpConnection(channel, o.maxTsdu ?? 1 << 20);
    const proposed = o.tpduSize ?? 8192;
    const cc = await c.awaitTpdu(o.timeoutMs ?? 5000, () =>
      c.sendTpdu({ type: 'CR', dstRef: 0, srcRef: 1, classOption: 0, tpduSize: proposed, calledTsel: o.calledTsel ?? TSEL, callingTsel: o.callingTsel ?? TSEL }),
    );
    if (cc.type !== 'CC') {
      c.close();
      throw new EnergyMeshError('CONNECTION_REFUSED', `COTP: peer answered ${cc.type} to CR`, { details: cc.type === 'DR' ? { reason: cc.reason } : {} });
    }
    c.tpduSize = Math.min(proposed, cc.tpduSize ?? 128);
    return c;
  }

  /** Server side: waits for CR and answers CC. */
  static async accept(channel: ByteChannel, o: CotpOptions = {}): Promise<CotpConnection> {
    const c = new CotpConnection(channel, o.maxTsdu ?? 1 << 20);
    const cr = await c.awaitTpdu(o.timeoutMs ?? 5000, () => undefined);
    if (cr.type !== 'CR') {
      c.close();
      throw new EnergyMeshError('UNEXPECTED_RESPONSE', `COTP: expected CR, got ${cr.type}`);
    }
    c.tpduSize = Math.min(o.tpduSize ?? 8192, cr.tpduSize ?? 128);
    const cc: CotpTpdu = { type: 'CC', dstRef: cr.srcRef, srcRef: 1, classOption: 0, tpduSize: c.tpduSize };
    if (cr.calledTsel) cc.calledTsel = cr.calledTsel;
    if (cr.callingTsel) cc.callingTsel = cr.callingTsel;
    c.sendTpdu(cc);
    return c;
  }

  private awaitTpdu(timeoutMs: number, send: () => void): Promise<CotpTpdu> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        this.tpduListener = undefined;
        const i = this.closeListeners.indexOf(onClose);
        if (i >= 0) this.closeListeners.splice(i, 1);
        return true;
      };
      const timer = setTimeout(() => {
        if (!settle()) return;
        reject(new EnergyMeshError('TIMEOUT', 'COTP: connection handshake timed out', { retriable: true }));
        this.close();
      }, timeoutMs);
      const onClose = (e?: EnergyMeshError): void => {
        if (settle()) reject(e ?? new EnergyMeshError('CONNECTION_CLOSED', 'COTP: closed during handshake', { retriable: true }));
      };
      this.closeListeners.push(onClose);
      this.tpduListener = (t) => {
        if (settle()) resolve(t);
      };
      send();
    });
  }

  /** Sets (replaces) the TSDU listener; TSDUs that arrived before any listener are delivered to it. */
  onTsdu(l: (tsdu: Uint8Array) => void): void {
    this.tsduListeners.splice(0, this.tsduListeners.length, l);
    const early = this.early.splice(0);
    if (early.length > 0) queueMicrotask(() => early.forEach((t) => l(t)));
  }

  onClose(l: (e?: EnergyMeshError) => void): void {
    if (this.closed) queueMicrotask(() => l());
    else this.closeListeners.push(l);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private sendTpdu(t: CotpTpdu): void {
    this.channel.write(encodeTpkt(encodeCotp(t)));
  }

  /** Sends one TSDU, split into DT TPDUs of at most the negotiated size. */
  send(tsdu: Uint8Array): void {
    if (this.closed) throw new EnergyMeshError('CONNECTION_CLOSED', 'COTP: connection is closed', { retriable: true });
    const max = this.tpduSize - 3;
    if (tsdu.length <= max) {
      this.sendTpdu({ type: 'DT', eot: true, data: tsdu });
      return;
    }
    for (let o = 0; o < tsdu.length; o += max) {
      const end = Math.min(tsdu.length, o + max);
      this.sendTpdu({ type: 'DT', eot: end === tsdu.length, data: tsdu.subarray(o, end) });
    }
  }

  /** Sends DR (best effort) and closes the channel. */
  disconnect(): void {
    if (this.closed) return;
    try {
      this.sendTpdu({ type: 'DR', dstRef: 1, srcRef: 1, reason: 0 });
    } finally {
      this.close();
    }
  }

  close(error?: EnergyMeshError): void {
    if (this.closed) return;
    this.finish(error);
    this.channel.close();
  }

  private finish(error?: EnergyMeshError): void {
    if (this.closed) return;
    this.closed = true;
    const ls = this.closeListeners.splice(0);
    for (const l of ls) l(error);
  }

  private onBytes(bytes: Uint8Array): void {
    if (this.closed) return;
    try {
      let buf: Uint8Array;
      if (this.buffer.length === 0) buf = bytes;
      else {
        buf = new Uint8Array(this.buffer.length + bytes.length);
        buf.set(this.buffer);
        buf.set(bytes, this.buffer.length);
      }
      for (;;) {
        const len = tpktLength(buf);
        if (len === undefined || buf.length < len) break;
        const tpdu = decodeCotp(decodeTpkt(buf.subarray(0, len)));
        buf = buf.subarray(len);
        this.onTpdu(tpdu);
        if (this.closed) return;
      }
      this.buffer = buf.slice();
    } catch (e) {
      this.close(e instanceof EnergyMeshError ? e : new EnergyMeshError('FRAME_MALFORMED', String(e), { cause: e }));
    }
  }

  private onTpdu(t: CotpTpdu): void {
    if (this.tpduListener) {
      this.tpduListener(t);
      return;
    }
    if (t.type === 'DR' || t.type === 'ER') {
      this.close(new EnergyMeshError('CONNECTION_CLOSED', `COTP: peer sent ${t.type}`, { retriable: true }));
      return;
    }
    if (t.type !== 'DT') return;
    this.fragmentBytes += t.data.length;
    if (this.fragmentBytes > this.maxTsdu) {
      throw new EnergyMeshError('FRAME_TOO_LONG', 'COTP: reassembled TSDU too long', { details: { max: this.maxTsdu } });
    }
    this.fragments.push(t.eot && this.fragments.length === 0 ? t.data : t.data.slice());
    if (!t.eot) return;
    const tsdu = this.fragments.length === 1 ? (this.fragments[0] as Uint8Array) : Buffer.concat(this.fragments);
    this.fragments = [];
    this.fragmentBytes = 0;
    const out = new Uint8Array(tsdu.buffer, tsdu.byteOffset, tsdu.byteLength);
    if (this.tsduListeners.length === 0) this.early.push(out);
    for (const l of this.tsduListeners) l(out);
  }
}
