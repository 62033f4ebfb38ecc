/**
 * The link layer session over a byte channel (IEEE 1815-2012 clause 9.2.6): parses frames, filters
 * addresses, answers primary link services as a secondary station (REQUEST_LINK_STATUS → LINK_STATUS,
 * RESET_LINK_STATES / TEST_LINK_STATES → ACK, CONFIRMED_USER_DATA → ACK with FCB duplicate
 * detection), sends user data unconfirmed (the default, as opendnp3 does) or confirmed (RESET first,
 * then FCB-toggled frames with retries), and keeps the link alive with REQUEST_LINK_STATUS.
 *
 * Policy: bad frames are reported on `onDidError` and skipped; a keep-alive or confirmed-data timeout
 * closes the channel (the owner reconnects).
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import type { LinkFrame } from '../codec/link-frame.ts';
import { PrimaryFunction, SecondaryFunction, encodeLinkFrame, isBroadcastAddress, LINK_MAX_USER_DATA } from '../codec/link-frame.ts';
import { LinkParser } from '../codec/link-parser.ts';
import type { Disposable } from '../util/emitter.ts';
import { Emitter } from '../util/emitter.ts';
import type { ByteChannel } from './channel.ts';

export interface LinkLayerOptions {
  /** Our link address (master 1, outstation 1024 in the vectors). */
  localAddress: number;
  /** The peer's link address; frames from other sources are dropped. */
  remoteAddress: number;
  /** True for the master (DIR = 1 on frames we send). */
  isMaster: boolean;
  /** Send REQUEST_LINK_STATUS after this long without receiving anything; 0 disables. */
  keepAliveMs?: number;
  /** How long to wait for LINK_STATUS / ACK. */
  responseTimeoutMs?: number;
  /** Send user data as CONFIRMED_USER_DATA (after RESET_LINK_STATES). Default false. */
  confirmedUserData?: boolean;
  /** Retries of a confirmed frame before giving up. */
  retries?: number;
}

export interface LinkStatistics {
  framesRx: number;
  framesTx: number;
  crcErrors: number;
  droppedFrames: number;
  keepAlivesSent: number;
}

export class LinkLayer implements Disposable {
  private readonly parser = new LinkParser();
  private readonly dataEmitter = new Emitter<Uint8Array>();
  private readonly errorEmitter = new Emitter<EnergyMeshError>();
  private readonly frameEmitter = new Emitter<{ dir: 'rx' | 'tx'; frame: LinkFrame }>();
  /** Transport segments received (user data of frames addressed to us). */
  readonly onDidReceiveSegment = this.dataEmitter.event;
  readonly onDidError = this.errorEmitter.event;
  /** Every frame in and out (for logging / capture). */
  readonly onDidTransferFrame = this.frameEmitter.event;
  readonly stats: LinkStatistics = { framesRx: 0, framesTx: 0, crcErrors: 0, droppedFrames: 0, keepAlivesSent: 0 };

  private readonly subs: Disposable[] = [];
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private pendingSecondary: { resolve: (f: LinkFrame) => void; reject: (e: EnergyMeshError) => void; timer: NodeJS.Timeout } | undefined;
  /** Secondary state: whether the peer reset our link, and the FCB we expect next. */
  private secondaryReset = false;
  private expectedFcb = true;
  /** Primary state for confirmed data. */
  private primaryReset = false;
  private nextFcb = true;
  private sendChain: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(readonly channel: ByteChannel, readonly options: LinkLayerOptions) {
    this.subs.push(channel.onDidReceive((b) => this.onBytes(b)));
    this.subs.push(channel.onDidClose(() => this.dispose()));
    this.armKeepAlive();
  }

  private get responseTimeoutMs(): number {
    return this.options.responseTimeoutMs ?? 2000;
  }

