/**
 * CRC-16/DNP (IEEE 1815-2012 §9.2.4.2.5 / Annex E): polynomial 0x3D65, processed reflected (0xA6BC),
 * initial value 0, result complemented, transmitted low byte first.
 */
const TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0xa6bc : crc >>> 1;
    t[i] = crc;
  }
  return t;
})();

/** CRC-16/DNP of `data[start, end)`. */
export function crcDnp(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ data[i]!) & 0xff]!;
  return ~crc & 0xffff;
}

/** True when the two bytes at `at` (low byte first) hold the CRC of `data[start, at)`. */
export function crcMatches(data: Uint8Array, start: number, at: number): boolean {
  const c = crcDnp(data, start, at);
  return data[at] === (c & 0xff) && data[at + 1] === c >>> 8;
}
