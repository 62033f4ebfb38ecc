/**
 * Linear scaling between raw register values and engineering values:
 *
 *   engineering = raw × scale + offset          raw = (engineering − offset) / scale
 *
 * and SunSpec scale factors (engineering = raw × 10^sf). A scale that is the reciprocal of an integer
 * (0.1, 0.01, 0.001...) divides by that integer instead of multiplying, so 2305 × 0.1 gives 230.5 and
 * not 230.50000000000003. Pure; the inverse throws VALUE_OUT_OF_RANGE when the raw value does not fit.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { rawRange, type RegisterType } from './register-codec.ts';

export interface Scaling {
  scale: number;
  offset: number;
  /** When scale = 1/divisor exactly, the integer divisor; else 0. */
  divisor: number;
}

/** Prepares a scaling (checks scale ≠ 0 and finite). */
export function makeScaling(scale = 1, offset = 0): Scaling {
  if (!Number.isFinite(scale) || scale === 0) {
    throw new EnergyMeshError('CONFIG_INVALID', `scale must be a finite non-zero number, got ${scale}`);
  }
  if (!Number.isFinite(offset)) throw new EnergyMeshError('CONFIG_INVALID', `offset must be finite, got ${offset}`);
  let divisor = 0;
  if (Math.abs(scale) < 1) {
    const inv = 1 / scale;
    const r = Math.round(inv);
    if (r !== 0 && Math.abs(inv - r) < 1e-9 * Math.abs(r)) divisor = r;
  }
  return { scale, offset, divisor };
}

export const IDENTITY_SCALING: Scaling = Object.freeze({ scale: 1, offset: 0, divisor: 0 });

/** raw → engineering. */
export function toEngineering(raw: number, s: Scaling): number {
  if (s.divisor !== 0) return raw / s.divisor + s.offset;
  if (s.scale === 1) return raw + s.offset;
  return raw * s.scale + s.offset;
}

/** engineering → raw for a register type: integers are rounded to the nearest whole raw value. */
export function toRaw(engineering: number, s: Scaling, type: RegisterType): number {
  if (typeof engineering !== 'number' || !Number.isFinite(engineering)) {
    throw new EnergyMeshError('VALUE_OUT_OF_RANGE', `${String(engineering)} is not a finite number`, {
      details: { value: String(engineering) },
    });
  }
  const x = engineering - s.offset;
  let raw = s.divisor !== 0 ? x * s.divisor : x / s.scale;
  const range = rawRange(type);
  if (range) {
    raw = Math.round(raw);
    if (Object.is(raw, -0)) raw = 0;
    if (raw < range[0] || raw > range[1]) {
      throw new EnergyMeshError(
        'VALUE_OUT_OF_RANGE',
        `${engineering} scales to raw ${raw}, outside the ${type} range ${range[0]}..${range[1]}`,
        { details: { value: engineering, raw, type, min: range[0], max: range[1] } },
      );
    }
  }
  return raw;
}

const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/** SunSpec: raw × 10^sf, dividing for negative sf so the result is the nearest double. */
export function applySunSpecScaleFactor(raw: number, sf: number): number {
  if (sf === 0) return raw;
  if (sf < 0) return raw / (POW10[-sf] ?? 10 ** -sf);
  return raw * (POW10[sf] ?? 10 ** sf);
}

/** SunSpec inverse: engineering / 10^sf (not rounded). */
export function removeSunSpecScaleFactor(engineering: number, sf: number): number {
  if (sf === 0) return engineering;
  if (sf < 0) return engineering * (POW10[-sf] ?? 10 ** -sf);
  return engineering / (POW10[sf] ?? 10 ** sf);
}
