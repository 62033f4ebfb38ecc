/**
 * Ids shared by the metering oracle and dispatch: a grid area's bytes32 id on chain.
 */
import { keccak256, toUtf8Bytes } from 'ethers';

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/** The bytes32 id of an area: given as 0x + 64 hex digits, or keccak256(utf8(name)). */
export function areaIdOf(area: string): string {
  return BYTES32.test(area) ? area.toLowerCase() : keccak256(toUtf8Bytes(area));
}
