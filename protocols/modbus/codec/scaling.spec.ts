import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { applySunSpecScaleFactor, makeScaling, removeSunSpecScaleFactor, toEngineering, toRaw } from './scaling.ts';

describe('modbus scaling', () => {
  it('engineering = raw × scale + offset, exact for decimal scales', () => {
    assert.equal(toEngineering(2305, makeScaling(0.1)), 230.5);
    assert.equal(toEngineering(12345, makeScaling(0.01)), 123.45);
    assert.equal(toEngineering(7, makeScaling(0.001)), 0.007);
    assert.equal(toEngineering(100, makeScaling(2, -40)), 160);
    assert.equal(toEngineering(-5, makeScaling(1, 273.15)), 268.15);
    assert.equal(toEngineering(3, makeScaling(0.25)), 0.75);
  });

  it('inverts with rounding and range checks', () => {
    assert.equal(toRaw(230.5, makeScaling(0.1), 'u16'), 2305);
    assert.equal(toRaw(160, makeScaling(2, -40), 'i16'), 100);
    assert.equal(toRaw(0.0004, makeScaling(0.001), 'u16'), 0);
    assert.equal(toRaw(-0.0004, makeScaling(0.001), 'i16'), 0);
    assert.equal(toRaw(1.25, makeScaling(0.5), 'f32'), 2.5); // floats are not rounded
    assert.throws(() => toRaw(6553.6, makeScaling(0.1), 'u16'), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'));
    assert.throws(() => toRaw(-0.1, makeScaling(0.1), 'u16'), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'));
    assert.throws(() => toRaw(Number.NaN, makeScaling(), 'f32'), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'));
    const err = (() => {
      try {
        toRaw(70000, makeScaling(), 'u16');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(isEnergyMeshError(err, 'VALUE_OUT_OF_RANGE'));
    assert.equal(err.details.max, 65535);
  });

  it('refuses a zero or non-finite scale', () => {
    assert.throws(() => makeScaling(0), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => makeScaling(Number.POSITIVE_INFINITY), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => makeScaling(1, Number.NaN), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });

  it('SunSpec scale factors', () => {
    assert.equal(applySunSpecScaleFactor(2305, -1), 230.5);
    assert.equal(applySunSpecScaleFactor(4999, -2), 49.99);
    assert.equal(applySunSpecScaleFactor(12, 3), 12000);
    assert.equal(applySunSpecScaleFactor(12, 0), 12);
    assert.equal(removeSunSpecScaleFactor(49.99, -2), 4999);
    assert.equal(removeSunSpecScaleFactor(12000, 3), 12);
  });
});
