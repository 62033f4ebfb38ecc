/**
 * Record framing of the durable bus log. Pure and synchronous: no I/O, no timers, no logging.
 *
 * Wire grammar (all integers little-endian):
 * ```
 * frame    = length:u32 crc:u32 payload            ; crc = CRC-32 (IEEE 802.3, zlib) of payload
 * payload  = format:u8 offset:f64 timestamp:f64 keyLength:u16 key:utf8 value:utf8-JSON
 * format   = 0x01
 * ```
 * `length` counts the payload bytes only (not the 8-byte frame header). `offset` is the record's position in
 * its topic (an integer below 2^53), stored so a scan can check that offsets are contiguous. A frame whose
 * length is below the minimum payload or above {@link MAX_PAYLOAD_BYTES} is malformed.
 *
 * Why a binary header and JSON value instead of JSON of `{key, value, timestamp}`: decoding reads offset,
 * timestamp and key without parsing JSON (the open-time scan and the retention by age never parse values),
 * and the bench measured it faster on both sides (see README.md).
 *
 * Error policy: {@link decodeFrameAt} never throws on bad bytes; it returns a {@link FrameProblem} so the
 * caller (the log scanner) decides between a torn tail and a corrupt log.
 */
import { crc32 } from 'node:zlib';

/** Bytes before the payload: length (u32) and crc (u32). */
export const FRAME_HEADER_BYTES = 8;
/** Fixed payload bytes before the key: format, offset, timestamp, key length. */
export const PAYLOAD_HEADER_BYTES = 1 + 8 + 8 + 2;
/** The only payload format written today. */
export const PAYLOAD_FORMAT_V1 = 0x01;
/** Largest payload accepted (a record of telemetry is ~100 bytes; this only bounds garbage lengths). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** Longest key in UTF-8 bytes (u16 length field). */
export const MAX_KEY_BYTES = 0xffff;

/** A record as stored. `value` is the JSON text, parsed only when a consumer needs it. */
export interface StoredRecord {
  offset: number;
  timestamp: number;
  key: string;
  value: unknown;
}

/** The header fields of one frame, read without parsing the value. */
export interface FrameInfo {
  offset: number;
  timestamp: number;
  /** Position of the frame's first byte in the buffer. */
  start: number;
  /** Position just after the frame. */
  end: number;
}

/** Why a frame could not be read. `truncated`: the buffer ends inside the frame. */
export type FrameProblem =
  | { problem: 'truncated'; start: number; needed: number }
  | { problem: 'bad-length'; start: number; length: number }
  | { problem: 'crc-mismatch'; start: number; expected: number; actual: number }
  | { problem: 'bad-format'; start: number; format: number };

/**
 * Encodes records into frames. One encoder per log: it reuses one scratch buffer so a batch costs no
 * allocation beyond JSON.stringify's strings, and the caller writes the returned view with one write call
 * before the next encode (the view is overwritten by the next call).
 */
export class FrameEncoder {
  private scratch: Buffer;

  constructor(initialBytes = 256 * 1024) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
  }

  /**
   * Frames `records` at consecutive offsets from `firstOffset`, all with `timestamp`. Returns a view of the
   * scratch buffer (valid until the next call) and each frame's end position within it.
   */
  encode(
    records: readonly { key: string; value: unknown }[],
    firstOffset: number,
    timestamp: number,
  ): { bytes: Buffer; frameEnds: number[] } {
    const frameEnds: number[] = new Array<number>(records.length);
    let pos = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as { key: string; value: unknown };
      const json = JSON.stringify(record.value);
      if (json === undefined) {
        throw new RangeError(`record ${i}: value is not JSON-serialisable`);
      }
      const key = record.key;
      // Worst case: 3 bytes per UTF-16 unit.
      const worst = FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES + 3 * (key.length + json.length);
      if (pos + worst > this.scratch.length) this.grow(pos + worst);
      const buf = this.scratch;
      const payloadStart = pos + FRAME_HEADER_BYTES;
      buf[payloadStart] = PAYLOAD_FORMAT_V1;
      buf.writeDoubleLE(firstOffset + i, payloadStart + 1);
      buf.writeDoubleLE(timestamp, payloadStart + 9);
      const keyStart = payloadStart + PAYLOAD_HEADER_BYTES;
      const keyBytes = buf.write(key, keyStart, 'utf8');
      if (keyBytes > MAX_KEY_BYTES) throw new RangeError(`record ${i}: key longer than ${MAX_KEY_BYTES} bytes`);
      buf.writeUInt16LE(keyBytes, payloadStart + 17);
      const valueBytes = buf.write(json, keyStart + keyBytes, 'utf8');
      const payloadEnd = keyStart + keyBytes + valueBytes;
      const length = payloadEnd - payloadStart;
      if (length > MAX_PAYLOAD_BYTES) throw new RangeError(`record ${i}: larger than ${MAX_PAYLOAD_BYTES} bytes`);
      buf.writeUInt32LE(length, pos);
      buf.writeUInt32LE(crc32(buf.subarray(payloadStart, payloadEnd)), pos + 4);
      pos = payloadEnd;
      frameEnds[i] = pos;
    }
    return { bytes: this.scratch.subarray(0, pos), frameEnds };
  }

  private grow(atLeast: number): void {
    let size = this.scratch.length * 2;
    while (size < atLeast) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.scratch.copy(next);
    this.scratch = next;
  }
}

