/**
 * Conversion between OPC UA Variants and EnergyMesh point values (number | boolean | string | null).
 * Reading: numbers (Int64/UInt64 as JS numbers, exact up to 2^53), Boolean, String, LocalizedText
 * (its text), DateTime (epoch ms), ByteString (base64), NodeId/QualifiedName (their string form),
 * arrays and structures (JSON). Writing: the value is coerced to the variable's DataType; a value
 * that does not fit (fraction into an integer, out of range, wrong JS type) throws VALUE_OUT_OF_RANGE
 * or INVALID_ARGUMENT before anything is sent. Pure.
 */
import { DataType, Variant, VariantArrayType } from 'node-opcua';
import { EnergyMeshError } from '../../../core/errors.ts';

export type PlainValue = number | boolean | string | null;

const INT_RANGES: Partial<Record<DataType, [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
  [DataType.Int64]: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  [DataType.UInt64]: [0, Number.MAX_SAFE_INTEGER],
};

/** The name of a built-in DataType (`Double`, `Boolean`...). */
export function dataTypeName(t: DataType): string {
  return DataType[t] ?? `DataType${t}`;
}

/** Parses a DataType name as written in config (`Double`, `Int32`, ...). */
export function parseDataType(name: string): DataType {
  const t = (DataType as unknown as Record<string, unknown>)[name];
  if (typeof t !== 'number' || t <= 0 || t > 25) {
    throw new EnergyMeshError('CONFIG_INVALID', `unknown OPC UA data type ${name}; use a built-in type name such as Double, Float, Int32, UInt16, Boolean, String`, {
      details: { dataType: name },
    });
  }
  return t as DataType;
}

function int64ToNumber(v: unknown): number {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') {
    const hi = v[0];
    const lo = v[1];
    return hi * 4294967296 + (lo >>> 0);
  }
  return Number(v);
}

/** A Variant's value as a point value. */
export function fromVariant(variant: Variant | null | undefined): PlainValue {
  if (!variant || variant.dataType === DataType.Null) return null;
  const v: unknown = variant.value;
  if (variant.arrayType !== VariantArrayType.Scalar) {
    return JSON.stringify(Array.from(v as ArrayLike<unknown>, (x) => scalar(variant.dataType, x)));
  }
  return scalar(variant.dataType, v);
}

function scalar(dataType: DataType, v: unknown): PlainValue {
  if (v === null || v === undefined) return null;
  switch (dataType) {
    case DataType.Boolean:
      return Boolean(v);
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double:
    case DataType.StatusCode:
      return typeof v === 'number' ? v : Number((v as { value?: unknown }).value ?? v);
    case DataType.Int64:
    case DataType.UInt64:
      return int64ToNumber(v);
    case DataType.String:
      return String(v);
    case DataType.DateTime:
      return v instanceof Date ? v.getTime() : null;
    case DataType.ByteString:
      return Buffer.isBuffer(v) ? v.toString('base64') : null;
    case DataType.LocalizedText:
      return (v as { text?: string | null }).text ?? null;
    default: {
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
      const s = (v as { toString?: () => string }).toString?.();
      return typeof s === 'string' ? s : JSON.stringify(v);
    }
  }
}

/** Builds the Variant to write `value` into a variable of `dataType`; throws when it does not fit. */
export function toVariant(value: number | boolean | string, dataType: DataType): Variant {
  const bad = (why: string, code: 'VALUE_OUT_OF_RANGE' | 'INVALID_ARGUMENT' = 'INVALID_ARGUMENT'): EnergyMeshError =>
    new EnergyMeshError(code, `cannot write ${JSON.stringify(value)} as ${dataTypeName(dataType)}: ${why}`, { details: { value, dataType: dataTypeName(dataType) } });
  switch (dataType) {
    case DataType.Boolean:
      if (typeof value === 'boolean') return new Variant({ dataType, value });
      if (value === 0 || value === 1) return new Variant({ dataType, value: value === 1 });
      if (value === 'true' || value === 'false') return new Variant({ dataType, value: value === 'true' });
      throw bad('expected a boolean, 0 or 1');
    case DataType.Float:
    case DataType.Double: {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      if (!Number.isFinite(n)) throw bad('expected a finite number');
      if (dataType === DataType.Float && Math.abs(n) > 3.4028234663852886e38) throw bad('beyond the Float range', 'VALUE_OUT_OF_RANGE');
      return new Variant({ dataType, value: n });
    }
    case DataType.String:
      return new Variant({ dataType, value: String(value) });
    default: {
      const range = INT_RANGES[dataType];
      if (!range) throw bad('writing this data type is not supported');
      const n = typeof value === 'number' ? value : typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
      if (!Number.isInteger(n)) throw bad('expected an integer');
      if (n < range[0] || n > range[1]) throw bad(`outside ${range[0]}..${range[1]}`, 'VALUE_OUT_OF_RANGE');
      if (dataType === DataType.Int64 || dataType === DataType.UInt64) {
        const hi = Math.floor(n / 4294967296);
        const lo = n - hi * 4294967296;
        return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: [hi, lo] });
      }
      return new Variant({ dataType, value: n });
    }
  }
}
