/**
 * Transport function over the link layer: segments outgoing APDUs (own 6-bit sequence counter) and
 * reassembles incoming ones with a size limit. Reassembly problems are reported on `onDidError`; the
 * partial fragment is dropped and the session's own timeouts recover.
 */
import type { EnergyMeshError } from '../../../core/errors.ts';
import { TransportReassembler, segmentApdu } from '../codec/transport.ts';
import type { Disposable } from '../util/emitter.ts';
import { Emitter } from '../util/emitter.ts';
import type { LinkLayer } from './link-layer.ts';

export class TransportLayer implements Disposable {
  private readonly apduEmitter = new Emitter<Uint8Array>();
  private readonly errorEmitter = new Emitter<EnergyMeshError>();
  readonly onDidReceiveApdu = this.apduEmitter.event;
  readonly onDidError = this.errorEmitter.event;
  private readonly reassembler: TransportReassembler;
  private txSeq = 0;
  private readonly sub: Disposable;

  constructor(readonly link: LinkLayer, maxRxFragmentSize = 2048) {
    this.reassembler = new TransportReassembler(maxRxFragmentSize);
    this.sub = link.onDidReceiveSegment((s) => {
      const r = this.reassembler.push(s);
      if (r.error) this.errorEmitter.fire(r.error);
      if (r.apdu) this.apduEmitter.fire(r.apdu);
    });
  }

  /** Segments and sends one APDU; resolves when every segment was handed to the link. */
  async sendApdu(apdu: Uint8Array): Promise<void> {
    const { segments, nextSeq } = segmentApdu(apdu, this.txSeq);
    this.txSeq = nextSeq;
    for (const s of segments) await this.link.sendSegment(s);
  }

  dispose(): void {
    this.sub.dispose();
    this.apduEmitter.dispose();
    this.errorEmitter.dispose();
  }
}
