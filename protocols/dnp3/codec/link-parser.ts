/**
 * Streaming link-frame parser: feed it bytes as they arrive (any split), get complete frames out.
 * It resynchronises on garbage: bytes before `05 64` are skipped, a header with a bad CRC makes it
 * skip one byte and search again, and a frame whose data block fails its CRC is dropped whole.
 * Every discard is reported as an EnergyMeshError in `errors` (never thrown), so a session can log
 * and count them. Memory is bounded: at most one maximal frame is buffered.
 */
import { EnergyMeshError, isEnergyMeshError } from '../../../core/errors.ts';
import type { LinkFrame } from './link-frame.ts';
import { LINK_HEADER_SIZE, LINK_MAX_FRAME_SIZE, LINK_START_1, LINK_START_2, decodeLinkFrameWithHeader, decodeLinkHeader, linkFrameSize } from './link-frame.ts';

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

  /** Parses whole frames from the buffer, then moves the unparsed tail to the front once. */
  private drain(result: LinkParseResult): void {
    let pos = 0;
    const len = this.len;
    const buf = this.buf;
    while (pos < len) {
      // find the start bytes
      let i = pos;
      while (i < len && !(buf[i] === LINK_START_1 && (i + 1 >= len || buf[i + 1] === LINK_START_2))) i++;
      this.skipped += i - pos;
      pos = i;
      if (len - pos < LINK_HEADER_SIZE) break;
      let header: ReturnType<typeof decodeLinkHeader>;
      try {
        header = decodeLinkHeader(buf, pos);
      } catch (e) {
        this.report(result, e);
        this.skipped += 1;
        pos += 1;
        continue;
      }
      const size = linkFrameSize(header.len - 5);
      if (len - pos < size) break;
      if (this.skipped > 0) {
        result.errors.push(
          new EnergyMeshError('FRAME_MALFORMED', `DNP3 link: skipped ${this.skipped} bytes before a frame`, {
            details: { skipped: this.skipped },
          }),
        );
        this.skipped = 0;
      }
      try {
        result.frames.push(decodeLinkFrameWithHeader(buf, pos, header).frame);
      } catch (e) {
        this.report(result, e);
      }
      pos += size;
    }
    if (pos > 0) {
      buf.copyWithin(0, pos, len);
      this.len = len - pos;
    }
  }

  private report(result: LinkParseResult, e: unknown): void {
    if (isEnergyMeshError(e)) result.errors.push(e);
    else result.errors.push(new EnergyMeshError('INTERNAL', 'DNP3 link: unexpected parser error', { cause: e }));
  }
}
