/**
 * Total-supply audit of an EMPoS chain at a block. EB is created only at genesis (alloc + the genesis
 * validators' stakes) and by the block reward; fees are not burned (they go to the validators' pool in the
 * staking contract); slashed EB is burned by locking it in the staking contract for ever. So:
 *
 *   Σ balances of all accounts = genesis supply + blockReward × blocks                    (1)
 *   balance(staking contract)  = staked + unbonding + (fees received − fees claimed) + burned   (2)
 *
 * and the circulating supply (spendable EB) is
 *   genesis supply + rewards − burned − staked − unbonding − unclaimed fees = Σ balances − balance(contract).
 *
 * (1) walks the whole state trie (O(accounts)): an audit tool and a test oracle, not a per-block check.
 * The only EVM path that destroys EB otherwise — SELFDESTRUCT to itself of a contract created in the same
 * transaction (EIP-6780) — shows up as a negative `unexplained`.
 */
import type { Chain } from '../execution/chain.ts';
import { STAKING_ADDRESS } from './system-contract.ts';
import { stakingAccounting, validators, type StakingAccounting } from './validator-registry.ts';

export interface SupplyReport {
  blockNumber: bigint;
  genesisSupply: bigint;
  rewards: bigint;
  /** Σ of every account balance (the staking contract included). */
  totalBalances: bigint;
  contractBalance: bigint;
  staking: StakingAccounting;
  /** Fees credited but not claimable by anyone yet: per-validator rounding remainders (< 1 wei each) and fees of blocks with no active stake. */
  feeDust: bigint;
  /** Σ balances − (genesis supply + rewards): 0 when (1) holds. */
  unexplained: bigint;
  /** contract balance − (staked + unbonding + unclaimed fees + burned): 0 when (2) holds. */
  contractDifference: bigint;
  circulating: bigint;
  ok: boolean;
}

/** Checks the supply identities at `blockNumber` (default: head). */
export async function checkSupply(chain: Chain, blockNumber?: bigint): Promise<SupplyReport> {
  const n = blockNumber ?? chain.head.header.number;
  const g = chain.genesis;
  const genesisSupply = [...g.alloc.values()].reduce((a, b) => a + b, 0n) + g.validators.reduce((a, v) => a + v.stake, 0n);
  const rewards = g.consensus.blockReward * n;
  const totalBalances = await chain.totalBalance(n);
  const contractBalance = (await chain.getAccount(STAKING_ADDRESS, n)).balance;
  const staking = await stakingAccounting(chain, n);
  const pending = (await validators(chain, n)).reduce((a, v) => a + v.pendingFees, 0n);
  const unclaimed = staking.feesReceived - staking.feesClaimed;
  const unexplained = totalBalances - (genesisSupply + rewards);
  const contractDifference = contractBalance - (staking.totalStaked + staking.totalUnbonding + unclaimed + staking.burned);
  return {
    blockNumber: n,
    genesisSupply,
    rewards,
    totalBalances,
    contractBalance,
    staking,
    feeDust: unclaimed - pending,
    unexplained,
    contractDifference,
    circulating: totalBalances - contractBalance,
    ok: unexplained === 0n && contractDifference === 0n && pending <= unclaimed,
  };
}
