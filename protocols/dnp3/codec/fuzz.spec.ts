/**
 * Fuzzing the decoders with random and mutated frames (seeded from the reference captures): only
 * typed EnergyMeshErrors may come out, nothing hangs (bounded iterations), and the streaming parser's
 * buffer stays bounded.
 */
import { strict as assert } from 'node:assert';
import { EnergyMeshError } from '../../../core/errors.ts';
import { decodeApdu, encodeApdu } from './apdu.ts';
import { decodeLinkFrame, encodeLinkFrame, LINK_MAX_FRAME_SIZE } from './link-frame.ts';
import { LinkParser } from './link-parser.ts';
import { TransportReassembler } from './transport.ts';
import { decodeStream } from '../testing/decode-stream.ts';
import { memoryChannelPair } from '../session/channel.ts';
import { LinkLayer } from '../session/link-layer.ts';
import { TransportLayer } from '../session/transport-layer.ts';
import { Outstation } from '../outstation/outstation.ts';
import { vectorDatabase } from '../testing/vector-database.ts';
import { VECTOR_NAMES, loadVectorFrames, loadVectorStreams, vectorsAvailable } from '../testing/vectors.ts';

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof EnergyMeshError)) throw new Error(`untyped error escaped: ${String(e)}`, { cause: e });
  }
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const b = Array.from(src);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const op = r();
    const at = Math.floor(r() * (b.length + 1));
    if (op < 0.5 && b.length > 0) b[at % b.length] = Math.floor(r() * 256);
    else if (op < 0.65) b.splice(at, 1);
    else if (op < 0.8) b.splice(at, 0, Math.floor(r() * 256));
    else if (op < 0.9) b.splice(at, Math.floor(r() * 8));
    else b.splice(at, 0, ...b.slice(0, Math.floor(r() * 16)));
  }
  return Uint8Array.from(b);
}

(vectorsAvailable() ? describe : describe.skip)('DNP3 codec fuzz', function () {
  this.timeout(60_000);
  const frames = VECTOR_NAMES.flatMap((n) => loadVectorFrames(n).map((f) => f.bytes));
  const apdus = VECTOR_NAMES.flatMap((n) => {
    const s = loadVectorStreams(n);
    return [...decodeStream(s.master).fragments, ...decodeStream(s.outstation).fragments];
  });

  it('mutated and random APDUs: decodeApdu throws only EnergyMeshError; decoded ones re-encode or throw typed', () => {
    const r = rng(1815);
    let decoded = 0;
    for (let i = 0; i < 6000; i++) {
      const base = apdus[Math.floor(r() * apdus.length)] ?? new Uint8Array();
      const input = i % 5 === 0 ? Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)) : mutate(base, r);
      onlyTyped(() => {
        const a = decodeApdu(input);
        decoded++;
        onlyTyped(() => encodeApdu(a));
      });
    }
    assert.ok(decoded > 100, 'some mutations still decode');
  });

  it('huge announced counts are refused before allocating', () => {
    const hostile = [
      'c0 81 00 00 01 01 09 ff ff ff ff',
      'c0 81 00 00 1e 01 02 00 00 00 00 ff ff ff ff',
      'c0 01 01 02 39 ff ff ff ff',
      'c0 81 00 00 78 01 5b ff ff ff',
    ];
    for (const h of hostile) {
      const bytes = Uint8Array.from(h.split(' ').map((x) => parseInt(x, 16)));
      assert.throws(() => decodeApdu(bytes), (e) => e instanceof EnergyMeshError);
    }
  });

  it('mutated link frames: decodeLinkFrame typed errors only; streaming parser never throws, stays bounded', () => {
    const r = rng(20000);
    const parser = new LinkParser();
    const reasm = new TransportReassembler(2048);
    let good = 0;
    for (let i = 0; i < 6000; i++) {
      const base = frames[Math.floor(r() * frames.length)] ?? new Uint8Array();
      // every third input is an intact frame after the garbage, to check resynchronisation
      const input = i % 3 === 1 ? base : i % 7 === 0 ? Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)) : mutate(base, r);
      onlyTyped(() => decodeLinkFrame(input));
      // split into random chunks for the streaming parser
      let o = 0;
      while (o < input.length) {
        const n = 1 + Math.floor(r() * 40);
        const res = parser.push(input.subarray(o, o + n));
        o += n;
        for (const e of res.errors) assert.ok(e instanceof EnergyMeshError);
        for (const f of res.frames) {
          good++;
          assert.deepEqual(decodeLinkFrame(encodeLinkFrame(f)).frame, f);
          if (f.data.length === 0) continue;
          const t = reasm.push(f.data);
          if (t.apdu) onlyTyped(() => decodeApdu(t.apdu as Uint8Array));
        }
        assert.ok(parser.buffered <= 2 * LINK_MAX_FRAME_SIZE);
      }
    }
    assert.ok(good > 1000, `the parser resynchronises onto the intact frames (${good})`);
  });

  it('mutated requests into a running outstation: it keeps answering', async () => {
    const r = rng(4242);
    const requests = VECTOR_NAMES.flatMap((n) => decodeStream(loadVectorStreams(n).master).fragments);
    const os = new Outstation(vectorDatabase(), { allowUnsolicited: true, confirmTimeoutMs: 50 });
    const [a, b] = memoryChannelPair();
    os.attach(b);
    const transport = new TransportLayer(new LinkLayer(a, { localAddress: 1, remoteAddress: 1024, isMaster: true }));
    const answers: Uint8Array[] = [];
    transport.onDidReceiveApdu((x) => answers.push(x));
    for (let i = 0; i < 400; i++) {
      const base = requests[Math.floor(r() * requests.length)] ?? new Uint8Array();
      const m = mutate(base, r).subarray(0, 2048);
      if (m.length > 0) await transport.sendApdu(m);
      if (i % 20 === 0) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 20));
    answers.length = 0;
    await transport.sendApdu(Uint8Array.of(0xc3, 0x01, 0x3c, 0x01, 0x06));
    const deadline = Date.now() + 2000;
    while (!answers.some((x) => x[0] !== undefined && (x[0] & 0x0f) === 3 && x[1] === 0x81) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    assert.ok(answers.some((x) => x[1] === 0x81), 'the outstation still answers a class 0 read');
    a.close();
    os.dispose();
  });
});
