/**
 * Test helper: replays the master side of a reference capture against our outstation over an
 * in-memory channel and collects what the outstation answers, APDU by APDU, so a test can compare
 * it with what opendnp3 answered.
 */
import type { VectorName } from './vectors.ts';
import { loadVectorFrames } from './vectors.ts';
import { LinkParser } from '../codec/link-parser.ts';
import { TransportReassembler } from '../codec/transport.ts';
import { memoryChannelPair } from '../session/channel.ts';
import { LinkLayer } from '../session/link-layer.ts';
import { TransportLayer } from '../session/transport-layer.ts';
import type { Outstation } from '../outstation/outstation.ts';

export interface CaptureStep {
  /** APDU the master sent. */
  request: Uint8Array;
  /** APDUs the outstation sent after it, before the next master APDU. */
  expected: Uint8Array[];
}

/** Master APDUs with the outstation APDUs that followed each (in capture order). */
export function captureSteps(name: VectorName): { leading: Uint8Array[]; steps: CaptureStep[] } {
  const frames = loadVectorFrames(name);
  const parsers = { M: new LinkParser(), O: new LinkParser() };
  const reasm = { M: new TransportReassembler(4096), O: new TransportReassembler(4096) };
  const leading: Uint8Array[] = [];
  const steps: CaptureStep[] = [];
  for (const f of frames) {
    for (const lf of parsers[f.from].push(f.bytes).frames) {
      if (lf.data.length === 0) continue;
      const r = reasm[f.from].push(lf.data);
      if (!r.apdu) continue;
      if (f.from === 'M') steps.push({ request: r.apdu, expected: [] });
      else (steps[steps.length - 1]?.expected ?? leading).push(r.apdu);
    }
  }
  return { leading, steps };
}

/** Runs the steps against `outstation`; `before(i)` runs before request i is sent, `after(i)` just after. */
export async function replay(outstation: Outstation, steps: readonly CaptureStep[], before?: (i: number) => void, expectedLeading = 0, after?: (i: number) => void, settleMs = 15): Promise<Uint8Array[][]> {
  const [a, b] = memoryChannelPair();
  outstation.attach(b);
  const link = new LinkLayer(a, { localAddress: 1, remoteAddress: 1024, isMaster: true });
  const transport = new TransportLayer(link, 4096);
  let got: Uint8Array[] = [];
  transport.onDidReceiveApdu((x) => got.push(x));
  const out: Uint8Array[][] = [];
  // waits for `n` answers (the capture's count; up to 3 s on a loaded machine), then a short settle
  // so that extra, unexpected answers are caught too
  // counts are cumulative, so an answer that comes one step early (capture 03) does not stall
  let received = 0;
  let expected = 0;
  transport.onDidReceiveApdu(() => received++);
  const collect = async (n: number): Promise<Uint8Array[]> => {
    expected += n;
    const end = Date.now() + 3000;
    while (received < expected && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, settleMs));
    const g = got;
    got = [];
    return g;
  };
  // whatever the outstation sends on connect (null unsolicited) belongs to step -1
  const leading = await collect(expectedLeading);
  for (let i = 0; i < steps.length; i++) {
    if (before) {
      before(i);
      await new Promise((r) => setTimeout(r, 10));
    }
    const step = steps[i];
    if (!step) continue;
    await transport.sendApdu(step.request);
    if (after) {
      await new Promise((r) => setTimeout(r, 10));
      after(i);
    }
    out.push(await collect(step.expected.length));
  }
  a.close();
  outstation.close();
  return [leading, ...out];
}
