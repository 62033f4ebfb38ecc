/**
 * Test/bench helper: decodes one direction of a captured DNP3 byte stream into link frames and APDUs
 * with the real codec (link parser → transport reassembly → application decoder).
 */
import type { LinkFrame } from '../codec/link-frame.ts';
import { LinkParser } from '../codec/link-parser.ts';
import { TransportReassembler } from '../codec/transport.ts';
import type { Apdu } from '../codec/apdu.ts';
import { decodeApdu } from '../codec/apdu.ts';
import type { EnergyMeshError } from '../../../core/errors.ts';

export interface DecodedStream {
  frames: LinkFrame[];
  /** Raw reassembled fragments, in order. */
  fragments: Uint8Array[];
  apdus: Apdu[];
  errors: EnergyMeshError[];
}

export function decodeStream(chunks: readonly Uint8Array[], maxFragmentSize = 4096): DecodedStream {
  const parser = new LinkParser();
  const reasm = new TransportReassembler(maxFragmentSize);
  const out: DecodedStream = { frames: [], fragments: [], apdus: [], errors: [] };
  for (const c of chunks) {
    const r = parser.push(c);
    out.errors.push(...r.errors);
    for (const f of r.frames) {
      out.frames.push(f);
      if (f.data.length === 0) continue;
      const t = reasm.push(f.data);
      if (t.error) out.errors.push(t.error);
      if (t.apdu) {
        out.fragments.push(t.apdu);
        out.apdus.push(decodeApdu(t.apdu));
      }
    }
  }
  return out;
}
