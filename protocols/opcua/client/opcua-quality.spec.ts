import assert from 'node:assert/strict';
import { StatusCodes } from 'node-opcua';
import { qualityFromStatusCode, statusCodeName } from './opcua-quality.ts';

describe('opcua quality', () => {
  it('maps the severity bits to good / uncertain / invalid and keeps the raw code', () => {
    assert.deepEqual(qualityFromStatusCode(0), { status: 'good', flags: [], raw: { statusCode: 0, statusName: 'Good' } });
    const u = qualityFromStatusCode(StatusCodes.UncertainSensorNotAccurate.value);
    assert.equal(u.status, 'uncertain');
    assert.deepEqual(u.flags, ['inaccurate']);
    assert.equal(u.raw.statusName, 'UncertainSensorNotAccurate');
    const b = qualityFromStatusCode(StatusCodes.BadSensorFailure.value);
    assert.equal(b.status, 'invalid');
    assert.deepEqual(b.flags, ['device-exception']);
    assert.equal(b.raw.statusCode, StatusCodes.BadSensorFailure.value);
  });

  it('flags communication loss, staleness and configuration errors', () => {
    assert.deepEqual(qualityFromStatusCode(StatusCodes.BadCommunicationError.value).flags, ['comm-lost']);
    assert.deepEqual(qualityFromStatusCode(StatusCodes.UncertainLastUsableValue.value).flags, ['stale']);
    assert.deepEqual(qualityFromStatusCode(StatusCodes.BadNodeIdUnknown.value).flags, ['bad-config']);
    assert.deepEqual(qualityFromStatusCode(StatusCodes.GoodLocalOverride.value), {
      status: 'good',
      flags: ['local-forced'],
      raw: { statusCode: StatusCodes.GoodLocalOverride.value, statusName: 'GoodLocalOverride' },
    });
  });

  it('reads the DataValue info bits: overflow and limits, and names the sub-code without them', () => {
    const q = qualityFromStatusCode((StatusCodes.Good.value | 0x400 | 0x80 | 0x200) >>> 0);
    assert.equal(q.status, 'good');
    assert.deepEqual(q.flags, ['overflow', 'limit-high']);
    assert.equal(q.raw.statusName, 'Good');
    assert.deepEqual(qualityFromStatusCode((StatusCodes.UncertainEngineeringUnitsExceeded.value | 0x400 | 0x100) >>> 0).flags, ['over-range', 'limit-low']);
    assert.deepEqual(qualityFromStatusCode(0x400 | 0x300).flags, ['limit-constant']);
  });

  it('names unknown codes in hex', () => {
    assert.equal(statusCodeName(0x80ff_0000), '0x80ff0000');
    assert.equal(qualityFromStatusCode(0x80ff_0000).status, 'invalid');
  });
});
