import { strict as assert } from 'node:assert';
import { crc32 } from 'node:zlib';

import {
  FRAME_HEADER_BYTES,
  FrameEncoder,
  PAYLOAD_HEADER_BYTES,
  decodeFrameAt,
  encodeFrame,
  isFrameProblem,
  readRecord,
} from './record-codec.ts';
import type { FrameInfo } from './record-codec.ts';

describe('bus record codec', () => {
  it('frames a record as [u32 length][u32 crc32][payload] and reads it back', () => {
    const record = { offset: 42, timestamp: 1_700_000_000_123, key: 'inverter-1', value: { p: 1.5, q: 'good' } };
    const frame = encodeFrame(record);
    const length = frame.readUInt32LE(0);
    assert.equal(frame.length, FRAME_HEADER_BYTES + length);
    assert.equal(frame.readUInt32LE(4), crc32(frame.subarray(FRAME_HEADER_BYTES)));
    // payload: format, offset, timestamp, key length, key, JSON value
    assert.equal(frame[8], 1);
    assert.equal(frame.readDoubleLE(9), 42);
    assert.equal(frame.readDoubleLE(17), 1_700_000_000_123);
    assert.equal(frame.readUInt16LE(25), 'inverter-1'.length);
    assert.equal(frame.toString('utf8', 8 + PAYLOAD_HEADER_BYTES, 8 + PAYLOAD_HEADER_BYTES + 10), 'inverter-1');
    assert.equal(frame.toString('utf8', 8 + PAYLOAD_HEADER_BYTES + 10), '{"p":1.5,"q":"good"}');
    const info = decodeFrameAt(frame, 0);
    assert.ok(!isFrameProblem(info));
    assert.deepEqual(readRecord(frame, info), record);
  });

  it('encodes a batch at consecutive offsets into one buffer, with multi-byte keys and a growing scratch', () => {
    const encoder = new FrameEncoder(16);
    const records = Array.from({ length: 50 }, (_, i) => ({ key: `zähler-${i}-⚡`, value: { i, s: 'x'.repeat(i * 10) } }));
    const { bytes, frameEnds } = encoder.encode(records, 1000, 5);
    assert.equal(frameEnds.length, 50);
    assert.equal(frameEnds[49], bytes.length);
    let p = 0;
    for (let i = 0; i < 50; i++) {
      const info = decodeFrameAt(bytes, p);
      assert.ok(!isFrameProblem(info), `frame ${i}`);
      const r = readRecord(bytes, info);
      assert.equal(r.offset, 1000 + i);
      assert.equal(r.key, `zähler-${i}-⚡`);
      assert.deepEqual(r.value, records[i]?.value);
      p = info.end;
      assert.equal(p, frameEnds[i]);
    }
  });

  it('reports a flipped payload bit as a CRC mismatch', () => {
    const frame = encodeFrame({ offset: 0, timestamp: 1, key: 'k', value: 123 });
    frame[frame.length - 1] = (frame[frame.length - 1] as number) ^ 0x01;
    const r = decodeFrameAt(frame, 0);
    assert.ok(isFrameProblem(r));
    assert.equal(r.problem, 'crc-mismatch');
  });

  it('reports a frame cut short as truncated, and implausible lengths as bad-length', () => {
    const frame = encodeFrame({ offset: 0, timestamp: 1, key: 'k', value: 'abc' });
    const cut = decodeFrameAt(frame.subarray(0, frame.length - 2), 0);
    assert.ok(isFrameProblem(cut) && cut.problem === 'truncated');
    const header = decodeFrameAt(frame.subarray(0, 5), 0);
    assert.ok(isFrameProblem(header) && header.problem === 'truncated');
    const zero = decodeFrameAt(Buffer.alloc(64), 0);
    assert.ok(isFrameProblem(zero) && zero.problem === 'bad-length');
    const huge = Buffer.from(frame);
    huge.writeUInt32LE(0xffffffff, 0);
    const r = decodeFrameAt(huge, 0);
    assert.ok(isFrameProblem(r) && r.problem === 'bad-length');
  });

  it('refuses values that are not JSON and keys longer than 65535 bytes', () => {
    const encoder = new FrameEncoder();
    assert.throws(() => encoder.encode([{ key: 'k', value: undefined }], 0, 0), RangeError);
    assert.throws(() => encoder.encode([{ key: 'k'.repeat(70_000), value: 1 }], 0, 0), RangeError);
  });

  it('decodes from a position inside a larger buffer', () => {
    const a = encodeFrame({ offset: 7, timestamp: 2, key: 'a', value: [1] });
    const b = encodeFrame({ offset: 8, timestamp: 3, key: 'b', value: [2] });
    const buf = Buffer.concat([a, b]);
    const second = decodeFrameAt(buf, a.length) as FrameInfo;
    assert.equal(second.offset, 8);
    assert.deepEqual(readRecord(buf, second).value, [2]);
  });
});
