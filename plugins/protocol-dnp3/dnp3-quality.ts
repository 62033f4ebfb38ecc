/**
 * DNP3 flags → EnergyMesh quality. The flags byte keeps its meaning per point type (IEEE 1815-2012
 * clause 11.9): bit 0 ONLINE, 1 RESTART, 2 COMM_LOST, 3 REMOTE_FORCED, 4 LOCAL_FORCED; then binaries:
 * 5 CHATTER_FILTER (7 STATE); analogs: 5 OVER_RANGE, 6 REFERENCE_ERR; counters: 5 ROLLOVER,
 * 6 DISCONTINUITY. Offline, restart and comm-lost make a value invalid; forced, over-range, reference
 * error, chatter and discontinuity make it uncertain. The raw byte and bit names stay in `quality.raw`.
 */
import type { Quality, QualityFlag } from '../../core/plugin-api.ts';
import type { PointType } from '../../protocols/dnp3/codec/object-library.ts';

const COMMON: readonly [number, string, QualityFlag | undefined, 'invalid' | 'uncertain' | undefined][] = [
  [0x02, 'RESTART', 'restart', 'invalid'],
  [0x04, 'COMM_LOST', 'comm-lost', 'invalid'],
  [0x08, 'REMOTE_FORCED', 'remote-forced', 'uncertain'],
  [0x10, 'LOCAL_FORCED', 'local-forced', 'uncertain'],
];

const BY_KIND: Record<'binary' | 'analog' | 'counter', readonly [number, string, QualityFlag | undefined, 'invalid' | 'uncertain' | undefined][]> = {
  binary: [[0x20, 'CHATTER_FILTER', 'chatter-filter', 'uncertain']],
  analog: [
    [0x20, 'OVER_RANGE', 'over-range', 'uncertain'],
    [0x40, 'REFERENCE_ERR', 'reference-error', 'uncertain'],
  ],
  counter: [
    [0x20, 'ROLLOVER', 'overflow', undefined],
    [0x40, 'DISCONTINUITY', 'discontinuity', 'uncertain'],
  ],
};

function kindOf(t: PointType): 'binary' | 'analog' | 'counter' {
  if (t === 'binaryInput' || t === 'doubleBitBinaryInput' || t === 'binaryOutputStatus') return 'binary';
  if (t === 'counter' || t === 'frozenCounter') return 'counter';
  return 'analog';
}

/** Maps a flags byte (undefined for variations without flags: ONLINE implied). */
export function dnp3Quality(type: PointType, flags: number | undefined): Quality {
  if (flags === undefined) return { status: 'good', flags: [], raw: { dnp3Flags: 0x01, implied: true, names: 'ONLINE' } };
  const names: string[] = [];
  const out: QualityFlag[] = [];
  let status: Quality['status'] = 'good';
  const worsen = (s: 'invalid' | 'uncertain' | undefined): void => {
    if (s === 'invalid' || (s === 'uncertain' && status === 'good')) status = s;
  };
  if (flags & 0x01) names.push('ONLINE');
  else {
    out.push('offline');
    worsen('invalid');
  }
  for (const [bit, name, flag, s] of [...COMMON, ...BY_KIND[kindOf(type)]]) {
    if (!(flags & bit)) continue;
    names.push(name);
    if (flag) out.push(flag);
    worsen(s);
  }
  return { status, flags: out, raw: { dnp3Flags: flags, names: names.join('|') } };
}

/** Quality of points whose outstation cannot be reached. */
export function commLostQuality(reason: string): Quality {
  return { status: 'invalid', flags: ['comm-lost', 'not-connected'], raw: { reason } };
}
