import assert from 'node:assert/strict';
import { DataType, Variant, VariantArrayType } from 'node-opcua';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { fromVariant, parseDataType, toVariant } from './opcua-variant.ts';

describe('opcua variant conversion', () => {
  it('reads scalars, 64-bit integers, text, times and arrays as point values', () => {
    assert.equal(fromVariant(new Variant({ dataType: DataType.Double, value: 1.5 })), 1.5);
    assert.equal(fromVariant(new Variant({ dataType: DataType.Boolean, value: true })), true);
    assert.equal(fromVariant(new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [1, 5] })), 4294967301);
    assert.equal(fromVariant(new Variant({ dataType: DataType.LocalizedText, value: { text: 'hi' } })), 'hi');
    assert.equal(fromVariant(new Variant({ dataType: DataType.DateTime, value: new Date(1234) })), 1234);
    assert.equal(fromVariant(new Variant({ dataType: DataType.Int32, arrayType: VariantArrayType.Array, value: [1, 2] })), '[1,2]');
    assert.equal(fromVariant(new Variant({ dataType: DataType.Null })), null);
    assert.equal(fromVariant(undefined), null);
  });

  it('coerces a command value to the variable data type', () => {
    assert.equal(toVariant(1, DataType.Boolean).value, true);
    assert.equal(toVariant('2.5', DataType.Double).value, 2.5);
    assert.equal(toVariant(300, DataType.UInt16).value, 300);
    assert.deepEqual(toVariant(4294967301, DataType.UInt64).value, [1, 5]);
    assert.equal(toVariant(7, DataType.String).value, '7');
  });

  it('refuses values that do not fit before sending', () => {
    assert.throws(() => toVariant(70000, DataType.UInt16), (e) => isEnergyMeshError(e, 'VALUE_OUT_OF_RANGE'));
    assert.throws(() => toVariant(1.5, DataType.Int32), (e) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => toVariant('x', DataType.Double), (e) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => toVariant(2, DataType.Boolean), (e) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => parseDataType('Quaternion'), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.equal(parseDataType('Int32'), DataType.Int32);
  });
});
