/**
 * Where the node reads the validator set from — the ONE place to change when validators come from an
 * on-chain registry. Today: the genesis validators (bonded, eligible for the schedule). When the staking
 * work lands a registry (`chain/system/validator-registry.ts` exporting `activeValidators(chain, blockNumber)`),
 * this function is where it is wired in; every caller (schedule, certificate checks, sync) goes through it.
 */
import type { Chain } from '../execution/chain.ts';
import { ValidatorSet, type ValidatorRecord } from '../consensus/validator-set.ts';

const fromGenesis = new WeakMap<Chain, ValidatorRecord[]>();

/**
 * The validators eligible for the schedule of the epoch containing `blockNumber` (stake and performance),
 * in a deterministic order. The schedule draws the active set from them.
 */
export function validatorCandidates(chain: Chain, blockNumber: bigint): ValidatorRecord[] {
  void blockNumber; // the genesis set does not change with the height
  let list = fromGenesis.get(chain);
  if (list === undefined) {
    const g = chain.genesis;
    list = ValidatorSet.fromGenesis(g.consensus, g.validators).eligible().sort((a, b) => a.address.localeCompare(b.address));
    fromGenesis.set(chain, list);
  }
  return list;
}
