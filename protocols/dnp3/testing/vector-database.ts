/**
 * The outstation database of the reference captures (vectors README, "Outstation database"), for
 * tests, the simulator example and benchmarks.
 */
import type { DatabaseConfig } from '../outstation/database.ts';

export const VECTOR_T0 = 1704164645678;

export function vectorDatabase(): DatabaseConfig {
  return {
    binaryInput: [
      { index: 0, value: true, flags: 0x81, class: 1 },
      { index: 1, value: false, flags: 0x01, class: 1 },
      { index: 2, value: true, flags: 0xa1, class: 1 },
      { index: 3, value: false, flags: 0x11, class: 1 },
      { index: 4, value: true, flags: 0x85, class: 1, eventVariation: 1 },
      { index: 5, value: true, flags: 0x81, class: 1, staticVariation: 1, eventVariation: 3 },
      { index: 6, value: false, flags: 0x01, class: 1, staticVariation: 1, eventVariation: 3 },
      { index: 7, value: true, flags: 0x81, class: 1, staticVariation: 1, eventVariation: 3 },
    ],
    doubleBitBinaryInput: [
      { index: 0, value: 2, flags: 0x81, class: 1 },
      { index: 1, value: 1, flags: 0x41, class: 1 },
      { index: 2, value: 0, flags: 0x01, class: 1 },
      { index: 3, value: 3, flags: 0xc5, class: 1 },
    ],
    analogInput: [
      { index: 0, value: 12345, class: 2, staticVariation: 1, eventVariation: 3 },
      { index: 1, value: -100000, class: 2, staticVariation: 1, eventVariation: 3 },
      { index: 2, value: 1234, class: 2, staticVariation: 2, eventVariation: 4 },
      { index: 3, value: -42, flags: 0x11, class: 2, staticVariation: 2, eventVariation: 2 },
      { index: 4, value: 230.5, class: 2, staticVariation: 5, eventVariation: 7 },
      { index: 5, value: -1.25, flags: 0x41, class: 2, staticVariation: 5, eventVariation: 5 },
      { index: 6, value: 70000, class: 3, staticVariation: 3, eventVariation: 1 },
      { index: 7, value: 123456.789, class: 3, staticVariation: 6, eventVariation: 8 },
    ],
    counter: [
      { index: 0, value: 1000000, class: 3, staticVariation: 1, eventVariation: 5 },
      { index: 1, value: 4294967295, class: 3, staticVariation: 1, eventVariation: 1 },
      { index: 2, value: 65000, class: 3, staticVariation: 2, eventVariation: 2 },
      { index: 3, value: 42, class: 3, staticVariation: 5, eventVariation: 6 },
    ],
    frozenCounter: [
      { index: 0, value: 1000000, class: 3, staticVariation: 1, eventVariation: 1 },
      { index: 1, value: 4294967295, class: 3, staticVariation: 5, eventVariation: 5, time: 1704161045678 },
    ],
    binaryOutputStatus: [
      { index: 0, value: false, flags: 0x01, class: 1 },
      { index: 1, value: true, flags: 0x81, class: 1 },
      { index: 2, value: false, flags: 0x01, class: 1 },
      { index: 3, value: true, flags: 0x91, class: 1 },
    ],
    analogOutputStatus: [
      { index: 0, value: 500, class: 2, staticVariation: 1, eventVariation: 3 },
      { index: 1, value: -250, class: 2, staticVariation: 2, eventVariation: 4 },
      { index: 2, value: 47.5, class: 2, staticVariation: 3, eventVariation: 7 },
      { index: 3, value: 0.125, class: 2, staticVariation: 4, eventVariation: 8 },
    ],
  };
}

/** Change set 1 of the README, in insertion order: [type, index, value, flags, time offset from T0]. */
export const CHANGE_SET_1 = [
  ['binaryInput', 0, false, 0x01, 0],
  ['binaryInput', 1, true, 0x81, 10],
  ['binaryInput', 5, false, 0x01, 20],
  ['binaryInput', 6, true, 0x81, 25],
  ['doubleBitBinaryInput', 1, 2, 0x81, 30],
  ['analogInput', 0, 12400, 0x01, 40],
  ['analogInput', 2, 1300, 0x01, 50],
  ['analogInput', 4, 231.25, 0x01, 60],
  ['analogInput', 6, 70500, 0x01, 70],
  ['counter', 0, 1000010, 0x01, 80],
  ['binaryOutputStatus', 1, false, 0x01, 90],
  ['analogOutputStatus', 2, 48.0, 0x01, 100],
] as const;

/** A large database like capture 06: 256 binaries, 600 analogs, 300 counters, all in classes 1-3. */
export function largeDatabase(): DatabaseConfig {
  return {
    binaryInput: Array.from({ length: 256 }, (_, i) => ({ index: i, value: i % 3 === 0, flags: 0x01, class: 1 as const })),
    analogInput: Array.from({ length: 600 }, (_, i) => ({ index: i, value: 10 * i - 1000, class: 2 as const })),
    counter: Array.from({ length: 300 }, (_, i) => ({ index: i, value: 1000 * i + 7, class: 3 as const })),
  };
}
