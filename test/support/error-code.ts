/** The EnergyMesh error code `fn` throws ('none' when it returns, 'other:…' for any other error): for specs of bounded decoders. */
import { isEnergyMeshError } from '../../core/errors.ts';

export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isEnergyMeshError(e) ? e.code : `other:${String(e)}`;
  }
  return 'none';
}
