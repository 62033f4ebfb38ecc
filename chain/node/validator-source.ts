/**
 * Where the node reads the validator set from — the ONE place every caller (schedule, certificate checks,
 * sync, gossip validation) goes through. The set of the epoch containing `height` is read from the
 * staking system contract (`chain/system/validator-registry.ts`, `activeValidators`) in the state of the
 * epoch's anchor block — the last block of the previous epoch (genesis for epoch 0), which is final, so
 * every node derives the same set and stake changes take effect at the next epoch. When the contract is
 * absent or unreadable (a chain without it), the genesis validators are used.
 */
import type { Chain } from '../execution/chain.ts';
import { ValidatorSet, type ValidatorRecord } from '../consensus/validator-set.ts';
import { activeValidators } from '../system/validator-registry.ts';

const fromGenesis = new WeakMap<Chain, ValidatorRecord[]>();

export function genesisCandidates(chain: Chain): ValidatorRecord[] {
  let list = fromGenesis.get(chain);
  if (list === undefined) {
    const g = chain.genesis;
    list = ValidatorSet.fromGenesis(g.consensus, g.validators).eligible().sort((a, b) => a.address.localeCompare(b.address));
    fromGenesis.set(chain, list);
  }
  return list;
}

/**
 * The validators eligible for the schedule of an epoch whose anchor (last block of the previous epoch)
 * is `anchorBlock`, in address order. The schedule draws the active set from them.
 */
export async function validatorCandidates(chain: Chain, anchorBlock: bigint): Promise<ValidatorRecord[]> {
  try {
    const list = await activeValidators(chain, anchorBlock);
    if (list.length > 0) {
      return list.map((v) => ({ address: v.address.toLowerCase(), stake: v.stake, status: 'active', unbonding: [], performancePermille: 1000 }));
    }
  } catch {
    // no staking contract on this chain: the genesis set
  }
  return genesisCandidates(chain);
}