  /** Sends one transport segment (≤ 250 bytes) as user data. */
  sendSegment(segment: Uint8Array): Promise<void> {
    if (segment.length > LINK_MAX_USER_DATA) {
      return Promise.reject(new EnergyMeshError('FRAME_TOO_LONG', 'DNP3 link: segment exceeds 250 bytes'));
    }
    if (!this.options.confirmedUserData) {
      this.sendPrimary(PrimaryFunction.UNCONFIRMED_USER_DATA, segment, false, false);
      return Promise.resolve();
    }
    const run = this.sendChain.then(() => this.sendConfirmed(segment));
    this.sendChain = run.catch(() => undefined);
    return run;
  }

  /** Sends REQUEST_LINK_STATUS and waits for LINK_STATUS. */
  async requestLinkStatus(): Promise<void> {
    this.stats.keepAlivesSent++;
    const reply = await this.primaryTransaction(PrimaryFunction.REQUEST_LINK_STATUS, new Uint8Array(0), false, false);
    if (reply.func !== SecondaryFunction.LINK_STATUS) {
      throw new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 link: expected LINK_STATUS, got function ${reply.func}`, { details: { func: reply.func } });
    }
  }

  private async sendConfirmed(segment: Uint8Array): Promise<void> {
    const retries = this.options.retries ?? 2;
    if (!this.primaryReset) {
      await this.withRetries(retries, () => this.primaryTransaction(PrimaryFunction.RESET_LINK_STATES, new Uint8Array(0), false, false));
      this.primaryReset = true;
      this.nextFcb = true;
    }
    const fcb = this.nextFcb;
    const reply = await this.withRetries(retries, () => this.primaryTransaction(PrimaryFunction.CONFIRMED_USER_DATA, segment, fcb, true));
    if (reply.func !== SecondaryFunction.ACK) {
      this.primaryReset = false;
      throw new EnergyMeshError('UNEXPECTED_RESPONSE', `DNP3 link: confirmed data answered with function ${reply.func}`, { retriable: true, details: { func: reply.func } });
    }
    this.nextFcb = !fcb;
  }

  private async withRetries(retries: number, fn: () => Promise<LinkFrame>): Promise<LinkFrame> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt >= retries || this.disposed) {
          this.errorEmitter.fire(e as EnergyMeshError);
          this.channel.close();
          throw e;
        }
      }
    }
  }

  private primaryTransaction(func: PrimaryFunction, data: Uint8Array, fcb: boolean, fcv: boolean): Promise<LinkFrame> {
    if (this.pendingSecondary) return Promise.reject(new EnergyMeshError('INTERNAL', 'DNP3 link: a primary transaction is already pending'));
    if (this.disposed) return Promise.reject(new EnergyMeshError('CONNECTION_CLOSED', 'DNP3 link: closed', { retriable: true }));
    return new Promise<LinkFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingSecondary = undefined;
        reject(new EnergyMeshError('TIMEOUT', `DNP3 link: no answer to ${PrimaryFunction[func]} within ${this.responseTimeoutMs} ms`, { retriable: true }));
      }, this.responseTimeoutMs);
      this.pendingSecondary = { resolve, reject, timer };
      this.sendPrimary(func, data, fcb, fcv);
    });
  }

  private sendPrimary(func: PrimaryFunction, data: Uint8Array, fcb: boolean, fcv: boolean): void {
    this.write({ dir: this.options.isMaster, prm: true, fcb, fcvDfc: fcv, func, dest: this.options.remoteAddress, src: this.options.localAddress, data });
  }

  private sendSecondary(func: SecondaryFunction, dest: number): void {
    this.write({ dir: this.options.isMaster, prm: false, fcb: false, fcvDfc: false, func, dest, src: this.options.localAddress, data: new Uint8Array(0) });
  }

  private write(frame: LinkFrame): void {
    if (this.disposed) return;
    this.stats.framesTx++;
    this.frameEmitter.fire({ dir: 'tx', frame });
    this.channel.write(encodeLinkFrame(frame));
  }

  private onBytes(bytes: Uint8Array): void {
    const r = this.parser.push(bytes);
    for (const e of r.errors) {
      if (e.code === 'CRC_MISMATCH') this.stats.crcErrors++;
      this.errorEmitter.fire(e);
    }
    for (const f of r.frames) this.onFrame(f);
  }

  private drop(reason: string, f: LinkFrame): void {
    this.stats.droppedFrames++;
    this.errorEmitter.fire(new EnergyMeshError('FRAME_MALFORMED', `DNP3 link: ${reason}`, { details: { dest: f.dest, src: f.src, func: f.func } }));
  }

  private onFrame(f: LinkFrame): void {
    if (this.disposed) return;
    this.stats.framesRx++;
    this.frameEmitter.fire({ dir: 'rx', frame: f });
    this.armKeepAlive();
    if (f.dest !== this.options.localAddress && !isBroadcastAddress(f.dest)) return this.drop('frame for another address', f);
    if (f.src !== this.options.remoteAddress) return this.drop('frame from an unknown source', f);
    if (f.dir === this.options.isMaster) return this.drop('frame with our own DIR bit', f);
    if (!f.prm) {
      const p = this.pendingSecondary;
      if (!p) return this.drop('unexpected secondary frame', f);
      this.pendingSecondary = undefined;
      clearTimeout(p.timer);
      p.resolve(f);
      return;
    }
    const broadcast = isBroadcastAddress(f.dest);
    switch (f.func) {
      case PrimaryFunction.REQUEST_LINK_STATUS:
        if (!broadcast) this.sendSecondary(SecondaryFunction.LINK_STATUS, f.src);
        return;
      case PrimaryFunction.RESET_LINK_STATES:
        this.secondaryReset = true;
        this.expectedFcb = true;
        if (!broadcast) this.sendSecondary(SecondaryFunction.ACK, f.src);
        return;
      case PrimaryFunction.TEST_LINK_STATES:
        if (!broadcast) this.sendSecondary(this.secondaryReset ? SecondaryFunction.ACK : SecondaryFunction.NACK, f.src);
        return;
      case PrimaryFunction.CONFIRMED_USER_DATA:
        if (!this.secondaryReset) {
          if (!broadcast) this.sendSecondary(SecondaryFunction.NACK, f.src);
          return;
        }
        if (!broadcast) this.sendSecondary(SecondaryFunction.ACK, f.src);
        if (f.fcb !== this.expectedFcb) {
          this.stats.droppedFrames++;
          return; // duplicate: acknowledged again, data discarded
        }
        this.expectedFcb = !this.expectedFcb;
        if (f.data.length > 0) this.dataEmitter.fire(f.data);
        return;
      case PrimaryFunction.UNCONFIRMED_USER_DATA:
        if (f.data.length > 0) this.dataEmitter.fire(f.data);
        return;
      default:
        if (!broadcast) this.sendSecondary(SecondaryFunction.NOT_SUPPORTED, f.src);
    }
  }

  private armKeepAlive(): void {
    const ms = this.options.keepAliveMs ?? 0;
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    if (ms <= 0 || this.disposed) return;
    this.keepAliveTimer = setTimeout(() => {
      this.keepAliveTimer = undefined;
      if (this.pendingSecondary) return this.armKeepAlive();
      this.requestLinkStatus().then(
        () => this.armKeepAlive(),
        (e: unknown) => {
          if (this.disposed) return;
          this.errorEmitter.fire(e instanceof EnergyMeshError ? e : new EnergyMeshError('TIMEOUT', 'DNP3 link: keep-alive failed', { cause: e }));
          this.channel.close();
        },
      );
    }, ms);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    const p = this.pendingSecondary;
    this.pendingSecondary = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new EnergyMeshError('CONNECTION_CLOSED', 'DNP3 link: closed', { retriable: true }));
    }
    for (const s of this.subs) s.dispose();
    this.dataEmitter.dispose();
    this.errorEmitter.dispose();
    this.frameEmitter.dispose();
  }
}
