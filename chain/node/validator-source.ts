/**
 * Where the node reads the validator set from — the ONE place every caller (schedule, certificate checks,
 * sync, gossip validation) goes through. The set of the epoch containing `height` is read from the
 * staking system contract (`chain/system/validator-registry.ts`, `activeValidators`) in the state of the
 * epoch's anchor block — the last block of the previous epoch (genesis for epoch 0), which is final, so
 * every node derives the same set and stake changes take effect at the next epoch. When the contract is
 * absent or unreadable (a chain without it), the genesis validators are used.
 *
 * Each candidate's `performancePermille` (the schedule's weight factor) comes from finalized state too:
 * the contract's cumulative `offlineSeconds` at the anchor and at the anchor before, over the time between
 * the two blocks (`consensus/performance.ts`).
 */
import type { Chain } from '../execution/chain.ts';
import { ValidatorSet, type ValidatorRecord } from '../consensus/validator-set.ts';
import { performancePermille, previousAnchor } from '../consensus/performance.ts';
import { activeValidators, offlineClock, validators } from '../system/validator-registry.ts';

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
 * Performance‰ of every validator over the epoch window (A', A] — A = `anchorBlock`, A' = A − epoch length
 * or the genesis —, from the contract's `offlineSeconds` at both blocks and their timestamps. Empty map
 * (everyone 1,000) at the genesis anchor.
 */
export async function epochPerformance(chain: Chain, anchorBlock: bigint, blocksPerEpoch: bigint): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const before = previousAnchor(anchorBlock, blocksPerEpoch);
  if (before === undefined) return out;
  const [now, then, clockNow, clockThen] = await Promise.all([validators(chain, anchorBlock), validators(chain, before), offlineClock(chain, anchorBlock), offlineClock(chain, before)]);
  const offlineThen = new Map(then.map((v) => [v.address, BigInt(v.offlineSeconds)]));
  for (const v of now) {
    out.set(v.address, performancePermille(BigInt(v.offlineSeconds), offlineThen.get(v.address) ?? 0n, clockNow.chargeableSeconds, clockThen.chargeableSeconds));
  }
  return out;
}

/**
 * The validators eligible for the schedule of an epoch whose anchor (last block of the previous epoch)
 * is `anchorBlock`, in address order, each with its performance over the epoch that ended at the anchor.
 * The schedule draws the active set from them.
 */
export async function validatorCandidates(chain: Chain, anchorBlock: bigint, blocksPerEpoch: bigint): Promise<ValidatorRecord[]> {
  let list: { address: string; stake: bigint }[];
  try {
    list = await activeValidators(chain, anchorBlock);
  } catch {
    // no staking contract on this chain: the genesis set
    return genesisCandidates(chain);
  }
  if (list.length === 0) return genesisCandidates(chain);
  const performance = await epochPerformance(chain, anchorBlock, blocksPerEpoch);
  return list.map((v) => {
    const address = v.address.toLowerCase();
    return { address, stake: v.stake, status: 'active', unbonding: [], performancePermille: performance.get(address) ?? 1000 };
  });
}
