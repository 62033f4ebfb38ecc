/**
 * Streaming link-frame parser: feed it bytes as they arrive (any split), get complete frames out.
 * It resynchronises on garbage: bytes before `05 64` are skipped, a header with a bad CRC makes it
 * skip one byte and search again, and a frame whose data block fails its CRC is dropped whole.
 * Every discard is reported as an EnergyMeshError in `errors` (never thrown), so a session can log
 * and count them. Memory is bounded: at most one maximal frame is buffered.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import type { LinkFrame } from './link-frame.ts';
import { LINK_HEADER_SIZE, LINK_MAX_FRAME_SIZE, LINK_START_1, LINK_START_2, decodeLinkFrame, decodeLinkHeader, linkFrameSize } from './link-frame.ts';

export interface LinkParseResult {
  frames: LinkFrame[];
  /** Problems found (bad CRC, garbage skipped); the parser has already resynchronised. */
  errors: EnergyMeshError[];
}

export class LinkParser {
  private buf = new Uint8Array(LINK_MAX_FRAME_SIZE * 2);
  private len = 0;
  /** Bytes skipped while searching for a frame start, reported once a frame start is found. */
  private skipped = 0;

  /** Bytes currently buffered (always ≤ 2 × 292). */
  get buffered(): number {
    return this.len;
  }

  reset(): void {
    this.len = 0;
    this.skipped = 0;
  }

  /** Feeds bytes; returns the frames completed by them and the errors met on the way. */
  push(chunk: Uint8Array): LinkParseResult {
    const result: LinkParseResult = { frames: [], errors: [] };
    let offset = 0;
    while (offset < chunk.length) {
      const room = this.buf.length - this.len;
      const n = Math.min(room, chunk.length - offset);
      this.buf.set(chunk.subarray(offset, offset + n), this.len);
      this.len += n;
      offset += n;
      this.drain(result);
    }
    return result;
  }

  private consume(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }

  private drain(result: LinkParseResult): void {
    while (this.len > 0) {
      // find the start bytes
      let i = 0;
      while (i < this.len && !(this.buf[i] === LINK_START_1 && (i + 1 >= this.len || this.buf[i + 1] === LINK_START_2))) i++;
      if (i > 0) {
        this.skipped += i;
        this.consume(i);
      }
      if (this.len < LINK_HEADER_SIZE) return;
      let size: number;
      try {
        const h = decodeLinkHeader(this.buf, 0);
        size = linkFrameSize(h.len - 5);
      } catch (e) {
        this.report(result, e);
        this.skipped += 1;
        this.consume(1);
        continue;
      }
      if (this.len < size) return;
      if (this.skipped > 0) {
        result.errors.push(
          new EnergyMeshError('FRAME_MALFORMED', `DNP3 link: skipped ${this.skipped} bytes before a frame`, {
            details: { skipped: this.skipped },
          }),
        );
        this.skipped = 0;
      }
      try {
        const { frame } = decodeLinkFrame(this.buf.subarray(0, size));
        result.frames.push(frame);
      } catch (e) {
        this.report(result, e);
      }
      this.consume(size);
    }
  }

  private report(result: LinkParseResult, e: unknown): void {
    if (isEnergyMeshError(e)) result.errors.push(e);
    else result.errors.push(new EnergyMeshError('INTERNAL', 'DNP3 link: unexpected parser error', { cause: e }));
  }
}
