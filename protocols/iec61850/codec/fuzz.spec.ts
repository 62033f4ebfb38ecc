/**
 * Fuzzing the decoders with random and mutated PDUs (seeded from the vector captures): only EnergyMeshError
 * may come out (FRAME_*), never another exception, and every call returns (no hang). Bounded iterations and a
 * seeded PRNG keep the run deterministic.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { readAll, readTlv, children, MAX_DEPTH } from './ber.ts';
import { decodeCotp, decodeTpkt } from './cotp.ts';
import { decodeGooseFrame } from './goose.ts';
import { decodeUpper } from './iso-stack.ts';
import { decodeData } from './mms-data.ts';
import { decodeMmsPdu } from './mms-pdu.ts';
import { parseReport } from './report.ts';
import { readVectorText } from '../testing/pcap.ts';

const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** Runs every decoder layer on `bytes`; returns how many layers accepted it. */
function decodeAll(bytes: Uint8Array): number {
  let ok = 0;
  const attempt = (f: () => unknown): void => {
    try {
      f();
      ok++;
    } catch (e) {
      if (!isEnergyMeshError(e) || !e.code.startsWith('FRAME_')) throw new Error(`non-typed error: ${String(e)}`, { cause: e });
    }
  };
  attempt(() => decodeCotp(decodeTpkt(bytes)));
  attempt(() => {
    const c = decodeCotp(decodeTpkt(bytes));
    if (c.type === 'DT') {
      const u = decodeUpper(c.data);
      if (u.type === 'data') {
        const p = decodeMmsPdu(u.mms);
        if (p.kind === 'information-report') parseReport(p.report.results);
      }
    }
  });
  attempt(() => decodeMmsPdu(bytes));
  attempt(() => decodeUpper(bytes));
  attempt(() => decodeGooseFrame(bytes));
  attempt(() => {
    for (const t of readAll(bytes)) if (t.cls === 2) decodeData(t);
  });
  return ok;
}

describe('iec61850 decoders under fuzzing', function () {
  this.timeout(60000);
  const seeds: Uint8Array[] = [];
  before(function () {
    if (!existsSync(VECTORS)) this.skip();
    for (const f of readdirSync(VECTORS).filter((n) => n.endsWith('.pcap.txt'))) {
      for (const m of readVectorText(`${VECTORS}${f}`)) if (m.bytes.length < 9000) seeds.push(m.bytes);
    }
  });

  it('accepts every unmodified vector', () => {
    for (const s of seeds) assert.ok(decodeAll(s) >= 1);
  });

  it('mutated vectors (bit flips, byte changes, truncation, splicing, length tampering) give typed errors only', () => {
    const rnd = prng(0x61850);
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const base = seeds[Math.floor(rnd() * seeds.length)] as Uint8Array;
      const b = base.slice();
      const kind = Math.floor(rnd() * 5);
      const n = 1 + Math.floor(rnd() * 4);
      let mutated: Uint8Array = b;
      if (kind === 0) for (let k = 0; k < n; k++) {
          const p = Math.floor(rnd() * b.length);
          b[p] = (b[p] as number) ^ (1 << Math.floor(rnd() * 8));
        }
      else if (kind === 1) for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      else if (kind === 2) mutated = b.subarray(0, Math.floor(rnd() * b.length));
      else if (kind === 3) {
        const other = seeds[Math.floor(rnd() * seeds.length)] as Uint8Array;
        const cut = Math.floor(rnd() * b.length);
        mutated = new Uint8Array([...b.subarray(0, cut), ...other.subarray(Math.floor(rnd() * other.length))]);
      } else {
        // tamper with what looks like a BER length octet
        const p = 4 + Math.floor(rnd() * Math.max(1, b.length - 4));
        b[p] = [0x80, 0x81, 0x82, 0x84, 0x85, 0xff, 0x7f, 0x00][Math.floor(rnd() * 8)] as number;
      }
      accepted += decodeAll(mutated) > 0 ? 1 : 0;
    }
    assert.ok(accepted > 0);
  });

  it('random bytes and hostile structures give typed errors only', () => {
    const rnd = prng(42);
    for (let i = 0; i < 4000; i++) {
      const len = Math.floor(rnd() * 64);
      const b = new Uint8Array(len);
      for (let k = 0; k < len; k++) b[k] = Math.floor(rnd() * 256);
      if (rnd() < 0.3 && len > 4) {
        b[0] = 3;
        b[1] = 0;
        b[2] = 0;
        b[3] = len;
      }
      decodeAll(b);
    }
    // deep nesting: structures inside structures beyond MAX_DEPTH are refused, not a stack overflow
    let deep = Uint8Array.of(0x83, 0x01, 0x00);
    for (let d = 0; d < MAX_DEPTH + 10; d++) {
      const len = deep.length;
      const head = len < 128 ? [0xa2, len] : len < 256 ? [0xa2, 0x81, len] : [0xa2, 0x82, len >> 8, len & 0xff];
      deep = new Uint8Array([...head, ...deep]);
    }
    assert.throws(() => decodeData(readTlv(deep)), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
    // a length claiming 2 GiB, indefinite length, huge tag numbers
    for (const h of ['30847fffffff00', '3080', '1fffffffff7f00', 'a20581ff']) {
      const buf = new Uint8Array(Buffer.from(h, 'hex'));
      assert.throws(() => children(readTlv(buf)), (e: unknown) => isEnergyMeshError(e) && e.code.startsWith('FRAME_'));
    }
  });
});