/** Encodes one record into a fresh buffer (tests and tools; the log uses {@link FrameEncoder}). */
export function encodeFrame(record: StoredRecord): Buffer {
  const { bytes } = new FrameEncoder(1024).encode([record], record.offset, record.timestamp);
  return Buffer.from(bytes);
}

/**
 * Reads the frame header at `start` and checks length, CRC and format. Returns the frame's extent and
 * header fields, or the problem. Never throws.
 */
export function decodeFrameAt(buf: Buffer, start: number, end = buf.length): FrameInfo | FrameProblem {
  if (start + FRAME_HEADER_BYTES > end) {
    return { problem: 'truncated', start, needed: start + FRAME_HEADER_BYTES - end };
  }
  const length = buf.readUInt32LE(start);
  if (length < PAYLOAD_HEADER_BYTES || length > MAX_PAYLOAD_BYTES) {
    return { problem: 'bad-length', start, length };
  }
  const payloadStart = start + FRAME_HEADER_BYTES;
  const frameEnd = payloadStart + length;
  if (frameEnd > end) return { problem: 'truncated', start, needed: frameEnd - end };
  const expected = buf.readUInt32LE(start + 4);
  const actual = crc32(buf.subarray(payloadStart, frameEnd));
  if (expected !== actual) return { problem: 'crc-mismatch', start, expected, actual };
  const format = buf[payloadStart] as number;
  if (format !== PAYLOAD_FORMAT_V1) return { problem: 'bad-format', start, format };
  const keyLength = buf.readUInt16LE(payloadStart + 17);
  if (PAYLOAD_HEADER_BYTES + keyLength > length) return { problem: 'bad-length', start, length };
  return {
    offset: buf.readDoubleLE(payloadStart + 1),
    timestamp: buf.readDoubleLE(payloadStart + 9),
    start,
    end: frameEnd,
  };
}

/** True when {@link decodeFrameAt} returned a problem. */
export function isFrameProblem(r: FrameInfo | FrameProblem): r is FrameProblem {
  return 'problem' in r;
}

/**
 * Decodes key and value of a frame already checked by {@link decodeFrameAt}. Throws SyntaxError when the
 * value is not JSON (which a valid CRC makes a writer bug, not disk damage).
 */
export function readRecord(buf: Buffer, info: FrameInfo): StoredRecord {
  const payloadStart = info.start + FRAME_HEADER_BYTES;
  const keyLength = buf.readUInt16LE(payloadStart + 17);
  const keyStart = payloadStart + PAYLOAD_HEADER_BYTES;
  const key = buf.toString('utf8', keyStart, keyStart + keyLength);
  const value: unknown = JSON.parse(buf.toString('utf8', keyStart + keyLength, info.end));
  return { offset: info.offset, timestamp: info.timestamp, key, value };
}

/** A short human description of a frame problem, for LOG_CORRUPT messages. */
export function describeProblem(p: FrameProblem): string {
  switch (p.problem) {
    case 'truncated':
      return `frame truncated (${p.needed} bytes missing)`;
    case 'bad-length':
      return `implausible frame length ${p.length}`;
    case 'crc-mismatch':
      return `CRC mismatch (stored 0x${p.expected.toString(16)}, computed 0x${p.actual.toString(16)})`;
    case 'bad-format':
      return `unknown payload format 0x${p.format.toString(16)}`;
  }
}
