import assert from 'node:assert/strict';

import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { toLine } from './line-protocol.ts';

const base: TelemetryRecord = {
  deviceId: 'inv-1',
  pointId: 'p.ac',
  ts: 1_700_000_000_123.7,
  receivedAt: 1_700_000_000_200,
  value: 12.5,
  quality: { status: 'good', flags: [] },
  protocol: 'modbus',
  seq: 42,
  tags: { site: 'north' },
};

describe('historian line protocol', () => {
  it('maps tags, typed value field, seq, received_at and the ms timestamp', () => {
    assert.equal(
      toLine(base, { measurement: 'telemetry' }),
      'telemetry,deviceId=inv-1,pointId=p.ac,protocol=modbus,quality=good,site=north value=12.5,seq=42i,received_at=1700000000200i 1700000000123',
    );
  });

  it('puts booleans, strings and null under their own fields and keeps quality flags', () => {
    const q = { status: 'invalid' as const, flags: ['comm-lost', 'timeout'] };
    assert.match(toLine({ ...base, value: true }, { measurement: 'm' }), / value_bool=true,seq=42i/);
    assert.match(toLine({ ...base, value: 'a "b" \\c' }, { measurement: 'm' }), / value_string="a \\"b\\" \\\\c",seq/);
    const line = toLine({ ...base, value: null, quality: q }, { measurement: 'm' });
    assert.match(line, /,quality=invalid,/);
    assert.match(line, / seq=42i,received_at=1700000000200i,quality_flags="comm-lost,timeout" 1700000000123$/);
    assert.doesNotMatch(line, /value/);
  });

  it('escapes spaces, commas and equals in names and tag values; static tags yield to record tags', () => {
    const line = toLine({ ...base, deviceId: 'a b,c=d', unit: 'k W', tags: { site: 's1' } }, { measurement: 'my meas,x', staticTags: { site: 'static', region: 'eu' } });
    assert.ok(line.startsWith('my\\ meas\\,x,deviceId=a\\ b\\,c\\=d,pointId=p.ac,protocol=modbus,quality=good,region=eu,site=s1,unit=k\\ W '), line);
  });

  it('writes integral floats without an integer suffix (same field type as fractional values)', () => {
    assert.match(toLine({ ...base, value: 3 }, { measurement: 'm' }), / value=3,/);
  });
});
