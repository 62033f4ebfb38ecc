/**
 * Test helper: decodes a sequence of TPKTs (one conversation) through COTP reassembly, the upper layers and MMS.
 */
import { decodeCotp, decodeTpkt } from '../codec/cotp.ts';
import type { CotpTpdu } from '../codec/cotp.ts';
import { decodeUpper } from '../codec/iso-stack.ts';
import type { UpperPdu } from '../codec/iso-stack.ts';
import { decodeMmsPdu } from '../codec/mms-pdu.ts';
import type { MmsPdu } from '../codec/mms-pdu.ts';
import type { TpktMessage } from './pcap.ts';

export interface DecodedMessage {
  /** 1-based index of the TPKT in the conversation ("msg n" of the vectors README). */
  n: number;
  dir: 'C' | 'S';
  cotp: CotpTpdu;
  /** Set on the TPKT that completes a TSDU (EOT). */
  upper?: UpperPdu;
  mms?: MmsPdu;
}

export function decodeConversation(messages: readonly TpktMessage[]): DecodedMessage[] {
  const partial: Record<'C' | 'S', Uint8Array[]> = { C: [], S: [] };
  return messages.map((m, i) => {
    const cotp = decodeCotp(decodeTpkt(m.tpkt));
    const out: DecodedMessage = { n: i + 1, dir: m.dir, cotp };
    if (cotp.type !== 'DT') return out;
    partial[m.dir].push(cotp.data);
    if (!cotp.eot) return out;
    const whole = Buffer.concat(partial[m.dir]);
    partial[m.dir] = [];
    const upper = decodeUpper(new Uint8Array(whole));
    out.upper = upper;
    if (upper.type === 'data' || upper.type === 'connect' || (upper.type === 'accept' && upper.mms)) {
      const mmsBytes = upper.type === 'accept' ? (upper.mms as Uint8Array) : upper.mms;
      out.mms = decodeMmsPdu(mmsBytes);
    }
    return out;
  });
}
